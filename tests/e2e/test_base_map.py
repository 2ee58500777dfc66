"""The base map a mediator finds a house on: village and grid names on the phone's map picker, and
Tianditu's streets, names and imagery under the boundaries when the server has a key."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlparse

import pytest

from tests.e2e.conftest import PHONE, screenshot_path
from tests.live import serve_process

pytestmark = [pytest.mark.e2e, pytest.mark.server, pytest.mark.slow]

# A 1×1 PNG: what the fake Tianditu answers for every tile.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
KEY = "test-key-not-a-real-one"


@pytest.fixture
def tianditu_server(database_url, chromium_path):
    """`fengqiao serve` with FENGQIAO_MAP_TILES=tianditu and a (fake) key."""
    env = {"FENGQIAO_MAP_TILES": "tianditu", "FENGQIAO_TIANDITU_KEY": KEY}
    with serve_process(database_url, "server-tianditu", env) as (base, _log):
        yield base


async def phone_context(browser, base: str):
    # No service worker: the page's own tile requests are what this test watches (the worker's
    # bounded tile cache is tested in pwa/src/map/tiles.test.ts).
    return await browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        base_url=base,
        service_workers="block",
    )


async def open_picker(page) -> None:
    await page.goto("/")
    await page.get_by_test_id("login-username").fill("mediator1")
    await page.get_by_test_id("login-password").fill("demo-2026")
    await page.get_by_test_id("login-submit").click()
    await page.get_by_test_id("me-name").wait_for()
    await page.wait_for_function(
        "() => document.querySelector('[data-testid=last-sync]')?.textContent !== '从未'", timeout=30_000
    )
    await page.goto("/capture/map")
    await page.wait_for_function("() => window.__fqPicker && window.__fqPicker.labels().length > 0")


async def test_picker_shows_village_then_grid_names(browser, live_server):
    context = await phone_context(browser, live_server)
    tiles: list[str] = []
    context.on("request", lambda r: tiles.append(r.url) if "tianditu" in r.url else None)
    page = await context.new_page()
    await open_picker(page)
    # The whole township in view: its villages by name (short form), no grid names yet.
    names = await page.evaluate("window.__fqPicker.labels()")
    assert "关庙社区" in names and not any("网格" in n for n in names)
    await page.screenshot(path=screenshot_path("40-picker-villages"))
    # Zoomed in on 关庙社区: the grid cells by name, and no village names over them.
    await page.evaluate("window.__fqPicker.zoomTo(99.6150, 24.8256, 14)")
    names = await page.evaluate("window.__fqPicker.labels()")
    assert any(n.startswith("关庙社区第") and n.endswith("网格") for n in names), names
    assert "关庙社区" not in names
    await page.screenshot(path=screenshot_path("41-picker-grids"))
    assert tiles == []  # no tiles configured: nothing is asked of Tianditu
    await context.close()


async def test_tianditu_vector_annotation_and_imagery_under_the_picker(browser, tianditu_server):
    context = await phone_context(browser, tianditu_server)
    asked: list[dict] = []

    async def fake_tianditu(route):
        q = parse_qs(urlparse(route.request.url).query)
        asked.append({"layer": q["LAYER"][0], "tk": q["tk"][0]})
        await route.fulfill(
            status=200, body=PNG, content_type="image/png", headers={"Access-Control-Allow-Origin": "*"}
        )

    await context.route("https://*.tianditu.gov.cn/**", fake_tianditu)
    page = await context.new_page()
    await open_picker(page)
    await page.wait_for_function("() => document.querySelectorAll('img.leaflet-tile-loaded').length > 4")
    layers = {a["layer"] for a in asked}
    assert layers == {"vec", "cva"} and {a["tk"] for a in asked} == {KEY}
    toggle = page.get_by_test_id("basemap-toggle")
    assert await toggle.inner_text() == "影像"
    box = await toggle.bounding_box()
    assert box and box["height"] >= 48  # a thumb's target
    asked.clear()
    await toggle.click()
    await page.wait_for_function("() => document.querySelectorAll('img.leaflet-tile-loaded').length > 4")
    assert {a["layer"] for a in asked} == {"img", "cia"}
    assert await toggle.inner_text() == "地图"
    await page.screenshot(path=screenshot_path("42-picker-imagery"))
    await context.close()
