"""A push's operations share transactions (backend/sync/service.py): a bad or failing op costs only
itself, every acknowledged op is durable, and a batch cut short by a crash leaves nothing behind."""

from __future__ import annotations

import dataclasses

import pytest

from backend.sync import ops as sync_ops
from tests.factories import auth
from tests.sync.helpers import action_op, create_op, note_op, push


async def _status(client, headers: dict[str, str], case_id: str) -> int:
    return (await client.get(f"/api/cases/{case_id}", headers=headers)).status_code


async def test_a_bad_op_in_the_middle_of_a_batch_costs_only_itself(client):
    headers = await auth(client, "mediator1")
    batch = [create_op() for _ in range(5)]
    batch[2] = create_op(category="no_such_category")
    results = await push(client, headers, *batch)
    assert [(r["status"], r["code"]) for r in results] == [
        ("applied", "case.created"),
        ("applied", "case.created"),
        ("rejected", "case.unknown_category"),
        ("applied", "case.created"),
        ("applied", "case.created"),
    ]
    assert [await _status(client, headers, o["entity_id"]) for o in batch] == [200, 200, 404, 200, 200]
    # Sent again (the answer lost on the way): every op answered as the first time, nothing twice.
    again = await push(client, headers, *batch)
    assert [(r["status"], r["original_status"]) for r in again] == [
        ("duplicate", "applied"),
        ("duplicate", "applied"),
        ("duplicate", "rejected"),
        ("duplicate", "applied"),
        ("duplicate", "applied"),
    ]
    numbers = [(await client.get(f"/api/cases/{o['entity_id']}", headers=headers)).json() for o in batch[:2]]
    serials = [int(c["number"].rsplit("-", 1)[1]) for c in numbers]
    assert serials[1] == serials[0] + 1  # the rejected op took no number


async def test_ops_after_a_create_in_the_same_batch_see_it(client):
    headers = await auth(client, "leader1")
    create = create_op()
    cid = create["entity_id"]
    results = await push(client, headers, create, action_op(cid, "accept"), note_op(cid, "到现场了解情况"))
    assert [r["status"] for r in results] == ["applied", "applied", "applied"]
    assert [r["server_version"] for r in results] == [1, 2, 3]
    case = (await client.get(f"/api/cases/{cid}", headers=headers)).json()
    assert case["state"] == "mediating" and [e["action"] for e in case["events"]] == [
        "create",
        "accept",
        "note",
    ]


async def test_an_op_failing_unexpectedly_is_retried_alone_and_the_others_apply(client, monkeypatch):
    headers = await auth(client, "mediator1")
    batch = [create_op() for _ in range(4)]
    broken = batch[1]["entity_id"]
    create = sync_ops.OP_TYPES["case.create"]

    async def failing(user, op):
        if str(op.entity_id) == broken:
            raise RuntimeError("the disk hiccuped")
        return await create.apply(user, op)

    monkeypatch.setitem(sync_ops.OP_TYPES, "case.create", dataclasses.replace(create, apply=failing))
    results = await push(client, headers, *batch)
    assert [(r["status"], r["code"]) for r in results] == [
        ("applied", "case.created"),
        ("retry", "server.error"),
        ("applied", "case.created"),
        ("applied", "case.created"),
    ]
    assert [await _status(client, headers, o["entity_id"]) for o in batch] == [200, 404, 200, 200]
    monkeypatch.setitem(sync_ops.OP_TYPES, "case.create", create)
    again = await push(client, headers, *batch)  # nothing was stored for the one told to retry
    assert [r["status"] for r in again] == ["duplicate", "applied", "duplicate", "duplicate"]


class Crash(BaseException):
    """The process dying in the middle of a batch (not an error the server could answer)."""


async def test_a_crash_in_the_middle_of_a_batch_leaves_none_of_it(client, monkeypatch):
    headers = await auth(client, "leader1")
    create = create_op()
    cid = create["entity_id"]
    await push(client, headers, create)
    batch = [action_op(cid, "accept"), note_op(cid, "第一次调解"), note_op(cid, "第二次调解")]
    note = sync_ops.OP_TYPES["case.note"]

    async def crashing(user, op):
        if op.op_id == batch[2]["op_id"]:
            raise Crash()
        return await note.apply(user, op)

    monkeypatch.setitem(sync_ops.OP_TYPES, "case.note", dataclasses.replace(note, apply=crashing))
    with pytest.raises(Crash):
        await client.post("/api/sync/push", json={"ops": batch}, headers=headers)
    monkeypatch.setitem(sync_ops.OP_TYPES, "case.note", note)
    # No answer reached the phone, and nothing of the batch was kept: sent again, all of it applies.
    case = (await client.get(f"/api/cases/{cid}", headers=headers)).json()
    assert (case["state"], case["version"], len(case["events"])) == ("reported", 1, 1)
    results = await push(client, headers, *batch)
    assert [(r["status"], r["server_version"]) for r in results] == [
        ("applied", 2),
        ("applied", 3),
        ("applied", 4),
    ]
