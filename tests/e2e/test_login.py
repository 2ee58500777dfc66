"""A mediator signs in on a phone and sees who and where they are."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import screenshot_path

# Chromium driving a server process of its own (live_server): 5 to 25 s a test.
pytestmark = [pytest.mark.e2e, pytest.mark.server, pytest.mark.slow]


async def test_mediator_signs_in_and_sees_name_role_and_area(phone):
    await phone.goto("/")
    await phone.get_by_test_id("login-username").fill("mediator1")
    await phone.get_by_test_id("login-password").fill("demo-2026")
    await phone.screenshot(path=screenshot_path("01-login"))
    await phone.get_by_test_id("login-submit").click()
    await phone.get_by_test_id("me-name").wait_for()
    assert await phone.get_by_test_id("me-name").inner_text() == "王德明"
    assert "调解员" in await phone.get_by_test_id("me-role").inner_text()
    assert "关庙社区" in await phone.get_by_test_id("me-area").inner_text()
    assert "关庙社区红色调解队" in await phone.get_by_test_id("me-team").inner_text()
    await phone.screenshot(path=screenshot_path("02-home"))

    # Still signed in after a reload (the session lives in IndexedDB).
    await phone.reload()
    await phone.get_by_test_id("me-name").wait_for()
    assert await phone.get_by_test_id("me-name").inner_text() == "王德明"


async def test_wrong_password_shows_a_chinese_error(phone):
    await phone.goto("/")
    await phone.get_by_test_id("login-username").fill("mediator1")
    await phone.get_by_test_id("login-password").fill("wrong-password")
    await phone.get_by_test_id("login-submit").click()
    error = phone.get_by_test_id("login-error")
    await error.wait_for()
    assert "用户名或密码错误" in await error.inner_text()
    await phone.screenshot(path=screenshot_path("03-login-error"))
