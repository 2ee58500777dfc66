"""Issue 15 §3–4 on a 360-px phone: the statistics fields on the capture, edit and close forms (sent
through the outbox), 打印卷宗 on a closed case, a team leader's zero report, and the township's
statistics table."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.conftest import screenshot_path
from tests.e2e.test_roles_journeys import AGREEMENT, api, server_case, sign_in, until_sent
from tests.factories import act, auth

pytestmark = [pytest.mark.e2e, pytest.mark.server, pytest.mark.slow]
__all__ = ["api"]  # the live server's HTTP client fixture


async def server_at_version(api, case_id: str, version: int) -> dict:
    """The server's case once it has reached `version` (the phone marks an item sent when the answer
    arrives; the read that follows may come a moment before the write is visible)."""
    for _ in range(60):
        case = await server_case(api, case_id, "mediator1")
        if case["version"] >= version:
            return case
        await asyncio.sleep(0.25)
    raise AssertionError(f"case {case_id} stayed at version {case['version']}")


async def test_statistics_fields_are_captured_edited_and_set_at_closing(phone, api):
    page = phone
    await sign_in(page, "mediator1")
    await page.get_by_test_id("go-capture").click()
    await page.get_by_test_id("cap-category").select_option("neighbour")
    await page.get_by_test_id("cap-title").fill("两村村民争水灌溉")
    await page.get_by_test_id("party-0-name").fill("张建华")
    await page.get_by_test_id("party-1-name").fill("李秀英")
    await page.get_by_test_id("stat-source-referral").click()
    await page.get_by_test_id("stat-ref-police").click()
    # A bad number is caught on the phone, with the field marked.
    await page.get_by_test_id("stat-people").fill("0")
    await page.wait_for_function(
        "() => document.querySelector('[data-testid=cap-place]')?.textContent.includes('关庙社区')",
        timeout=15_000,
    )
    if await page.get_by_test_id("cap-boundary").count():
        await page.get_by_test_id("cap-boundary-ok").check()
    await page.get_by_test_id("cap-save").click()
    assert "涉及人数应为 1 到 100000 之间的整数" in await page.get_by_test_id("capture-errors").inner_text()
    await page.get_by_test_id("stat-people").fill("12")
    assert "12 人：群体性纠纷" in await page.get_by_test_id("stat-group").inner_text()
    await page.get_by_test_id("cap-stats").scroll_into_view_if_needed()
    await page.screenshot(path=screenshot_path("stats-01-capture-fields"))
    await page.get_by_test_id("cap-save").click()
    await page.get_by_test_id("saved-note").wait_for()
    await until_sent(page)

    listed = (await api.get("/api/cases", headers=await auth(api, "mediator1"))).json()["items"]
    [case] = [c for c in listed if c["title"] == "两村村民争水灌溉"]
    server = await server_case(api, case["id"], "mediator1")
    assert (server["source"], server["referred_by"], server["people_involved"]) == ("referral", "police", 12)

    # 编辑: the source was 排查发现 after all; the sender goes with it.
    await page.goto(f"/cases/{case['id']}")
    assert "委托移送（公安移送）" in await page.get_by_test_id("case-source").inner_text()
    await page.get_by_test_id("act-update").click()
    await page.get_by_test_id("stat-source-screening").click()
    await page.get_by_test_id("stat-people").fill("15")
    await page.get_by_test_id("stat-source-screening").scroll_into_view_if_needed()
    await page.screenshot(path=screenshot_path("stats-02-edit-fields"))
    await page.get_by_test_id("act-submit").click()
    await page.get_by_test_id("case-detail").wait_for()
    await until_sent(page)
    server = await server_at_version(api, case["id"], 2)
    assert (server["source"], server["referred_by"], server["people_involved"]) == ("screening", None, 15)

    # 办结 with what it prevented.
    assert (await act(api, "mediator1", case["id"], "resolve", agreement=AGREEMENT)).status_code == 200
    await page.reload()
    await page.get_by_test_id("act-close").click()
    await page.get_by_test_id("close-prevented_group_fight").check()
    await page.get_by_test_id("close-prevented_criminal").check()
    await page.screenshot(path=screenshot_path("stats-03-close-form"), full_page=True)
    await page.get_by_test_id("act-submit").click()
    await page.get_by_test_id("case-detail").wait_for()
    await until_sent(page)
    server = await server_at_version(api, case["id"], 4)
    assert server["state"] == "closed"
    flags = ("prevented_criminal", "prevented_group_petition", "prevented_group_fight")
    assert [server[f] for f in flags] == [True, False, True]

    # 打印卷宗 on the closed case: the file opens in a new tab.
    await page.reload()
    assert "防止民转刑、防止群体性械斗" in await page.get_by_test_id("case-prevented").inner_text()
    await page.get_by_test_id("print-dossier").scroll_into_view_if_needed()
    await page.screenshot(path=screenshot_path("stats-04-case-closed"))
    async with page.context.expect_page() as opened:
        await page.get_by_test_id("print-dossier").click()
    dossier = await opened.value
    await dossier.wait_for_function("() => document.body?.innerText.includes('人民调解卷宗')", timeout=15_000)
    assert "两村村民争水灌溉" in await dossier.inner_text("body")
    await dossier.screenshot(path=screenshot_path("stats-05-dossier"), full_page=True)


async def test_a_team_leader_files_a_zero_report_and_the_township_sees_it(phone, api):
    page = phone
    await sign_in(page, "leader1")
    await page.goto("/me")
    await page.get_by_test_id("zero-report").scroll_into_view_if_needed()
    await page.get_by_test_id("zero-month").fill("2025-01")
    await page.screenshot(path=screenshot_path("stats-06-zero-report"))
    await page.get_by_test_id("zero-submit").click()
    done = await page.get_by_test_id("zero-done").inner_text()
    assert "已零上报" in done and "2025年1月" in done
    # A month not begun yet is refused by the phone's own field limit and by the server alike.
    await page.get_by_test_id("zero-month").fill("2099-01")
    await page.get_by_test_id("zero-submit").click()
    assert "尚未开始" in await page.get_by_test_id("zero-error").inner_text()

    await page.get_by_test_id("logout").click()
    await sign_in(page, "tianyuan", synced=False)
    await page.goto("/reports")
    await page.get_by_test_id("report-kind-statistics").click()
    await page.get_by_test_id("report-year").select_option("2025")
    await page.get_by_test_id("report-quarter").select_option("1")
    await page.wait_for_function(
        "() => document.querySelector('[data-testid=report-title]')?.textContent.includes('2025年第1季度')",
        timeout=15_000,
    )
    zero = page.get_by_test_id("report-section-zero_reports")
    assert "1月" in await zero.inner_text()
    await page.screenshot(path=screenshot_path("stats-07-statistics"), full_page=False)
    await zero.scroll_into_view_if_needed()
    await page.screenshot(path=screenshot_path("stats-08-zero-list"))
