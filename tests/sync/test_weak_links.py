"""Fault tests: whatever the link or the server does, nothing captured in a village is lost or doubled.

1. 20 phones send 500 cases with photos and follow-up edits through a proxy that drops 20% of the
   answers after the server has acted, sends 10% of requests twice and holds some back so later
   batches overtake earlier ones; access tokens expire every minute.
2. The server is SIGKILLed in the middle of a run and started again on the same database.

Afterwards the counts are exact: every case once, with all its photos and its events in the phone's
order, every operation applied exactly once. Both run on the session's engine (SQLite file or
PostgreSQL).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections import defaultdict

import httpx
import pytest

from backend.cases.tables import Case, CaseEvent, CasePhoto, Party
from backend.demo.loader import DEMO_PASSWORD
from backend.media.tables import Media
from backend.people.tables import Team, User
from backend.sync.tables import SyncOp
from tests.sync.phones import Phone
from tests.sync.proxy import Faults, FaultyProxy

# Server processes of its own (server_process), and 500 cases through a faulty link.
pytestmark = [pytest.mark.slow, pytest.mark.server]

# The accounts made here pass the password policy (the demo password is a known, common one).
PHONE_PASSWORD = "weak-links-phone-7Q"


def _json(value) -> dict:
    return json.loads(value) if isinstance(value, str) else value


def _chunks(items: list, n: int = 500) -> list[list]:
    return [items[i : i + n] for i in range(0, len(items), n)]


async def _select_in(query_for, values: list) -> list[dict]:
    rows: list[dict] = []
    for part in _chunks(values):
        rows += await query_for(part).run()
    return rows


async def _team_leaders(server_url: str, n: int) -> list[tuple[str, int]]:
    """n new team leaders, each of a team of their own, without staff or cases (so each phone sees
    only its own cases)."""
    staffed = User.select(User.team).where(User.team.is_not_null())
    busy = Case.select(Case.owner_team).where(Case.owner_team.is_not_null())
    teams = (
        await Team.select(Team.id, Team.township_code)
        .where(
            (Team.active == True)  # noqa: E712
            & Team.township_code.is_not_null()
            & Team.id.not_in(staffed)
            & Team.id.not_in(busy)
        )
        .order_by(Team.id)
        .limit(n)
        .run()
    )
    assert len(teams) == n
    leaders = []
    async with httpx.AsyncClient(base_url=server_url, timeout=30) as http:
        login = await http.post(
            "/api/auth/login", json={"username": "county", "password": DEMO_PASSWORD, "device_name": "测试"}
        )
        admin = {"Authorization": f"Bearer {login.json()['access_token']}"}
        for team in teams:
            username = f"phone{uuid.uuid4().hex[:8]}"
            made = await http.post(
                "/api/admin/users",
                json={
                    "username": username,
                    "display_name": "测试队长",
                    "password": PHONE_PASSWORD,
                    "role": "team_leader",
                    "scope_code": team["township_code"],
                    "team_id": team["id"],
                },
                headers=admin,
            )
            assert made.status_code == 201, made.text
            leaders.append((username, made.json()["id"]))
    return leaders


async def _phones(server_url: str, proxy_url: str, n_phones: int, n_cases: int, seed: int) -> list[Phone]:
    phones = []
    for i, (username, _) in enumerate(await _team_leaders(server_url, n_phones)):
        phone = Phone(
            name=f"手机{seed}-{i:02d}",
            base_url=proxy_url,
            username=username,
            password=PHONE_PASSWORD,
            rng=random.Random(seed * 100 + i),
            photos_first=i % 2 == 0,  # half send photos before the case, half after it says they are missing
        )
        phone.plan(n_cases, i)
        phones.append(phone)
    return phones


async def _consistent(phones: list[Phone], complete: bool) -> dict[str, int]:
    """What the database holds of these phones' cases, checked case by case: a case is either absent or
    whole (parties, photos), its events are a prefix of the phone's in order, one per applied
    operation, and its version counts them. With `complete`, every case and operation is there."""
    planned = {c.id: c for p in phones for c in p.cases}
    op_ids = [op["op_id"] for p in phones for op in p.outbox]
    ids = [uuid.UUID(i) for i in planned]
    cases = {
        str(r["id"]): r for r in await _select_in(lambda part: Case.select().where(Case.id.is_in(part)), ids)
    }
    events: dict[str, list[dict]] = defaultdict(list)
    for e in await _select_in(
        lambda part: CaseEvent.select().where(CaseEvent.case.is_in(part)).order_by(CaseEvent.id), ids
    ):
        events[str(e["case"])].append(e)
    photos: dict[str, list[str]] = defaultdict(list)
    for p in await _select_in(
        lambda part: CasePhoto.select().where(CasePhoto.case.is_in(part)).order_by(CasePhoto.position), ids
    ):
        photos[str(p["case"])].append(p["sha256"])
    parties: dict[str, int] = defaultdict(int)
    for p in await _select_in(lambda part: Party.select(Party.case).where(Party.case.is_in(part)), ids):
        parties[str(p["case"])] += 1
    ops = await _select_in(lambda part: SyncOp.select().where(SyncOp.op_id.is_in(part)), op_ids)
    applied: dict[str, int] = defaultdict(int)
    for op in ops:
        assert op["status"] in ("applied", "deferred"), op
        assert not op["flagged"]
        if op["status"] == "applied":
            applied[str(op["entity_id"])] += 1

    for case_id, case in cases.items():
        plan = planned[case_id]
        actions = [e["action"] for e in events[case_id]]
        assert actions == plan.actions[: len(actions)], (case_id, actions, plan.actions)
        assert [e["version"] for e in events[case_id]] == list(range(1, len(actions) + 1))
        assert case["version"] == len(actions) == applied[case_id], (
            case_id,
            case["version"],
            applied[case_id],
        )
        assert photos[case_id] == plan.photos and parties[case_id] == 2
        assert case["title"] == plan.title and case["conflict"] is False
        notes = [_json(e["data"])["text"] for e in events[case_id] if e["action"] == "note"]
        assert notes == plan.notes[: len(notes)]
    assert sum(applied.values()) == sum(len(events[c]) for c in cases)
    if complete:
        assert len(cases) == len(planned), (len(cases), len(planned))
        assert len(ops) == len(op_ids)
        unfinished = [
            (op["op_id"], op["type"], op["status"], op["code"]) for op in ops if op["status"] != "applied"
        ]
        assert not unfinished, unfinished[:5]
        for case_id, plan in planned.items():
            assert [e["action"] for e in events[case_id]] == plan.actions
            assert cases[case_id]["description"] == plan.description
        hashes = sorted({h for c in planned.values() for h in c.photos})
        stored = await _select_in(
            lambda part: Media.select(Media.sha256).where(Media.sha256.is_in(part)), hashes
        )
        assert len(stored) == len(hashes)
    return {"cases": len(cases), "ops": len(ops), "events": sum(len(v) for v in events.values())}


async def test_500_cases_through_a_link_that_drops_doubles_and_reorders(server_process, capsys):
    started = time.monotonic()
    server = server_process()
    server.start()
    proxy = FaultyProxy(server.port, Faults(drop=0.20, duplicate=0.10))
    proxy_url = f"http://127.0.0.1:{await proxy.start()}"
    try:
        phones = await _phones(server.url, proxy_url, n_phones=20, n_cases=25, seed=1)
        await asyncio.wait_for(asyncio.gather(*[p.drain_outbox() for p in phones]), timeout=900)
        pushed = time.monotonic()
        server_cpu = server.cpu_seconds()
        views = await asyncio.wait_for(asyncio.gather(*[p.pull_everything() for p in phones]), timeout=300)
    finally:
        await proxy.stop()

    counts = await _consistent(phones, complete=True)
    assert counts["cases"] == 500 and counts["ops"] == sum(len(p.outbox) for p in phones)
    created_by = await Case.count().where(Case.created_by.is_in([u for u in await _user_ids(phones)])).run()
    assert created_by == 500
    for phone in phones:
        assert len(phone.acked) == len(phone.outbox)
        assert not [r for r in phone.acked.values() if r["status"] == "rejected"]
    # Each phone, after a full pull over the same bad link, holds exactly its cases, as they are now.
    for phone, view in zip(phones, views, strict=True):
        assert set(view) == {c.id for c in phone.cases}
        for case in phone.cases:
            assert view[case.id]["version"] == len(case.actions)
            assert view[case.id]["missing_photos"] == [] and view[case.id]["description"] == case.description
    c = proxy.counts
    waited = sum(1 for p in phones for r in p.acked.values() if r["status"] == "deferred")
    assert c.dropped > 50 and c.duplicated > 25 and c.reordered >= 3 and waited >= 10, (c, waited)
    with capsys.disabled():
        print(
            f"\n[weak link] {counts['cases']} cases, {counts['ops']} ops, {counts['events']} events; "
            f"{c.requests} requests: {c.dropped} answers dropped, {c.duplicated} sent twice, "
            f"{c.delayed} delayed, {c.reordered} batches overtaken ({waited} ops deferred); "
            f"{sum(p.stats['refreshed'] for p in phones)} token refreshes; "
            f"ops sent {sum(p.stats['sent'] for p in phones)} times, "
            f"{sum(p.stats['retried'] for p in phones)} answered retry; "
            f"push {pushed - started:.0f} s (server CPU {server_cpu:.0f} s), "
            f"pull {time.monotonic() - pushed:.0f} s"
        )


async def _user_ids(phones: list[Phone]) -> list[int]:
    rows = await User.select(User.id).where(User.username.is_in([p.username for p in phones])).run()
    return [r["id"] for r in rows]


async def test_the_server_killed_mid_run_loses_nothing_acknowledged(server_process, capsys):
    server = server_process()
    server.start()
    proxy = FaultyProxy(server.port, Faults(drop=0.0, duplicate=0.0))
    proxy_url = f"http://127.0.0.1:{await proxy.start()}"
    try:
        phones = await _phones(server.url, proxy_url, n_phones=5, n_cases=30, seed=2)
        total = sum(len(p.outbox) for p in phones)
        run = asyncio.gather(*[p.drain_outbox() for p in phones])
        while sum(len(p.acked) for p in phones) < total * 0.4:
            await asyncio.sleep(0.02)
            assert not run.done()
        server.kill()
        acknowledged = {op_id: r for p in phones for op_id, r in p.acked.items()}
        assert 0 < len(acknowledged) < total

        # With the server down: every acknowledged op is there, and nothing half-written.
        stored = {
            r["op_id"]: r
            for r in await _select_in(
                lambda part: SyncOp.select().where(SyncOp.op_id.is_in(part)), list(acknowledged)
            )
        }
        assert set(stored) == set(acknowledged)
        for op_id, result in acknowledged.items():
            if result["status"] == "applied":
                assert stored[op_id]["status"] == "applied"
                assert stored[op_id]["server_version"] == result["server_version"]
        mid = await _consistent(phones, complete=False)
        assert 0 < mid["cases"] < 150

        server.start()
        proxy.upstream_port = server.port
        await asyncio.wait_for(run, timeout=600)
    finally:
        if "run" in locals() and not run.done():
            run.cancel()
        await proxy.stop()
    counts = await _consistent(phones, complete=True)
    assert counts["cases"] == 150 and counts["ops"] == total
    with capsys.disabled():
        print(
            f"\n[kill -9] {len(acknowledged)} of {total} ops acknowledged before the kill, "
            f"{mid['cases']} cases then; after the restart {counts['cases']} cases, {counts['ops']} ops, "
            f"{counts['events']} events; {proxy.counts.failed} requests failed while it was down"
        )
