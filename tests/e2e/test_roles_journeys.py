"""Every role finishes its job in the app: the team leader on the phone (待受理, accept, assign,
escalate); a mediator settling a 小事 on the spot with no signal at all; a return visit with nothing
pre-chosen; a supervisor's refer and merge from the map's drawer; search; and the sign-in throttle that
locks one account, not the office. Screenshots go to test-artifacts/roles-*.png."""

from __future__ import annotations

import asyncio
import io
from datetime import datetime

import httpx
import pytest
from PIL import Image

from tests.e2e.conftest import screenshot_path
from tests.e2e.test_field_journey import READ_OUTBOX, wait_controlled
from tests.factories import KASI_POINT, TIANYUAN_POINT, act, auth, case_body

pytestmark = [pytest.mark.e2e, pytest.mark.server, pytest.mark.slow]

DESKTOP = {"width": 1280, "height": 800}
AGREEMENT = {
    "facts": "堆放建材占道",
    "matters": "通道使用",
    "terms": "张家三日内清走建材",
    "performance": "当场履行",
}


@pytest.fixture
async def api(live_server):
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as client:
        yield client


async def sign_in(page, username: str, *, synced: bool = True) -> None:
    await page.goto("/")
    await page.get_by_test_id("login-username").fill(username)
    await page.get_by_test_id("login-password").fill("demo-2026")
    await page.get_by_test_id("login-submit").click()
    await page.get_by_test_id("me-name").wait_for()
    if synced:
        await page.wait_for_function(
            "() => document.querySelector('[data-testid=last-sync]')?.textContent !== '从未'", timeout=30_000
        )


async def new_case(api, username: str, point=TIANYUAN_POINT, **fields) -> dict:
    response = await api.post(
        "/api/cases", json=case_body(point, **fields), headers=await auth(api, username)
    )
    assert response.status_code == 201, response.text
    return response.json()


async def server_case(api, case_id: str, username: str = "county") -> dict:
    return (await api.get(f"/api/cases/{case_id}", headers=await auth(api, username))).json()


async def until_sent(page) -> None:
    """The phone's outbox has nothing left to send. Polled with `evaluate`, which waits for the
    IndexedDB read: `wait_for_function` does not await a returned promise (a promise is truthy), so it
    returned at once and a read right after could still find the step before."""
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        states = await page.evaluate(OUTBOX_STATES)
        if all(state == "done" for state in states):
            return
        assert asyncio.get_running_loop().time() < deadline, f"outbox still holds {states}"
        await asyncio.sleep(0.5)


OUTBOX_STATES = """() => new Promise((ok, no) => { const r = indexedDB.open('fengqiao'); r.onerror = no;
  r.onsuccess = () => { const g = r.result.transaction('outbox').objectStore('outbox').getAll();
  g.onsuccess = () => ok(g.result.map(x => x.state)); g.onerror = no } })"""


def signed_agreement_photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (800, 1000), (240, 236, 220)).save(out, "JPEG", quality=80)
    return out.getvalue()


async def test_team_leader_accepts_assigns_and_escalates_on_the_phone(phone, api):
    page = phone
    small = await new_case(api, "mediator1", title="楼上漏水浸湿楼下", level="small")
    hard = await new_case(api, "mediator1", title="宅基地边界争议", level="hard")
    mine = await server_case(api, small["id"], "mediator1")
    assert mine["next_step"] == "等待调解队长受理"

    await sign_in(page, "leader1")
    await page.wait_for_function(
        "() => document.querySelector('[data-testid=count-to-accept] .n')?.textContent === '2'",
        timeout=15_000,
    )
    await page.screenshot(path=screenshot_path("roles-01-leader-home"))
    await page.get_by_test_id("count-to-accept").click()
    await page.get_by_test_id("cases-todo").wait_for()
    assert await page.get_by_test_id("case-item").count() == 2
    await page.screenshot(path=screenshot_path("roles-02-leader-todo"))

    await page.get_by_test_id("case-item").filter(has_text="楼上漏水浸湿楼下").click()
    assert "等待调解队长受理" in await page.get_by_test_id("case-next").inner_text()
    await page.screenshot(path=screenshot_path("roles-03-leader-case"), full_page=True)
    await page.get_by_test_id("act-accept").click()
    await page.get_by_test_id("act-submit").click()
    await page.get_by_test_id("case-detail").wait_for()
    assert "调解中" in await page.get_by_test_id("case-state").inner_text()  # on the phone's copy at once
    await until_sent(page)
    await page.get_by_test_id("act-assign").click()
    await page.get_by_test_id("assign-王德明").check()
    await page.screenshot(path=screenshot_path("roles-04-leader-assign"))
    await page.get_by_test_id("act-submit").click()
    await page.get_by_test_id("case-detail").wait_for()
    await until_sent(page)

    await page.goto(f"/cases/{hard['id']}")
    await page.get_by_test_id("act-escalate").click()
    await page.get_by_test_id("act-reason").fill("涉及两个村民小组的土地，需乡镇联合调处")
    await page.screenshot(path=screenshot_path("roles-05-leader-escalate"))
    await page.get_by_test_id("act-submit").click()
    await page.get_by_test_id("case-detail").wait_for()
    await until_sent(page)

    accepted = await server_case(api, small["id"])
    assert accepted["state"] == "mediating" and accepted["mediator"]["name"] == "王德明"
    assert [e["action"] for e in accepted["events"]] == ["create", "accept", "assign"]
    escalated = await server_case(api, hard["id"])
    assert escalated["owner_level"] == "township" and escalated["events"][-1]["action"] == "escalate"
    assert escalated["next_step"] == "等待乡镇综治中心受理"


async def finish_capture(page) -> None:
    """The rest of the capture form once category and title are in: a small matter, two parties, the
    place found from the phone's fix (关庙社区), saved."""
    await page.get_by_test_id("cap-level-small").click()
    await page.get_by_test_id("party-0-name").fill("张建华")
    await page.get_by_test_id("party-0-phone").fill("13812345678")
    await page.get_by_test_id("party-1-name").fill("李秀英")
    await page.wait_for_function(
        "() => document.querySelector('[data-testid=cap-place]')?.textContent.includes('关庙社区')",
        timeout=15_000,
    )
    if await page.get_by_test_id("cap-boundary").count():
        await page.get_by_test_id("cap-boundary-ok").check()
    await page.get_by_test_id("cap-save").click()
    await page.get_by_test_id("saved-note").wait_for()


async def test_mediator_settles_a_small_matter_on_the_spot_with_no_signal(phone, api, tmp_path):
    page = phone
    await sign_in(page, "mediator1")
    await wait_controlled(page)
    await page.context.set_offline(True)
    await page.get_by_test_id("offline-banner").wait_for()

    await page.get_by_test_id("go-capture").click()
    await page.get_by_test_id("cap-category").select_option("neighbour")
    await page.get_by_test_id("cap-title").fill("鸡鸭进菜园吵架")
    await finish_capture(page)

    await page.get_by_test_id("tab-cases").click()
    await page.get_by_test_id("case-item").filter(has_text="鸡鸭进菜园吵架").click()
    assert "等待调解队长受理" in await page.get_by_test_id("case-next").inner_text()
    await page.get_by_test_id("act-note").click()
    await page.get_by_test_id("act-text").fill("当场拉家常，两家同意各让一步。")
    await page.get_by_test_id("act-submit").click()
    await page.get_by_test_id("act-resolve").click()
    await page.get_by_test_id("agr-facts").fill(AGREEMENT["facts"])
    await page.get_by_test_id("agr-matters").fill(AGREEMENT["matters"])
    await page.get_by_test_id("agr-responsibilities").fill("张家负主要责任")
    await page.get_by_test_id("obl-0-content").fill(AGREEMENT["terms"])
    await page.get_by_test_id("obl-0-manner").fill("自行清运")
    await page.get_by_test_id("obl-0-place").fill("菜园边")
    await page.get_by_test_id("obl-0-deadline").fill("2026-12-20")
    await page.get_by_test_id("act-submit").click()
    # Printed and signed elsewhere; the photo of the signed paper goes through the outbox too.
    await page.get_by_test_id("act-attach_signed_agreement").click()
    photo = tmp_path / "agreement.jpg"
    photo.write_bytes(signed_agreement_photo())
    await page.get_by_test_id("agr-photo").set_input_files(str(photo))
    await page.wait_for_function("() => !document.querySelector('[data-testid=act-submit]').disabled")
    await page.get_by_test_id("act-submit").click()
    await page.get_by_test_id("act-close").click()
    await page.get_by_test_id("act-submit").click()
    await page.get_by_test_id("case-detail").wait_for()
    assert "已办结" in await page.get_by_test_id("case-state").inner_text()
    await page.screenshot(path=screenshot_path("roles-10-offline-closed"), full_page=True)
    outbox = await page.evaluate(
        """() => new Promise((ok) => { const r = indexedDB.open('fengqiao');
          r.onsuccess = () => { const g = r.result.transaction('outbox').objectStore('outbox').getAll();
          g.onsuccess = () => ok(g.result.sort((a, b) => a.seq - b.seq).map(x => [x.type, x.state])) } })"""
    )
    assert [tuple(row) for row in outbox] == [
        ("case.create", "waiting"),
        ("case.note", "waiting"),
        ("case.action", "waiting"),
        ("case.action", "waiting"),
        ("case.action", "waiting"),
    ]
    captured = await page.evaluate(
        """() => new Promise((ok) => { const r = indexedDB.open('fengqiao');
          r.onsuccess = () => { const g = r.result.transaction('outbox').objectStore('outbox').getAll();
          g.onsuccess = () => ok(g.result.find(x => x.type === 'case.create').clientTime) } })"""
    )

    await page.context.set_offline(False)
    await page.goto("/outbox")
    await page.get_by_test_id("outbox-empty").wait_for(timeout=60_000)
    listed = (await api.get("/api/cases", headers=await auth(api, "mediator1"))).json()["items"]
    mine = [c for c in listed if c["title"] == "鸡鸭进菜园吵架"]
    assert len(mine) == 1, (listed, await page.evaluate(READ_OUTBOX))
    [case] = mine
    server = await server_case(api, case["id"], "mediator1")
    assert server["state"] == "closed"
    assert [e["action"] for e in server["events"]] == [
        "create",
        "note",
        "resolve",
        "attach_signed_agreement",
        "close",
    ]
    assert server["reported_at_source"] == "phone"
    assert datetime.fromisoformat(server["reported_at"]) == datetime.fromisoformat(
        captured.replace("Z", "+00:00")
    )
    signed = server["agreement"]["signed_photo"]
    assert signed and any(p["sha256"] == signed and p["status"] == "complete" for p in server["photos"])
    assert len(server["visits"]) == 1  # closing scheduled the return visit


async def test_a_visit_has_nothing_pre_chosen_and_shows_done_on_the_case(phone, api):
    page = phone
    case = await new_case(api, "mediator1", title="门前排水沟堵塞")
    for action, body in (("resolve", {"agreement": AGREEMENT}), ("close", {})):
        assert (await act(api, "mediator1", case["id"], action, **body)).status_code == 200
    await sign_in(page, "mediator1")
    await page.get_by_test_id("tab-visits").click()
    await page.get_by_test_id("visit-item").filter(has_text="门前排水沟堵塞").click()
    await page.get_by_test_id("visit-submit").wait_for()
    # Nothing chosen for the visitor.
    assert await page.locator("[aria-pressed=true]").count() == 0
    assert "张家三日内清走建材" in await page.get_by_test_id("visit-terms").inner_text()
    assert await page.get_by_test_id("visit-tel").first.get_attribute("href") == "tel:13812345678"
    await page.get_by_test_id("visit-submit").click()
    error = await page.get_by_test_id("visit-error").inner_text()
    assert error == "请选择：回访方式、当事人满意度、纠纷是否反复、协议履行情况"
    assert [row for row in await page.evaluate(READ_OUTBOX) if row[0] == "visit.record"] == []
    await page.screenshot(path=screenshot_path("roles-20-visit-unanswered"), full_page=True)

    await page.get_by_test_id("visit-method-phone").click()
    await page.get_by_test_id("visit-sat-basically_satisfied").click()
    await page.get_by_test_id("visit-not-recurred").click()
    await page.get_by_test_id("visit-perf-partly").click()
    await page.screenshot(path=screenshot_path("roles-21-visit-answered"), full_page=True)
    await page.get_by_test_id("visit-submit").click()
    await page.get_by_test_id("visits-recorded").or_(page.get_by_test_id("visits-empty")).first.wait_for()
    await until_sent(page)
    await page.goto(f"/cases/{case['id']}")
    await page.get_by_test_id("case-visit").filter(has_text="已回访").wait_for(timeout=20_000)
    await page.screenshot(path=screenshot_path("roles-22-case-visited"), full_page=True)
    server = await server_case(api, case["id"], "mediator1")
    [visit] = server["visits"]
    assert (visit["status"], visit["method"], visit["satisfaction"], visit["performance"]) == (
        "done",
        "phone",
        "basically_satisfied",
        "partly",
    )


@pytest.fixture
async def desktop(browser, live_server):
    context = await browser.new_context(
        viewport=DESKTOP, locale="zh-CN", timezone_id="Asia/Shanghai", base_url=live_server
    )
    page = await context.new_page()
    yield page
    await context.close()


async def test_a_supervisor_refers_and_merges_from_the_drawer(desktop, api):
    page = desktop
    big = await new_case(api, "tianyuan", title="工程款拖欠群体讨薪", level="big", parties=[])
    first = await new_case(api, "tianyuan", title="邻居修房占用通道")
    second = await new_case(api, "tianyuan", title="邻居修房占用通道（重复登记）")
    assert (await server_case(api, second["id"]))["duplicates"][0]["number"] == first["number"]

    await sign_in(page, "tianyuan", synced=False)
    await page.goto(f"/map?case={big['id']}")
    drawer = page.get_by_test_id("case-drawer")
    await drawer.get_by_test_id("drawer-title").filter(has_text="工程款拖欠群体讨薪").wait_for(timeout=30_000)
    await drawer.get_by_test_id("drawer-action-refer").click()
    await drawer.get_by_test_id("refer-target").select_option("legal_aid")
    await drawer.get_by_test_id("action-reason").fill("涉及劳动报酬，走法律援助")
    await page.screenshot(path=screenshot_path("roles-30-drawer-refer"))
    await drawer.get_by_test_id("action-submit").click()
    await drawer.get_by_test_id("drawer-done").filter(has_text="已移交").wait_for()
    assert "已移交" in await drawer.get_by_test_id("drawer-state").inner_text()
    referred = await server_case(api, big["id"])
    assert (referred["state"], referred["refer_target"]) == ("referred", "legal_aid")

    await page.goto(f"/map?case={second['id']}")
    await drawer.get_by_test_id("drawer-duplicates").wait_for(timeout=30_000)
    assert "clear_conflict" not in (await server_case(api, second["id"], "tianyuan"))["allowed_actions"]
    assert await drawer.get_by_test_id("drawer-action-clear_conflict").count() == 0
    await page.screenshot(path=screenshot_path("roles-31-drawer-duplicate"))

    async def answer_late(route):
        # On a slow link the map's live stream says the case is gone before the answer arrives.
        response = await route.fetch()
        await asyncio.sleep(2)
        await route.fulfill(response=response)

    await page.route("**/api/cases/*/actions", answer_late)
    await drawer.get_by_test_id(f"drawer-merge-{first['number']}").click()
    # The drawer stays open and says what became of the case.
    await drawer.get_by_test_id("drawer-done").filter(has_text=first["number"]).wait_for()
    await drawer.get_by_test_id("drawer-state").filter(has_text="已合并").wait_for()
    await page.screenshot(path=screenshot_path("roles-32-drawer-merged"))
    merged = await server_case(api, second["id"])
    assert (merged["state"], merged["merged_into"]) == ("merged", first["id"])


async def test_search_by_number_name_and_phone_stays_in_scope(phone, api):
    page = phone
    parties = [{"name": "赵春花", "phone": "13987654321", "role": "applicant"}]
    mine = await new_case(api, "mediator1", title="果树越界遮光", parties=parties)
    await new_case(api, "mediator2", point=KASI_POINT, title="卡斯镇的同名当事人", parties=parties)
    await sign_in(page, "mediator1")
    await page.get_by_test_id("tab-cases").click()
    for q in (mine["number"], "赵春花", "13987654321"):  # a phone only in full: stored encrypted
        await page.get_by_test_id("case-search").fill(q)
        await page.get_by_test_id("case-search-go").click()
        results = page.get_by_test_id("search-results")
        await results.filter(has_text="找到 1 件").wait_for()
        assert "果树越界遮光" in await results.inner_text(), q
        assert "卡斯镇" not in await results.inner_text(), q
    await page.screenshot(path=screenshot_path("roles-40-search"), full_page=True)
    await page.get_by_test_id("search-item").click()
    await page.get_by_test_id("case-detail").wait_for()
    assert await page.get_by_test_id("party-tel").first.get_attribute("href") == "tel:13987654321"


async def test_one_account_locked_the_office_still_signs_in(phone):
    page = phone
    await page.goto("/")
    for _ in range(5):
        await page.get_by_test_id("login-username").fill("mediator2")
        await page.get_by_test_id("login-password").fill("wrong-password")
        async with page.expect_response("**/api/auth/login") as answer:
            await page.get_by_test_id("login-submit").click()
        assert (await answer.value).status == 401
    assert "用户名或密码错误" in await page.get_by_test_id("login-error").inner_text()
    await page.get_by_test_id("login-password").fill("demo-2026")
    async with page.expect_response("**/api/auth/login") as answer:
        await page.get_by_test_id("login-submit").click()
    assert (await answer.value).status == 429
    await page.get_by_test_id("login-error").filter(has_text="请 1 分钟后再试").wait_for()
    await page.screenshot(path=screenshot_path("roles-50-throttled"))
    await page.get_by_test_id("login-username").fill("kasi")
    await page.get_by_test_id("login-password").fill("demo-2026")
    await page.get_by_test_id("login-submit").click()
    await page.get_by_test_id("me-name").wait_for()
