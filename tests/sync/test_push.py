"""Push: each operation applied once, in the phone's order; every result stored and replayed."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from backend.core import clock
from tests.factories import act, auth, bearer, login
from tests.media.images import jpeg, sha
from tests.sync.helpers import action_op, create_op, note_op, op, push, update_op


async def _case(client, username: str, case_id: str) -> dict:
    response = await client.get(f"/api/cases/{case_id}", headers=await auth(client, username))
    assert response.status_code == 200, response.text
    return response.json()


async def test_create_then_replay_is_duplicate_with_the_original_result(client):
    headers = await auth(client, "mediator1")
    create = create_op()
    first = await push(client, headers, create)
    assert first[0]["status"] == "applied" and first[0]["code"] == "case.created", first
    assert first[0]["server_version"] == 1
    again = await push(client, headers, create)
    assert again[0]["status"] == "duplicate"
    assert again[0]["original_status"] == "applied" and again[0]["server_version"] == 1
    assert again[0]["code"] == "case.created"


async def test_a_batch_applies_in_its_order_each_op_once(client):
    headers = await auth(client, "leader1")  # a team leader accepts on the spot
    create = create_op()
    cid = create["entity_id"]
    ops = [
        create,
        action_op(cid, "accept"),
        note_op(cid, "第一次走访，双方情绪激动。"),
        update_op(cid, 1, description="补充：通道宽约一米五。"),
        note_op(cid, "第二次走访，张家同意清理。"),
    ]
    results = await push(client, headers, *ops)
    assert [r["status"] for r in results] == ["applied"] * 5, results
    assert [r["server_version"] for r in results] == [1, 2, 3, 4, 5]
    replay = await push(client, headers, *ops)
    assert [r["status"] for r in replay] == ["duplicate"] * 5
    case = await _case(client, "leader1", cid)
    assert [e["action"] for e in case["events"]] == ["create", "accept", "note", "update", "note"]
    assert case["events"][3]["after"] == {"description": "补充：通道宽约一米五。"}
    assert case["description"] == "补充：通道宽约一米五。" and case["version"] == 5
    # The phone's own earlier note does not make its edit (base version 1) a conflict.
    assert case["conflict"] is False


async def test_an_op_before_its_create_waits_and_is_applied_when_the_create_arrives(client):
    headers = await auth(client, "leader1")
    create = create_op()
    cid = create["entity_id"]
    accept = action_op(cid, "accept")
    note = note_op(cid, "先到的调解记录")
    update = update_op(cid, 1, title="通道纠纷（已更正）")
    early = await push(client, headers, accept, note, update)
    assert [r["status"] for r in early] == ["deferred"] * 3
    assert {r["code"] for r in early} == {"sync.waiting_for_entity"}
    # Still waiting: a replay says so, and nothing is applied twice later.
    assert [r["original_status"] for r in await push(client, headers, note)] == ["deferred"]
    created = await push(client, headers, create)
    assert created[0]["status"] == "applied"
    case = await _case(client, "leader1", cid)
    assert [e["action"] for e in case["events"]] == ["create", "accept", "note", "update"]
    assert case["title"] == "通道纠纷（已更正）" and case["version"] == 4
    later = await push(client, headers, accept, note, update)
    assert [(r["status"], r["original_status"]) for r in later] == [("duplicate", "applied")] * 3
    assert [r["server_version"] for r in later] == [2, 3, 4]


async def test_a_batch_that_overtakes_an_earlier_one_waits_for_it(client):
    """prev_op_id chains one device's operations on an entity across batches."""
    headers = await auth(client, "leader1")
    create = create_op()
    cid = create["entity_id"]
    accept = action_op(cid, "accept", prev_op_id=create["op_id"])
    note1 = note_op(cid, "第一次", prev_op_id=accept["op_id"])
    note2 = note_op(cid, "第二次", prev_op_id=note1["op_id"])
    note3 = note_op(cid, "第三次", prev_op_id=note2["op_id"])
    # The second batch arrives first, then the first.
    second = await push(client, headers, note2, note3)
    assert [r["status"] for r in second] == ["deferred", "deferred"]
    assert {r["code"] for r in second} == {"sync.waiting_for_previous"}
    first = await push(client, headers, create, accept, note1)
    assert [r["status"] for r in first] == ["applied"] * 3
    case = await _case(client, "leader1", cid)
    assert [e["data"].get("text") for e in case["events"]] == [None, None, "第一次", "第二次", "第三次"]


async def test_a_rejected_op_is_final_and_replayed_as_rejected(client):
    headers = await auth(client, "mediator1")
    create = create_op()
    cid = create["entity_id"]
    close = action_op(cid, "close")  # a case just reported cannot be closed
    results = await push(client, headers, create, close)
    assert results[1]["status"] == "rejected" and results[1]["code"] == "case.invalid_transition"
    assert results[1]["message"] and results[1]["server_version"] == 1
    replay = await push(client, headers, close)
    assert replay[0]["status"] == "duplicate" and replay[0]["original_status"] == "rejected"
    assert (await _case(client, "mediator1", cid))["version"] == 1


async def test_bad_ops_are_rejected_one_by_one_and_the_rest_applies(client):
    headers = await auth(client, "leader1")
    create = create_op()
    cid = create["entity_id"]
    accept = action_op(cid, "accept")
    unknown = op("case.teleport", cid)
    bad_note = op("case.note", cid, {"txt": "字段名写错了"})
    bad_edit = update_op(cid, 1, number="530524101-2026-999999")
    no_base = op("case.update", cid, {"title": "没有基准版本"})
    good = note_op(cid, "正常的记录")
    results = await push(client, headers, create, accept, unknown, bad_note, bad_edit, no_base, good)
    assert [(r["status"], r["code"]) for r in results] == [
        ("applied", "case.created"),
        ("applied", "case.accept"),
        ("rejected", "sync.unknown_type"),
        ("rejected", "request.invalid"),
        ("rejected", "case.field_not_editable"),
        ("rejected", "case.bad_base_version"),
        ("applied", "case.noted"),
    ]


async def test_an_op_id_of_another_user_is_not_revealed(client):
    create = create_op()
    await push(client, await auth(client, "mediator1"), create)
    other = await push(client, await auth(client, "leader1"), create)
    assert other[0]["status"] == "rejected" and other[0]["code"] == "sync.op_id_taken"
    assert other[0]["server_version"] is None


async def test_actions_follow_the_workflow_rules(client):
    mediator = await auth(client, "mediator1")
    create = create_op()
    cid = create["entity_id"]
    await push(client, mediator, create)
    # A mediator may not accept (the team leader does); the leader's phone may.
    refused = await push(client, mediator, action_op(cid, "accept"))
    assert refused[0]["status"] == "rejected" and refused[0]["code"] == "auth.forbidden"
    accepted = await push(client, await auth(client, "leader1"), action_op(cid, "accept"))
    assert accepted[0]["status"] == "applied" and accepted[0]["code"] == "case.accept"
    case = await _case(client, "mediator1", cid)
    assert case["state"] == "mediating" and case["version"] == 2


async def test_push_reports_the_photos_still_missing(client):
    headers = await auth(client, "mediator1")
    sent, unsent = jpeg(), jpeg()
    assert (await client.put(f"/api/media/{sha(sent)}", content=sent, headers=headers)).status_code == 201
    create = create_op(photos=[sha(sent), sha(unsent)])
    results = await push(client, headers, create)
    assert results[0]["missing_photos"] == [sha(unsent)]
    assert (await client.put(f"/api/media/{sha(unsent)}", content=unsent, headers=headers)).status_code == 201
    replay = await push(client, headers, create)
    assert replay[0]["status"] == "duplicate" and replay[0]["missing_photos"] == []
    third = jpeg()
    edit = update_op(create["entity_id"], 1, photos=[sha(sent), sha(unsent), sha(third)])
    assert (await push(client, headers, edit))[0]["missing_photos"] == [sha(third)]


async def test_an_expired_token_applies_nothing(client, app):
    tokens = await login(client, "leader1")
    secret = app.state.jwt_secret
    claims = jwt.decode(tokens["access_token"], secret, algorithms=["HS256"])
    past = datetime.now(UTC) - timedelta(minutes=1)
    expired = jwt.encode({**claims, "exp": int(past.timestamp())}, secret)
    create = create_op()
    batch = [create, action_op(create["entity_id"], "accept"), note_op(create["entity_id"], "记录")]
    response = await client.post(
        "/api/sync/push", json={"ops": batch}, headers={"Authorization": f"Bearer {expired}"}
    )
    assert response.status_code == 401 and response.json()["code"] == "auth.token_expired"
    missing = await client.get(f"/api/cases/{create['entity_id']}", headers=bearer(tokens))
    assert missing.status_code == 404
    # Refreshed, the same batch applies in full.
    refreshed = await client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    results = await push(client, bearer(refreshed.json()), *batch)
    assert [r["status"] for r in results] == ["applied"] * 3


async def test_rate_limited_push_applies_nothing_and_says_when_to_retry(client, app):
    from backend.sync.routes import PushLimiter

    app.state.sync_push_limiter = PushLimiter(per_minute=2)
    headers = bearer(await login(client, "mediator1"))
    for _ in range(2):
        await push(client, headers, create_op())
    create = create_op()
    refused = await client.post("/api/sync/push", json={"ops": [create]}, headers=headers)
    assert refused.status_code == 429
    assert refused.json()["code"] == "sync.rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert (await client.get(f"/api/cases/{create['entity_id']}", headers=headers)).status_code == 404
    # Another phone is not held back by this one.
    assert (await push(client, await auth(client, "mediator1"), create))[0]["status"] == "applied"


async def test_after_a_week_waiting_ops_are_applied_as_far_as_possible_and_flagged(client):
    from backend.sync import service
    from backend.sync.tables import SyncOp

    headers = await auth(client, "leader1")
    create = create_op()
    cid = create["entity_id"]
    await push(client, headers, create, action_op(cid, "accept"))
    lost = note_op(cid, "这条记录在手机上丢了，从未发出")
    waiting = note_op(cid, "等待上一条", prev_op_id=lost["op_id"])
    orphan = update_op(str(uuid.uuid4()), 1, title="案件从未到达")
    results = await push(client, headers, waiting, orphan)
    assert [r["status"] for r in results] == ["deferred", "deferred"]

    with clock.frozen(datetime.now(UTC) + timedelta(days=6)):
        assert (await service.expire_deferred()).op_ids == []
    with clock.frozen(datetime.now(UTC) + timedelta(days=7, minutes=1)):
        report = await service.expire_deferred()
    assert sorted(report.op_ids) == sorted([waiting["op_id"], orphan["op_id"]])
    assert (report.applied, report.rejected) == (1, 1)
    rows = {
        r["op_id"]: r
        for r in await SyncOp.select().where(SyncOp.op_id.is_in([waiting["op_id"], orphan["op_id"]])).run()
    }
    assert rows[waiting["op_id"]]["status"] == "applied" and rows[waiting["op_id"]]["flagged"]
    assert rows[orphan["op_id"]]["status"] == "rejected" and rows[orphan["op_id"]]["flagged"]
    assert rows[orphan["op_id"]]["code"] == "sync.expired_entity_missing"
    case = await _case(client, "tianyuan", cid)
    assert [e["action"] for e in case["events"]] == ["create", "accept", "note", "flag"]
    assert case["conflict"] is True and case["events"][3]["data"]["op_id"] == waiting["op_id"]
    listed = await client.get("/api/cases", params={"conflict": "1"}, headers=await auth(client, "tianyuan"))
    assert cid in [c["id"] for c in listed.json()["items"]]
    assert [c["id"] for c in listed.json()["items"]] == [cid]
    assert (await act(client, "tianyuan", cid, "clear_conflict")).json()["conflict"] is False


@pytest.mark.slow  # a `fengqiao sync expire` process: about 2 s
@pytest.mark.server
async def test_expire_job_runs_from_the_command_line(database_url):
    env = {**os.environ, "FENGQIAO_DATABASE_URL": database_url}
    later = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "backend.cli", "sync", "expire", "--now", later],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "flagged for review" in done.stdout


async def test_the_running_server_settles_week_old_ops_by_itself(client):
    """The expiry is one of the server worker's periodic jobs, hourly: no cron needed. (Only this job is
    run here; the loop itself is tested in tests/notify/test_worker.py.)"""
    from backend.notify import worker
    from backend.settings import load_settings
    from backend.sync.tables import SyncOp

    interval, job = worker._periodic["sync.expire"]
    assert interval(load_settings()) == 3600
    headers = await auth(client, "leader1")
    create = create_op()
    await push(client, headers, create, action_op(create["entity_id"], "accept"))
    lost = note_op(create["entity_id"], "从未发出")
    waiting = note_op(create["entity_id"], "等待上一条", prev_op_id=lost["op_id"])
    assert [r["status"] for r in await push(client, headers, waiting)] == ["deferred"]
    with clock.frozen(datetime.now(UTC) + timedelta(days=8)):
        await job()
    row = (
        await SyncOp.select(SyncOp.status, SyncOp.flagged)
        .where(SyncOp.op_id == waiting["op_id"])
        .first()
        .run()
    )
    assert row["status"] == "applied" and row["flagged"]
