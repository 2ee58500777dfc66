"""Browser tests: the built PWA served by the whole app on a real HTTP server, driven in Debian's Chromium."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from backend.settings import REPO_ROOT
from tests.live import served_whole

ARTIFACTS = REPO_ROOT / "test-artifacts"
PHONE = {"width": 360, "height": 740}
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # No internet here: keep Chromium from calling home.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium_path() -> str | None:
    path = os.environ.get("FENGQIAO_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    return path if Path(path).exists() else None


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = _chromium_path()
    if path is None:
        message = "Chromium not found (apt-get install chromium; .ci/run does it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    if not (REPO_ROOT / "pwa" / "dist" / "index.html").exists():
        pytest.fail("pwa/dist is not built: run `make test` (it builds the PWA first)")
    return path


@pytest.fixture
async def live_server(database_url, chromium_path):
    """The whole app on a free port, on the test's database (tests/live.py: served_whole)."""
    async with served_whole() as base:
        yield base


@pytest.fixture(scope="session")
async def browser(chromium_path):
    """One Chromium per test process; each test opens contexts of its own (cookies, storage, service
    workers and caches are per context), as Playwright's own pytest plugin does."""
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
        yield browser
        await browser.close()


@pytest.fixture
async def phone(browser, live_server):
    """A 360×740 phone in Chinese, located in 关庙社区 of 田园镇."""
    context = await browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        geolocation={"longitude": 99.6150, "latitude": 24.8256, "accuracy": 15},
        permissions=["geolocation"],
        base_url=live_server,
    )
    page = await context.new_page()
    yield page
    await context.close()


def screenshot_path(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / f"{name}.png"
