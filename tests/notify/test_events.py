"""Server-sent events fed by the bus (in-process on SQLite, LISTEN/NOTIFY on PostgreSQL), served by
a real uvicorn server so the stream is really streamed."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from tests.factories import act, bearer, login, make_case, tokens_for
from tests.live import lines_after_revoking, next_event, served


@pytest.mark.server  # an in-process uvicorn server (served)
async def test_an_open_app_gets_its_notifications_live(client):
    mediator = await tokens_for(client, "mediator1")
    own = await login(client, "mediator1")
    team_id = mediator["user"]["team"]["id"]

    async def assign_new_case() -> dict:
        case = await make_case(client, "tianyuan")
        response = await act(
            client, "tianyuan", case["id"], "assign", team_id=team_id, mediator_id=mediator["user"]["id"]
        )
        assert response.status_code == 200
        return case

    async with served() as base, httpx.AsyncClient(base_url=base, timeout=10) as http:
        async with http.stream("GET", "/api/events", headers=bearer(own)) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = response.aiter_lines()
            ready = await asyncio.wait_for(next_event(lines), 5)
            assert ready["event"] == "ready" and "unread" in json.loads(ready["data"])
            case = await assign_new_case()
            event = await asyncio.wait_for(next_event(lines), 5)
            item = json.loads(event["data"])
            assert event["event"] == "notification" and event["id"] == str(item["id"])
            assert item["case_id"] == case["id"]
            assert item["kind"] == "case_assigned"
            last_seen = item["id"]

        # Offline for a while: a reconnect with Last-Event-ID gets what it missed, in order.
        missed = [await assign_new_case(), await assign_new_case()]
        headers = {**bearer(own), "Last-Event-ID": str(last_seen)}
        async with http.stream("GET", "/api/events", headers=headers) as response:
            lines = response.aiter_lines()
            assert (await asyncio.wait_for(next_event(lines), 5))["event"] == "ready"
            got = []
            while len(got) < 2:
                event = await asyncio.wait_for(next_event(lines), 5)
                got.append(json.loads(event["data"])["case_id"])
            assert got == [c["id"] for c in missed]

        # Nobody else's notifications on your stream.
        other = await login(client, "leader1")
        async with http.stream("GET", "/api/events", headers=bearer(other)) as response:
            lines = response.aiter_lines()
            await asyncio.wait_for(next_event(lines), 5)
            await assign_new_case()
            try:
                event = await asyncio.wait_for(next_event(lines), 1.5)
            except TimeoutError:
                event = None
            assert event is None


@pytest.mark.server  # an in-process uvicorn server (served)
async def test_a_revoked_device_stops_hearing_its_inbox(client, monkeypatch):
    assert await lines_after_revoking(client, monkeypatch, "/api/events", "mediator1") == []
