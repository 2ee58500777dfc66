"""The supervisors' screens in a desktop browser: the township supervisor's map shows only 田园镇, a
filter narrows the markers, a new case arrives live and is assigned to a team from the drawer, the
dashboard shows the rates with their definitions, the daily report downloads as XLSX; the county's
quarterly ranking lists all 13 townships. Screenshots of every screen go to test-artifacts/."""

from __future__ import annotations

import httpx
import pytest
from openpyxl import load_workbook
from playwright.async_api import expect

from tests.e2e.conftest import screenshot_path
from tests.factories import KASI_POINT, TIANYUAN_POINT, auth, case_body

# Chromium driving a server process of its own (live_server): 5 to 25 s a test.
pytestmark = [pytest.mark.e2e, pytest.mark.server, pytest.mark.slow]

DESKTOP = {"width": 1280, "height": 800}
TIANYUAN = "530524101000"  # 田园镇
KASI = "530524104000"  # 卡斯镇
TEAM = "关庙社区红色调解队"


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
    yield page
    await context.close()


@pytest.fixture
async def api(live_server):
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as client:
        yield client


async def sign_in(page, username: str) -> None:
    await page.goto("/")
    await page.get_by_test_id("login-username").fill(username)
    await page.get_by_test_id("login-password").fill("demo-2026")
    await page.get_by_test_id("login-submit").click()
    await page.get_by_test_id("me-name").wait_for()


async def new_case(api, point, tag: str, **fields) -> dict:
    """A case logged by the county office."""
    body = case_body(point, title=f"督导地图{tag}", **fields)
    response = await api.post("/api/cases", json=body, headers=await auth(api, "county"))
    assert response.status_code == 201, response.text
    return response.json()


async def map_ready(page) -> None:
    await page.locator('[data-testid=supervisor-map][data-ready="1"]').wait_for(timeout=30_000)


async def shown_ids(page) -> set[str]:
    return set(await page.evaluate("() => window.__fqMap.shownIds()"))


async def shown_count(page) -> int:
    return int(await page.get_by_test_id("map-count").get_attribute("data-count"))


async def test_township_supervisor_map_drawer_and_reports(desktop, api, tmp_path):
    page = desktop
    small = await new_case(api, TIANYUAN_POINT, "小事", level="small")
    big = await new_case(api, (TIANYUAN_POINT[0] + 0.004, TIANYUAN_POINT[1] + 0.003), "大事", level="big")
    elsewhere = await new_case(api, KASI_POINT, "卡斯")
    assert small["township"]["code"] == TIANYUAN and elsewhere["township"]["code"] == KASI

    await sign_in(page, "tianyuan")
    await page.get_by_test_id("home-map").wait_for()
    # The supervisor's device keeps no copy of the township: the home's figures are the server's.
    dashboard = (await api.get("/api/reports/dashboard", headers=await auth(api, "tianyuan"))).json()
    counts = dashboard["counts"]
    in_work = page.get_by_test_id("count-area-open").locator(".n")
    await expect(in_work).to_have_text(str(counts["accepted"] + counts["mediating"]))
    await expect(page.get_by_test_id("count-area-overdue").locator(".n")).to_have_text(str(counts["overdue"]))
    await page.screenshot(path=screenshot_path("supervisor-01-home"))
    await page.get_by_test_id("home-map").click()
    await map_ready(page)

    # Only 田园镇: its outline and labels, and none of another township's cases.
    assert await page.evaluate("() => window.__fqMap.townships()") == ["田园镇"]
    labels = await page.locator(".fq-label").all_inner_texts()
    assert labels and all(text for text in labels)
    ids = await shown_ids(page)
    assert small["id"] in ids and big["id"] in ids
    assert elsewhere["id"] not in ids
    assert ids == {small["id"], big["id"]}
    kasi_cases = await api.get(
        "/api/cases", params={"township": KASI, "limit": 200}, headers=await auth(api, "county")
    )
    assert not ids & {c["id"] for c in kasi_cases.json()["items"]}
    before = await shown_count(page)
    assert before == len(ids) == 2
    await page.screenshot(path=screenshot_path("supervisor-02-map"))

    # A filter narrows the markers: 大事 only.
    await page.get_by_test_id("filter-level-big").click()
    await page.wait_for_function(
        f"() => +document.querySelector('[data-testid=map-count]').dataset.count < {before}"
    )
    ids = await shown_ids(page)
    assert big["id"] in ids and small["id"] not in ids
    assert ids == {big["id"]}
    await page.screenshot(path=screenshot_path("supervisor-03-map-filtered"))
    await page.get_by_test_id("filter-reset").click()
    await page.wait_for_function(
        f"() => +document.querySelector('[data-testid=map-count]').dataset.count === {before}"
    )

    # A cell's figures and cases: click the map away from the markers.
    point = await page.evaluate(
        f"() => window.__fqMap.pointOf({TIANYUAN_POINT[0] - 0.04}, {TIANYUAN_POINT[1] - 0.01})"
    )
    await page.mouse.click(point["x"], point["y"])
    await page.get_by_test_id("cell-total").wait_for()
    await page.screenshot(path=screenshot_path("supervisor-04-map-cell"))
    await page.get_by_test_id("cell-panel").get_by_role("button", name="关闭").click()

    # A new case appears live, without reload.
    await page.get_by_test_id("map-live").filter(has_text="实时").wait_for()
    live = await new_case(api, TIANYUAN_POINT, "实时")
    await page.wait_for_function(f"() => window.__fqMap.shownIds().includes('{live['id']}')", timeout=15_000)
    fresh = page.get_by_test_id("map-fresh").get_by_role("button", name=live["title"])
    await fresh.wait_for()
    await page.screenshot(path=screenshot_path("supervisor-05-map-live"))

    # Assign it to a team from the drawer.
    await fresh.click()
    drawer = page.get_by_test_id("case-drawer")
    await drawer.get_by_test_id("drawer-title").filter(has_text=live["title"]).wait_for()
    await drawer.get_by_test_id("drawer-action-assign").click()
    select = drawer.get_by_test_id("team-select")
    await select.locator("option", has_text=TEAM).wait_for(state="attached")
    await select.select_option(label=TEAM)
    await page.screenshot(path=screenshot_path("supervisor-06-drawer-assign"))
    await drawer.get_by_test_id("action-submit").click()
    await drawer.get_by_test_id("drawer-done").wait_for()
    await drawer.get_by_test_id("drawer-owner").filter(has_text=TEAM).wait_for()
    await page.screenshot(path=screenshot_path("supervisor-07-drawer-assigned"))
    server = (await api.get(f"/api/cases/{live['id']}", headers=await auth(api, "county"))).json()
    assert server["owner_team"]["name"] == TEAM
    assert any(e["action"] == "assign" for e in server["events"])
    await page.keyboard.press("Escape")

    # The dashboard: counts, the five rates with their definitions on tap, the charts.
    await page.goto("/dashboard")
    await page.get_by_test_id("dash-counts").wait_for()
    await page.locator("[data-testid=dash-trend] canvas").wait_for()
    await page.get_by_test_id("rate-closure").click()
    definition = page.get_by_test_id("rate-def-closure")
    await definition.wait_for()
    assert "办结率" in await definition.inner_text()
    assert await page.get_by_test_id("rate-satisfaction").get_attribute("title")
    await page.screenshot(path=screenshot_path("supervisor-08-dashboard"), full_page=True)

    # The daily report, and its XLSX.
    await page.get_by_test_id("snav-reports").click()
    await page.get_by_test_id("report-title").filter(has_text="日报告").wait_for()
    assert "田园镇" in await page.get_by_test_id("report-title").inner_text()
    await page.screenshot(path=screenshot_path("supervisor-09-report-daily"), full_page=True)
    async with page.expect_download() as info:
        await page.get_by_test_id("report-xlsx").click()
    download = await info.value
    name = download.suggested_filename
    assert name.startswith("日报告-") and name.endswith("-田园镇.xlsx"), name
    saved = tmp_path / name
    await download.save_as(saved)
    workbook = load_workbook(saved)
    assert workbook.sheetnames


async def test_county_quarterly_ranking_lists_every_township(desktop, api):
    page = desktop
    townships = await api.get("/api/regions", params={"level": "township"}, headers=await auth(api, "county"))
    names = {r["name"] for r in townships.json() if r["level"] == "township"}
    assert len(names) == 13

    await sign_in(page, "county")
    await page.get_by_test_id("home-reports").click()
    await page.get_by_test_id("report-kind-quarterly").click()
    await page.get_by_test_id("report-title").filter(has_text="季调度").wait_for()
    ranking = page.get_by_test_id("report-section-townships")
    await ranking.wait_for()
    cells = await ranking.locator("tbody td").all_inner_texts()
    assert names <= set(cells), names - set(cells)
    await page.screenshot(path=screenshot_path("supervisor-10-report-quarterly"), full_page=True)

    # The county's map: all 13 townships outlined.
    await page.goto("/map")
    await map_ready(page)
    assert set(await page.evaluate("() => window.__fqMap.townships()")) == names
    await page.screenshot(path=screenshot_path("supervisor-11-map-county"))

    # Also usable on a phone: the map above, the count and filters below.
    await page.set_viewport_size({"width": 360, "height": 740})
    await page.get_by_test_id("toggle-filters").wait_for()
    await page.screenshot(path=screenshot_path("supervisor-12-map-phone"))
