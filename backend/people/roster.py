"""The roster in Excel: a template to fill in, and its import (API and `fengqiao people import`).

Two sheets, Chinese headers: 队伍 (team name, township, villages served, leader's username) and 队员
(name, phone, username, role, team, member kind, village). Every row is checked first with the same
rules as the app (accounts.check_*); while any row has an error nothing is written, and a clean file
applies in one transaction. Accounts are matched by username, else by phone, so importing the same
file again changes nothing. New accounts get one-time passwords, returned once as an XLSX to hand
out; the server keeps only their hashes.
"""

from __future__ import annotations

import io
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import anyio

from backend.core import clock
from backend.core.errors import InvalidRequest
from backend.core.identity import CurrentUser, Role, township_of
from backend.db import write_transaction
from backend.grids.tables import Division
from backend.people import accounts, audit, passwords, service
from backend.people.roles import ROLE_LABELS
from backend.people.tables import Team, TeamMember, TeamVillage, User

TEAM_SHEET = "队伍"
MEMBER_SHEET = "队员"
TEAM_HEADERS = {
    "name": "队伍名称",
    "township": "所属乡镇代码",
    "villages": "服务村（社区）代码",
    "leader": "队长用户名",
}
MEMBER_HEADERS = {
    "display_name": "姓名",
    "phone": "手机号",
    "username": "用户名",
    "role": "角色",
    "team": "所属队伍",
    "kind": "队员类别",
    "village": "村（社区）代码",
}
KINDS = ("老干部", "老党员", "老模范", "律师", "网格员")
# The roles a roster holds: field accounts (township supervisors and the county office are made by hand).
ROSTER_ROLES = {ROLE_LABELS[r]: r for r in (Role.mediator, Role.team_leader, Role.grid_worker)}
EXAMPLE_MARK = "（示例）"
MAX_ROWS = 5000


class UnreadableRoster(InvalidRequest):
    code = "roster.unreadable"
    message = "无法读取该文件：请上传用模板填写的 Excel（.xlsx）文件"
    message_en = "Cannot read the file: upload the roster template (.xlsx)"


@dataclass
class RowError:
    sheet: str
    row: int
    field: str
    code: str
    message: str


@dataclass
class ImportReport:
    teams_created: int = 0
    teams_updated: int = 0
    users_created: int = 0
    users_updated: int = 0
    errors: list[RowError] = field(default_factory=list)
    applied: bool = False
    new_accounts: list[dict[str, str]] = field(default_factory=list)  # name, username, password, team


# --- the template ---------------------------------------------------------------------------------


async def template() -> bytes:
    """The template, its example rows taken from this county's first township and village."""
    import xlsxwriter

    village = await (
        Division.select(Division.code, Division.short_name, Division.parent_code)
        .where(Division.level == "village")
        .order_by(Division.code)
        .first()
        .run()
    )
    village_code = village["code"] if village else ""
    township_code = village["parent_code"] if village else ""
    team_name = f"{village['short_name']}红色调解队" if village else "某某红色调解队"

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    head = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "font_size": 12})
    note = book.add_format({"italic": True, "font_color": "#666666"})
    text = book.add_format({"num_format": "@"})  # codes and phones stay text, not 5.30524E+11

    teams = book.add_worksheet(TEAM_SHEET)
    for col, header in enumerate(TEAM_HEADERS.values()):
        teams.write(0, col, header, head)
    teams.set_column(0, 0, 28)
    teams.set_column(1, 3, 26, text)
    teams.write_row(1, 0, [f"{EXAMPLE_MARK}{team_name}", township_code, village_code, "yangzf"])
    teams.write(3, 0, f"说明：以“{EXAMPLE_MARK}”开头的行不会导入；多个村（社区）代码用逗号分隔。", note)

    members = book.add_worksheet(MEMBER_SHEET)
    for col, header in enumerate(MEMBER_HEADERS.values()):
        members.write(0, col, header, head)
    members.set_column(0, 0, 14)
    members.set_column(1, 2, 16, text)
    members.set_column(3, 5, 14)
    members.set_column(6, 6, 18, text)
    members.write_row(
        1,
        0,
        [
            f"{EXAMPLE_MARK}杨正发",
            "13800000000",
            "yangzf",
            "调解队长",
            team_name,
            "老党员",
            village_code,
        ],
    )
    members.data_validation(1, 3, MAX_ROWS, 3, {"validate": "list", "source": list(ROSTER_ROLES)})
    members.data_validation(1, 5, MAX_ROWS, 5, {"validate": "list", "source": list(KINDS)})
    members.write(
        3,
        0,
        "说明：用户名为 3–32 位小写字母、数字或 . _ -；留空则按手机号匹配已有账号，新账号用 p+手机号。",
        note,
    )
    book.close()
    return buffer.getvalue()


def passwords_file(new_accounts: list[dict[str, str]]) -> bytes:
    """The new accounts' one-time passwords, to print and hand out; never stored."""
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    head = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "font_size": 12})
    sheet = book.add_worksheet("初始密码")
    for col, header in enumerate(("姓名", "用户名", "一次性密码", "所属队伍")):
        sheet.write(0, col, header, head)
    for row, account in enumerate(new_accounts, start=1):
        sheet.write_row(row, 0, [account["name"], account["username"], account["password"], account["team"]])
    sheet.set_column(0, 3, 22)
    sheet.write(
        len(new_accounts) + 2, 0, "一次性密码只在此文件中出现一次，首次登录时须修改。请妥善分发后删除本文件。"
    )
    book.close()
    return buffer.getvalue()


# --- reading --------------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a code typed into a number cell
    return str(value).strip()


def _sheet_rows(
    book: Any, name: str, headers: dict[str, str], errors: list[RowError]
) -> list[tuple[int, dict[str, str]]]:
    if name not in book.sheetnames:
        errors.append(RowError(name, 0, "", "roster.missing_sheet", f"缺少工作表“{name}”，请使用导入模板"))
        return []
    rows = book[name].iter_rows(values_only=True)
    first = next(rows, None)
    columns = {_cell(v): i for i, v in enumerate(first or ())}
    missing = [h for h in headers.values() if h not in columns]
    if missing:
        errors.append(RowError(name, 1, "", "roster.missing_column", f"缺少列：{'、'.join(missing)}"))
        return []
    out: list[tuple[int, dict[str, str]]] = []
    for number, values in enumerate(rows, start=2):
        record = {
            key: _cell(values[columns[h]]) if columns[h] < len(values) else "" for key, h in headers.items()
        }
        first_value = next(iter(record.values()))
        if (
            not any(record.values())
            or first_value.startswith(EXAMPLE_MARK)
            or first_value.startswith("说明：")
        ):
            continue
        if len(out) >= MAX_ROWS:
            errors.append(RowError(name, number, "", "roster.too_many_rows", f"每个工作表最多 {MAX_ROWS} 行"))
            break
        out.append((number, record))
    return out


def read(
    content: bytes,
) -> tuple[list[tuple[int, dict[str, str]]], list[tuple[int, dict[str, str]]], list[RowError]]:
    from openpyxl import load_workbook  # type: ignore[import-untyped]

    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:
        raise UnreadableRoster() from None
    errors: list[RowError] = []
    teams = _sheet_rows(book, TEAM_SHEET, TEAM_HEADERS, errors)
    members = _sheet_rows(book, MEMBER_SHEET, MEMBER_HEADERS, errors)
    return teams, members, errors


# --- checking and applying ------------------------------------------------------------------------


@dataclass
class _Plan:
    teams: list[dict[str, Any]] = field(default_factory=list)  # name, township, villages, leader, row
    members: list[dict[str, Any]] = field(default_factory=list)


async def run_import(actor: CurrentUser | None, content: bytes, *, dry_run: bool) -> ImportReport:
    """Check every row; apply in one transaction when nothing is wrong and it is not a dry run."""
    team_rows, member_rows, errors = read(content)
    report = ImportReport(errors=errors)
    divisions = {d["code"]: d for d in await Division.select().run()}
    existing_teams = {t["name"]: t for t in await Team.select().run()}
    users = await User.select().run()
    by_username = {u["username"]: u for u in users}
    by_phone = {u["phone"]: u for u in users if u["phone"]}
    plan = _Plan()

    def fail(sheet: str, row: int, field_name: str, code: str, message: str) -> None:
        report.errors.append(RowError(sheet, row, field_name, code, message))

    township_only = actor.scope_code if actor is not None and actor.role == Role.township_supervisor else None

    # 队伍
    seen_teams: set[str] = set()
    for row, r in team_rows:
        name = r["name"]
        if not name or len(name) > 100:
            fail(TEAM_SHEET, row, "队伍名称", "roster.missing_field", "队伍名称不能为空（最多 100 字）")
            continue
        if name in seen_teams:
            fail(TEAM_SHEET, row, "队伍名称", "roster.duplicate_team", f"队伍“{name}”在表中重复")
            continue
        seen_teams.add(name)
        township = r["township"] or None
        if township and divisions.get(township, {}).get("level") != "township":
            fail(TEAM_SHEET, row, "所属乡镇代码", "roster.unknown_township", f"乡镇代码 {township} 不存在")
            continue
        if township_only and township != township_only:
            fail(TEAM_SHEET, row, "所属乡镇代码", "roster.outside_area", "只能导入本乡镇的调解队")
            continue
        villages = [v for v in re.split(r"[,，、;；\s]+", r["villages"]) if v]
        bad = [v for v in villages if divisions.get(v, {}).get("level") != "village"]
        if bad:
            fail(
                TEAM_SHEET,
                row,
                "服务村（社区）代码",
                "roster.unknown_village",
                f"村（社区）代码 {'、'.join(bad)} 不存在",
            )
            continue
        outside = [v for v in villages if township and divisions[v]["parent_code"] != township]
        if outside:
            fail(
                TEAM_SHEET,
                row,
                "服务村（社区）代码",
                "roster.village_outside_township",
                f"村（社区）{'、'.join(outside)} 不属于所属乡镇",
            )
            continue
        old = existing_teams.get(name)
        if old is not None and old["township_code"] != township:
            fail(
                TEAM_SHEET,
                row,
                "所属乡镇代码",
                "roster.team_moved",
                f"已有的队伍“{name}”属于另一个乡镇，不能通过导入改变",
            )
            continue
        plan.teams.append(
            {
                "name": name,
                "township": township,
                "villages": villages,
                "leader": r["leader"].lower(),
                "row": row,
            }
        )
    planned_teams = {t["name"]: t for t in plan.teams}

    # 队员
    seen_usernames: dict[str, int] = {}
    seen_phones: dict[str, int] = {}
    for row, r in member_rows:
        problems_before = len(report.errors)
        try:
            display_name = accounts.check_display_name(r["display_name"])
        except InvalidRequest as exc:
            fail(MEMBER_SHEET, row, "姓名", exc.code, exc.message)
            display_name = ""
        try:
            phone = accounts.check_phone(r["phone"])
        except InvalidRequest as exc:
            fail(MEMBER_SHEET, row, "手机号", exc.code, exc.message)
            phone = None
        if phone and phone in seen_phones:
            fail(
                MEMBER_SHEET,
                row,
                "手机号",
                "roster.duplicate_phone",
                f"手机号与第 {seen_phones[phone]} 行重复",
            )
        username = r["username"].lower()
        existing = None
        if username:
            try:
                username = accounts.check_username(username)
            except InvalidRequest as exc:
                fail(MEMBER_SHEET, row, "用户名", exc.code, exc.message)
            existing = by_username.get(username)
        elif phone:
            existing = by_phone.get(phone)
            username = existing["username"] if existing else f"p{phone}"
        else:
            fail(MEMBER_SHEET, row, "用户名", "roster.missing_field", "用户名和手机号不能都为空")
        if username in seen_usernames:
            fail(
                MEMBER_SHEET,
                row,
                "用户名",
                "roster.duplicate_username",
                f"用户名与第 {seen_usernames[username]} 行重复",
            )
        if phone and phone in by_phone and (existing is None or by_phone[phone]["id"] != existing["id"]):
            fail(
                MEMBER_SHEET,
                row,
                "手机号",
                "roster.duplicate_phone",
                f"手机号已被账号 {by_phone[phone]['username']} 使用",
            )
        role = ROSTER_ROLES.get(r["role"]) or (r["role"] if r["role"] in ROSTER_ROLES.values() else None)
        if role is None:
            fail(MEMBER_SHEET, row, "角色", "roster.invalid_role", f"角色应为 {'、'.join(ROSTER_ROLES)} 之一")
        if r["kind"] not in KINDS:
            fail(
                MEMBER_SHEET, row, "队员类别", "roster.invalid_kind", f"队员类别应为 {'、'.join(KINDS)} 之一"
            )
        team_name = r["team"]
        team_township: str | None = None
        if team_name in planned_teams:
            team_township = planned_teams[team_name]["township"]
        elif team_name in existing_teams:
            team_township = existing_teams[team_name]["township_code"]
            if actor is not None and township_only and team_township != township_only:
                fail(MEMBER_SHEET, row, "所属队伍", "roster.outside_area", "只能导入本乡镇的调解队")
        else:
            fail(
                MEMBER_SHEET,
                row,
                "所属队伍",
                "roster.team_not_found",
                f"队伍“{team_name or '（空）'}”不存在，请先在“队伍”表中填写",
            )
        village = r["village"]
        if divisions.get(village, {}).get("level") != "village":
            fail(
                MEMBER_SHEET,
                row,
                "村（社区）代码",
                "roster.unknown_village",
                f"村（社区）代码 {village or '（空）'} 不存在",
            )
        else:
            if township_only and township_of(village) != township_only:
                fail(MEMBER_SHEET, row, "村（社区）代码", "roster.outside_area", "只能导入本乡镇的队员")
            elif team_township and divisions[village]["parent_code"] != team_township:
                fail(
                    MEMBER_SHEET,
                    row,
                    "村（社区）代码",
                    "roster.village_outside_township",
                    "村（社区）不在所属队伍的乡镇",
                )
        if existing is not None and actor is not None and not accounts.in_reach(actor, existing):
            fail(MEMBER_SHEET, row, "用户名", "roster.outside_area", f"账号 {username} 不在您的管理范围")
        if username:
            seen_usernames.setdefault(username, row)
        if phone:
            seen_phones.setdefault(phone, row)
        if len(report.errors) == problems_before:
            plan.members.append(
                {
                    "row": row,
                    "display_name": display_name,
                    "phone": phone,
                    "username": username,
                    "role": role,
                    "team": team_name,
                    "kind": r["kind"],
                    "village": village,
                    "existing": existing,
                }
            )
    member_usernames = {m["username"] for m in plan.members} | set(by_username)
    for team in plan.teams:
        if team["leader"] and team["leader"] not in member_usernames:
            fail(
                TEAM_SHEET,
                team["row"],
                "队长用户名",
                "roster.unknown_leader",
                f"队长用户名 {team['leader']} 不在“队员”表中，也不是已有账号",
            )

    await _count_or_apply(actor, plan, existing_teams, report, apply=not dry_run and not report.errors)
    report.errors.sort(key=lambda e: (e.sheet != TEAM_SHEET, e.row))
    return report


async def _count_or_apply(
    actor: CurrentUser | None,
    plan: _Plan,
    existing_teams: dict[str, dict[str, Any]],
    report: ImportReport,
    *,
    apply: bool,
) -> None:
    """Works out what would change (a dry run stops there) and, when applying, writes it all in one
    transaction: a failure part-way leaves the database as it was."""
    team_villages: dict[int, set[str]] = {}
    for tv in await TeamVillage.select(TeamVillage.team, TeamVillage.village_code).run():
        team_villages.setdefault(tv["team"], set()).add(tv["village_code"])
    members = await TeamMember.select().run()
    # One-time passwords for the new accounts, hashed before the write lock is taken and on both
    # cores (Argon2 releases the GIL): the slowest part of a big first import.
    fresh = sum(1 for m in plan.members if m["existing"] is None) if apply else 0
    secrets_made = iter(await anyio.to_thread.run_sync(_one_time_passwords, fresh))

    async def work() -> None:
        team_ids = {name: t["id"] for name, t in existing_teams.items()}
        for team in plan.teams:
            old = existing_teams.get(team["name"])
            if old is None:
                report.teams_created += 1
                if apply:
                    rows = await Team.insert(Team(name=team["name"], township_code=team["township"])).run()
                    team_ids[team["name"]] = rows[0]["id"]
                    if team["villages"]:
                        await TeamVillage.insert(
                            *[TeamVillage(team=rows[0]["id"], village_code=v) for v in team["villages"]]
                        ).run()
            elif set(team["villages"]) != team_villages.get(old["id"], set()) or not old["active"]:
                report.teams_updated += 1
                if apply:
                    await TeamVillage.delete().where(TeamVillage.team == old["id"]).run()
                    if team["villages"]:
                        await TeamVillage.insert(
                            *[TeamVillage(team=old["id"], village_code=v) for v in team["villages"]]
                        ).run()
                    await Team.update({Team.active: True}).where(Team.id == old["id"]).run()
        leaders = {t["leader"]: t["name"] for t in plan.teams if t["leader"]}
        member_of = {(x["user"], x["team"]): x for x in members}
        new_users: list[User] = []
        new_members: list[tuple[str, TeamMember]] = []  # the username, for its id once inserted
        for m in plan.members:
            team_id = team_ids.get(m["team"])
            is_leader = leaders.get(m["username"]) == m["team"] or m["role"] == Role.team_leader
            old = m["existing"]
            wanted = {
                "display_name": m["display_name"],
                "phone": m["phone"],
                "role": m["role"],
                "scope_level": "village",
                "scope_code": m["village"],
                "team": team_id,
            }
            member_row = TeamMember(team=team_id, name=m["display_name"], kind=m["kind"], is_leader=is_leader)
            if old is None:
                report.users_created += 1
                if not apply:
                    continue
                one_time, hashed = next(secrets_made)
                new_users.append(
                    User(
                        username=m["username"],
                        password_hash=hashed,
                        must_change_password=True,
                        **wanted,
                    )
                )
                report.new_accounts.append(
                    {
                        "name": m["display_name"],
                        "username": m["username"],
                        "password": one_time,
                        "team": m["team"],
                    }
                )
                if team_id is not None:
                    new_members.append((m["username"], member_row))
                continue
            user_id = old["id"]
            changed = {k: v for k, v in wanted.items() if old[k] != v and not (k == "team" and v is None)}
            member = member_of.get((user_id, team_id))
            member_changed = team_id is not None and (
                member is None
                or member["kind"] != m["kind"]
                or member["is_leader"] != is_leader
                or member["name"] != m["display_name"]
            )
            if changed or member_changed:
                report.users_updated += 1
            if not apply:
                continue
            if changed:
                await User.update(changed).where(User.id == user_id).run()  # type: ignore[arg-type]
                service.forget_cached(user_id)
                if changed.keys() & {"role", "scope_code", "team"}:
                    await service.revoke_devices(user_id, "scope_changed")
            if member is None and team_id is not None:
                member_row.user = user_id
                await TeamMember.insert(member_row).run()
            elif member_changed and member is not None:
                await (
                    TeamMember.update(
                        {
                            TeamMember.kind: m["kind"],
                            TeamMember.is_leader: is_leader,
                            TeamMember.name: m["display_name"],
                        }
                    )
                    .where(TeamMember.id == member["id"])
                    .run()
                )
        # New accounts and their memberships in a few multi-row inserts, not one statement a row.
        for start in range(0, len(new_users), 200):
            await User.insert(*new_users[start : start + 200]).run()
        if new_members:
            ids = {
                r["username"]: r["id"]
                for r in await User.select(User.id, User.username)
                .where(User.username.is_in([u for u, _ in new_members]))
                .run()
            }
            for username, row in new_members:
                row.user = ids[username]
            for start in range(0, len(new_members), 200):
                await TeamMember.insert(*[row for _, row in new_members[start : start + 200]]).run()
        if apply:
            await audit.record(
                actor,
                "roster.import",
                teams_created=report.teams_created,
                teams_updated=report.teams_updated,
                users_created=report.users_created,
                users_updated=report.users_updated,
            )

    if apply:
        async with write_transaction():
            await work()
        report.applied = True
    else:
        await work()


def _one_time_passwords(n: int) -> list[tuple[str, str]]:
    plain = [passwords.one_time() for _ in range(n)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(zip(plain, pool.map(passwords.hash_one_time, plain), strict=True))


def filename() -> str:
    return f"初始密码-{clock.local_now():%Y%m%d-%H%M}.xlsx"
