"""The agreement on the phone and on paper: the resolve form marks what is missing at 360 px, and the page
printed before signing, rendered to an A4 PDF by Chromium, names the village committee and every party."""

from __future__ import annotations

import io

import httpx
import pytest
from pypdf import PdfReader

from tests.cases.test_agreement import WRITTEN
from tests.e2e.conftest import screenshot_path
from tests.e2e.test_roles_journeys import sign_in
from tests.factories import act, auth, case_body


@pytest.fixture
async def api(live_server):
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as client:
        yield client


async def mediating(api) -> dict:
    r = await api.post("/api/cases", json=case_body(), headers=await auth(api, "mediator1"))
    assert r.status_code == 201, r.text
    assert (await act(api, "leader1", r.json()["id"], "accept")).status_code == 200
    return r.json()


async def test_the_resolve_form_marks_each_missing_field_and_saves_a_written_agreement(phone, api):
    page = phone
    case = await mediating(api)
    await sign_in(page, "mediator1")
    await page.goto(f"/cases/{case['id']}/act/resolve")
    await page.get_by_test_id("agr-facts").wait_for()
    await page.get_by_test_id("agr-matters").fill("通道占用及清理时间")
    await page.get_by_test_id("obl-0-content").fill("清理通道上的全部建材")
    await page.get_by_test_id("act-submit").click()
    error = await page.get_by_role("alert").inner_text()
    assert error == "请填写：各方责任、第1项义务的履行方式、第1项义务的履行地点、第1项义务的履行期限"
    assert await page.locator(".need").count() == 4
    await page.screenshot(path=screenshot_path("agreement-10-resolve-missing"), full_page=True)
    # The page fits the phone: nothing wider than 360 px.
    assert await page.evaluate("() => document.documentElement.scrollWidth") <= 360

    await page.get_by_test_id("agr-responsibilities").fill("张家堆放建材负主要责任")
    await page.get_by_test_id("obl-0-manner").fill("自行清运")
    await page.get_by_test_id("obl-0-place").fill("两家共用通道")
    await page.get_by_test_id("obl-0-deadline").fill("2026-12-20")
    await page.get_by_test_id("agr-amount").fill("1200")
    assert await page.locator(".need").count() == 0
    await page.screenshot(path=screenshot_path("agreement-11-resolve-filled"), full_page=True)
    await page.get_by_test_id("act-submit").click()
    await page.get_by_test_id("case-agreement").wait_for()
    await page.wait_for_function(
        "() => document.querySelector('[data-testid=agr-status]')?.textContent.includes('待签字')"
    )
    await page.get_by_test_id("agr-print").wait_for()
    await page.screenshot(path=screenshot_path("agreement-12-case-awaiting-signature"), full_page=True)

    # Sent through the outbox: the server has it as the form said.
    for _ in range(60):
        server = (await api.get(f"/api/cases/{case['id']}", headers=await auth(api, "mediator1"))).json()
        if server["agreement"]:
            break
        await page.wait_for_timeout(500)
    a = server["agreement"]
    assert a["form"] == "written" and a["awaiting_signature"] is True and a["amount_yuan"] == 1200
    assert [(o["manner"], o["place"], o["deadline"]) for o in a["obligations"]] == [
        ("自行清运", "两家共用通道", "2026-12-20")
    ]


async def test_the_printed_agreement_as_a_pdf_names_the_village_committee_and_every_party(browser, api):
    case = await mediating(api)
    r = await act(api, "mediator1", case["id"], "resolve", agreement=WRITTEN)
    assert r.status_code == 200, r.text
    page_html = await api.get(
        f"/api/cases/{case['id']}/agreement?format=html", headers=await auth(api, "mediator1")
    )
    assert page_html.status_code == 200
    context = await browser.new_context(locale="zh-CN")
    page = await context.new_page()
    await page.set_content(page_html.text)
    await page.screenshot(path=screenshot_path("agreement-20-print-screen"), full_page=True)
    pdf = await page.pdf(format="A4", print_background=True)
    await context.close()
    reader = PdfReader(io.BytesIO(pdf))
    texts = [p.extract_text() for p in reader.pages]
    # One copy per party and one for the committee, each on its own page(s).
    copies = [t for t in texts if "人民调解协议书" in t]
    assert len(copies) == 3, texts
    whole = "\n".join(texts).replace(" ", "")
    assert whole.count("关庙社区人民调解委员会（印章）") == 3
    for keeper in ("当事人张建华收执", "当事人李秀英收执", "关庙社区人民调解委员会存档"):
        assert keeper in whole
    for party in ("张建华", "李秀英"):
        assert whole.count(f"当事人（签名、按指印）：{party}") == 3
    assert "人民调解员（签名）：王德明" in whole
    assert "打印" not in texts[0].split("人民调解协议书")[0]  # the print button is not on paper
