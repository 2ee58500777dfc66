"""The case file (卷宗): a closed case's registration, mediation records, agreement, visits, photos and
history as one printable A4 document, rendered to PDF by Chromium as a county clerk would save it."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
from datetime import datetime

import pytest
from pypdf import PdfReader

from backend.core import clock
from backend.people.tables import AuditEntry
from backend.settings import REPO_ROOT
from tests.factories import act, auth, login, make_case, make_user, tokens_for
from tests.media.images import jpeg, sha
from tests.notify.support import AGREEMENT
from tests.visits.test_record import post_record, record

SHANGHAI = clock.LOCAL_TZ
CHROMIUM = os.environ.get("FENGQIAO_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = REPO_ROOT / "test-artifacts"


async def _archived_case(client) -> dict:
    """A case of 关庙社区 with a scene photo, two mediation sessions, an agreement, closed on 1 Feb
    2027 and archived by a satisfied return visit a week later."""
    photo = jpeg()
    upload = await client.put(
        f"/api/media/{sha(photo)}", content=photo, headers=await auth(client, "mediator1")
    )
    assert upload.status_code == 201, upload.text
    at = datetime(2027, 1, 25, 9, 0, tzinfo=SHANGHAI)
    with clock.frozen(at):
        case = await make_case(client, photos=[sha(photo)], source="referral", referred_by="police")
        assert (await act(client, "leader1", case["id"], "accept")).status_code == 200
        for text, place, who in (
            ("第一次调解：双方陈述，张家同意清理。", "关庙社区调解室", ["张建华", "李秀英", "王德明"]),
            ("第二次调解：约定三日内清理完毕。", "", ["张建华", "李秀英"]),
        ):
            note = await act(
                client, "mediator1", case["id"], "note", text=text, place=place, participants=who
            )
            assert note.status_code == 200, note.text
    with clock.frozen(datetime(2027, 2, 1, 10, 0, tzinfo=SHANGHAI)):
        assert (await act(client, "mediator1", case["id"], "resolve", agreement=AGREEMENT)).status_code == 200
        assert (
            await act(client, "mediator1", case["id"], "close", prevented_criminal=True)
        ).status_code == 200
    detail = (await client.get(f"/api/cases/{case['id']}", headers=await auth(client, "mediator1"))).json()
    with clock.frozen(datetime(2027, 2, 8, 11, 0, tzinfo=SHANGHAI)):
        visit = await post_record(
            client, "mediator1", detail["visits"][0]["id"], record(performance="performed")
        )
    assert visit.status_code == 200, visit.text
    detail = (await client.get(f"/api/cases/{case['id']}", headers=await auth(client, "mediator1"))).json()
    assert detail["state"] == "archived" and detail["archive_number"].startswith("2027-101001-")
    return detail


async def _dossier(client, case_id: str, username: str = "mediator1", **params):
    return await client.get(
        f"/api/cases/{case_id}/dossier", params=params, headers=await auth(client, username)
    )


async def _pdf(html: str) -> bytes:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
        try:
            page = await browser.new_page()
            await page.set_content(html, wait_until="load")
            return await page.pdf(format="A4", print_background=True)
        finally:
            await browser.close()


async def test_the_case_file_prints_to_pdf_with_every_part(client):
    case = await _archived_case(client)
    response = await _dossier(client, case["id"])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "private, no-store"
    pdf = await _pdf(response.text)
    # Kept beside the browser tests' screenshots, to look at.
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "dossier.pdf").write_bytes(pdf)
    reader = PdfReader(io.BytesIO(pdf))
    pages = [p.extract_text() for p in reader.pages]
    # Cover, registration, records and agreement, visits and photos, history: each starts a page.
    assert len(pages) >= 5, len(pages)
    cover = pages[0].replace(" ", "")
    assert "人民调解卷宗" in cover
    assert case["archive_number"] in cover and case["number"] in cover
    assert "邻里纠纷" in cover and "王德明" in cover and "2027年02月01日" in cover
    assert "关庙社区人民调解委员会" in cover
    text = "".join(pages).replace(" ", "").replace("\n", "")
    for expected in (
        "纠纷受理登记表",
        "委托移送（公安移送）",
        "张建华",
        "11010519491231002X",  # the mediator works the case: the parties in full
        "第一次调解：双方陈述，张家同意清理。",
        "关庙社区调解室",
        "张建华、李秀英、王德明",
        "张家于三日内清理建材",
        "回访记录",
        "已履行",
        "2027-02-0810:00",  # the visit's local time (10:00 in Changning), not UTC
        "满意",
        "照片目录",
        "办理过程记录",
        "归档",
    ):
        assert expected in text, expected
    # The scene photo is inline, so the saved PDF carries it.
    assert 'src="data:image/jpeg;base64,' in response.text
    assert any(page.images for page in reader.pages)


async def test_every_print_is_audited_and_a_grid_worker_gets_the_parties_masked(client):
    case = await _archived_case(client)
    for username in ("mediator1", "tianyuan"):
        assert (await _dossier(client, case["id"], username)).status_code == 200
    entries = (
        await AuditEntry.select(AuditEntry.action, AuditEntry.detail)
        .where(AuditEntry.action == "case.print_dossier")
        .run()
    )
    assert len(entries) == 2
    worker = await make_user(client, await tokens_for(client, "county"), scope_code="530524101001")
    tokens = await login(client, worker["username"], worker["password"])
    masked = await client.get(
        f"/api/cases/{case['id']}/dossier", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert masked.status_code == 200
    # The parties' table is masked (the participants of a session are the mediator's own record, shown
    # with the case's timeline to everyone who sees the case).
    assert "11010519491231002X" not in masked.text and "13812345678" not in masked.text
    assert "<td>张**</td><td>申请人</td><td>110105********002X</td>" in masked.text
    assert "当事人信息已脱敏" in masked.text


@pytest.mark.parametrize(
    ("username", "params", "status", "code"),
    [
        ("kasi", {}, 404, "not_found"),
        ("mediator2", {}, 404, "not_found"),
        ("mediator1", {"format": "pdf"}, 400, "case.invalid_format"),
    ],
)
async def test_dossier_refusals(client, username, params, status, code):
    case = await _archived_case(client)
    response = await _dossier(client, case["id"], username, **params)
    assert response.status_code == status
    assert response.json()["code"] == code
    assert "张建华" not in response.text


async def test_an_open_case_has_no_dossier_yet(client):
    case = await make_case(client)
    response = await _dossier(client, case["id"])
    assert response.status_code == 409
    assert response.json()["code"] == "case.dossier_not_closed"
    assert "办结" in response.json()["message"]
    for bad in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        assert (await _dossier(client, bad)).status_code == 404


async def test_the_page_s_own_stylesheet_is_allowed_by_the_app_s_policy(client):
    """Opened from the phone as a blob: page, the file runs under the app's Content-Security-Policy:
    its inline stylesheet must be allowed there by its hash, or it prints unstyled."""
    case = await _archived_case(client)
    response = await _dossier(client, case["id"])
    # The file's own stylesheet and the embedded agreement's.
    sheets = re.findall(r"<style>(.*?)</style>", response.text, re.DOTALL)
    assert len(sheets) == 2
    app_policy = (await client.get("/api/health")).headers["content-security-policy"]
    style_src = next(d for d in app_policy.split("; ") if d.startswith("style-src"))
    for css in sheets:
        digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in style_src.split()
    assert "'unsafe-inline'" not in style_src
    assert "onclick" not in response.text  # no inline script: it would not run under the policy


async def test_the_file_keeps_each_supervision_order_with_every_step(client):
    """督办 in the case file: who issued it, the instruction and due date, and each step with its time
    and name: acknowledged, reported, sent back, reported again, accepted."""
    at = datetime(2027, 1, 25, 9, 0, tzinfo=SHANGHAI)
    with clock.frozen(at):
        case = await make_case(client)
        assert (await act(client, "leader1", case["id"], "accept")).status_code == 200
        issued = await act(
            client,
            "tianyuan",
            case["id"],
            "supervise",
            instruction="三日内上门调解并回复",
            due_date="2027-01-31",
        )
        assert issued.status_code == 200, issued.text
    steps = [
        (datetime(2027, 1, 25, 15, 0), "leader1", "acknowledge_supervision", {}),
        (datetime(2027, 1, 27, 10, 0), "leader1", "report_supervision", {"text": "已电话联系双方"}),
        (datetime(2027, 1, 27, 16, 30), "tianyuan", "return_supervision", {"reason": "须当面调解"}),
        (datetime(2027, 1, 29, 11, 0), "leader1", "report_supervision", {"text": "已上门调解，双方和解"}),
        (datetime(2027, 1, 30, 9, 15), "tianyuan", "accept_supervision", {}),
    ]
    for when, who, action, body in steps:
        with clock.frozen(when.replace(tzinfo=SHANGHAI)):
            done = await act(client, who, case["id"], action, **body)
            assert done.status_code == 200, done.text
    with clock.frozen(datetime(2027, 2, 1, 10, 0, tzinfo=SHANGHAI)):
        assert (await act(client, "mediator1", case["id"], "resolve", agreement=AGREEMENT)).status_code == 200
        assert (await act(client, "mediator1", case["id"], "close")).status_code == 200
        response = await _dossier(client, case["id"])
    assert response.status_code == 200, response.text
    html = re.sub(r"[ \n]+", " ", response.text)
    assert "<h2>督办记录</h2>" in html
    assert "督办人：李春华　　下达时间：2027-01-25 09:00" in html
    assert '<td class="pre">三日内上门调解并回复</td>' in html
    assert "<th>办理期限</th><td>2027-01-31</td>" in html
    assert "<th>办理状态</th><td>已验收</td>" in html
    rows = re.findall(
        r"<tr><td>([0-9: -]+)</td><td>([^<]+)</td><td>([^<]+)</td><td class=\"pre\">([^<]*)</td></tr>", html
    )
    assert rows == [
        ("2027-01-25 09:00", "下达督办", "李春华", ""),
        ("2027-01-25 15:00", "签收", "杨正发", ""),
        ("2027-01-27 10:00", "报告办理情况", "杨正发", "已电话联系双方"),
        ("2027-01-27 16:30", "退回重办", "李春华", "须当面调解"),
        ("2027-01-29 11:00", "报告办理情况", "杨正发", "已上门调解，双方和解"),
        ("2027-01-30 09:15", "验收通过", "李春华", ""),
    ]
    # The event log names the steps in Chinese too.
    assert "<td>签收督办</td>" in html and "<td>验收督办</td>" in html
    pdf = await _pdf(response.text)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "dossier-supervision.pdf").write_bytes(pdf)
    (ARTIFACTS / "dossier-supervision.html").write_text(response.text, encoding="utf-8")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).replace(" ", "")
    assert "督办记录" in text and "退回重办" in text


async def test_a_file_without_supervision_says_so(client):
    case = await _archived_case(client)
    response = await _dossier(client, case["id"])
    assert "本案无督办。" in response.text
    assert "包案领导" not in response.text  # no leader was in charge: no empty line for one


async def test_the_file_names_the_leader_in_charge(client):
    from backend.cases.tables import Case
    from backend.people.tables import User

    case = await _archived_case(client)
    leader = await User.select(User.id).where(User.username == "tianyuan_leader").first().run()
    await Case.update({Case.leader: leader["id"]}).where(Case.id == case["id"]).run()
    response = await _dossier(client, case["id"])
    assert response.status_code == 200
    assert re.search(r'<td class="k">包案领导</td><td>周光荣</td>', response.text)
