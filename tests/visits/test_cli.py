"""`fengqiao visits remind --now <due date 08:30+08:00>`: a decryptable push and an inbox item, once,
also when two of them run at the same moment (separate processes, as cron and a server would)."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import datetime

import pytest

from backend.core import clock
from tests.notify.support import close_case_at, inbox_items, subscribe_device

# `fengqiao visits remind` in processes of its own: about 4.5 s.
pytestmark = [pytest.mark.slow, pytest.mark.server]

SHANGHAI = clock.LOCAL_TZ


async def remind(database_url: str, now: str) -> str:
    env = {**os.environ, "FENGQIAO_DATABASE_URL": database_url, "FENGQIAO_PUSH_EXTRA_HOSTS": "127.0.0.1"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "backend.cli",
        "visits",
        "remind",
        "--now",
        now,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()[-2000:]
    return out.decode()


def pushed_urls(service, device) -> list[str]:
    return sorted(p.payload["url"] for p in service.for_device(device))


async def reminded_visits(client) -> list[str]:
    """The visits of mediator1's inbox items, all of which must be reminders of a visit due."""
    items = await inbox_items(client, "mediator1")
    assert {n["kind"] for n in items} <= {"visit_due"}, items
    return sorted(n["visit_id"] for n in items)


async def test_remind_command_pushes_and_fills_the_inbox_once_also_when_two_run_at_once(
    client, push_service, database_url
):
    closed = datetime(2027, 6, 1, 10, 0, tzinfo=SHANGHAI)
    first = await close_case_at(client, closed)
    visit_id = first["visits"][0]["id"]
    _, device = await subscribe_device(client, push_service, "mediator1")
    out = await remind(database_url, "2027-06-08T08:30:00+08:00")
    assert "回访提醒" in out and "推送：送达" in out
    assert push_service.errors == []
    assert pushed_urls(push_service, device) == [f"/visits/{visit_id}"]
    [message] = push_service.for_device(device)
    assert await reminded_visits(client) == [visit_id]
    [item] = await inbox_items(client, "mediator1")
    assert message.payload["notification_id"] == item["id"] and item["kind"] == "visit_due"
    assert first["number"] in message.payload["title"]

    # Three more visits due the same day; two runs at once (and the first visit a second time).
    more = [await close_case_at(client, closed) for _ in range(3)]
    await asyncio.gather(
        remind(database_url, "2027-06-08T08:40:00+08:00"), remind(database_url, "2027-06-08T08:40:00+08:00")
    )
    assert push_service.errors == []
    # Each of the four visits reminded exactly once, pushed exactly once.
    visit_ids = sorted(case["visits"][0]["id"] for case in [first, *more])
    assert pushed_urls(push_service, device) == sorted(f"/visits/{v}" for v in visit_ids)
    assert await reminded_visits(client) == visit_ids
