"""API shapes of the sync domain (msgspec, so Litestar's OpenAPI stays right)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from backend.cases.schemas import CaseDetail

MAX_OPS_PER_PUSH = 200

OpId = Annotated[str, Meta(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Status = Literal["applied", "duplicate", "conflict", "rejected", "deferred", "retry"]


class OpIn(msgspec.Struct):
    """One operation from the phone's outbox."""

    op_id: OpId  # made on the phone (a UUID); a replay of the same op_id is answered `duplicate`
    type: Annotated[str, Meta(max_length=32)]  # case.create | case.update | case.note | case.action | ...
    entity_id: uuid.UUID  # the case (or visit) the operation is about
    payload: dict[str, Any] = {}
    base_version: int | None = None  # case.update: the version the edit started from
    client_time: datetime | None = None  # when it was done on the phone
    # The previous operation of this device on the same entity, if any: this one waits for it, so a
    # reordered or resent batch still applies in the phone's order.
    prev_op_id: OpId | None = None


class PushIn(msgspec.Struct):
    ops: Annotated[list[OpIn], Meta(min_length=1, max_length=MAX_OPS_PER_PUSH)]


class OpResult(msgspec.Struct):
    op_id: str
    # applied; conflict (applied, and the case flagged for a supervisor); rejected (final: show it to
    # the user); deferred (stored, applied when what it waits for arrives); duplicate (this op_id was
    # received before: `original_status` is how it stands now); retry (nothing stored: send it again).
    status: Status
    code: str | None = None
    server_version: int | None = None
    original_status: str | None = None
    message: str | None = None
    message_en: str | None = None
    missing_photos: list[str] | None = None  # photos the case names that the server does not hold yet


class PushOut(msgspec.Struct):
    results: list[OpResult]


class CaseChange(msgspec.Struct):
    kind: Literal["case"]
    op: Literal["upsert", "left_scope"]  # left_scope: drop it, the user no longer sees it
    id: str
    version: int | None = None
    case: CaseDetail | None = None


class ReferencePart(msgspec.Struct):
    version: str
    data: Any


class Reference(msgspec.Struct, omit_defaults=True):
    """Reference data the phone keeps offline; a part is sent only when its version differs from the
    one the phone named in `ref`."""

    categories: ReferencePart | None = None
    teams: ReferencePart | None = None
    divisions: ReferencePart | None = None  # the user's township and its villages: codes, names
    grids: ReferencePart | None = None  # GeoJSON of the township's grid cells, simplified
    # {month, items}: this month's 月排查 reports of the user's own team (empty outside a team)
    screenings: ReferencePart | None = None


class PullOut(msgspec.Struct):
    changes: list[CaseChange]
    cursor: str
    more: bool
    # The user's role, area or team changed since the cursor was issued: drop every case kept and
    # apply this pull (which starts from the beginning) instead.
    reset: bool = False
    reference: Reference | None = None
    reference_versions: dict[str, str] = {}


class ExpireReport(msgspec.Struct):
    applied: int
    rejected: int
    op_ids: list[str]
