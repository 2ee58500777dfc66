"""月排查 on the phone: a team member files a screened village with no signal (one lead), turns the lead
into a case in one tap, goes back online, and both the report (linked to the case) and the case reach
the server. Screenshots go to test-artifacts/screening-*.png."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import screenshot_path
from tests.e2e.test_field_journey import READ_OUTBOX, wait_controlled
from tests.e2e.test_roles_journeys import api, finish_capture, server_case, sign_in, until_sent  # noqa: F401
from tests.e2e.test_supervision_journey import desktop  # noqa: F401
from tests.e2e.test_supervisor_journey import map_ready
from tests.factories import auth

pytestmark = [pytest.mark.e2e, pytest.mark.server, pytest.mark.slow]
GUANMIAO = "530524101001"


async def server_screenings(api) -> list[dict]:  # noqa: F811
    """关庙社区's reports on the server."""
    items = (await api.get("/api/screenings", headers=await auth(api, "tianyuan"))).json()["items"]
    return [s for s in items if s["village_code"] == GUANMIAO]


async def test_a_screening_filed_offline_with_a_lead_that_becomes_a_case(phone, desktop, api):  # noqa: F811
    page = phone
    await sign_in(page, "mediator1")
    await wait_controlled(page)
    await page.get_by_test_id("go-screenings").click()
    await page.get_by_test_id("scr-village").wait_for()
    await page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=scr-village] option').length > 1"
    )
    await page.context.set_offline(True)
    await page.get_by_test_id("offline-banner").wait_for()

    await page.get_by_test_id("scr-village").select_option(GUANMIAO)
    await page.get_by_test_id("scr-households").fill("28")
    await page.get_by_test_id("scr-add-lead").click()
    await page.get_by_test_id("scr-lead-summary-0").fill("两户因宅基地滴水檐起争执")
    await page.get_by_test_id("scr-lead-category-0").select_option("neighbour")
    await page.screenshot(path=screenshot_path("screening-01-form"), full_page=True)
    await page.get_by_test_id("scr-save").click()
    await page.get_by_test_id("scr-saved").wait_for()
    report = page.get_by_test_id("scr-report").filter(has_text="两户因宅基地滴水檐起争执")
    assert await report.get_by_test_id("scr-status").inner_text() == "未发送"
    await page.screenshot(path=screenshot_path("screening-02-saved-offline"), full_page=True)

    # 转为案件: the capture form opens with the lead's words and category.
    await report.get_by_test_id("scr-to-case").click()
    await page.get_by_test_id("cap-title").wait_for()
    assert await page.get_by_test_id("cap-title").input_value() == "两户因宅基地滴水檐起争执"
    assert await page.get_by_test_id("cap-category").input_value() == "neighbour"
    await finish_capture(page)
    outbox = await page.evaluate(READ_OUTBOX)
    # The report, the case and the report again naming the case (sent in that order, by seq).
    assert sorted(row[0] for row in outbox if row[1] != "done") == [
        "case.create",
        "screening.record",
        "screening.record",
    ]

    await page.goto("/screenings")
    report = page.get_by_test_id("scr-report").filter(has_text="两户因宅基地滴水檐起争执")
    await report.get_by_test_id("scr-lead-case").wait_for()
    await page.context.set_offline(False)
    await until_sent(page)
    [saved] = await server_screenings(api)
    assert saved["households_visited"] == 28
    [lead] = saved["found"]
    assert lead["summary"] == "两户因宅基地滴水檐起争执" and lead["case_id"]
    case = await server_case(api, lead["case_id"])
    assert case["title"] == "两户因宅基地滴水檐起争执" and case["category"] == "neighbour"
    await page.goto("/screenings")
    await page.get_by_test_id("scr-status").filter(has_text="已发送").first.wait_for()
    await page.screenshot(path=screenshot_path("screening-03-sent"), full_page=True)
    layer = (await api.get("/api/map/screenings", headers=await auth(api, "tianyuan"))).json()
    assert {v["village_code"]: v["status"] for v in layer["villages"]}[GUANMIAO] == "screened"

    # The township's map: the 本月排查 layer draws 关庙社区 as screened, the other served villages not.
    await sign_in(desktop, "tianyuan", synced=False)
    await desktop.goto("/map")
    await map_ready(desktop)
    await desktop.get_by_test_id("filter-screening").click()
    summary = desktop.get_by_test_id("screening-summary")
    await summary.wait_for()
    served = len(layer["villages"])
    assert (await summary.get_attribute("data-screened"), await summary.get_attribute("data-served")) == (
        "1",
        str(served),
    )
    assert f"未排查 {served - 1}" in await summary.inner_text()
    await desktop.screenshot(path=screenshot_path("screening-04-map-layer"))
