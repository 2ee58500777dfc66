"""The built PWA runs under the Content-Security-Policy: a mediator signs in and a supervisor opens the
map (with 天地图 tiles configured) and the browser reports no violation."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import screenshot_path
from tests.media.images import jpeg

pytestmark = [pytest.mark.e2e, pytest.mark.server, pytest.mark.slow]

# Recorded before any page script runs (Playwright injects it outside the page's CSP).
WATCH = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""


@pytest.fixture(autouse=True)
def tianditu_tiles(monkeypatch):
    """The server process reads these (tiles come from *.tianditu.gov.cn; offline here, so they fail
    to load, which is not a violation: a host outside img-src would be)."""
    monkeypatch.setenv("FENGQIAO_MAP_TILES", "tianditu")
    monkeypatch.setenv("FENGQIAO_TIANDITU_KEY", "test-key")


async def _watched(page) -> list[str]:
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text) if "Content Security Policy" in m.text else None)
    await page.add_init_script(WATCH)
    return messages


async def _sign_in(page, username: str) -> None:
    await page.get_by_test_id("login-username").fill(username)
    await page.get_by_test_id("login-password").fill("demo-2026")
    await page.get_by_test_id("login-submit").click()
    await page.get_by_test_id("me-name").wait_for()


async def test_a_mediator_signs_in_and_captures_without_csp_violations(phone, tmp_path):
    console = await _watched(phone)
    response = await phone.goto("/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    await _sign_in(phone, "mediator1")
    await phone.reload()  # again, now from the service worker's cache
    await phone.get_by_test_id("me-name").wait_for()
    await phone.screenshot(path=screenshot_path("csp-01-mediator-home"))
    # The capture screen: GPS, and a photo shrunk on the phone and previewed from a blob: URL.
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg((800, 600)))
    await phone.get_by_test_id("go-capture").click()
    await phone.get_by_test_id("cap-title").wait_for()
    await phone.get_by_test_id("cap-gallery").set_input_files([str(photo)])
    await phone.wait_for_function(
        "() => document.querySelectorAll('[data-testid=cap-photo] img').length === 1", timeout=60_000
    )
    await phone.get_by_test_id("cap-accuracy").wait_for()
    await phone.screenshot(path=screenshot_path("csp-02-mediator-capture"))
    assert await phone.evaluate("() => window.__cspViolations") == []
    assert console == []


async def test_a_supervisor_opens_the_tiled_map_without_csp_violations(browser, live_server):
    context = await browser.new_context(
        viewport={"width": 1280, "height": 800}, locale="zh-CN", base_url=live_server
    )
    page = await context.new_page()
    console = await _watched(page)
    response = await page.goto("/")
    assert "https://*.tianditu.gov.cn" in response.headers["content-security-policy"]
    await _sign_in(page, "tianyuan")
    await page.get_by_test_id("home-map").click()
    await page.locator('[data-testid=supervisor-map][data-ready="1"]').wait_for(timeout=30_000)
    await page.screenshot(path=screenshot_path("csp-03-supervisor-map"))
    violations = await page.evaluate("() => window.__cspViolations")
    await context.close()
    assert violations == []
    assert console == []
