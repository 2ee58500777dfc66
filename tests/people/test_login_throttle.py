"""Sign-in throttling as a village office sees it: one person's forgotten password slows down that
person from that address only; a machine trying many accounts closes its address; the wait is said in
minutes; the counters live in the database, so every server process applies the same ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from backend.core import clock
from backend.core.throttle import FailureThrottle, LoginThrottled
from tests.factories import login, make_user

OFFICE = ("203.0.113.7", 40000)  # the test client's address (tests/conftest.py)
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


async def _try(client, username: str, password: str):
    return await client.post(
        "/api/auth/login", json={"username": username, "password": password, "device_name": "办公室电脑"}
    )


async def test_one_locked_account_does_not_lock_out_the_office(client):
    with clock.frozen(T0):
        for _ in range(5):
            assert (await _try(client, "mediator2", "wrong")).status_code == 401
        locked = await _try(client, "mediator2", "demo-2026")
        # Another account from the same address (the same Wi-Fi) signs in as usual.
        colleague = await _try(client, "kasi", "demo-2026")
    assert locked.status_code == 429
    body = locked.json()
    assert body["code"] == "auth.too_many_attempts"
    assert body["message"] == "登录失败次数过多，请 1 分钟后再试"
    assert body["retry_after_minutes"] == 1
    assert locked.headers["Retry-After"] == "60"
    assert colleague.status_code == 200


async def test_each_further_failure_doubles_the_wait_and_a_success_clears_it(client):
    at = T0
    with clock.frozen(at):
        for _ in range(5):
            await _try(client, "mediator2", "wrong")
    waits = []
    for _ in range(3):
        at += timedelta(hours=2)  # past any wait so far
        with clock.frozen(at):
            assert (await _try(client, "mediator2", "still wrong")).status_code == 401
            waits.append(int((await _try(client, "mediator2", "demo-2026")).headers["Retry-After"]))
    assert waits == [120, 240, 480]
    at += timedelta(hours=2)
    with clock.frozen(at):
        assert (await _try(client, "mediator2", "demo-2026")).status_code == 200
        # Cleared: four more mistakes are allowed before the next wait.
        for _ in range(4):
            assert (await _try(client, "mediator2", "wrong")).status_code == 401
        assert (await _try(client, "mediator2", "demo-2026")).status_code == 200


async def test_the_same_username_from_another_address_is_not_held_up(app, client):
    with clock.frozen(T0):
        for _ in range(5):
            await _try(client, "mediator2", "wrong")
        transport = httpx.ASGITransport(app=app, client=("198.51.100.20", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as elsewhere:
            assert (await _try(elsewhere, "mediator2", "demo-2026")).status_code == 200
        assert (await _try(client, "mediator2", "demo-2026")).status_code == 429


async def test_many_accounts_tried_from_one_address_close_that_address(app, client):
    admin = await login(client, "county")
    real = await make_user(client, admin)
    with clock.frozen(T0):
        for i in range(30):  # 6 × the per-account threshold, each username a different one
            assert (await _try(client, f"guess{i}", "bad")).status_code == 401
        blocked = await _try(client, real["username"], real["password"])
        # The address is turned away before its body is read: even a malformed one gets the 429.
        unread = await client.post(
            "/api/auth/login", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        transport = httpx.ASGITransport(app=app, client=("198.51.100.20", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as elsewhere:
            other_address = await _try(elsewhere, real["username"], real["password"])
    assert blocked.status_code == 429
    assert blocked.json()["message"] == "登录失败次数过多，请 5 分钟后再试"
    assert blocked.headers["Retry-After"] == "300"
    assert (unread.status_code, unread.json()["code"]) == (429, "auth.too_many_attempts")
    assert other_address.status_code == 200
    with clock.frozen(T0 + timedelta(seconds=301)):
        assert (await _try(client, real["username"], real["password"])).status_code == 200


async def test_counters_are_shared_by_every_server_process(client):
    """A second process has its own throttle object; the lock-out it sees is the database's."""
    with clock.frozen(T0):
        for _ in range(5):
            await _try(client, "mediator2", "wrong")
        other_process = FailureThrottle(max_failures=5, window_seconds=300)
        with pytest.raises(LoginThrottled) as raised:
            await other_process.check("MEDIATOR2", OFFICE[0])
    assert raised.value.headers["Retry-After"] == "60"


async def test_a_pair_forgotten_for_a_day_starts_afresh(client):
    with clock.frozen(T0):
        for _ in range(4):
            await _try(client, "mediator2", "wrong")
    with clock.frozen(T0 + timedelta(days=1, minutes=1)):
        # Four old mistakes no longer count: one more is not the fifth.
        assert (await _try(client, "mediator2", "wrong")).status_code == 401
        assert (await _try(client, "mediator2", "demo-2026")).status_code == 200
