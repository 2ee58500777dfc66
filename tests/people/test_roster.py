"""The roster from Excel: the template, a dry run that lists every bad row and writes nothing, an
import in one transaction with one-time passwords handed back once, and a re-import that changes
nothing."""

from __future__ import annotations

import base64
import io

import pytest
from openpyxl import Workbook, load_workbook

from tests.factories import bearer, login

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TEAM_HEADERS = ["队伍名称", "所属乡镇代码", "服务村（社区）代码", "队长用户名"]
MEMBER_HEADERS = ["姓名", "手机号", "用户名", "角色", "所属队伍", "队员类别", "村（社区）代码"]

GOOD_TEAMS = [["宝丰社区第二调解队", "530524101000", "530524101002", "bfleader"]]
GOOD_MEMBERS = [
    ["段光明", "13900001111", "bfleader", "调解队长", "宝丰社区第二调解队", "老党员", "530524101002"],
    ["茶秀英", "13900002222", "bfmember", "调解员", "宝丰社区第二调解队", "老模范", "530524101002"],
    ["鲁开云", "13900003333", "", "网格员", "宝丰社区第二调解队", "网格员", "530524101002"],
]


def roster(teams: list[list], members: list[list]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "队伍"
    sheet.append(TEAM_HEADERS)
    for row in teams:
        sheet.append(row)
    people = book.create_sheet("队员")
    people.append(MEMBER_HEADERS)
    for row in members:
        people.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def post_roster(client, tokens, content: bytes, dry_run: bool = False):
    return await client.post(
        "/api/admin/roster/import",
        params={"dry_run": "1"} if dry_run else {},
        content=content,
        headers={**bearer(tokens), "Content-Type": XLSX},
    )


async def test_the_template_has_both_sheets_with_chinese_headers_and_pick_lists(client):
    admin = await login(client, "county")
    r = await client.get("/api/admin/roster/template", headers=bearer(admin))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith(XLSX)
    book = load_workbook(io.BytesIO(r.content))
    assert book.sheetnames == ["队伍", "队员"]
    assert [c.value for c in book["队伍"][1]] == TEAM_HEADERS
    assert [c.value for c in book["队员"][1]] == MEMBER_HEADERS
    lists = [v.formula1 for v in book["队员"].data_validations.dataValidation]
    assert lists == ['"调解员,调解队长,网格员"', '"老干部,老党员,老模范,律师,网格员"']
    # The template as downloaded imports nothing (its example rows are marked).
    dry = await post_roster(client, admin, r.content, dry_run=True)
    assert dry.json()["errors"] == []
    assert dry.json()["users_created"] == 0


async def test_a_dry_run_lists_every_bad_row_and_writes_nothing(client):
    admin = await login(client, "county")
    members = [
        *GOOD_MEMBERS,
        ["施玉兰", "13900001111", "syl", "调解员", "宝丰社区第二调解队", "律师", "530524101002"],
        ["何兴国", "13900004444", "hxg", "调解员", "没有这支队", "老干部", "530524101002"],
        ["罗永福", "13900005555", "lyf", "调解员", "宝丰社区第二调解队", "志愿者", "530524199999"],
        ["", "1390000", "Bad Name", "队长", "宝丰社区第二调解队", "老党员", "530524104201"],
    ]
    r = await post_roster(client, admin, roster(GOOD_TEAMS, members), dry_run=True)
    assert r.status_code == 200
    body = r.json()
    assert body["applied"] is False
    assert [(e["row"], e["field"], e["code"]) for e in body["errors"]] == [
        (5, "手机号", "roster.duplicate_phone"),
        (6, "所属队伍", "roster.team_not_found"),
        (7, "队员类别", "roster.invalid_kind"),
        (7, "村（社区）代码", "roster.unknown_village"),
        (8, "姓名", "people.invalid_display_name"),
        (8, "手机号", "people.invalid_phone"),
        (8, "用户名", "people.invalid_username"),
        (8, "角色", "roster.invalid_role"),
        (8, "村（社区）代码", "roster.village_outside_township"),
    ]
    assert body["errors"][0]["message"] == "手机号与第 2 行重复"
    assert all(e["sheet"] == "队员" for e in body["errors"])
    # Without dry_run the same file is refused whole.
    applied = await post_roster(client, admin, roster(GOOD_TEAMS, members))
    assert applied.json()["applied"] is False
    users = await client.get("/api/admin/users", params={"q": "段光明"}, headers=bearer(admin))
    assert users.json()["items"] == []


async def test_a_clean_roster_imports_once_and_again_changes_nothing(client):
    admin = await login(client, "county")
    content = roster(GOOD_TEAMS, GOOD_MEMBERS)
    dry = (await post_roster(client, admin, content, dry_run=True)).json()
    assert (dry["teams_created"], dry["users_created"], dry["applied"]) == (1, 3, False)
    assert dry["one_time_passwords_xlsx"] is None

    r = await post_roster(client, admin, content)
    body = r.json()
    assert (body["teams_created"], body["teams_updated"], body["users_created"], body["users_updated"]) == (
        1,
        0,
        3,
        0,
    )
    assert body["applied"] is True
    sheet = load_workbook(io.BytesIO(base64.b64decode(body["one_time_passwords_xlsx"])))["初始密码"]
    handed_out = {row[1]: row[2] for row in sheet.iter_rows(min_row=2, max_row=4, values_only=True)}
    assert set(handed_out) == {"bfleader", "bfmember", "p13900003333"}

    tokens = await login(client, "bfleader", handed_out["bfleader"])
    assert tokens["must_change_password"] is True
    assert tokens["user"]["role"] == "team_leader"
    assert tokens["user"]["team"]["name"] == "宝丰社区第二调解队"
    listed = (await client.get("/api/admin/teams", params={"q": "宝丰"}, headers=bearer(admin))).json()
    team = next(t for t in listed if t["name"] == "宝丰社区第二调解队")
    assert team["leader"] == "段光明"
    assert [v["code"] for v in team["villages"]] == ["530524101002"]
    assert {m["kind"] for m in team["members"]} == {"老党员", "老模范", "网格员"}

    again = (await post_roster(client, admin, content)).json()
    assert (
        again["teams_created"],
        again["teams_updated"],
        again["users_created"],
        again["users_updated"],
    ) == (
        0,
        0,
        0,
        0,
    )
    assert again["one_time_passwords_xlsx"] is None
    # A changed phone updates the account it belongs to (matched by username).
    changed = [list(GOOD_MEMBERS[0]), *GOOD_MEMBERS[1:]]
    changed[0][1] = "13911112222"
    updated = (await post_roster(client, admin, roster(GOOD_TEAMS, changed))).json()
    assert (updated["users_created"], updated["users_updated"]) == (0, 1)


async def test_a_township_supervisor_imports_only_their_township(client):
    tianyuan = await login(client, "tianyuan")
    kasi_team = [["卡斯社区第二调解队", "530524104000", "530524104201", ""]]
    kasi_member = [["字学文", "13900006666", "zxw", "调解员", "卡斯社区第二调解队", "老干部", "530524104201"]]
    body = (await post_roster(client, tianyuan, roster(kasi_team, kasi_member), dry_run=True)).json()
    assert [(e["sheet"], e["row"], e["code"]) for e in body["errors"]] == [
        ("队伍", 2, "roster.outside_area"),
        ("队员", 2, "roster.team_not_found"),
        ("队员", 2, "roster.outside_area"),
    ]
    ok = (await post_roster(client, tianyuan, roster(GOOD_TEAMS, GOOD_MEMBERS))).json()
    assert ok["applied"] is True


@pytest.mark.parametrize(
    "content",
    [b"", b"not a spreadsheet", b"PK\x03\x04truncated zip", roster([], [])[:200]],
    ids=["empty", "text", "fake-zip", "truncated"],
)
async def test_what_is_not_a_roster_gets_a_clear_refusal(client, content):
    admin = await login(client, "county")
    r = await post_roster(client, admin, content, dry_run=True)
    assert r.status_code == 400
    assert r.json()["code"] == "roster.unreadable"


async def test_a_workbook_without_the_sheets_says_which_is_missing(client):
    admin = await login(client, "county")
    book = Workbook()
    book.active.title = "Sheet1"
    out = io.BytesIO()
    book.save(out)
    body = (await post_roster(client, admin, out.getvalue(), dry_run=True)).json()
    assert [e["message"] for e in body["errors"]] == [
        "缺少工作表“队伍”，请使用导入模板",
        "缺少工作表“队员”，请使用导入模板",
    ]


@pytest.mark.slow  # a `fengqiao people import` process: about 3 s
async def test_the_command_line_import_writes_the_passwords_file(database_url, tmp_path):
    from tests.grids.helpers import run_cli

    path = tmp_path / "花名册.xlsx"
    path.write_bytes(roster(GOOD_TEAMS, GOOD_MEMBERS))
    out = tmp_path / "pw.xlsx"
    code, stdout, stderr = await run_cli("people", "import", str(path), "--passwords-out", str(out))
    assert code == 0, stderr
    assert "已新建 1 支队伍、更新 0 支；已新建 3 个账号、更新 0 个" in stdout
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    rows = list(load_workbook(out)["初始密码"].iter_rows(min_row=2, max_row=4, values_only=True))
    assert sorted(r[1] for r in rows) == ["bfleader", "bfmember", "p13900003333"]
