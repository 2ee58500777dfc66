"""Intake: a dispute logged on a phone becomes a numbered, located case, exactly once.

The phone makes the case's id (ODK's instanceID), so logging is idempotent on it: the same body again is
a replay (answered like the first time), another body under the same id is a clash for a person to look
at. Nothing here builds the case's view: the route or the sync operation that called decides what to
answer with.
"""

from __future__ import annotations

import hashlib
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import msgspec

from backend.cases import duplicates, fields, hooks, party_data, privacy, risk, schemas
from backend.cases.categories import require_active
from backend.cases.scope import check_photos, visible_case_ids
from backend.cases.tables import Case, CaseEvent, CasePhoto, Party
from backend.core import clock
from backend.core.errors import AppError, Forbidden
from backend.core.identity import TEAM_ROLES, CurrentUser, Role
from backend.db import (
    engine_name,
    fetch,
    insert_columns,
    insert_parts,
    insert_rows,
    new_row,
    read_transaction,
    write_transaction,
)
from backend.grids import county
from backend.grids import service as grids

# The phone's capture time is believed when it lies within this range of the server's clock: a case
# kept offline for weeks still counts on the day it was taken; a clock far off does not.
CAPTURE_PAST = timedelta(days=30)
CAPTURE_FUTURE = timedelta(minutes=5)


class CaseIdConflict(AppError):
    status_code = 409
    code = "case.id_conflict"
    message = "该案件编号已存在且内容不同"
    message_en = "A case with this id exists with different content"

    def __init__(self, case_id: uuid.UUID) -> None:
        super().__init__()
        self.case_id = case_id  # the route adds the server's copy, as the caller may see it


LATER_FIELDS = ("source", "referred_by", "people_involved", "amount_yuan")


@dataclass(frozen=True)
class Intake:
    created: bool  # False: the same body again, nothing changed
    case_id: uuid.UUID
    locate: dict[str, Any] | None = None  # where the new case was placed, so the phone can ask at a boundary
    number: str | None = None  # the number given (on a new case)
    township_code: str | None = None  # where it went (on a new case)
    photos: tuple[str, ...] = ()  # the photos it names (on a new case), so the caller need not read them
    visible: bool | None = None  # whether the logger may see the new case (asked for: with_visibility)


def create_hash(data: schemas.CaseCreate) -> str:
    """A stable fingerprint of the create request: a replay of the same body has the same hash. The
    capture time is left out (it is not the case's content, and bodies from before it existed must
    keep their fingerprint)."""
    body = msgspec.to_builtins(data)
    body.pop("captured_at", None)
    # Fields added later count only when given, so a body sent before they existed keeps its hash.
    for name in LATER_FIELDS:
        if body.get(name) is None:
            body.pop(name, None)
    return hashlib.sha256(msgspec.json.encode(body, order="sorted")).hexdigest()


# Takes the next serial of a township and year (its one argument, "{township9}-{year}") and, on
# PostgreSQL, the counter row's lock until the commit.
_COUNTER_UPSERT = (
    "INSERT INTO case_number_counter (key, last_serial) VALUES ({}, 1)"
    " ON CONFLICT (key) DO UPDATE SET last_serial = case_number_counter.last_serial + 1"
    " RETURNING last_serial"
)


async def next_case_number(township9: str, year: int, prefix: str = "") -> str:
    """Per township and year: {township's 9 digits}-{year}-{6-digit serial}, after the county's case
    prefix if it has one; a case outside every township counts under the county's own code. Must
    run inside the write transaction:
    the upsert takes the row lock (PostgreSQL) or runs under the write lock (SQLite), so two
    concurrent intakes never get the same serial. The row lock is held until the commit, so take the
    number as late in the transaction as possible: every intake of the township waits for it."""
    rows = await fetch(_COUNTER_UPSERT, f"{township9}-{year}")
    return f"{prefix}{township9}-{year}-{rows[0]['last_serial']:06d}"


async def _number_case(
    case_id: uuid.UUID, township9: str, year: int, prefix: str, event: dict[str, Any]
) -> str:
    """Give the case, inserted under a stand-in number, its real one, and write its `create` event
    with that number in `after`: on PostgreSQL the intake's last writes (see next_case_number), the
    counter's upsert, the case's update and the event in one statement, so the counter's row lock is
    held for one round trip fewer."""
    target, values = insert_parts(CaseEvent, event)
    # The event's own values, but `after` gains the number the statement gives (the key order of a
    # JSON object means nothing to its readers).
    select = ", ".join(
        "({}::jsonb || jsonb_build_object('number', numbered.number))::json" if name == "after" else "{}"
        for name in insert_columns(CaseEvent)
    )
    rows = await fetch(
        f"WITH counter AS ({_COUNTER_UPSERT}),"
        " numbered AS ("
        " UPDATE dispute_case SET number = {} || CASE WHEN counter.last_serial < 1000000"
        " THEN lpad(counter.last_serial::text, 6, '0') ELSE counter.last_serial::text END"
        " FROM counter WHERE dispute_case.id = {} RETURNING dispute_case.number),"
        f" event AS (INSERT INTO {target} SELECT {select} FROM numbered)"
        " SELECT number FROM numbered",
        f"{township9}-{year}",
        f"{prefix}{township9}-{year}-",
        case_id,
        *values,
    )
    return str(rows[0]["number"])


def reported_time(client_time: datetime | None, received: datetime) -> tuple[datetime, str]:
    """When the case counts as reported, and from which clock: the phone's capture time when it is
    plausible (CAPTURE_PAST before to CAPTURE_FUTURE after the receipt; a little ahead is taken as the
    receipt itself, so no case is reported in the future), else the receipt."""
    if client_time is None or client_time.tzinfo is None:
        return received, "server"
    if received - CAPTURE_PAST <= client_time <= received + CAPTURE_FUTURE:
        return min(client_time, received), "phone"
    return received, "server"


async def create_case(
    user: CurrentUser,
    data: schemas.CaseCreate,
    client_time: datetime | None = None,
    with_visibility: bool = False,
) -> Intake:
    """Log a case under the phone's id; a replay is `created=False`, another body 409 (CaseIdConflict).
    `client_time` is when the phone captured it (see reported_time). `with_visibility`: also say
    whether the logger may see the new case (a supervisor may log one in another township), asked
    inside the transaction before the number is taken rather than after, with its lock held.

    Everything that only reads (the checks, the place, the possible duplicates, the risk rules) runs
    before the write transaction, on one connection; the transaction only writes, and takes the
    township's case number last, so its row lock (PostgreSQL) is held for the few writes after it.
    A duplicate committed by another intake in the instant between the search and the commit is not
    linked, as two concurrent intakes on PostgreSQL never saw each other anyway."""
    if user.role == Role.leader:
        # A leader takes charge of cases and supervises them; the teams and grid workers log them.
        raise Forbidden(
            message="包案领导不登记案件，请由调解队或网格员登记",
            message_en="Leaders do not log cases",
            code="case.leader_cannot_log",
        )
    fingerprint = create_hash(data)
    async with read_transaction():
        stored = await _stored_hash(data.id)
        if stored is not None:
            return _replay_or_conflict(data.id, stored, fingerprint)
        await require_active(data.category)
        title = fields.title(data.title)
        description = fields.description(data.description)
        occurred_at = fields.occurred_at(data.occurred_at)
        photos = fields.photos(data.photos)
        parties = fields.parties(data.parties)
        source = fields.source(data.source)
        referred_by = fields.referred_by(source, data.referred_by)
        people_involved = fields.people_involved(data.people_involved, len(parties))
        amount_yuan = fields.amount_yuan(data.amount_yuan)
        await check_photos(user, photos)
        located = await grids.locate(data.location.lon, data.location.lat, crs=data.location.crs)
        area = await county.require()
        now = clock.now()
        links = await duplicates.possible_duplicates(
            data.id, data.category, located.lon, located.lat, parties, now
        )
        rules = await risk.current_rules()
    location_source = "gcj02-converted" if data.location.crs == "gcj02" else data.location.source
    # A point outside every grid still needs a township for its number and its supervisor.
    township_code = located.township.code if located.township else user.township_code
    team_owned = user.team_id is not None and user.role in TEAM_ROLES
    reported_at, reported_source = reported_time(data.captured_at or client_time, now)
    # Numbering follows the reported time: a case taken offline on 31 December is last year's.
    year = reported_at.astimezone(clock.LOCAL_TZ).year
    colour, colour_reason = risk.assess(
        rules,
        data.level,
        title,
        description,
        data.category,
        parties=len(parties),
        repeated=bool(links),
        amount_yuan=amount_yuan,
    )
    case = new_row(
        Case,
        id=data.id,
        number=data.id.hex,  # PostgreSQL: a stand-in, unique like the id, until _number_case
        category=data.category,
        title=title,
        description=description,
        level=data.level,
        state="reported",
        lon=located.lon,
        lat=located.lat,
        accuracy_m=data.location.accuracy_m,
        location_source=location_source,
        township_code=township_code,
        village_code=located.village.code if located.village else None,
        grid_code=located.grid.code if located.grid else None,
        locate_status=located.status,
        grid_generation=located.generation,
        owner_level="team" if team_owned else "township",
        owner_team=user.team_id if team_owned else None,
        mediator=user.id if user.role == Role.mediator else None,
        created_by=user.id,
        created_device=user.device_id,
        occurred_at=occurred_at,
        reported_at=reported_at,
        received_at=now,
        reported_at_source=reported_source,
        create_hash=fingerprint,
        updated_at=now,
        source=source,
        referred_by=referred_by,
        people_involved=people_involved,
        amount_yuan=amount_yuan,
        risk=colour,
        risk_reason=colour_reason,
    )

    township9 = township_code[:9] if township_code else area.code9
    # SQLite has one writer: the whole transaction holds the lock, so the number may come first.
    numbered_last = engine_name() == "postgresql"
    try:
        async with write_transaction():
            if not numbered_last:
                case["number"] = await next_case_number(township9, year, area.case_prefix)
            # The primary key refuses an id created since the check above (see the except below).
            await insert_rows(Case, [case])
            await insert_rows(
                Party, [new_row(Party, case=data.id, **party_data.seal_party(p)) for p in parties]
            )
            await insert_rows(
                CasePhoto,
                [new_row(CasePhoto, case=data.id, sha256=sha, position=i) for i, sha in enumerate(photos)],
            )
            await duplicates.link(data.id, links, now)
            await privacy.audit(user, "case.create", data.id)
            visible = bool(await visible_case_ids(user, [data.id])) if with_visibility else None
            event = new_row(
                CaseEvent,
                case=data.id,
                at=now,
                actor=user.id,
                device=user.device_id,
                action="create",
                after={
                    "state": "reported",
                    "number": case["number"],
                    "level": data.level,
                    "grid": located.grid.code if located.grid else None,
                },
                data={
                    "locate_status": located.status,
                    "photos": len(photos),
                    "parties": len(parties),
                    "reported_at": reported_at.isoformat(),
                    "reported_at_source": reported_source,
                },
                version=1,
            )
            if numbered_last:
                del event["after"]["number"]  # the statement that gives it writes it in
                case["number"] = await _number_case(data.id, township9, year, area.case_prefix, event)
            else:
                await insert_rows(CaseEvent, [event])
            number = case["number"]
            # The row as written, not read back.
            await hooks.emit(
                hooks.CaseChange(case_id=data.id, action="create", actor=user, at=now, case=case)
            )
    except Exception as exc:
        if not _is_unique_violation(exc):
            raise
        # Another request created this id between our check and our insert (both passed the check;
        # the primary key stops the second).
        stored = await _stored_hash(data.id)
        if stored is None:
            raise  # not this id: the violation was of another constraint
        return _replay_or_conflict(data.id, stored, fingerprint)
    return Intake(
        created=True,
        case_id=data.id,
        locate=located.to_dict(),
        number=number,
        township_code=township_code,
        photos=tuple(photos),
        visible=visible,
    )


async def _stored_hash(case_id: uuid.UUID) -> str | None:
    """The fingerprint of the case stored under this id, or None if there is none. Written by hand,
    as every intake asks (Piccolo builds this slower than it runs)."""
    rows = await fetch("SELECT create_hash FROM dispute_case WHERE id = {}", case_id)
    return rows[0]["create_hash"] if rows else None


def _is_unique_violation(exc: Exception) -> bool:
    return isinstance(exc, asyncpg.exceptions.UniqueViolationError | sqlite3.IntegrityError)


def _replay_or_conflict(case_id: uuid.UUID, stored: str, fingerprint: str) -> Intake:
    """Same id again: the same body is a replay; another body is a clash (409)."""
    if stored != fingerprint:
        raise CaseIdConflict(case_id)
    return Intake(created=False, case_id=case_id)
