"""Cases: intake, the scoped queries every other part uses, and the views. Knows nothing of HTTP."""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import datetime, timedelta
from typing import Any

import msgspec
from piccolo.columns.combination import Combinable

from backend.cases import duplicates, hooks, privacy, schemas
from backend.cases.categories import category_names, require_active
from backend.cases.tables import Agreement, Case, CaseEvent, CasePhoto, Party
from backend.core import clock
from backend.core.errors import AppError, InvalidRequest, NotFound
from backend.db import DB, read_transaction, write_transaction
from backend.grids import service as grids
from backend.media import service as media
from backend.people.roles import Role
from backend.people.service import CurrentUser, division_names
from backend.people.tables import Team, User

MAX_PHOTOS = 9
MAX_TITLE = 100
MAX_DESCRIPTION = 5000
MAX_PARTIES = 20
MEDIATION_DAYS = 30
OPEN_STATES = ("accepted", "mediating", "reopened")
COUNTY_TOWNSHIP9 = "530524000"


class CaseIdConflict(AppError):
    status_code = 409
    code = "case.id_conflict"
    message = "该案件编号已存在且内容不同"
    message_en = "A case with this id exists with different content"


class TextTooLong(AppError):
    code = "case.text_too_long"
    message = "文字过长"
    message_en = "Text too long"


class TooManyPhotos(AppError):
    code = "case.too_many_photos"
    message = f"照片最多 {MAX_PHOTOS} 张"
    message_en = f"At most {MAX_PHOTOS} photos"


# --- scope ----------------------------------------------------------------------------------------


def visible_to(user: CurrentUser) -> Combinable | None:
    """The one scoping rule for cases: lists, detail, media, sync, maps and reports all use it.

    None means everything (the county office)."""
    if user.role == Role.county_admin:
        return None
    if user.role == Role.township_supervisor:
        return Case.township_code == user.scope_code
    if user.role in (Role.mediator, Role.team_leader):
        mine = Case.mediator == user.id
        return (Case.owner_team == user.team_id) | mine if user.team_id is not None else mine
    # Grid workers: the cases of their area, and the ones they reported.
    area = Case.village_code if user.scope_level == "village" else Case.township_code
    return (area == user.scope_code) | (Case.created_by == user.id)


def _scoped(query, user: CurrentUser):
    condition = visible_to(user)
    return query.where(condition) if condition is not None else query


async def get_case_row(user: CurrentUser, case_id: uuid.UUID | str) -> dict[str, Any]:
    """The case if this user may see it; 404 otherwise, so existence is not leaked."""
    try:
        key = case_id if isinstance(case_id, uuid.UUID) else uuid.UUID(str(case_id))
    except ValueError:
        raise NotFound() from None
    row = await _scoped(Case.select().where(Case.id == key), user).first().run()
    if row is None:
        raise NotFound(message="未找到该案件", message_en="Case not found")
    return row


async def visible_case_ids(user: CurrentUser, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    if not ids:
        return set()
    rows = await _scoped(Case.select(Case.id).where(Case.id.is_in(ids)), user).run()
    return {r["id"] for r in rows}


# --- intake ---------------------------------------------------------------------------------------


def create_hash(data: schemas.CaseCreate) -> str:
    """A stable fingerprint of the create request: a replay of the same body has the same hash."""
    return hashlib.sha256(msgspec.json.encode(msgspec.to_builtins(data), order="sorted")).hexdigest()


def _validate(data: schemas.CaseCreate) -> tuple[list[dict[str, Any]], list[str]]:
    if not data.title.strip():
        raise InvalidRequest(
            message="请填写纠纷标题", message_en="A title is required", code="case.title_required"
        )
    if len(data.title) > MAX_TITLE:
        raise TextTooLong(message=f"标题最多 {MAX_TITLE} 字", details={"field": "title", "max": MAX_TITLE})
    if len(data.description) > MAX_DESCRIPTION:
        raise TextTooLong(
            message=f"情况描述最多 {MAX_DESCRIPTION} 字",
            details={"field": "description", "max": MAX_DESCRIPTION},
        )
    if len(data.photos) > MAX_PHOTOS:
        raise TooManyPhotos(details={"max": MAX_PHOTOS})
    photos = list(dict.fromkeys(p.lower() for p in data.photos))
    if any(len(p) != 64 or any(c not in "0123456789abcdef" for c in p) for p in photos):
        raise InvalidRequest(
            message="照片标识不正确", message_en="Photo ids must be SHA-256 hex", code="media.invalid_hash"
        )
    if len(data.parties) > MAX_PARTIES:
        raise TextTooLong(message=f"当事人最多 {MAX_PARTIES} 人", details={"field": "parties"})
    parties = []
    for index, party in enumerate(data.parties):
        name = party.name.strip()
        if not name:
            raise InvalidRequest(
                message="请填写当事人姓名", message_en="Party name required", code="case.party_name_required"
            )
        if len(name) > 64:
            raise TextTooLong(message="当事人姓名过长", details={"field": f"parties[{index}].name"})
        try:
            phone = privacy.normalise_phone(party.phone)
            id_number = privacy.normalise_id_number(party.id_number)
        except AppError as exc:
            exc.details["field"] = f"parties[{index}]"
            raise
        parties.append(
            {"name": name, "phone": phone, "id_number": id_number, "role": party.role, "position": index}
        )
    return parties, photos


async def next_case_number(township9: str, year: int) -> str:
    """Per township and year, e.g. 530524101-2026-000123. Must run inside the write transaction:
    the upsert takes the row lock (PostgreSQL) or runs under the write lock (SQLite), so two
    concurrent intakes never get the same serial."""
    key = f"{township9}-{year}"
    rows = await DB.run_querystring(
        _raw(
            "INSERT INTO case_number_counter (key, last_serial) VALUES ({}, 1) "
            "ON CONFLICT (key) DO UPDATE SET last_serial = case_number_counter.last_serial + 1 "
            "RETURNING last_serial",
            key,
        )
    )
    return f"{township9}-{year}-{rows[0]['last_serial']:06d}"


def _raw(sql: str, *args: Any):
    from piccolo.querystring import QueryString

    return QueryString(sql, *args)


async def create_case(
    user: CurrentUser, data: schemas.CaseCreate, *, with_detail: bool = True
) -> tuple[int, schemas.CaseDetail | None]:
    """Create from the phone's id: (201, case) new; (200, case) identical replay; 409 on a clash.
    `with_detail=False` skips building the new case's view (sync answers with its version only)."""
    fingerprint = create_hash(data)
    existing = await Case.select(Case.create_hash).where(Case.id == data.id).first().run()
    if existing is not None:
        return await _replay_or_conflict(user, data.id, existing["create_hash"], fingerprint)

    await require_active(data.category)
    parties, photos = _validate(data)
    located = await grids.locate(data.location.lon, data.location.lat, crs=data.location.crs)
    source = "gcj02-converted" if data.location.crs == "gcj02" else data.location.source
    township_code = located.township.code if located.township else await _fallback_township(user)
    team_owned = user.team_id is not None and user.role in (Role.mediator, Role.team_leader)
    now = clock.now()
    year = now.astimezone(clock.LOCAL_TZ).year

    try:
        async with write_transaction():
            if await Case.exists().where(Case.id == data.id).run():
                raise _Raced()
            number = await next_case_number(township_code[:9] if township_code else COUNTY_TOWNSHIP9, year)
            await Case.insert(
                Case(
                    id=data.id,
                    number=number,
                    category=data.category,
                    title=data.title.strip(),
                    description=data.description,
                    level=data.level,
                    state="reported",
                    lon=located.lon,
                    lat=located.lat,
                    accuracy_m=data.location.accuracy_m,
                    location_source=source,
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
                    occurred_at=data.occurred_at,
                    reported_at=now,
                    create_hash=fingerprint,
                    updated_at=now,
                )
            ).run()
            if parties:
                await Party.insert(*[Party(case=data.id, **p) for p in parties]).run()
            if photos:
                await CasePhoto.insert(
                    *[CasePhoto(case=data.id, sha256=sha, position=i) for i, sha in enumerate(photos)]
                ).run()
            await CaseEvent.insert(
                CaseEvent(
                    case=data.id,
                    at=now,
                    actor=user.id,
                    device=user.device_id,
                    action="create",
                    after={
                        "state": "reported",
                        "number": number,
                        "level": data.level,
                        "grid": located.grid.code if located.grid else None,
                    },
                    data={"locate_status": located.status, "photos": len(photos), "parties": len(parties)},
                )
            ).run()
            await duplicates.link_possible_duplicates(
                data.id, data.category, located.lon, located.lat, parties, now
            )
            await privacy.audit(user, "case.create", data.id)
            row = await Case.select().where(Case.id == data.id).first().run()
            await hooks.emit(hooks.CaseChange(case_id=data.id, action="create", actor=user, at=now, case=row))
    except Exception as exc:
        if not (isinstance(exc, _Raced) or _is_unique_violation(exc)):
            raise
        # Another request created this id between our check and our insert (PostgreSQL's read
        # committed lets both pass the check; the primary key stops the second).
        existing = await Case.select(Case.create_hash).where(Case.id == data.id).first().run()
        return await _replay_or_conflict(user, data.id, existing["create_hash"], fingerprint)
    if not with_detail:
        return 201, None
    detail = await case_detail(user, data.id, audit_read=False)
    detail.locate = located.to_dict()
    return 201, detail


def _is_unique_violation(exc: Exception) -> bool:
    import sqlite3

    import asyncpg

    return isinstance(exc, asyncpg.exceptions.UniqueViolationError | sqlite3.IntegrityError)


class _Raced(Exception):
    """The same id was created by a concurrent request between the check and the insert."""


async def _replay_or_conflict(user: CurrentUser, case_id: uuid.UUID, stored: str, fingerprint: str):
    """Same id again: the same body is a replay (200, the case as it is now); another body is a clash
    (409 with the server's copy, so the phone can show both). A case that has since left the user's
    scope is not shown (None)."""
    try:
        current: schemas.CaseDetail | None = await case_detail(user, case_id, audit_read=False)
    except NotFound:
        current = None
    if stored == fingerprint:
        return 200, current
    raise CaseIdConflict(details={"server_copy": msgspec.to_builtins(current) if current else None})


async def _fallback_township(user: CurrentUser) -> str | None:
    """A point outside every grid still needs a township for its number and its supervisor."""
    if user.scope_level == "township":
        return user.scope_code
    if user.scope_level == "village":
        return user.scope_code[:9] + "000"
    return None


# --- reading --------------------------------------------------------------------------------------


def _encode_cursor(updated_at: datetime, case_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{updated_at.isoformat()}|{case_id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        at, _, cid = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(at), uuid.UUID(cid)
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest(
            message="分页游标无效", message_en="Invalid cursor", code="request.invalid_cursor"
        ) from None


async def list_cases(
    user: CurrentUser, filters: dict[str, Any], cursor: str | None, limit: int
) -> schemas.CasePage:
    """Cases in scope, newest change first, with the contract's filters and cursor paging."""
    async with read_transaction():
        return await _list_cases(user, filters, cursor, limit)


async def _list_cases(
    user: CurrentUser, filters: dict[str, Any], cursor: str | None, limit: int
) -> schemas.CasePage:
    query = _scoped(Case.select(), user)
    now = clock.now()
    for column, key in (
        (Case.state, "state"),
        (Case.category, "category"),
        (Case.township_code, "township"),
        (Case.village_code, "village"),
        (Case.grid_code, "grid"),
        (Case.level, "level"),
    ):
        value = filters.get(key)
        if value:
            values = value.split(",")
            query = query.where(column.is_in(values) if len(values) > 1 else column == values[0])
    if filters.get("bbox"):
        min_lon, min_lat, max_lon, max_lat = filters["bbox"]
        query = query.where(
            (Case.lon >= min_lon) & (Case.lon <= max_lon) & (Case.lat >= min_lat) & (Case.lat <= max_lat)
        )
    if filters.get("overdue"):
        query = query.where(Case.state.is_in(list(OPEN_STATES)) & (Case.deadline < now))
    if filters.get("conflict"):
        query = query.where(Case.conflict == True)  # noqa: E712
    if filters.get("since"):
        query = query.where(Case.updated_at >= filters["since"])
    if not filters.get("include_merged"):
        query = query.where(Case.merged_into.is_null())
    if cursor:
        at, cid = _decode_cursor(cursor)
        query = query.where((Case.updated_at < at) | ((Case.updated_at == at) & (Case.id < cid)))
    rows = (
        await query.order_by(Case.updated_at, ascending=False)
        .order_by(Case.id, ascending=False)
        .limit(limit + 1)
        .run()
    )
    more = len(rows) > limit
    rows = rows[:limit]
    items = await _summaries(user, rows, full=False)
    next_cursor = _encode_cursor(rows[-1]["updated_at"], rows[-1]["id"]) if more and rows else None
    return schemas.CasePage(items=items, next_cursor=next_cursor)


def is_overdue(row: dict[str, Any], now: datetime | None = None) -> bool:
    """Computed, never stored: an open case past its deadline."""
    return (
        row["state"] in OPEN_STATES and row["deadline"] is not None and row["deadline"] < (now or clock.now())
    )


async def case_summaries(
    user: CurrentUser, rows: list[dict[str, Any]], full: bool = False
) -> list[schemas.CaseSummary]:
    """Summaries of case rows already scoped with visible_to, in a handful of queries however many
    (the sync pull builds its pages with it)."""
    return await _summaries(user, rows, full)


async def _summaries(user: CurrentUser, rows: list[dict[str, Any]], full: bool) -> list[schemas.CaseSummary]:
    if not rows:
        return []
    ids = [r["id"] for r in rows]
    categories = await category_names()
    division_codes = {c for r in rows for c in (r["township_code"], r["village_code"]) if c}
    names = await division_names(division_codes)
    grid_names = await grids.region_names({r["grid_code"] for r in rows if r["grid_code"]})
    team_ids = {r["owner_team"] for r in rows if r["owner_team"]}
    teams = (
        {
            t["id"]: t["name"]
            for t in await Team.select(Team.id, Team.name).where(Team.id.is_in(list(team_ids))).run()
        }
        if team_ids
        else {}
    )
    user_ids = {r["mediator"] for r in rows if r["mediator"]}
    users = (
        {
            u["id"]: u["display_name"]
            for u in await User.select(User.id, User.display_name).where(User.id.is_in(list(user_ids))).run()
        }
        if user_ids
        else {}
    )
    party_rows = await Party.select().where(Party.case.is_in(ids)).order_by(Party.position).run()
    photo_counts: dict[Any, int] = {}
    for p in (
        await CasePhoto.select(CasePhoto.case)
        .where(CasePhoto.case.is_in(ids) & (CasePhoto.purpose == "scene"))
        .run()
    ):
        photo_counts[p["case"]] = photo_counts.get(p["case"], 0) + 1
    now = clock.now()

    def ref(code: str | None, table: dict[str, str]) -> schemas.Ref | None:
        return schemas.Ref(code=code, name=table.get(code, code)) if code else None

    out = []
    for r in rows:
        show_full = full and privacy.may_see_personal_data(user, r)
        parties = [_party_view(p, show_full) for p in party_rows if p["case"] == r["id"]]
        out.append(
            schemas.CaseSummary(
                id=str(r["id"]),
                number=r["number"],
                category=r["category"],
                category_name=categories.get(r["category"], r["category"]),
                title=r["title"],
                level=r["level"],
                state=r["state"],
                township=ref(r["township_code"], names),
                village=ref(r["village_code"], names),
                grid=ref(r["grid_code"], grid_names),
                lon=r["lon"],
                lat=r["lat"],
                locate_status=r["locate_status"],
                owner_level=r["owner_level"],
                owner_team=schemas.IdName(id=r["owner_team"], name=teams.get(r["owner_team"], ""))
                if r["owner_team"]
                else None,
                mediator=schemas.IdName(id=r["mediator"], name=users.get(r["mediator"], ""))
                if r["mediator"]
                else None,
                parties=parties,
                photo_count=photo_counts.get(r["id"], 0),
                reported_at=r["reported_at"],
                updated_at=r["updated_at"],
                deadline=r["deadline"],
                overdue=is_overdue(r, now),
                conflict=r["conflict"],
                version=r["version"],
            )
        )
    return out


def _party_view(p: dict[str, Any], full: bool) -> schemas.PartyView:
    if full:
        return schemas.PartyView(name=p["name"], phone=p["phone"], id_number=p["id_number"], role=p["role"])
    return schemas.PartyView(
        name=privacy.mask_name(p["name"]),
        phone=privacy.mask_phone(p["phone"]),
        id_number=privacy.mask_id_number(p["id_number"]),
        role=p["role"],
    )


async def case_detail(
    user: CurrentUser, case_id: uuid.UUID | str, audit_read: bool = True
) -> schemas.CaseDetail:
    """One case with its timeline, photos, agreement and duplicates. A full read of personal data
    is written to the audit log."""
    async with read_transaction():
        detail = await _case_detail(user, case_id)
    # Written after the read transaction: upgrading a read transaction to a write on SQLite fails
    # at once under contention instead of waiting for the lock.
    if detail.personal_data == "full" and detail.parties and audit_read:
        fields = sorted({f for p in detail.parties for f in ("name", "phone", "id_number") if getattr(p, f)})
        await privacy.audit(user, "case.read_personal", detail.id, fields=fields)
    return detail


async def _case_detail(user: CurrentUser, case_id: uuid.UUID | str) -> schemas.CaseDetail:
    from backend.cases.workflow import allowed_actions
    from backend.visits.service import visits_for_case

    row = await get_case_row(user, case_id)
    summary = (await _summaries(user, [row], full=True))[0]
    full = privacy.may_see_personal_data(user, row)
    photo_rows = (
        await CasePhoto.select().where(CasePhoto.case == row["id"]).order_by(CasePhoto.position).run()
    )
    statuses = await media.media_status([p["sha256"] for p in photo_rows])
    photos = [
        schemas.PhotoView(
            sha256=p["sha256"], status=statuses.get(p["sha256"], "missing"), purpose=p["purpose"]
        )
        for p in photo_rows
    ]
    events = (
        await CaseEvent.select(CaseEvent.all_columns(), CaseEvent.actor.display_name)
        .where(CaseEvent.case == row["id"])
        .order_by(CaseEvent.id)
        .run()
    )
    agreement_row = (
        await Agreement.select(Agreement.all_columns(), Agreement.made_by.display_name)
        .where(Agreement.case == row["id"])
        .first()
        .run()
    )
    return schemas.CaseDetail(
        **msgspec.structs.asdict(summary),
        description=row["description"],
        occurred_at=row["occurred_at"],
        accuracy_m=row["accuracy_m"],
        location_source=row["location_source"],
        grid_generation=row["grid_generation"],
        personal_data="full" if full else "masked",
        photos=photos,
        missing_photos=[p.sha256 for p in photos if p.status != "complete"],
        agreement=_agreement_view(agreement_row) if agreement_row else None,
        events=[event_view(e) for e in events],
        duplicates=await duplicates.duplicate_views(user, row["id"]),
        visits=await visits_for_case(user, row["id"]),
        allowed_actions=allowed_actions(user, row),
        reject_reason=row["reject_reason"],
        refer_target=row["refer_target"],
        merged_into=str(row["merged_into"]) if row["merged_into"] else None,
        deadline_extended=row["deadline_extended"],
    )


def event_view(e: dict[str, Any]) -> schemas.EventView:
    """A case event row (selected with `actor.display_name`) as the API shows it (detail and sync)."""
    return schemas.EventView(
        id=e["id"],
        at=e["at"],
        action=e["action"],
        actor=e["actor.display_name"],
        before=_json(e["before"]),
        after=_json(e["after"]),
        data=_json(e["data"]),
    )


def _json(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return msgspec.json.decode(value) if value else {}
    return value or {}


def _agreement_view(row: dict[str, Any]) -> schemas.AgreementView:
    return schemas.AgreementView(
        facts=row["facts"],
        matters=row["matters"],
        terms=row["terms"],
        performance=row["performance"],
        signed_photo=row["signed_photo"],
        made_at=row["made_at"],
        made_by=row["made_by.display_name"],
    )


async def agreement_for_print(user: CurrentUser, case_id: str) -> dict[str, Any]:
    """The agreement with full party names, for the printable page: only for those who may see them."""
    row = await get_case_row(user, case_id)
    if not privacy.may_see_personal_data(user, row):
        raise AppError(
            status_code=403,
            code="auth.forbidden",
            message="您没有权限查看当事人信息",
            message_en="Not allowed",
        )
    agreement = (
        await Agreement.select(Agreement.all_columns(), Agreement.made_by.display_name)
        .where(Agreement.case == row["id"])
        .first()
        .run()
    )
    if agreement is None:
        raise NotFound(message="该案件尚无调解协议", message_en="No agreement yet", code="case.no_agreement")
    parties = await Party.select().where(Party.case == row["id"]).order_by(Party.position).run()
    names = await division_names({c for c in (row["township_code"], row["village_code"]) if c})
    categories = await category_names()
    await privacy.audit(
        user,
        "case.read_personal",
        row["id"],
        fields=["name", "phone", "id_number"],
        purpose="print_agreement",
    )
    return {
        "case": row,
        "agreement": agreement,
        "parties": parties,
        "township": names.get(row["township_code"] or "", ""),
        "village": names.get(row["village_code"] or "", ""),
        "category": categories.get(row["category"], row["category"]),
        "team": (await Team.select(Team.name).where(Team.id == row["owner_team"]).first().run() or {}).get(
            "name", ""
        )
        if row["owner_team"]
        else "",
        "printed_at": clock.local_now(),
    }


def deadline_from(start: datetime, days: int = MEDIATION_DAYS) -> datetime:
    return start + timedelta(days=days)
