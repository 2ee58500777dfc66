"""The delivery loop a running server keeps: reminders every few minutes, pushes as soon as due;
stopped (cancelled) with the server."""

from __future__ import annotations

import asyncio
from datetime import datetime

from litestar import Litestar

from backend.core import clock
from backend.notify import worker
from tests.notify.support import close_case_at, push_settings, subscribe_device

SHANGHAI = clock.LOCAL_TZ


async def test_the_server_loop_reminds_and_pushes_then_stops(client, push_service):
    case = await close_case_at(client, datetime(2027, 7, 1, 10, 0, tzinfo=SHANGHAI))
    visit_id = case["visits"][0]["id"]
    _, device = await subscribe_device(client, push_service, "mediator1")
    app = Litestar(route_handlers=[])
    app.state.settings = push_settings()
    with clock.frozen(datetime(2027, 7, 8, 8, 30, tzinfo=SHANGHAI)):
        await worker.start(app)
        task = app.state.notify_worker
        try:
            for _ in range(200):
                if any(p.payload["url"] == f"/visits/{visit_id}" for p in push_service.for_device(device)):
                    break
                await asyncio.sleep(0.05)
        finally:
            await worker.stop(app)
    assert task.done() and app.state.notify_worker is None
    assert [p.payload["url"] for p in push_service.for_device(device)] == [f"/visits/{visit_id}"]
    assert push_service.errors == []
