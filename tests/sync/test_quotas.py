"""What a phone may leave waiting on the server is bounded: the size of an operation and how many of a
device's operations wait (deferred) at once. Waiting ones expire after a week (test_push.py)."""

from __future__ import annotations

import pytest

from backend.sync.tables import SyncOp
from tests.factories import auth, bearer, login
from tests.sync.helpers import action_op, create_op, note_op, push


@pytest.fixture
def small_quotas(database, monkeypatch):
    from backend.settings import get_settings

    monkeypatch.setenv("FENGQIAO_SYNC_MAX_OP_BYTES", "4096")
    monkeypatch.setenv("FENGQIAO_SYNC_MAX_DEFERRED_PER_DEVICE", "2")
    get_settings.cache_clear()
    yield
    monkeypatch.delenv("FENGQIAO_SYNC_MAX_OP_BYTES")
    monkeypatch.delenv("FENGQIAO_SYNC_MAX_DEFERRED_PER_DEVICE")
    get_settings.cache_clear()


async def test_an_oversized_operation_is_rejected_and_nothing_is_kept(client, small_quotas):
    headers = await auth(client, "leader1")
    create = create_op()
    await push(client, headers, create, action_op(create["entity_id"], "accept"))  # a note would apply
    small = note_op(create["entity_id"], "调" * 1000)  # 3,000 bytes: under the cap
    assert (await push(client, headers, small))[0]["status"] == "applied"
    big = note_op(create["entity_id"], "调" * 2000)  # 6,000 bytes of UTF-8
    result = (await push(client, headers, big))[0]
    assert result["status"] == "rejected" and result["code"] == "sync.payload_too_large"
    assert result["message"] == "这条操作的内容过大，无法保存"
    row = await SyncOp.select(SyncOp.status, SyncOp.payload).where(SyncOp.op_id == big["op_id"]).first().run()
    assert row["status"] == "rejected" and row["payload"] in ({}, "{}")
    # Final: a resend is the same answer, and the note was never written.
    again = (await push(client, headers, big))[0]
    assert again["status"] == "duplicate" and again["original_status"] == "rejected"
    case = (await client.get(f"/api/cases/{create['entity_id']}", headers=headers)).json()
    assert [e["action"] for e in case["events"]] == ["create", "accept", "note"]


async def test_a_device_keeps_only_so_many_operations_waiting(client, small_quotas):
    headers = await auth(client, "leader1")
    create = create_op()
    cid = create["entity_id"]
    ops = [action_op(cid, "accept"), note_op(cid, "第一次调解"), note_op(cid, "第二次调解")]
    early = await push(client, headers, *ops)
    assert [r["status"] for r in early] == ["deferred", "deferred", "retry"]
    assert early[2]["code"] == "sync.too_many_deferred" and "稍后重发" in early[2]["message"]
    assert not await SyncOp.exists().where(SyncOp.op_id == ops[2]["op_id"]).run()
    # Another phone of the same person has its own allowance.
    other = bearer(await login(client, "leader1", device_name="备用手机"))
    assert (await push(client, other, note_op(cid, "另一台手机")))[0]["status"] == "deferred"
    # The create arrives: the waiting ones apply, and the one told to retry goes through.
    assert (await push(client, headers, create))[0]["status"] == "applied"
    assert (await push(client, headers, ops[2]))[0]["status"] == "applied"
    case = (await client.get(f"/api/cases/{cid}", headers=headers)).json()
    assert [e["action"] for e in case["events"]] == ["create", "accept", "note", "note", "note"]
