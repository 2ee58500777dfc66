"""领导包案 in the app: the township supervisor picks 田园镇's leader for a case from the case screen; the
leader signs in on a phone and finds it first on its home (我的包案) with its state, and the case screen
names the leader. Screenshots go to test-artifacts/leader-*.png."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import screenshot_path
from tests.e2e.test_roles_journeys import new_case, server_case, sign_in, until_sent
from tests.e2e.test_supervision_journey import api, desktop  # noqa: F401  (the same two fixtures)
from tests.factories import act, tokens_for

pytestmark = [pytest.mark.e2e, pytest.mark.server, pytest.mark.slow]


async def test_a_supervisor_assigns_a_leader_who_then_sees_the_case(phone, desktop, api):  # noqa: F811
    from tests.e2e.test_supervisor_journey import map_ready, shown_ids
    from tests.factories import TIANYUAN_POINT

    case = await new_case(api, "mediator1", title="宅基地滴水檐纠纷", level="hard")
    away = (TIANYUAN_POINT[0] + 0.004, TIANYUAN_POINT[1] + 0.003)
    not_mine = await new_case(api, "mediator1", away, title="鸡鸭进田", category="agriculture", parties=[])
    assert (await act(api, "leader1", case["id"], "accept")).status_code == 200
    leader = (await tokens_for(api, "tianyuan_leader"))["user"]["id"]

    await sign_in(desktop, "tianyuan", synced=False)
    await desktop.goto(f"/cases/{case['id']}")
    await desktop.get_by_test_id("act-assign_leader").click()
    await desktop.get_by_test_id(f"leader-{leader}").click()
    await desktop.get_by_test_id("act-reason").fill("群众反映强烈，请领导包案化解")
    await desktop.screenshot(path=screenshot_path("leader-01-assign"))
    await desktop.get_by_test_id("act-submit").click()
    await desktop.get_by_test_id("case-leader").filter(has_text="周光荣").wait_for()
    await until_sent(desktop)
    assert (await server_case(api, case["id"]))["leader"] == {"id": leader, "name": "周光荣"}

    # The leader's phone: the case first on its home, with its state; the case names the leader.
    page = phone
    await sign_in(page, "tianyuan_leader")
    item = page.get_by_test_id("leader-case").filter(has_text="宅基地滴水檐纠纷")
    await item.wait_for(timeout=30_000)
    assert "调解中" in await item.get_by_test_id("leader-case-state").inner_text()
    assert await page.get_by_test_id("go-capture").count() == 0  # a leader logs no case
    await page.screenshot(path=screenshot_path("leader-02-home"), full_page=True)
    await item.click()
    await page.get_by_test_id("case-leader").filter(has_text="周光荣").wait_for()
    assert "调解中" in await page.get_by_test_id("case-state").inner_text()
    actions = await page.locator("[data-testid^=act-]").evaluate_all("els => els.map(e => e.dataset.testid)")
    assert sorted(actions) == ["act-note", "act-supervise"]
    await page.screenshot(path=screenshot_path("leader-03-case"), full_page=True)
    # Told in the inbox.
    await page.goto("/inbox")
    await page.get_by_text("包案通知").first.wait_for()

    # The map: everything in its area, or (只看我的包案) only the cases in its charge.
    await page.goto("/map")
    await map_ready(page)
    assert {case["id"], not_mine["id"]} <= await shown_ids(page)
    await page.get_by_test_id("toggle-filters").click()
    await page.get_by_test_id("filter-mine").click()
    await page.wait_for_function(
        "() => +document.querySelector('[data-testid=map-count]').dataset.count === 1"
    )
    assert await shown_ids(page) == {case["id"]}
    await page.screenshot(path=screenshot_path("leader-04-map-mine"))
