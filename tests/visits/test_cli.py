"""`fengqiao visits remind --now <due date 08:30+08:00>`: a decryptable push and an inbox item, once,
also when two of them run at the same moment (separate processes, as cron and a server would)."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import datetime

from backend.core import clock
from tests.notify.support import close_case_at, inbox_items, subscribe_device

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


def pushes_for(service, device, visit_id: str) -> list:
    return [p for p in service.for_device(device) if p.payload["url"] == f"/visits/{visit_id}"]


async def reminders(client, visit_id: str) -> list[dict]:
    return [n for n in await inbox_items(client, "mediator1") if n["visit_id"] == visit_id]


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
    [message] = pushes_for(push_service, device, visit_id)
    [item] = await reminders(client, visit_id)
    assert message.payload["notification_id"] == item["id"] and item["kind"] == "visit_due"
    assert first["number"] in message.payload["title"]

    # Three more visits due the same day; two runs at once (and the first visit a second time).
    more = [await close_case_at(client, closed) for _ in range(3)]
    await asyncio.gather(
        remind(database_url, "2027-06-08T08:40:00+08:00"), remind(database_url, "2027-06-08T08:40:00+08:00")
    )
    assert push_service.errors == []
    for case in [first, *more]:
        visit_id = case["visits"][0]["id"]
        assert len(pushes_for(push_service, device, visit_id)) == 1
        assert len(await reminders(client, visit_id)) == 1
