"""Issue 14, the rest: a team leader's map, dashboard and reports (a plain mediator is sent home); editing
a case on the phone, with a conflict against another device; the full-screen photo; a case the server
files in another township; the console's tables on a 360-px phone and a member made leader.
Screenshots go to test-artifacts/roles-2*.png."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.conftest import screenshot_path
from tests.e2e.test_field_journey import wait_controlled
from tests.e2e.test_roles_journeys import api, new_case, server_case, sign_in, until_sent  # noqa: F401
from tests.factories import auth
from tests.media.images import jpeg, sha
from tests.sync.helpers import push, update_op

pytestmark = [pytest.mark.e2e, pytest.mark.server, pytest.mark.slow]

NO_SIDEWAYS_SCROLL = "() => document.scrollingElement.scrollWidth <= window.innerWidth"


async def server_until(api, case_id: str, ready) -> dict:  # noqa: F811
    """The server's copy of a case once `ready(case)` holds (the phone sends in its own time)."""
    for _ in range(120):
        case = await server_case(api, case_id, "mediator1")
        if ready(case):
            return case
        await asyncio.sleep(0.5)
    raise AssertionError(f"the server never got there: {case}")


async def test_a_team_leader_sees_the_teams_map_figures_and_reports(phone, api):  # noqa: F811
    page = phone
    team_case = await new_case(api, "mediator1", title="本队的纠纷")
    await new_case(api, "tianyuan", title="乡镇自办的纠纷")  # 田园镇's, not the team's
    await sign_in(page, "leader1")

    await page.get_by_test_id("home-map").click()
    await page.wait_for_url("**/map")
    await page.wait_for_function(
        "() => document.querySelector('[data-testid=supervisor-map]')?.dataset.ready === '1'", timeout=30_000
    )
    # The team's case only: one marker of the township's two.
    await page.wait_for_function(
        "() => document.querySelector('[data-testid=map-count]')?.dataset.count === '1'", timeout=30_000
    )
    await page.screenshot(path=screenshot_path("roles-20-leader-map"), full_page=True)

    await page.goto("/")
    await page.get_by_test_id("home-dashboard").click()
    await page.wait_for_url("**/dashboard")
    await page.get_by_test_id("dash-counts").wait_for()
    assert "关庙社区红色调解队" in await page.locator("header").inner_text()
    assert await page.get_by_test_id("snav-admin").count() == 0  # the console is the supervisors'
    await page.screenshot(path=screenshot_path("roles-21-leader-dashboard"), full_page=True)

    await page.get_by_test_id("snav-reports").click()
    await page.wait_for_url("**/reports")
    await page.get_by_test_id("report").wait_for(timeout=30_000)
    assert "关庙社区红色调解队" in await page.get_by_test_id("report-team").inner_text()
    rows = page.get_by_test_id("report-section-by_township").locator("tbody tr")
    assert await rows.count() == 1
    cells = await rows.first.locator("td").all_inner_texts()
    assert cells[:2] == ["田园镇", "1"]  # today's new cases: the team's one, not the township's two
    await page.screenshot(path=screenshot_path("roles-22-leader-reports"), full_page=True)
    assert team_case["number"]


async def test_a_plain_mediator_is_sent_home_from_the_overview_screens(phone):
    page = phone
    await sign_in(page, "mediator1", synced=False)
    assert await page.get_by_test_id("home-map").count() == 0
    for path in ("/map", "/dashboard", "/reports"):
        await page.goto(path)
        await page.get_by_test_id("me-name").wait_for()
        assert page.url.endswith("/"), (path, page.url)


async def test_an_edit_on_the_phone_goes_with_its_version_and_a_conflict_is_shown(phone, api):  # noqa: F811
    page = phone
    case = await new_case(api, "mediator1", title="水沟堵塞")
    await sign_in(page, "mediator1")
    await page.goto(f"/cases/{case['id']}")
    await page.get_by_test_id("act-update").click()
    await page.get_by_test_id("edit-title").fill("水沟堵塞淹了菜地")
    await page.get_by_test_id("edit-desc").fill("上游人家堵了水沟，雨后淹了下游菜地。")
    await page.get_by_test_id("act-submit").click()
    await page.get_by_test_id("case-detail").wait_for()
    server = await server_until(api, case["id"], lambda c: c["version"] == 2)
    assert server["title"] == "水沟堵塞淹了菜地" and server["conflict"] is False
    assert server["description"] == "上游人家堵了水沟，雨后淹了下游菜地。"
    assert server["events"][-1]["data"]["base_version"] == 1
    base = server["version"]

    # Offline, the phone changes the title again; meanwhile another device changes it too. The page
    # reloads from the service worker's cache, so it must control the page before the link goes.
    await wait_controlled(page)
    await page.context.set_offline(True)
    await page.reload()
    await page.get_by_test_id("act-update").click()
    await page.get_by_test_id("edit-title").fill("乙：水沟堵塞已疏通一半")
    await page.get_by_test_id("act-submit").click()
    await page.get_by_test_id("case-detail").wait_for()
    assert await page.get_by_test_id("case-conflict").count() == 0
    other = await auth(api, "leader1")
    [result] = await push(api, other, update_op(case["id"], base, title="甲：水沟堵塞待疏通"))
    assert result["status"] == "applied"

    await page.context.set_offline(False)
    await page.evaluate("window.dispatchEvent(new Event('online'))")
    server = await server_until(api, case["id"], lambda c: c["version"] == base + 2)
    assert server["conflict"] is True
    assert server["events"][-1]["data"]["base_version"] == base  # the version the phone had
    assert server["title"] == "乙：水沟堵塞已疏通一半"  # the last to arrive, field by field
    await page.reload()
    banner = page.get_by_test_id("case-conflict")
    await banner.wait_for(timeout=30_000)
    assert "冲突" in await banner.inner_text()
    assert await page.evaluate(NO_SIDEWAYS_SCROLL)
    await page.screenshot(path=screenshot_path("roles-23-edit-conflict"), full_page=True)
    await page.goto("/outbox")
    sent = page.get_by_test_id("sent-item").filter(has_text="乙：水沟堵塞已疏通一半")
    assert "冲突" in await sent.inner_text()


async def test_a_photo_opens_full_screen_zooms_and_closes_by_button_key_and_back(phone, api):  # noqa: F811
    page = phone
    photo = jpeg((1200, 900))
    headers = await auth(api, "mediator1")
    assert (await api.put(f"/api/media/{sha(photo)}", content=photo, headers=headers)).status_code == 201
    case = await new_case(api, "mediator1", title="围墙倒塌", photos=[sha(photo)])
    await sign_in(page, "mediator1")
    await page.goto(f"/cases/{case['id']}")
    viewer, zoom = page.get_by_test_id("photo-viewer"), page.get_by_test_id("photo-zoom")

    await page.get_by_test_id("case-photo").click()
    await viewer.wait_for()
    assert await zoom.inner_text() == "100%"
    assert await page.get_by_test_id("photo-zoom-out").is_disabled()
    # The close button has the focus, so a keyboard or screen reader starts there.
    assert await page.evaluate("document.activeElement?.dataset.testid") == "photo-close"
    await page.get_by_test_id("photo-zoom-in").click()
    assert await zoom.inner_text() == "150%"
    await page.keyboard.press("+")
    assert await zoom.inner_text() == "225%"
    await page.screenshot(path=screenshot_path("roles-24-photo-zoomed"))
    await page.get_by_test_id("photo-zoom-out").click()
    assert await zoom.inner_text() == "150%"
    await page.keyboard.press("Escape")
    await viewer.wait_for(state="detached")

    # The phone's back button closes the photo and stays on the case.
    await page.get_by_test_id("case-photo").click()
    await viewer.wait_for()
    await page.go_back()
    await viewer.wait_for(state="detached")
    assert page.url.endswith(f"/cases/{case['id']}")
    await page.get_by_test_id("case-detail").wait_for()

    await page.get_by_test_id("case-photo").click()
    await viewer.wait_for()
    await page.get_by_test_id("photo-close").click()
    await viewer.wait_for(state="detached")
    # Closing took back the history entry the photo added: back now leaves the case, as before.
    await page.go_back()
    await page.wait_for_function(f"() => !location.pathname.endsWith('/cases/{case['id']}')")


async def test_a_case_logged_in_another_township_says_where_it_went(phone, api):  # noqa: F811
    """kasi (卡斯镇) logs a case standing in 田园镇: the server files it there and says so; kasi's phone
    keeps the sent item with the number and drops its copy of the case."""
    page = phone
    await sign_in(page, "kasi")
    await wait_controlled(page)
    await page.get_by_test_id("go-capture").click()
    await page.get_by_test_id("cap-category").select_option("neighbour")
    await page.get_by_test_id("cap-title").fill("路过田园镇时遇到的纠纷")
    await page.get_by_test_id("cap-level-small").click()
    await page.get_by_test_id("party-0-name").fill("赵六")
    await page.wait_for_function(
        # The phone holds 卡斯镇's grids only: it says so, and the server will place the case.
        "() => document.querySelector('[data-testid=cap-place]')?.textContent.includes('不在本乡镇网格内')",
        timeout=20_000,
    )
    if await page.get_by_test_id("cap-boundary").count():
        await page.get_by_test_id("cap-boundary-ok").check()
    await page.get_by_test_id("cap-save").click()
    await page.get_by_test_id("saved-note").wait_for()
    await until_sent(page)
    await page.goto("/outbox")
    sent = page.get_by_test_id("sent-item").filter(has_text="路过田园镇时遇到的纠纷")
    await sent.wait_for(timeout=30_000)
    text = await sent.inner_text()
    listed = (await api.get("/api/cases", headers=await auth(api, "tianyuan"))).json()["items"]
    [filed] = [c for c in listed if c["title"] == "路过田园镇时遇到的纠纷"]
    assert filed["number"] in text and "田园镇" in text
    await page.screenshot(path=screenshot_path("roles-25-filed-elsewhere"), full_page=True)
    await page.goto("/cases")
    await page.get_by_test_id("cases-all").click()
    await page.wait_for_function(
        "() => document.querySelector('[data-testid=cases-all]')?.textContent.includes('全部（0）')"
    )
    assert await page.get_by_test_id("case-item").count() == 0


async def test_the_consoles_tables_fit_a_phone_and_a_member_is_made_leader(phone):
    page = phone
    await sign_in(page, "tianyuan", synced=False)
    await page.goto("/admin/teams")
    table = page.get_by_test_id("teams-table")
    await table.locator("tbody tr").first.wait_for()
    assert await page.evaluate(NO_SIDEWAYS_SCROLL)
    assert await table.evaluate("t => t.parentElement.scrollWidth <= t.parentElement.clientWidth + 1")
    await page.screenshot(path=screenshot_path("roles-26-console-teams-phone"))

    row = table.locator("tbody tr", has_text="关庙社区红色调解队").first
    team_id = (await row.get_attribute("data-testid")).removeprefix("team-row-")
    before = await page.get_by_test_id(f"team-leader-{team_id}").inner_text()
    await page.get_by_test_id(f"team-members-{team_id}").click()
    members = page.get_by_test_id(f"team-member-list-{team_id}")
    lead = members.locator("[data-testid^=member-lead-]").first
    name = (await lead.locator("xpath=ancestor::li").locator("strong").inner_text()).strip()
    await lead.click()
    await page.get_by_test_id("teams-notice").filter(has_text=f"{name} 现在是").wait_for()
    assert await page.get_by_test_id(f"team-leader-{team_id}").inner_text() == name != before
    assert await members.locator("[data-testid^=member-unlead-]").count() == 1
    assert await page.evaluate(NO_SIDEWAYS_SCROLL)
    await members.scroll_into_view_if_needed()
    await page.screenshot(path=screenshot_path("roles-27-console-member-leader"))


async def test_the_county_consoles_categories_and_visit_rules_fit_a_phone(phone):
    page = phone
    await sign_in(page, "county", synced=False)
    for path, testid in (
        ("/admin/categories", "categories-table"),
        ("/admin/visit-policies", "policies-table"),
    ):
        await page.goto(path)
        table = page.get_by_test_id(testid)
        await table.locator("tbody tr").first.wait_for()
        assert await page.evaluate(NO_SIDEWAYS_SCROLL), path
        assert await table.evaluate("t => t.parentElement.scrollWidth <= t.parentElement.clientWidth + 1"), (
            path
        )
        await page.screenshot(path=screenshot_path(f"roles-28-console{path.replace('/', '-')}-phone"))
