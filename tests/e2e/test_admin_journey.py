"""The admin console in a desktop browser, and what its actions do to a phone (issue 13).

- The county office imports a roster with one bad row: the dry run shows that row and writes nothing;
  the fixed file imports, the one-time passwords download once, and the same file again changes nothing.
- It resets mediator1's password; mediator1 signs in on a phone with the one-time password and must set a
  new one before anything else.
- It disables mediator2, whose phone is signed out at its next contact and cannot sign in again.
- It wipes a phone that holds an unsent case: the phone sends the case first, then deletes everything
  local and shows why.

Screenshots of each step go to test-artifacts/admin-*.png."""

from __future__ import annotations

import io
import re

import httpx
import pytest
from openpyxl import load_workbook

from tests.e2e.conftest import PHONE, screenshot_path
from tests.factories import TIANYUAN_POINT, auth, case_body, login

# Chromium driving a server process of its own (live_server): 5 to 25 s a test.
pytestmark = [pytest.mark.e2e, pytest.mark.server, pytest.mark.slow]

DESKTOP = {"width": 1280, "height": 800}
TABLET = {"width": 768, "height": 1024}
TIANYUAN = "530524101000"  # 田园镇
GUANMIAO = "530524101001"  # 关庙社区
WIPE_NOTICE = "管理员已清除此设备上的数据（已发送的记录都在服务器上）"
NEW_PASSWORD = "Lancang-river-2026"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
async def desktop(browser, live_server):
    context = await browser.new_context(
        viewport=DESKTOP,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        base_url=live_server,
        accept_downloads=True,
    )
    page = await context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # the console's "are you sure?" confirmations
    yield page
    await context.close()


@pytest.fixture
async def api(live_server):
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as client:
        yield client


async def sign_in(page, username: str, password: str = "demo-2026", device: str | None = None) -> None:
    await page.goto("/")
    await page.get_by_test_id("login-username").fill(username)
    await page.get_by_test_id("login-password").fill(password)
    if device:
        await page.get_by_test_id("login-device").fill(device)
    await page.get_by_test_id("login-submit").click()


async def signed_in(page, username: str, device: str | None = None) -> None:
    await sign_in(page, username, device=device)
    await page.get_by_test_id("me-name").wait_for()


async def synced(page) -> None:
    """The phone's first sync is done (categories and the township's grids are on it)."""
    await page.wait_for_function(
        "() => document.querySelector('[data-testid=last-sync]')?.textContent !== '从未'", timeout=30_000
    )


async def find_user(page, username: str):
    """The users screen, searched down to one account; returns its row."""
    await page.goto("/admin/users")
    await page.get_by_test_id("users-q").fill(username)
    row = page.get_by_test_id(f"user-row-{username}")
    await row.wait_for()
    # The search has answered: only that account is listed.
    await page.wait_for_function("() => document.querySelectorAll('[data-testid^=user-row-]').length === 1")
    await page.locator('[data-testid=users-table][aria-busy="false"]').wait_for()
    return row


# --- the roster file ----------------------------------------------------------------------------------

# Which column of the template takes which value: the first header that contains one of the words.
TEAM_COLUMNS = {
    "township": ("乡镇",),
    "villages": ("村", "社区"),
    "leader": ("队长",),
    "name": ("名称", "队名", "调解队"),
}
MEMBER_COLUMNS = {
    "username": ("用户名", "账号"),
    "phone": ("手机", "电话"),
    "role": ("角色",),
    "kind": ("身份", "类别", "类型"),
    "village": ("村", "社区"),
    "team": ("调解队", "队伍", "所属"),
    "name": ("姓名",),
}


def header_row(ws) -> int:
    for r in range(1, 6):
        if sum(1 for c in ws[r] if isinstance(c.value, str) and c.value.strip()) >= 3:
            return r
    raise AssertionError(f"no header row in sheet {ws.title}")


def columns(ws, row: int, wanted: dict[str, tuple[str, ...]]) -> dict[str, int]:
    found: dict[str, int] = {}
    for cell in ws[row]:
        header = str(cell.value or "")
        for key, words in wanted.items():
            if key not in found and any(w in header for w in words):
                found[key] = cell.column
                break
    return found


def allowed(ws, column: int, prefer: tuple[str, ...], fallback: str) -> str:
    """A value from the column's data-validation list (the template's own spelling), else the fallback."""
    for dv in ws.data_validations.dataValidation:
        if dv.type != "list" or not dv.formula1 or not dv.formula1.startswith('"'):
            continue
        if any(rng.min_col <= column <= rng.max_col for rng in dv.sqref.ranges):
            options = dv.formula1.strip('"').split(",")
            for p in prefer:
                if p in options:
                    return p
    return fallback


def roster(template: bytes, teams: list[dict], members: list[dict]) -> bytes:
    """The county's template filled in (its example rows dropped) with these teams and members."""
    wb = load_workbook(io.BytesIO(template))
    for sheet, rows, wanted in (("队伍", teams, TEAM_COLUMNS), ("队员", members, MEMBER_COLUMNS)):
        ws = wb[sheet]
        top = header_row(ws)
        cols = columns(ws, top, wanted)
        if ws.max_row > top:
            ws.delete_rows(top + 1, ws.max_row - top)
        for i, row in enumerate(rows, start=top + 1):
            for key, value in row.items():
                if key not in cols:
                    continue  # e.g. a template that derives the township from the villages
                if key == "role":
                    value = allowed(ws, cols[key], (value, "mediator"), value)
                if key == "kind":
                    value = allowed(ws, cols[key], (value,), value)
                ws.cell(row=i, column=cols[key], value=value)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def roster_data_row(template: bytes, index: int) -> int:
    """The spreadsheet row number of the index-th member (0-based) under the template's header."""
    return header_row(load_workbook(io.BytesIO(template))["队员"]) + 1 + index


async def check_file(page, path) -> None:
    await page.get_by_test_id("roster-file").set_input_files(str(path))
    await page.get_by_test_id("roster-check").click()
    await page.get_by_test_id("roster-result").wait_for()


async def test_county_imports_a_roster_with_one_bad_row_fixes_it_and_imports_again(desktop, api, tmp_path):
    page = desktop
    county = await auth(api, "county")
    response = await api.get("/api/admin/roster/template", headers=county)
    assert response.status_code == 200, response.text
    template = response.content
    villages = (await api.get("/api/regions", params={"parent": TIANYUAN}, headers=county)).json()
    village = next(v["code"] for v in villages if v["level"] == "village" and v["code"] != GUANMIAO)

    team = {"name": "导入测试红色调解队", "township": TIANYUAN, "villages": village}
    good = {"name": "杨丽华", "phone": "13900001101", "username": "import.yang", "role": "调解员"}
    good |= {"team": team["name"], "kind": "老党员", "village": village}
    bad = {"name": "赵建国", "phone": "13900001102", "username": "import.zhao", "role": "调解员"}
    bad |= {"team": team["name"], "kind": "老干部", "village": "530524101999"}  # no such village
    broken = tmp_path / "花名册.xlsx"
    broken.write_bytes(roster(template, [team], [good, bad]))

    await signed_in(page, "county")
    await page.goto("/admin/roster")
    await check_file(page, broken)

    # The dry run names the one bad row, and nothing was written.
    rows = page.get_by_test_id("roster-error-row")
    assert await rows.count() == 1
    cells = await rows.first.locator("td").all_inner_texts()
    assert cells[0] == "队员"
    assert cells[1] == f"第 {roster_data_row(template, 1)} 行"
    assert cells[2:] == ["村（社区）代码", "村（社区）代码 530524101999 不存在"]
    assert await page.get_by_test_id("roster-import").count() == 0
    assert await page.get_by_test_id("roster-result").get_attribute("data-applied") == "0"
    await page.screenshot(path=screenshot_path("admin-01-roster-errors"), full_page=True)
    listed = await api.get("/api/admin/users", params={"q": "import."}, headers=county)
    assert listed.json()["items"] == []

    # Fixed in Excel, checked again: no errors, the counts of what will happen.
    fixed = tmp_path / "花名册-改.xlsx"
    fixed.write_bytes(roster(template, [team], [good, {**bad, "village": village}]))
    await check_file(page, fixed)
    assert await page.get_by_test_id("roster-error-row").count() == 0
    assert await page.get_by_test_id("roster-teams-created").inner_text() == "1"
    assert await page.get_by_test_id("roster-users-created").inner_text() == "2"
    assert await page.get_by_test_id("roster-users-updated").inner_text() == "0"

    # Import; the one-time passwords come once, as an XLSX.
    await page.get_by_test_id("roster-import").click()
    await page.get_by_test_id("roster-applied").wait_for()
    await page.screenshot(path=screenshot_path("admin-02-roster-applied"), full_page=True)
    async with page.expect_download() as info:
        await page.get_by_test_id("roster-passwords-download").click()
    download = await info.value
    assert re.fullmatch(r"初始密码-\d{4}-\d{2}-\d{2}\.xlsx", download.suggested_filename)
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    sheet_rows = [
        [c for c in row if c is not None]
        for ws in load_workbook(saved)
        for row in ws.iter_rows(values_only=True)
    ]
    for username in ("import.yang", "import.zhao"):
        row = next(r for r in sheet_rows if username in r)
        # One of the other cells of that row is the password it signs in with, once, to change it.
        candidates = [str(c) for c in row if c != username]
        answers = [
            await api.post(
                "/api/auth/login", json={"username": username, "password": p, "device_name": "导入核对"}
            )
            for p in candidates
        ]
        signed = [a.json() for a in answers if a.status_code == 200]
        assert len(signed) == 1, (username, [a.status_code for a in answers])
        assert signed[0]["must_change_password"] is True

    listed = (await api.get("/api/admin/users", params={"q": "import."}, headers=county)).json()["items"]
    assert sorted(u["username"] for u in listed) == ["import.yang", "import.zhao"]
    assert {u["team"]["name"] for u in listed} == {team["name"]}

    # The same file again changes nothing.
    await page.goto("/admin/roster")
    await check_file(page, fixed)
    for what in ("teams-created", "teams-updated", "users-created", "users-updated"):
        assert await page.get_by_test_id(f"roster-{what}").inner_text() == "0", what

    # The console on a tablet.
    await page.set_viewport_size(TABLET)
    await page.screenshot(path=screenshot_path("admin-03-roster-tablet"), full_page=True)


async def test_reset_password_then_mediator1_must_change_it_on_the_phone(desktop, phone, api):
    page = desktop
    await signed_in(page, "county")
    row = await find_user(page, "mediator1")
    await page.screenshot(path=screenshot_path("admin-04-users"), full_page=True)
    await row.get_by_test_id("user-reset-mediator1").click()
    shown = page.get_by_test_id("otp-value")
    await shown.wait_for()
    one_time = (await shown.inner_text()).strip()
    assert len(one_time) >= 8
    await page.screenshot(path=screenshot_path("admin-05-one-time-password"))
    await page.get_by_test_id("otp-close").click()
    assert await page.get_by_test_id("otp-value").count() == 0  # shown once, not kept
    await row.get_by_test_id("user-status").filter(has_text="待改密码").wait_for()

    # The old password is gone.
    old = await api.post(
        "/api/auth/login", json={"username": "mediator1", "password": "demo-2026", "device_name": "旧密码"}
    )
    assert old.status_code == 401
    assert old.json()["code"] == "auth.invalid_credentials"

    # On the phone: the one-time password signs in, straight to "设置新密码", and nothing else opens.
    await sign_in(phone, "mediator1", one_time)
    await phone.get_by_test_id("password-forced").wait_for()
    assert await phone.get_by_test_id("password-old").count() == 0  # the password just typed is used
    await phone.screenshot(path=screenshot_path("admin-06-phone-must-change"))
    await phone.goto("/cases")
    await phone.get_by_test_id("password-forced").wait_for()
    # After a reload the one-time password is asked for again (it is kept only in memory).
    await phone.get_by_test_id("password-old").fill(one_time)

    # A weak one is refused in Chinese; then a good one.
    await phone.get_by_test_id("password-new").fill("12345678")
    await phone.get_by_test_id("password-repeat").fill("12345678")
    await phone.get_by_test_id("password-submit").click()
    assert await phone.get_by_test_id("password-error").inner_text() == "密码不能是连续数字。"
    await phone.get_by_test_id("password-new").fill(NEW_PASSWORD)
    await phone.get_by_test_id("password-repeat").fill(NEW_PASSWORD)
    await phone.get_by_test_id("password-submit").click()
    await phone.get_by_test_id("password-done").wait_for()
    await phone.screenshot(path=screenshot_path("admin-07-phone-password-set"))
    await phone.get_by_test_id("password-continue").click()
    await phone.get_by_test_id("me-name").wait_for()
    assert await phone.get_by_test_id("me-name").inner_text() == "王德明"
    await phone.goto("/cases")
    assert await phone.get_by_test_id("password-forced").count() == 0

    again = await login(api, "mediator1", NEW_PASSWORD)
    assert again["must_change_password"] is False
    reused = await api.post(
        "/api/auth/login", json={"username": "mediator1", "password": one_time, "device_name": "再用一次"}
    )
    assert reused.status_code == 401


async def test_disabled_mediator2_is_signed_out_at_the_next_contact(desktop, phone, api):
    await signed_in(phone, "mediator2")
    await synced(phone)

    page = desktop
    await signed_in(page, "county")
    row = await find_user(page, "mediator2")
    await row.get_by_test_id("user-toggle-mediator2").click()
    await row.get_by_test_id("user-status").filter(has_text="已停用").wait_for()
    await page.get_by_test_id("users-notice").filter(has_text="已停用").wait_for()
    await page.screenshot(path=screenshot_path("admin-08-user-disabled"), full_page=True)

    # The phone's next contact with the server (here: the app opened again) ends its session.
    await phone.reload()
    error = phone.get_by_test_id("login-error")
    await error.wait_for(timeout=20_000)
    assert await error.inner_text() == "此设备已被管理员停用，请重新登录"

    # And the account cannot sign in again.
    await sign_in(phone, "mediator2")
    await phone.get_by_test_id("login-error").filter(has_text="账号已被停用").wait_for()
    assert await phone.get_by_test_id("login-error").inner_text() == "账号已被停用，请联系管理员"
    await phone.screenshot(path=screenshot_path("admin-09-phone-disabled"))
    refused = await api.post(
        "/api/auth/login", json={"username": "mediator2", "password": "demo-2026", "device_name": "再试"}
    )
    assert refused.status_code == 403
    assert refused.json()["code"] == "auth.account_disabled"


LOCAL_COUNTS = """() => new Promise((resolve, reject) => {
  const open = indexedDB.open('fengqiao')
  open.onerror = () => reject(open.error)
  open.onsuccess = () => {
    const db = open.result
    const names = ['outbox', 'cases', 'photos', 'session', 'drafts']
    const tx = db.transaction(names, 'readonly')
    const out = {}
    names.forEach((n) => {
      const req = tx.objectStore(n).count()
      req.onsuccess = () => { out[n] = req.result }
    })
    tx.oncomplete = () => { db.close(); resolve(out) }
  }
})"""


async def test_a_wiped_phone_sends_its_unsent_case_then_forgets_everything(desktop, phone, api):
    title = "擦除前未发送的纠纷"
    device = "手机-擦除测试"
    await signed_in(phone, "mediator1", device=device)
    await synced(phone)
    # The service worker has the app, so its screens open without signal.
    await phone.evaluate("navigator.serviceWorker.ready.then(() => true)")
    await phone.wait_for_function("() => !!navigator.serviceWorker.controller", timeout=15_000)

    # No signal: a case is logged and waits in the outbox.
    await phone.context.set_offline(True)
    await phone.get_by_test_id("go-capture").click()
    await phone.get_by_test_id("cap-category").select_option("neighbour")
    await phone.get_by_test_id("cap-title").fill(title)
    await phone.get_by_test_id("cap-level-small").click()
    await phone.wait_for_function(
        "() => document.querySelector('[data-testid=cap-place]')?.textContent.includes('关庙社区')",
        timeout=15_000,
    )
    if await phone.get_by_test_id("cap-boundary").count():
        await phone.get_by_test_id("cap-boundary-ok").check()
    await phone.get_by_test_id("cap-save").click()
    await phone.get_by_test_id("outbox-item").wait_for()
    assert (await phone.evaluate(LOCAL_COUNTS))["outbox"] == 1

    # The county office asks for a wipe of that phone.
    county = await auth(api, "county")
    me = (await api.get("/api/me", headers=await auth(api, "mediator1"))).json()
    page = desktop
    await signed_in(page, "county")
    await page.goto(f"/admin/devices?user_id={me['id']}")
    row = page.locator("[data-testid^=device-row-]", has_text=device)
    await row.wait_for()
    await row.get_by_test_id("device-wipe").click()
    await row.get_by_test_id("device-status").filter(has_text="待清除").wait_for()
    await page.screenshot(path=screenshot_path("admin-10-device-wipe-requested"), full_page=True)

    # Signal again: the phone sends the case, then wipes itself and says why.
    await phone.context.set_offline(False)
    notice = phone.get_by_test_id("login-error")
    await notice.filter(has_text="已清除").wait_for(timeout=60_000)
    assert await notice.inner_text() == WIPE_NOTICE
    await phone.screenshot(path=screenshot_path("admin-11-phone-wiped"))
    assert await phone.evaluate(LOCAL_COUNTS) == {
        "outbox": 0,
        "cases": 0,
        "photos": 0,
        "session": 0,
        "drafts": 0,
    }

    cases = (await api.get("/api/cases", params={"limit": 200}, headers=county)).json()["items"]
    assert [c["title"] for c in cases if c["title"] == title] == [title]  # sent once, before the wipe
    devices = (await api.get("/api/admin/devices", params={"user_id": me["id"]}, headers=county)).json()
    wiped = next(d for d in devices if d["name"] == device)
    assert wiped["wipe_requested_at"] and wiped["wiped_at"]
    await page.reload()
    await row.get_by_test_id("device-status").filter(has_text="已清除").wait_for()


async def test_township_supervisor_sees_only_the_township_screens(desktop, browser, live_server):
    page = desktop
    await signed_in(page, "tianyuan")
    await page.goto("/admin")
    await page.get_by_test_id("anav-users").wait_for()
    links = await page.locator('nav[aria-label="管理后台"] a').all_inner_texts()
    assert links == ["用户", "调解队", "设备", "花名册导入"]
    await page.goto("/admin/audit")  # county-only: back to the users screen
    await page.wait_for_url("**/admin/users")
    await page.screenshot(path=screenshot_path("admin-12-township-users"), full_page=True)

    # Not broken on a phone.
    context = await browser.new_context(viewport=PHONE, locale="zh-CN", base_url=live_server, is_mobile=True)
    small = await context.new_page()
    await signed_in(small, "county")
    await small.goto("/admin/users")
    await small.get_by_test_id("users-new").wait_for()
    await small.screenshot(path=screenshot_path("admin-13-phone-console"), full_page=True)
    width = await small.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"]
    await context.close()


async def test_county_edits_categories_and_visit_policies_and_reads_the_audit_log(desktop, api, tmp_path):
    page = desktop
    county = await auth(api, "county")
    await signed_in(page, "county")

    # A new category, renamed, then deactivated: phones no longer offer it.
    await page.goto("/admin/categories")
    await page.get_by_test_id("category-row-neighbour").wait_for()
    await page.get_by_test_id("category-new-code").fill("water")
    await page.get_by_test_id("category-new-name").fill("用水纠纷")
    await page.get_by_test_id("category-new-national").fill("生产经营")
    await page.get_by_test_id("category-add").click()
    row = page.get_by_test_id("category-row-water")
    await row.wait_for()
    await row.get_by_test_id("category-name").fill("灌溉用水纠纷")
    await row.get_by_test_id("category-save").click()
    await page.get_by_test_id("categories-notice").filter(has_text="灌溉用水纠纷").wait_for()
    await row.get_by_test_id("category-toggle").click()
    await row.get_by_test_id("category-toggle").filter(has_text="启用").wait_for()
    await page.screenshot(path=screenshot_path("admin-14-categories"), full_page=True)
    everything = (
        await api.get("/api/categories", params={"include_inactive": "true"}, headers=county)
    ).json()
    water = next(c for c in everything if c["code"] == "water")
    assert water == {
        "code": "water",
        "name": "灌溉用水纠纷",
        "national_category": "生产经营",
        "active": False,
    }
    offered = (await api.get("/api/categories", headers=county)).json()
    assert "water" not in {c["code"] for c in offered}

    # Visit days for 大事, and a rule of its own for one category; a bad entry is refused in Chinese.
    await page.goto("/admin/visit-policies")
    big = page.get_by_test_id("policy-row-big-all")
    await big.wait_for()
    await big.get_by_test_id("policy-days").fill("5，15、60")
    await big.get_by_test_id("policy-save").click()
    await page.get_by_test_id("policies-notice").filter(has_text="第 5、15、60 天").wait_for()
    await page.get_by_test_id("policy-new-level").select_option("small")
    await page.get_by_test_id("policy-new-category").select_option("labour")
    await page.get_by_test_id("policy-new-days").fill("30, 3")
    await page.get_by_test_id("policy-add").click()
    await page.get_by_test_id("policy-row-small-labour").wait_for()
    await big.get_by_test_id("policy-days").fill("0")
    await big.get_by_test_id("policy-save").click()
    assert (
        await page.get_by_test_id("policies-error").inner_text() == "大事 · 全部类别：天数应在 1 到 365 之间"
    )
    await page.screenshot(path=screenshot_path("admin-15-visit-policies"), full_page=True)
    policies = (await api.get("/api/visit-policies", headers=county)).json()
    by_key = {(p["level"], p["category"]): (p["offsets_days"], p["source"]) for p in policies}
    assert by_key[("big", None)] == ([5, 15, 60], "custom")
    assert by_key[("small", "labour")] == ([3, 30], "custom")

    # The audit log: the county office read a case's parties; filter to that case.
    body = case_body(TIANYUAN_POINT, title="审计日志核对")
    created = await api.post("/api/cases", json=body, headers=county)
    assert created.status_code == 201, created.text
    case_id = created.json()["id"]
    assert (await api.get(f"/api/cases/{case_id}", headers=county)).status_code == 200  # an audited read
    await page.goto("/admin/audit")
    await page.get_by_test_id("audit-case").fill(case_id)
    await page.get_by_test_id("audit-search").click()
    await page.get_by_test_id("audit-row").filter(has_text="查看当事人信息").wait_for()
    rows = page.get_by_test_id("audit-row")
    texts = await rows.all_inner_texts()
    assert all(case_id[:8] in t for t in texts), texts
    assert any("查看当事人信息" in t and "county" in t for t in texts), texts
    await page.screenshot(path=screenshot_path("admin-16-audit"), full_page=True)

    # What the filter selects, as an XLSX for the county's records.
    async with page.expect_download() as info:
        await page.get_by_test_id("audit-export").click()
    download = await info.value
    assert re.fullmatch(r"审计日志-\d{4}-\d{2}-\d{2}\.xlsx", download.suggested_filename)
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    exported = list(load_workbook(saved).active.iter_rows(min_row=2, values_only=True))
    assert {row[3] for row in exported} == {case_id}
    assert {row[2] for row in exported} == {"case.create", "case.read_personal"}


async def test_county_creates_an_account_with_a_one_time_password_and_edits_it(desktop, api):
    page = desktop
    county = await auth(api, "county")
    await signed_in(page, "county")
    await page.goto("/admin/users")
    await page.get_by_test_id("users-new").click()
    dialog = page.get_by_test_id("user-dialog")
    await dialog.get_by_test_id("user-username").fill("Grid Worker")  # refused before asking the server
    await dialog.get_by_test_id("user-save").click()
    await dialog.get_by_text("用户名只能用小写字母、数字和 . _ -，3–32 位").wait_for()
    await dialog.get_by_test_id("user-username").fill("grid.li")
    await dialog.get_by_test_id("user-name").fill("李网格")
    await dialog.get_by_test_id("user-role").select_option("grid_worker")
    await dialog.get_by_test_id("user-township").select_option(TIANYUAN)
    await (
        dialog.get_by_test_id("user-village")
        .locator(f"option[value='{GUANMIAO}']")
        .wait_for(state="attached")
    )
    await dialog.get_by_test_id("user-village").select_option(GUANMIAO)
    await dialog.get_by_test_id("user-phone").fill("13912345678")
    await page.screenshot(path=screenshot_path("admin-17-user-create"))
    await dialog.get_by_test_id("user-save").click()

    # No password given: a one-time password, shown once.
    one_time = (await page.get_by_test_id("otp-value").inner_text()).strip()
    await page.get_by_test_id("otp-close").click()
    row = page.get_by_test_id("user-row-grid.li")
    await row.wait_for()
    assert "139****5678" in await row.inner_text()
    first = await login(api, "grid.li", one_time)
    assert first["must_change_password"] is True
    assert first["user"]["scope"]["code"] == GUANMIAO

    # Edit: the full phone number is read (audited) to fill the form; a new one is saved.
    await row.get_by_test_id("user-edit-grid.li").click()
    dialog = page.get_by_test_id("user-dialog")
    assert await dialog.get_by_test_id("user-phone").input_value() == "13912345678"
    await dialog.get_by_test_id("user-phone").fill("1391234567")
    await dialog.get_by_test_id("user-save").click()
    await dialog.get_by_text("手机号码应为 11 位（现在 10 位）").wait_for()
    await dialog.get_by_test_id("user-phone").fill("13987654321")
    await dialog.get_by_test_id("user-save").click()
    await page.get_by_test_id("users-notice").filter(has_text="已保存 李网格").wait_for()
    assert "139****4321" in await row.inner_text()
    user = (await api.get(f"/api/admin/users/{first['user']['id']}", headers=county)).json()
    assert user["phone"] == "13987654321"

    # Opening the account for editing read its full phone number: that read is in the audit log.
    await page.goto("/admin/audit")
    await page.get_by_test_id("audit-user").fill("county")
    await page.get_by_test_id("audit-search").click()
    await page.get_by_test_id("audit-row").filter(has_text="查看账号（含手机号码）").first.wait_for()


async def test_county_creates_a_team_adds_a_member_and_revokes_a_device(desktop, api):
    page = desktop
    county = await auth(api, "county")
    await signed_in(page, "county")
    await page.goto("/admin/teams")
    await page.get_by_test_id("teams-new").click()
    dialog = page.get_by_test_id("team-dialog")
    await dialog.get_by_test_id("team-name").fill("右岸新村红色调解队")
    await dialog.get_by_test_id("team-township").select_option(TIANYUAN)
    villages = (await api.get("/api/regions", params={"parent": TIANYUAN}, headers=county)).json()
    village = next(v for v in villages if v["level"] == "village" and v["code"] != GUANMIAO)
    await dialog.get_by_test_id(f"team-village-{village['code']}").check()
    await dialog.get_by_test_id("team-save").click()
    await page.get_by_test_id("teams-notice").filter(has_text="已创建 右岸新村红色调解队").wait_for()
    team = page.locator("[data-testid^=team-row-]", has_text="右岸新村红色调解队")
    assert village["name"] in await team.inner_text()

    team_id = (await team.get_attribute("data-testid")).removeprefix("team-row-")
    await team.get_by_test_id(f"team-members-{team_id}").click()
    await page.get_by_test_id("member-name").fill("杨老师")
    await page.get_by_test_id("member-kind").select_option("律师")
    await page.get_by_test_id("member-add").click()
    await page.get_by_test_id(f"team-member-list-{team_id}").filter(has_text="杨老师").wait_for()
    await page.screenshot(path=screenshot_path("admin-18-team-members"), full_page=True)
    teams = (await api.get("/api/admin/teams", params={"q": "右岸新村"}, headers=county)).json()
    assert [(m["name"], m["kind"]) for m in teams[0]["members"]] == [("杨老师", "律师")]
    assert [v["code"] for v in teams[0]["villages"]] == [village["code"]]

    # A lost phone: revoked from the devices screen; its token stops working at once.
    lost = await login(api, "leader1", device_name="丢失的手机")
    await page.goto(f"/admin/devices?user_id={lost['user']['id']}")
    device = page.locator("[data-testid^=device-row-]", has_text="丢失的手机")
    await device.get_by_test_id("device-revoke").click()
    await device.get_by_test_id("device-status").filter(has_text="已停用").wait_for()
    await page.screenshot(path=screenshot_path("admin-19-devices"), full_page=True)
    me = await api.get("/api/me", headers={"Authorization": f"Bearer {lost['access_token']}"})
    assert me.status_code == 401
    assert me.json()["code"] == "auth.device_revoked"
