"""Push: apply a phone's operations exactly once, in the phone's order, a batch in as few transactions
as it can.

- Exactly once: every operation's result is stored under its op_id in the same transaction as its
  effect, so a crash leaves both or neither, and a replay is answered `duplicate` with the stored
  result. A batch's operations share one transaction, each after the first in its own savepoint (a
  rejection rolls back that operation's writes, not the others'; the first needs none, as rolling
  back the whole transaction undoes only it); the answer is sent after the commit, so every
  acknowledged operation is durable, and a crash before it leaves none of them (the phone sends the
  batch again). The shared transaction ends early, and the rest of the batch goes on in the next
  one, after an operation that makes deferred ones ready (they are settled between the two, as
  before), before one answered from an earlier push, and on PostgreSQL after a `case.create` (its
  township's case-number row lock must not be held through the rest of the batch).
- On PostgreSQL the operations on one entity are serialised by a transaction-level advisory lock
  (two copies of one request, sent twice by a flaky link, cannot both apply); SQLite has one writer
  anyway.
- In order: batch order, and `prev_op_id` (the previous operation of the same device on the same
  entity) across batches: an operation whose predecessor has not arrived, or is itself waiting, is
  stored as `deferred`, as is one on an entity not created yet. When an operation on an entity
  becomes final, the deferred ones it unblocks are applied, oldest first.
- An operation's commit and the drain it triggers are separate transactions: after a crash between
  them, the first push the restarted process serves (or a resend of the operation) drains them.
- A week unresolved (expire_deferred, `fengqiao sync expire`): applied as far as possible regardless
  of order, and the case flagged `conflict` for a supervisor; one whose entity never arrived is
  rejected and flagged.
- An unexpected failure of one operation rolls back its savepoint (the first of a transaction, the
  whole transaction, which holds only it); what the batch did before it is committed, and the
  operation goes again alone in its own transaction (retrying deadlocks and lock timeouts); failing
  still, it stores nothing and answers `retry`; the rest of the batch goes ahead. A first operation
  that is rejected goes again alone too, where its rejection is kept (its apply runs twice: rare).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import uuid
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import msgspec

from backend.core import clock
from backend.core.errors import AppError
from backend.core.identity import CurrentUser
from backend.core.inbound import check_item
from backend.db import (
    engine_name,
    fetch,
    insert_rows,
    new_row,
    placeholders,
    read_transaction,
    write_transaction,
)
from backend.people.service import user_as_now
from backend.settings import get_settings
from backend.sync.ops import (
    OP_TYPES,
    OpType,
    Outcome,
    missing_case_photos,
    missing_photos_of_cases,
    replay_message,
)
from backend.sync.schemas import ExpireReport, OpIn, OpResult
from backend.sync.tables import SyncOp

log = logging.getLogger("fengqiao.sync")

DEFER_LIMIT = timedelta(days=7)
ENTITY_LOCK_NAMESPACE = 0x4652  # this application's, next to sync.feed's 0x4651
_ATTEMPTS = 3


def _result(op_id: str, outcome: Outcome, exc: AppError | None = None) -> OpResult:
    return OpResult(
        op_id=op_id,
        status=outcome.status,  # type: ignore[arg-type]
        code=outcome.code,
        server_version=outcome.server_version,
        message=exc.message if exc else outcome.message,
        message_en=exc.message_en if exc else None,
        missing_photos=outcome.missing_photos,
    )


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.OperationalError):
        return "locked" in str(exc) or "busy" in str(exc)
    return isinstance(
        exc,
        asyncpg.exceptions.DeadlockDetectedError
        | asyncpg.exceptions.SerializationError
        | asyncpg.exceptions.UniqueViolationError
        | asyncpg.exceptions.InFailedSQLTransactionError
        | sqlite3.IntegrityError,
    )


async def _lock_entity(entity_id: uuid.UUID) -> None:
    if engine_name() == "postgresql":
        key = int.from_bytes(entity_id.bytes[:4], "big", signed=True)
        await fetch("SELECT pg_advisory_xact_lock({}, {})", ENTITY_LOCK_NAMESPACE, key)


async def _waiting_for(optype: OpType, entity_id: uuid.UUID, prev_op_id: str | None) -> str | None:
    """Why an operation cannot be applied yet, or None."""
    if prev_op_id:
        prev = await fetch("SELECT status FROM sync_op WHERE op_id = {}", prev_op_id)
        if not prev or prev[0]["status"] == "deferred":
            return "sync.waiting_for_previous"
    if not optype.creates and not await optype.exists(entity_id):
        return "sync.waiting_for_entity"
    return None


async def _apply(
    transaction: Any, optype: OpType, user: CurrentUser, op: OpIn
) -> tuple[Outcome, AppError | None]:
    """Apply inside a savepoint: a rejection rolls back the operation's writes, not its record."""
    savepoint = await transaction.savepoint()
    try:
        outcome = await optype.apply(user, op)
    except AppError as exc:
        await savepoint.rollback_to()
        return await _rejection(optype, op, exc), exc
    await savepoint.release()
    return outcome, None


async def _rejection(optype: OpType, op: OpIn, exc: AppError) -> Outcome:
    """A refused operation's outcome, read after its writes were rolled back."""
    missing = await missing_case_photos(op.entity_id) if optype.reports_photos else None
    version = await optype.version(op.entity_id) if optype.version else None
    return Outcome("rejected", exc.code, version, missing)


def _reports_photos(user: CurrentUser, row: dict[str, Any]) -> bool:
    optype = OP_TYPES.get(row["type"])
    return (
        row["user"] == user.id
        and row["status"] != "deferred"
        and optype is not None
        and optype.reports_photos
    )


async def _duplicate(user: CurrentUser, row: dict[str, Any], missing: list[str] | None = None) -> OpResult:
    if row["user"] != user.id:
        return OpResult(op_id=row["op_id"], status="rejected", code="sync.op_id_taken")
    if missing is None and _reports_photos(user, row):
        missing = await missing_case_photos(row["entity_id"])
    return OpResult(
        op_id=row["op_id"],
        status="duplicate",
        code=row["code"],
        server_version=row["server_version"],
        original_status=row["status"],
        missing_photos=missing,
        message=await replay_message(row["code"], row["entity_id"]),
    )


async def _process_once(user: CurrentUser, op: OpIn) -> tuple[OpResult, bool]:
    """One operation in its own transaction: (the result, whether deferred operations on its entity
    may now be ready)."""
    async with write_transaction() as transaction:
        return await _process_in(transaction, user, op, await transaction.savepoint())


async def _process_in(
    transaction: Any, user: CurrentUser, op: OpIn, savepoint: Any | None
) -> tuple[OpResult, bool]:
    """One operation inside `transaction`, after `savepoint` (taken before its first statement). A
    rejection rolls back to the savepoint and keeps the rejection; with no savepoint (the first
    operation of a batch's transaction, module notes) it raises the AppError instead: the caller
    rolls the transaction back and the operation goes again in _process_once."""
    optype = OP_TYPES.get(op.type)
    await _lock_entity(op.entity_id)
    # Whether ops on this entity wait is read now, with the one answering whether this op came before:
    # under the entity's lock (SQLite: the write lock) no other transaction adds or settles one, and
    # this op's own apply does neither.
    seen = await fetch(
        "SELECT (SELECT id FROM sync_op WHERE op_id = {}) AS stored, EXISTS (SELECT 1 FROM sync_op"
        " WHERE entity_id = {} AND status = 'deferred') AS waiting",
        op.op_id,
        op.entity_id,
    )
    waiting_ops = bool(seen[0]["waiting"])
    if seen[0]["stored"] is not None:
        # A resend after a crash between an op's commit and the drain it triggers: drain now.
        # The row just seen: an operation's record is never deleted.
        (existing,) = await SyncOp.select().where(SyncOp.id == seen[0]["stored"]).run()
        return await _duplicate(user, existing), waiting_ops
    now = clock.now()
    record: dict[str, Any] = {
        "op_id": op.op_id,
        "user": user.id,
        "device": user.device_id,
        "type": op.type,
        "entity_id": op.entity_id,
        "base_version": op.base_version,
        "prev_op_id": op.prev_op_id,
        "client_time": op.client_time,
        "received_at": now,
    }
    quota = get_settings()
    error: AppError | None
    if optype is None:
        outcome, error = Outcome("rejected", "sync.unknown_type", None), None
    elif len(msgspec.json.encode(op.payload)) > quota.sync_max_op_bytes:
        error = PayloadTooLarge(details={"max_bytes": quota.sync_max_op_bytes})
        outcome = Outcome("rejected", error.code, None)
    else:
        waiting = await _waiting_for(optype, op.entity_id, op.prev_op_id)
        if waiting is not None:
            if await _deferred_of_device(user.device_id) >= quota.sync_max_deferred_per_device:
                # Nothing stored: the phone keeps it and sends it again once its others drain.
                return _too_many_deferred(op.op_id, quota.sync_max_deferred_per_device), False
            await insert_rows(
                SyncOp, [new_row(SyncOp, **record, payload=op.payload, status="deferred", code=waiting)]
            )
            return OpResult(op_id=op.op_id, status="deferred", code=waiting), False
        try:
            outcome, error = await optype.apply(user, op), None
        except AppError as exc:
            if savepoint is None:
                raise
            await savepoint.rollback_to()
            # PostgreSQL let go of the entity's lock with the savepoint: take it again, and look
            # again whether ops wait on the entity.
            await _lock_entity(op.entity_id)
            waiting_ops = await _has_deferred(op.entity_id)
            outcome, error = await _rejection(optype, op, exc), exc
    await insert_rows(
        SyncOp,
        [
            new_row(
                SyncOp,
                **record,
                payload={},
                status=outcome.status,
                code=outcome.code,
                server_version=outcome.server_version,
                resolved_at=now,
            )
        ],
    )
    return _result(op.op_id, outcome, error), waiting_ops


class PayloadTooLarge(AppError):
    code = "sync.payload_too_large"
    message = "这条操作的内容过大，无法保存"
    message_en = "The operation's payload is too large"


async def _deferred_of_device(device_id: str | None) -> int:
    rows = await fetch(
        "SELECT COUNT(*) AS n FROM sync_op WHERE status = 'deferred' AND device = {}", device_id or ""
    )
    return int(rows[0]["n"])


async def _has_deferred(entity_id: uuid.UUID) -> bool:
    return bool(
        await fetch("SELECT id FROM sync_op WHERE entity_id = {} AND status = 'deferred' LIMIT 1", entity_id)
    )


def _too_many_deferred(op_id: str, limit: int) -> OpResult:
    return OpResult(
        op_id=op_id,
        status="retry",
        code="sync.too_many_deferred",
        message=f"本机有{limit}条操作在等待之前的操作，请稍后重发",
        message_en=f"This device has {limit} operations waiting for earlier ones; send it again later",
    )


async def _with_retries(work):
    for attempt in range(_ATTEMPTS):
        try:
            return await work()
        except Exception as exc:
            if _is_transient(exc) and attempt < _ATTEMPTS - 1:
                await asyncio.sleep(0.05 * (attempt + 1))
                continue
            raise


_resumed = False


async def _replayed(user: CurrentUser, ops: list[OpIn]) -> tuple[dict[str, OpResult], set[uuid.UUID]]:
    """The answers to ops of this batch received before (a batch sent again after a lost answer),
    read in one go and without the write lock; and which of their entities have ops waiting."""
    # Almost every push is new: one plain query answers that, with no transaction around it.
    op_ids = [op.op_id for op in ops]
    if not await fetch(f"SELECT id FROM sync_op WHERE op_id IN ({placeholders(op_ids)}) LIMIT 1", *op_ids):
        return {}, set()
    async with read_transaction():
        rows = await SyncOp.select().where(SyncOp.op_id.is_in(op_ids)).run()
        entities = list({r["entity_id"] for r in rows})
        waiting = await (
            SyncOp.select(SyncOp.entity_id)
            .where(SyncOp.entity_id.is_in(entities) & (SyncOp.status == "deferred"))
            .run()
        )
        missing = await missing_photos_of_cases(
            list({r["entity_id"] for r in rows if _reports_photos(user, r)})
        )
    answers = {r["op_id"]: await _duplicate(user, r, missing.get(r["entity_id"])) for r in rows}
    return answers, {r["entity_id"] for r in waiting}


def _failed(op: OpIn) -> OpResult:
    log.exception("sync operation %s (%s) failed", op.op_id, op.type)
    return OpResult(
        op_id=op.op_id,
        status="retry",
        code="server.error",
        message="服务器暂时无法处理，请稍后重发",
        message_en="Not applied; send it again later",
    )


def _unusable(op: OpIn) -> OpResult | None:
    """The rejection of an op that can never apply (checked here, not for the whole push:
    core/inbound.py), or None."""
    try:
        check_item(msgspec.to_builtins(op))
    except AppError as exc:
        return _result(op.op_id, Outcome("rejected", exc.code, None), exc)
    return None


async def _process_run(
    user: CurrentUser, ops: list[OpIn], replayed: dict[str, OpResult]
) -> tuple[list[OpResult], OpIn | None, bool]:
    """Apply ops from the start of `ops` in one transaction, each after the first in a savepoint,
    until one ends the run (module notes): (their results, the op that failed unexpectedly or, as
    the first, was rejected, whether the last one makes deferred ops on its entity ready). An
    unexpected failure of the commit itself propagates."""
    results: list[OpResult] = []
    try:
        async with write_transaction() as transaction:
            first = True  # no op has reached the database in this transaction yet
            for op in ops:
                if op.op_id in replayed:
                    break
                rejected = _unusable(op)
                if rejected is not None:
                    results.append(rejected)
                    continue
                # The first op needs no savepoint: on a failure the whole transaction is rolled back,
                # which holds nothing else (two statements fewer for a push of one op).
                savepoint = None if first else await transaction.savepoint()
                try:
                    result, unblocks = await _process_in(transaction, user, op, savepoint)
                except Exception as exc:
                    if savepoint is None:
                        raise _FirstFailed(op) from exc
                    await savepoint.rollback_to()
                    return results, op, False  # the ones before it commit; it goes again alone
                if savepoint is not None:
                    await savepoint.release()
                first = False
                results.append(result)
                if unblocks:
                    return results, None, True
                if op.type == "case.create" and engine_name() == "postgresql":
                    break
    except _FirstFailed as failed:
        # Rejected, or failed unexpectedly: it goes again alone, rejected there with a savepoint.
        return results, failed.op, False
    return results, None, False


class _FirstFailed(Exception):
    """The first op of a batch's transaction was rejected or failed: with no savepoint taken, the
    transaction is rolled back whole, and the op goes again alone (_process_once)."""

    def __init__(self, op: OpIn) -> None:
        super().__init__(op.op_id)
        self.op = op


async def _process_alone(user: CurrentUser, op: OpIn) -> tuple[OpResult, bool]:
    """One op in its own transaction, retried on deadlocks and lock timeouts; `retry` if it fails."""
    rejected = _unusable(op)  # reached from push's fallback too, which does not check
    if rejected is not None:
        return rejected, False
    try:
        return await _with_retries(lambda: _process_once(user, op))
    except Exception:
        return _failed(op), False


async def push(user: CurrentUser, ops: list[OpIn]) -> list[OpResult]:
    """Apply a batch in order, in as few transactions as the module notes allow."""
    global _resumed
    if not _resumed:
        # The first push a process serves settles what a crash left ready (see drain_ready).
        _resumed = True
        await drain_ready()
    replayed, waiting = await _replayed(user, ops)
    results: list[OpResult] = []
    while len(results) < len(ops):
        op = ops[len(results)]
        if op.op_id in replayed:
            results.append(replayed[op.op_id])
            if op.entity_id in waiting:
                # A resend after a crash between an op's commit and the drain it triggers: drain now.
                waiting.discard(op.entity_id)
                await drain(op.entity_id)
            continue
        try:
            done, failed, unblocks = await _process_run(user, ops[len(results) :], replayed)
        except Exception:
            # The shared transaction did not commit (nothing of it is stored): each op alone.
            log.warning("a sync batch's transaction failed; its ops go one by one", exc_info=True)
            done, failed, unblocks = [], op, False
        results.extend(done)
        if failed is not None:
            result, unblocks = await _process_alone(user, failed)
            results.append(result)
        if unblocks:
            await drain(ops[len(results) - 1].entity_id)
    return results


# --- deferred operations ---------------------------------------------------------------------------


async def _user_for(row: dict[str, Any]) -> CurrentUser | None:
    """The user who pushed a stored operation, as they are now, on the device they used then."""
    if row["user"] is None:
        return None
    return await user_as_now(row["user"], row["device"] or "")


def _as_op(row: dict[str, Any]) -> OpIn:
    payload = row["payload"]
    if isinstance(payload, str):
        payload = msgspec.json.decode(payload) if payload else {}
    return OpIn(
        op_id=row["op_id"],
        type=row["type"],
        entity_id=row["entity_id"],
        payload=payload or {},
        base_version=row["base_version"],
        client_time=row["client_time"],
        prev_op_id=row["prev_op_id"],
    )


async def _settle(row_id: int, force: bool) -> bool:
    """Apply one deferred operation if it is ready (or `force`d by the week limit); True if it became
    final. Its own transaction."""
    async with write_transaction() as transaction:
        row = await SyncOp.select().where(SyncOp.id == row_id).first().run()
        if row is None:
            return False
        await _lock_entity(row["entity_id"])
        row = await SyncOp.select().where(SyncOp.id == row_id).first().run()
        if row is None or row["status"] != "deferred":
            return False
        optype = OP_TYPES[row["type"]]
        op = _as_op(row)
        now = clock.now()
        flag = False
        if force:
            if not optype.creates and not await optype.exists(op.entity_id):
                outcome, flag = Outcome("rejected", "sync.expired_entity_missing", None), True
            else:
                outcome, flag = await _apply_as(transaction, optype, row, op), True
        else:
            if await _waiting_for(optype, op.entity_id, op.prev_op_id) is not None:
                return False
            outcome = await _apply_as(transaction, optype, row, op)
        if flag and optype.flag is not None and outcome.status in ("applied", "conflict"):
            flagged = await optype.flag(
                op.entity_id, "sync.applied_late", {"op_id": op.op_id, "waited_for": row["code"]}
            )
            outcome = Outcome(outcome.status, outcome.code, flagged.get("version", outcome.server_version))
        await (
            SyncOp.update(
                {
                    SyncOp.status: outcome.status,
                    SyncOp.code: outcome.code,
                    SyncOp.server_version: outcome.server_version,
                    SyncOp.resolved_at: now,
                    SyncOp.payload: {},
                    SyncOp.flagged: flag,
                }
            )
            .where(SyncOp.id == row_id)
            .run()
        )
        return True


async def _apply_as(transaction: Any, optype: OpType, row: dict[str, Any], op: OpIn) -> Outcome:
    user = await _user_for(row)
    if user is None:
        return Outcome("rejected", "sync.user_inactive", None)
    outcome, _ = await _apply(transaction, optype, user, op)
    return outcome


def _order_key(row: dict[str, Any]) -> tuple[datetime, int]:
    return (row["client_time"] or datetime.max.replace(tzinfo=clock.now().tzinfo), row["id"])


async def drain(entity_id: uuid.UUID) -> int:
    """Apply the deferred operations on an entity that have become ready, oldest first."""
    settled = 0
    while True:
        rows = (
            await SyncOp.select(SyncOp.id, SyncOp.client_time)
            .where((SyncOp.entity_id == entity_id) & (SyncOp.status == "deferred"))
            .run()
        )
        for row in sorted(rows, key=_order_key):
            if await _with_retries(lambda row=row: _settle(row["id"], force=False)):
                settled += 1
                break  # one became final: the others' readiness may have changed
        else:
            return settled


async def drain_ready() -> int:
    """Settle every deferred operation that is ready. An operation's commit and the drain it triggers
    are two transactions; a crash between them leaves ready operations waiting until this runs."""
    rows = await SyncOp.select(SyncOp.entity_id).where(SyncOp.status == "deferred").distinct().run()
    settled = 0
    for row in rows:
        settled += await drain(row["entity_id"])
    return settled


async def expire_deferred() -> ExpireReport:
    """Apply, as far as possible and flagged, what has waited a week (DEFER_LIMIT) for an operation
    or an entity that never came. For a periodic job (`fengqiao sync expire`)."""
    await drain_ready()
    cutoff = clock.now() - DEFER_LIMIT
    rows = (
        await SyncOp.select(SyncOp.id, SyncOp.entity_id, SyncOp.client_time, SyncOp.op_id)
        .where((SyncOp.status == "deferred") & (SyncOp.received_at < cutoff))
        .run()
    )
    done: list[str] = []
    for row in sorted(rows, key=lambda r: (str(r["entity_id"]), *_order_key(r))):
        if await _with_retries(lambda row=row: _settle(row["id"], force=True)):
            done.append(row["op_id"])
            await drain(row["entity_id"])
    final = await SyncOp.select(SyncOp.status).where(SyncOp.op_id.is_in(done)).run() if done else []
    rejected = sum(1 for r in final if r["status"] == "rejected")
    return ExpireReport(applied=len(final) - rejected, rejected=rejected, op_ids=done)
