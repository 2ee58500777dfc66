"""The operation types a phone may push: one table, so a domain adds its type with one line.

A type's `apply` runs inside the operation's transaction and either returns an Outcome or raises a
core.errors.AppError, which rejects the operation (its writes are rolled back, the rejection is kept).
`exists` says whether the entity is there yet (an operation on one that is not waits, `deferred`);
`creates` marks the type that makes the entity; `flag` marks an entity for a person to review (used
when an operation is applied late, out of the phone's order).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from piccolo.querystring import QueryString

from backend.cases import edits, intake, schemas, views, workflow
from backend.cases.tables import Case, CasePhoto
from backend.core.errors import InvalidRequest
from backend.core.identity import CurrentUser
from backend.db import DB
from backend.media import service as media
from backend.screenings import service as screenings
from backend.sync.schemas import OpIn
from backend.visits import service as visits


@dataclass(frozen=True)
class Outcome:
    status: str  # applied | conflict | duplicate
    code: str
    server_version: int | None
    missing_photos: list[str] | None = field(default=None)
    message: str | None = None  # said to the user with the result (e.g. where a case went)


@dataclass(frozen=True)
class OpType:
    apply: Callable[[CurrentUser, OpIn], Awaitable[Outcome]]
    exists: Callable[[uuid.UUID], Awaitable[bool]]
    creates: bool = False
    flag: Callable[[uuid.UUID, str, dict[str, Any]], Awaitable[Any]] | None = None
    version: Callable[[uuid.UUID], Awaitable[int | None]] | None = None  # the entity's version now
    reports_photos: bool = False  # results carry the case's photos still missing


def _decode(payload: dict[str, Any], type_: Any) -> Any:
    try:
        return msgspec.json.decode(msgspec.json.encode(payload), type=type_)
    except msgspec.ValidationError as exc:
        raise InvalidRequest(details={"reason": str(exc)}) from None


async def case_exists(case_id: uuid.UUID) -> bool:
    return bool(await DB.run_querystring(QueryString("SELECT id FROM dispute_case WHERE id = {}", case_id)))


async def case_version(case_id: uuid.UUID) -> int | None:
    row = await Case.select(Case.version).where(Case.id == case_id).first().run()
    return row["version"] if row else None


async def missing_case_photos(case_id: uuid.UUID) -> list[str]:
    return (await missing_photos_of_cases([case_id]))[case_id]


async def missing_photos_of_cases(case_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    """For each case, the photos it names that the server does not hold complete yet."""
    missing: dict[uuid.UUID, list[str]] = {i: [] for i in case_ids}
    if not case_ids:
        return missing
    rows = (
        await CasePhoto.select(CasePhoto.case, CasePhoto.sha256)
        .where(CasePhoto.case.is_in(list(case_ids)))
        .order_by(CasePhoto.position)
        .run()
    )
    status = await media.media_status([r["sha256"] for r in rows])
    for r in rows:
        if status[r["sha256"]] != "complete" and r["sha256"] not in missing[r["case"]]:
            missing[r["case"]].append(r["sha256"])
    return missing


async def replay_message(code: str | None, entity_id: uuid.UUID) -> str | None:
    """What a replayed op's first answer told the user, said again: the phone may only ever see the
    replay (its first answer lost on the way), and a case filed elsewhere must still say where it went."""
    if code == "case.created_elsewhere":
        return (await views.receipt(entity_id)).message
    return None


async def create_case(user: CurrentUser, op: OpIn) -> Outcome:
    payload = dict(op.payload)
    if str(payload.setdefault("id", str(op.entity_id))) != str(op.entity_id):
        raise InvalidRequest(
            message="操作对象与案件编号不一致",
            message_en="payload.id differs from entity_id",
            code="sync.entity_mismatch",
        )
    # The operation's client_time is when the phone saved the case: its capture time.
    logged = await intake.create_case(
        user, _decode(payload, schemas.CaseCreate), client_time=op.client_time, with_visibility=True
    )
    if logged.created:  # version 1 and the photos it names: nothing to read back
        version: int | None = 1
        missing = await media.missing_hashes(list(logged.photos)) if logged.photos else []
    else:
        version = await case_version(op.entity_id)
        missing = await missing_case_photos(op.entity_id)
    if logged.created and not logged.visible:
        # Logged where this user does not work: say its number and where it went (the phone drops
        # its copy, which the user will not receive again).
        receipt = await views.receipt(op.entity_id)
        return Outcome("applied", "case.created_elsewhere", version, missing, message=receipt.message)
    if logged.created:
        return Outcome("applied", "case.created", version, missing)
    return Outcome("duplicate", "case.exists", version, missing)  # created before, with the same body


async def update_case(user: CurrentUser, op: OpIn) -> Outcome:
    result = await edits.apply_edit(user, op.entity_id, op.base_version, op.payload)
    missing = await missing_case_photos(op.entity_id)
    if result.conflicts:
        return Outcome("conflict", "case.conflict", result.row["version"], missing)
    return Outcome(
        "applied", "case.updated" if result.changed else "case.unchanged", result.row["version"], missing
    )


async def note_case(user: CurrentUser, op: OpIn) -> Outcome:
    note = _decode({**op.payload, "action": "note"}, schemas.Note)
    row = await workflow.apply_action(user, str(op.entity_id), note)
    return Outcome("applied", "case.noted", row["version"])


async def act_on_case(user: CurrentUser, op: OpIn) -> Outcome:
    """Any action of the workflow; workflow.RULES decides whether this user may take it now."""
    action = _decode(op.payload, schemas.Action)
    row = await workflow.apply_action(user, str(op.entity_id), action)
    return Outcome("applied", f"case.{action.__struct_config__.tag}", row["version"])


async def visit_exists(visit_id: uuid.UUID) -> bool:
    return bool(await DB.run_querystring(QueryString("SELECT id FROM visit WHERE id = {}", visit_id)))


async def record_visit(user: CurrentUser, op: OpIn) -> Outcome:
    """A return visit recorded on the phone (offline too); the visit is the entity. When it took place
    is the phone's clock: the record's visited_at, else the operation's client_time."""
    payload = dict(op.payload)
    if payload.get("visited_at") is None and op.client_time is not None:
        payload["visited_at"] = op.client_time.isoformat()
    recorded = await visits.record_visit(user, op.entity_id, payload)
    if recorded.applied:
        return Outcome("applied", "visit.recorded", None)
    return Outcome("duplicate", "visit.exists", None)


async def screening_exists(screening_id: uuid.UUID) -> bool:
    return bool(await DB.run_querystring(QueryString("SELECT id FROM screening WHERE id = {}", screening_id)))


async def record_screening(user: CurrentUser, op: OpIn) -> Outcome:
    """A village screened this month (月排查), saved on the phone; the report is the entity, so a
    replay finds it. A later copy with case_id on leads links them to the cases they became. When it
    took place is the phone's clock: visited_at, else the operation's client_time."""
    payload = dict(op.payload)
    if payload.get("visited_at") is None and op.client_time is not None:
        payload["visited_at"] = op.client_time.isoformat()
    recorded = await screenings.record(user, op.entity_id, payload)
    return Outcome("applied" if recorded.applied else "duplicate", recorded.code, None)


# Every case operation tells that the case exists, reads its version and flags it for review alike.
_case_op = functools.partial(OpType, exists=case_exists, flag=edits.flag_for_review, version=case_version)

OP_TYPES: dict[str, OpType] = {
    "case.create": _case_op(create_case, creates=True, reports_photos=True),
    "case.update": _case_op(update_case, reports_photos=True),
    "case.note": _case_op(note_case),
    "case.action": _case_op(act_on_case),
    "visit.record": OpType(record_visit, exists=visit_exists),
    "screening.record": OpType(record_screening, exists=screening_exists, creates=True),
}
