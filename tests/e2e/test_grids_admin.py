"""The grid generations screen, as the county's GIS clerk uses it: a township file with a stranger in
it is checked, its error shown on the map and activation refused; then the real townships, captured
from DataV in GCJ-02, are imported with the CRS chosen on the form and activated."""

from __future__ import annotations

import json

import pytest
from shapely.geometry import mapping, shape

from tests.e2e.conftest import screenshot_path
from tests.grids.helpers import square
from tests.grids.test_real_files import datav_townships

pytestmark = [pytest.mark.e2e, pytest.mark.server, pytest.mark.slow]

DESKTOP = {"width": 1280, "height": 900}


def townships_with_a_stranger(path) -> None:
    from tests.grids.conftest import read_fc

    features = read_fc("townships.geojson")["features"]
    features.append(
        {
            "type": "Feature",
            "properties": {"code": "530523100000", "name": "别县某镇"},
            "geometry": mapping(shape(square(100.35, 24.7, 8000))),
        }
    )
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False))


async def test_import_screen_refuses_then_activates(browser, live_server, tmp_path):
    context = await browser.new_context(
        viewport=DESKTOP, locale="zh-CN", timezone_id="Asia/Shanghai", base_url=live_server
    )
    page = await context.new_page()
    await page.goto("/")
    await page.get_by_test_id("login-username").fill("county")
    await page.get_by_test_id("login-password").fill("demo-2026")
    await page.get_by_test_id("login-submit").click()
    await page.get_by_test_id("me-name").wait_for()
    await page.goto("/admin/grids")
    await page.get_by_test_id("generation").first.wait_for()
    assert await page.get_by_test_id("generation").count() >= 2  # the demo's primary and party networks

    bad = tmp_path / "乡镇界.geojson"
    townships_with_a_stranger(bad)
    await page.get_by_test_id("grids-files").set_input_files(str(bad))
    await page.get_by_test_id("grids-upload").click()
    await page.get_by_test_id("grids-layer").wait_for()
    assert await page.get_by_test_id("grids-level-0").input_value() == "township"  # from the file name
    assert await page.get_by_test_id("grids-code-0").input_value() == "code"
    await page.get_by_test_id("grids-import").click()
    issues = page.get_by_test_id("grids-issues")
    await issues.wait_for()
    text = await issues.inner_text()
    assert "别县某镇" in text and "县界（昌宁县）之外" in text
    assert await page.get_by_test_id("grids-activate").is_disabled()  # not without 强制启用
    await issues.get_by_role("button").filter(has_text="别县某镇").click()  # zooms the map to it
    await page.screenshot(path=screenshot_path("50-grids-refused"), full_page=True)
    await page.get_by_test_id("grids-discard").click()
    await page.get_by_test_id("grids-notice").wait_for()
    assert "已放弃" in await page.get_by_test_id("grids-notice").inner_text()

    good = tmp_path / "昌宁县_datav.json"
    good.write_text(json.dumps(datav_townships("gcj02"), ensure_ascii=False), encoding="utf-8")
    await page.get_by_test_id("grids-files").set_input_files(str(good))
    await page.get_by_test_id("grids-upload").click()
    await page.get_by_test_id("grids-layer").wait_for()
    await page.get_by_test_id("grids-level-0").select_option("township")
    await page.get_by_test_id("grids-crs-0").select_option("gcj02")
    await page.get_by_test_id("grids-import").click()
    await page.get_by_test_id("grids-result").get_by_text("通过").first.wait_for()
    await page.get_by_test_id("grids-activate").click()
    await page.get_by_test_id("grids-notice").wait_for()
    assert "已启用第 2 代" in await page.get_by_test_id("grids-notice").inner_text()
    await page.screenshot(path=screenshot_path("51-grids-activated"), full_page=True)
    active = page.locator("[data-testid=generation].active")
    assert "第 2 代" in await active.first.inner_text()
    await context.close()
