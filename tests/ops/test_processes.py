"""Several server processes on one PostgreSQL database act as one server (`fengqiao serve --workers N`
behind the reverse proxy): two `fengqiao serve` processes on different ports stand in for two workers,
since a test can then choose which process each request goes to. What is written through one is
streamed by the other at once (the bus, core/bus.py), a grid activation in one moves the other's locate
index, and sign-in failures counted by one lock the account out in the other."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest

from backend import db
from tests.factories import act, bearer, login, make_case
from tests.live import next_event, serve_process

pytestmark = pytest.mark.server

HERE = (99.6, 24.8)  # inside the county, far from its edge


@pytest.fixture
def postgresql_url(database_url: str) -> str:
    if db.engine_name() != "postgresql":
        pytest.skip("several server processes are for PostgreSQL (SQLite refuses --workers 2)")
    return database_url


async def _two_overlay_generations(tmp_path: Path) -> list[int]:
    """An overlay network with two one-cell generations at HERE, the first active."""
    from backend.grids import service
    from backend.grids.importer import LayerOptions, read_layer
    from tests.grids.helpers import square_fc, write_geojson

    ids = []
    for code in ("XA-1", "XB-1"):
        path = write_geojson(tmp_path / f"{code}.geojson", square_fc([(code, f"跨进程{code}", *HERE, 2000)]))
        result = await service.import_layers(
            "xproc",
            [read_layer(path, LayerOptions(level="grid"))],
            network_kind="overlay",
            network_levels=["grid"],
            activate=code == "XA-1",
        )
        ids.append(result.generation_id)
    return ids


async def _overlay_at_here(http: httpx.AsyncClient, headers: dict) -> list[str]:
    response = await http.get("/api/locate", params={"lon": HERE[0], "lat": HERE[1]}, headers=headers)
    assert response.status_code == 200, response.text
    return [o["code"] for o in response.json()["overlays"] if o["network"] == "xproc"]


async def test_two_processes_on_one_database_act_as_one_server(postgresql_url, tmp_path):
    generations = await _two_overlay_generations(tmp_path)
    with (
        serve_process(postgresql_url, "worker-a") as (a, _log_a),
        serve_process(postgresql_url, "worker-b") as (b, _log_b),
    ):
        async with (
            httpx.AsyncClient(base_url=a, timeout=30) as via_a,
            httpx.AsyncClient(base_url=b, timeout=30) as via_b,
        ):
            supervisor = await login(via_b, "tianyuan")
            mediator = await login(via_b, "mediator1")
            map_stream = via_b.stream("GET", "/api/map/events", headers=bearer(supervisor))
            inbox_stream = via_b.stream("GET", "/api/events", headers=bearer(mediator))
            async with map_stream as map_response, inbox_stream as inbox_response:
                map_lines, inbox_lines = map_response.aiter_lines(), inbox_response.aiter_lines()
                assert (await asyncio.wait_for(next_event(map_lines), 10))["event"] == "ready"
                assert (await asyncio.wait_for(next_event(inbox_lines), 10))["event"] == "ready"

                # A case logged through A is on B's open map (well before the map's 30 s re-read) ...
                case = await make_case(via_a, "tianyuan", title="跨进程")
                event = await asyncio.wait_for(next_event(map_lines), 10)
                assert event["event"] == "case" and json.loads(event["data"])["row"][0] == case["id"]

                # ... and assigned through A, it is in the mediator's inbox stream on B.
                assigned = await act(
                    via_a,
                    "tianyuan",
                    case["id"],
                    "assign",
                    team_id=mediator["user"]["team"]["id"],
                    mediator_id=mediator["user"]["id"],
                )
                assert assigned.status_code == 200, assigned.text
                event = await asyncio.wait_for(next_event(inbox_lines), 10)
                item = json.loads(event["data"])
                assert event["event"] == "notification" and item["case_id"] == case["id"]
                assert item["kind"] == "case_assigned"

            # A grid set activated through A: B locates with it at once (B, listening, would otherwise
            # not re-check the active sets for minutes: grids/service.py RECHECK_SECONDS_LISTENING).
            headers = bearer(supervisor)
            assert await _overlay_at_here(via_b, headers) == ["XA-1"]
            county = await login(via_a, "county")
            activated = await via_a.post(
                f"/api/admin/grids/generations/{generations[1]}/activate", json={}, headers=bearer(county)
            )
            assert activated.status_code == 200, activated.text
            seen = await _overlay_at_here(via_b, headers)
            for _ in range(50):  # 10 s
                if seen == ["XB-1"]:
                    break
                await asyncio.sleep(0.2)
                seen = await _overlay_at_here(via_b, headers)
            assert seen == ["XB-1"]

            # A device revoked through A is refused by B on its very next request, though B has just
            # kept it as signed in (people/session_cache.py: seconds), because B heard the revocation.
            phone = await login(via_b, "mediator1", device_name="丢失的手机")
            assert (await via_b.get("/api/me", headers=bearer(phone))).status_code == 200
            revoked = await via_a.post(
                f"/api/admin/devices/{phone['device_id']}/revoke", json={}, headers=bearer(county)
            )
            assert revoked.status_code == 204, revoked.text
            after = await via_b.get("/api/me", headers=bearer(phone))
            # NOTIFY arrives within milliseconds; a second is well inside the 5 s B would keep the device.
            for _ in range(10):
                if after.status_code != 200:
                    break
                await asyncio.sleep(0.1)
                after = await via_b.get("/api/me", headers=bearer(phone))
            assert after.status_code == 401 and after.json()["code"] == "auth.device_revoked"

            # Sign-in failures counted through A lock the account out through B too.
            for _ in range(5):
                wrong = await via_a.post(
                    "/api/auth/login",
                    json={"username": "mediator2", "password": "wrong-password-1", "device_name": "手机"},
                )
                assert wrong.status_code == 401, wrong.text
            refused = await via_b.post(
                "/api/auth/login",
                json={"username": "mediator2", "password": "demo-2026", "device_name": "手机"},
            )
            assert refused.status_code == 429 and refused.json()["code"] == "auth.too_many_attempts"


async def test_serve_with_two_workers_starts_and_serves(postgresql_url):
    env = {"FENGQIAO_LOG_LEVEL": "INFO"}  # each worker says it started
    with serve_process(postgresql_url, "two-workers", env, args=("--workers", "2")) as (base, log):
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            health = await http.get("/api/health")
            assert health.status_code == 200 and health.json()["database"] == "postgresql"
            tokens = await login(http, "mediator1")
            me = await http.get("/api/me", headers=bearer(tokens))
            assert me.status_code == 200 and me.json()["username"] == "mediator1"
        # /api/health answers as soon as one worker is up; the other may still be importing.
        deadline = time.monotonic() + 60
        while (started := log.read_text(errors="replace")).count("Started server process") < 2:
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        assert started.count("Started server process") == 2, started[-2000:]
