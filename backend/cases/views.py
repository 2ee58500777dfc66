"""Cases as the API shows them: lists, summaries and details, built for a whole page in a fixed number
of queries however many cases (a detail per case would be ten queries a case). Personal data is masked
unless the reader works the case (privacy.py); every full read of it is audited.

A case's return visits belong to the visits domain: the route adds them to a detail.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec
from piccolo.query.methods.select import SelectRaw

from backend.cases import duplicates, fields, leaders, party_data, privacy, schemas, search, supervision
from backend.cases.agreement import view as agreement_view
from backend.cases.categories import category_names
from backend.cases.scope import get_case_row, scoped
from backend.cases.tables import Agreement, Case
from backend.cases.workflow import (
    IN_MEDIATION,
    allowed_actions,
    days_left,
    deadline_colour,
    is_overdue,
    may_act,
)
from backend.core import clock
from backend.core.errors import Forbidden, NotFound
from backend.core.identity import CurrentUser
from backend.core.pagination import decode_cursor, encode_cursor
from backend.db import engine_name, fetch, placeholders, read_transaction
from backend.grids import service as grids
from backend.media import service as media
from backend.people.service import division_names

# --- lists ----------------------------------------------------------------------------------------


async def list_cases(
    user: CurrentUser, filters: dict[str, Any], cursor: str | None, limit: int
) -> schemas.CasePage:
    """Cases in scope, newest change first, with the contract's filters and cursor paging; `q`
    searches (search.py), and a search by phone or ID number is audited."""
    found = search.parse(filters["q"]) if filters.get("q") else None
    async with read_transaction():
        page = await _list_cases(user, {**filters, "search": found}, cursor, limit)
    # Written after the read transaction (see case_detail).
    if found is not None and found.audited:
        await privacy.audit(user, "case.search_personal", None, kind=found.kind, results=len(page.items))
    return page


async def _list_cases(
    user: CurrentUser, filters: dict[str, Any], cursor: str | None, limit: int
) -> schemas.CasePage:
    query = scoped(Case.select(_SUMMARY_SELECT, *_page_extras()), user)
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
        query = query.where(Case.state.is_in(list(IN_MEDIATION)) & (Case.deadline < clock.now()))
    if filters.get("conflict"):
        query = query.where(Case.conflict == True)  # noqa: E712
    if filters.get("since"):
        query = query.where(Case.updated_at >= filters["since"])
    if filters.get("reported_from"):
        query = query.where(Case.reported_at >= filters["reported_from"])
    if filters.get("reported_before"):
        query = query.where(Case.reported_at < filters["reported_before"])
    if filters.get("leader"):
        query = query.where(leaders.list_filter(filters["leader"], user))
    if filters.get("search") is not None:
        query = query.where(filters["search"].condition)
    if not filters.get("include_merged"):
        query = query.where(Case.merged_into.is_null())
    if cursor:
        at, cid = decode_cursor(cursor, datetime.fromisoformat, uuid.UUID)
        # `updated_at <= at` is implied, and said so both databases walk the (updated_at, id) index
        # from the cursor instead of filtering every newer row (PostgreSQL did not see it in the OR).
        query = query.where(
            (Case.updated_at <= at) & ((Case.updated_at < at) | ((Case.updated_at == at) & (Case.id < cid)))
        )
    rows = (
        await query.order_by(Case.updated_at, ascending=False)
        .order_by(Case.id, ascending=False)
        .limit(limit + 1)
        .run()
    )
    more = len(rows) > limit
    rows = rows[:limit]
    items = await case_summaries(user, rows)
    next_cursor = encode_cursor(rows[-1]["updated_at"], rows[-1]["id"]) if more and rows else None
    return schemas.CasePage(items=items, next_cursor=next_cursor)


# --- summaries and details ------------------------------------------------------------------------

# What a summary is made of (and privacy.may_see_personal_data, next_step and the deadline colour
# read): a list selects these, not the description and the thirty other columns of a detail.
SUMMARY_COLUMNS = (
    Case.id,
    Case.number,
    Case.category,
    Case.title,
    Case.level,
    Case.state,
    Case.township_code,
    Case.village_code,
    Case.grid_code,
    Case.lon,
    Case.lat,
    Case.locate_status,
    Case.owner_level,
    Case.owner_team,
    Case.mediator,
    Case.leader,
    Case.reported_at,
    Case.updated_at,
    Case.deadline,
    Case.conflict,
    Case.version,
    Case.risk,
    Case.risk_reason,
)
# Written out, not as Piccolo columns: a select of these as columns took 3 ms to build (three are
# foreign keys), written out 0.2 ms.
_SUMMARY_SELECT = SelectRaw(", ".join(f'dispute_case."{c._meta.db_column_name}"' for c in SUMMARY_COLUMNS))
# The names, the photo count and the parties a summary shows, in the case's own select (a list page's,
# a detail's, a pull's): six lookups fewer a page (each a round trip to SQLite's thread, or to
# PostgreSQL), written by hand because Piccolo's joins cost more to build than the query takes to run.
# What a summary shows of a party (the hashes are for lookups, never shown):
_PARTY_JSON_FIELDS = ("name", "role", "key_id", "phone_cipher", "id_number_cipher")
_PAGE_EXTRAS = (
    SelectRaw('(SELECT t.name FROM team t WHERE t.id = dispute_case.owner_team) AS "team_name"'),
    SelectRaw(
        '(SELECT u.display_name FROM app_user u WHERE u.id = dispute_case.mediator) AS "mediator_name"'
    ),
    SelectRaw('(SELECT u.display_name FROM app_user u WHERE u.id = dispute_case.leader) AS "leader_name"'),
    SelectRaw(
        "(SELECT count(*) FROM case_photo p WHERE p.\"case\" = dispute_case.id AND p.purpose = 'scene')"
        ' AS "photo_count"'
    ),
)
# The parties as a JSON array of _PARTY_JSON_FIELDS in their order, one more lookup saved.
_PARTIES_JSON = {
    "postgresql": SelectRaw(
        "(SELECT json_agg(json_build_array(p.name, p.role, p.key_id, p.phone_cipher, p.id_number_cipher)"
        ' ORDER BY p.position, p.id) FROM case_party p WHERE p."case" = dispute_case.id) AS "parties_json"'
    ),
    # SQLite 3.40 has no ORDER BY inside an aggregate: the rows come ordered from the subquery.
    "sqlite": SelectRaw(
        "(SELECT json_group_array(json_array(p.name, p.role, p.key_id, p.phone_cipher, p.id_number_cipher))"
        ' FROM (SELECT * FROM case_party p WHERE p."case" = dispute_case.id ORDER BY p.position, p.id) p)'
        ' AS "parties_json"'
    ),
}


def _json_list(value: str | list | None) -> list:
    # SQLite and asyncpg hand JSON over as text; no parties is NULL on PostgreSQL.
    return msgspec.json.decode(value) if isinstance(value, str) else (value or [])


def _page_extras() -> tuple[SelectRaw, ...]:
    return (*_PAGE_EXTRAS, _PARTIES_JSON["postgresql" if engine_name() == "postgresql" else "sqlite"])


def detail_columns() -> tuple[SelectRaw, ...]:
    """What to select for case rows given to case_details: every column, and what a summary names."""
    return (SelectRaw("dispute_case.*"), *_page_extras())


async def case_summaries(
    user: CurrentUser, rows: list[dict[str, Any]], full: bool = False
) -> list[schemas.CaseSummary]:
    """Summaries of case rows already scoped with visible_to and selected with _page_extras (the list)
    or detail_columns. Parties are masked unless `full` and the user may see them."""
    if not rows:
        return []
    categories = await category_names()
    division_codes = {c for r in rows for c in (r["township_code"], r["village_code"]) if c}
    names = await division_names(division_codes)
    grid_names = await grids.region_names({r["grid_code"] for r in rows if r["grid_code"]})
    teams = {r["owner_team"]: r["team_name"] for r in rows if r["owner_team"]}
    users = {r[k]: r[f"{k}_name"] for r in rows for k in ("mediator", "leader") if r[k]}
    now = clock.now()

    def ref(code: str | None, table: dict[str, str]) -> schemas.Ref | None:
        return schemas.Ref(code=code, name=table.get(code, code)) if code else None

    def id_name(key: int | None, table: dict[int, str]) -> schemas.IdName | None:
        return schemas.IdName(id=key, name=table.get(key, "")) if key else None

    out = []
    for r in rows:
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
                owner_team=id_name(r["owner_team"], teams),
                mediator=id_name(r["mediator"], users),
                parties=_parties(r, full and privacy.may_see_personal_data(user, r)),
                photo_count=r["photo_count"],
                reported_at=r["reported_at"],
                updated_at=r["updated_at"],
                deadline=r["deadline"],
                overdue=is_overdue(r, now),
                conflict=r["conflict"],
                version=r["version"],
                next_step=next_step(r),
                risk=r["risk"],
                deadline_colour=deadline_colour(r, now),
                days_left=days_left(r, now),
                risk_reason=r["risk_reason"],
                leader=id_name(r["leader"], users),
            )
        )
    return out


OWNER_NAMES = {"team": "调解队长", "township": "乡镇综治中心", "county": "县信联办"}


def next_step(case: dict[str, Any]) -> str | None:
    """Who acts next, in words, for the states where someone other than the case's mediator must."""
    state = case["state"]
    if state == "reported":
        return f"等待{OWNER_NAMES.get(case['owner_level'], '乡镇综治中心')}受理"
    if state in ("accepted", "reopened") and case["owner_team"] is None:
        return "等待乡镇综治中心指派调解队"
    if state == "resolved":
        return "已达成协议，等待办结"
    if state == "closed":
        return "已办结，等待回访"
    if state == "failed":
        return "调解未成，等待乡镇综治中心处理（移交或重新指派）"
    return None


async def names_by_id(table: Any, column: Any, ids: set[Any]) -> dict[int, str]:
    """`column` of the rows of `table` with these ids (None and 0 left out), by id."""
    wanted = [i for i in ids if i]
    if not wanted:
        return {}
    rows = await table.select(table.id, column.as_alias("name")).where(table.id.is_in(wanted)).run()
    return {r["id"]: r["name"] for r in rows}


def _parties(row: dict[str, Any], full: bool) -> list[schemas.PartyView]:
    """A summary's parties from the row's parties_json: decrypted when shown in full, else masked."""
    sealed = _json_list(row["parties_json"])
    if not full:
        return [_masked_view(tuple(p)) for p in sealed]
    return [
        schemas.PartyView(name=p["name"], phone=p["phone"], id_number=p["id_number"], role=p["role"])
        for p in party_data.opened(dict(zip(_PARTY_JSON_FIELDS, p, strict=True)) for p in sealed)
    ]


MASKED_VIEWS_KEPT = 50_000
_masked_views: dict[tuple[Any, ...], schemas.PartyView] = {}


def _masked_view(sealed: tuple[Any, ...]) -> schemas.PartyView:
    """A party as lists show it, from its sealed row (name, role, key_id, phone_cipher,
    id_number_cipher). Kept by that row, masked (the clear values are never kept): a list page shows
    the same hundred parties again and again, and decrypting their phone numbers to mask them cost
    more than the rest of the page."""
    view = _masked_views.get(sealed)
    if view is None:
        p = party_data.opened([dict(zip(_PARTY_JSON_FIELDS, sealed, strict=True))])[0]
        view = schemas.PartyView(
            name=privacy.mask_name(p["name"]),
            phone=privacy.mask_phone(p["phone"]),
            id_number=privacy.mask_id_number(p["id_number"]),
            role=p["role"],
        )
        if len(_masked_views) >= MASKED_VIEWS_KEPT:
            _masked_views.clear()
        _masked_views[sealed] = view
    return view


async def case_details(
    user: CurrentUser, rows: list[dict[str, Any]], *, just_created: bool = False
) -> list[schemas.CaseDetail]:
    """Details of case rows already scoped with visible_to, in their order: what a phone keeps offline.
    Possible duplicates are left out (a supervisor's desk work, see case_detail). The rows are selected
    with detail_columns. `just_created`:
    cases logged in this very request, which have no agreement and no 督办 order to look for yet."""
    if not rows:
        return []
    ids = [r["id"] for r in rows]
    summaries = await case_summaries(user, rows, full=True)
    # Written by hand: every detail and every case a phone pulls reads these two.
    photo_rows = await fetch(
        f'SELECT "case", sha256, purpose FROM case_photo WHERE "case" IN ({placeholders(ids)})'
        ' ORDER BY "case", position, id',
        *ids,
    )
    statuses = await media.media_status([p["sha256"] for p in photo_rows])
    events = await fetch(
        'SELECT e.id, e."case", e.at, e.action, e.before, e.after, e.data,'
        ' u.display_name AS "actor.display_name"'
        f' FROM case_event e LEFT JOIN app_user u ON u.id = e.actor WHERE e."case" IN ({placeholders(ids)})'
        " ORDER BY e.id",
        *ids,
    )
    agreements = (
        {}
        if just_created
        else {
            a["case"]: a
            for a in await Agreement.select(*Agreement.all_columns(), Agreement.made_by.display_name)
            .where(Agreement.case.is_in(ids))
            .run()
        }
    )
    photos_of: dict[uuid.UUID, list[schemas.PhotoView]] = {i: [] for i in ids}
    for p in photo_rows:
        status = statuses.get(p["sha256"], "missing")
        photos_of[p["case"]].append(
            schemas.PhotoView(sha256=p["sha256"], status=status, purpose=p["purpose"])
        )
    orders = {i: [] for i in ids} if just_created else await supervision.orders_of(ids)
    events_of: dict[uuid.UUID, list[schemas.EventView]] = {i: [] for i in ids}
    for e in events:
        events_of[e["case"]].append(event_view(e))
    out = []
    for row, summary in zip(rows, summaries, strict=True):
        photos = photos_of[row["id"]]
        agreement = agreements.get(row["id"])
        out.append(
            schemas.CaseDetail(
                **msgspec.structs.asdict(summary),
                description=row["description"],
                occurred_at=row["occurred_at"],
                accuracy_m=row["accuracy_m"],
                location_source=row["location_source"],
                grid_generation=row["grid_generation"],
                personal_data="full" if privacy.may_see_personal_data(user, row) else "masked",
                photos=photos,
                missing_photos=[p.sha256 for p in photos if p.status != "complete"],
                agreement=agreement_view(agreement, [p.name for p in summary.parties]) if agreement else None,
                events=events_of[row["id"]],
                allowed_actions=allowed_actions(user, row),
                reject_reason=row["reject_reason"],
                refer_target=row["refer_target"],
                merged_into=str(row["merged_into"]) if row["merged_into"] else None,
                deadline_extended=row["deadline_extended"],
                received_at=row["received_at"] or row["reported_at"],
                reported_at_source=row["reported_at_source"],
                confidential=row["confidential"],
                supervision=row["supervision"],
                supervision_orders=orders[row["id"]],
                **statistics_fields(row),
            )
        )
    return out


def statistics_fields(row: dict[str, Any]) -> dict[str, Any]:
    """The fields the 司法局's statistics count, as a detail shows them."""
    people = row["people_involved"]
    return {
        "source": row["source"],
        "referred_by": row["referred_by"],
        "people_involved": people,
        "amount_yuan": float(row["amount_yuan"]) if row["amount_yuan"] is not None else None,
        "group_dispute": people is not None and people >= fields.GROUP_DISPUTE,
        "prevented_criminal": row["prevented_criminal"],
        "prevented_group_petition": row["prevented_group_petition"],
        "prevented_group_fight": row["prevented_group_fight"],
        "archive_number": row["archive_number"],
    }


async def case_detail(
    user: CurrentUser, case_id: uuid.UUID | str, audit_read: bool = True, just_created: bool = False
) -> schemas.CaseDetail:
    """One case with its timeline, photos, agreement and possible duplicates (404 outside the user's
    scope). A full read of personal data is written to the audit log."""
    async with read_transaction():
        row = await get_case_row(user, case_id, *detail_columns())
        detail = (await case_details(user, [row], just_created=just_created))[0]
        detail.duplicates = await duplicates.duplicate_views(user, row["id"])
    # Written after the read transaction: upgrading a read transaction to a write on SQLite fails
    # at once under contention instead of waiting for the lock.
    if detail.personal_data == "full" and detail.parties and audit_read:
        fields = sorted({f for p in detail.parties for f in ("name", "phone", "id_number") if getattr(p, f)})
        await privacy.audit(user, "case.read_personal", detail.id, fields=fields)
    return detail


async def leader_candidates(user: CurrentUser, case_id: str) -> list[schemas.LeaderView]:
    """The leaders who may take charge of a case the caller sees (404 otherwise), for those who
    assign them (403 for the others)."""
    async with read_transaction():
        row = await get_case_row(user, case_id)
        if not may_act(user, "assign_leader", row):
            raise Forbidden()
        return await leaders.candidates(row)


def event_view(e: dict[str, Any]) -> schemas.EventView:
    """A case event row (selected with `actor.display_name`) as the API shows it."""
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


async def receipt(case_id: uuid.UUID) -> schemas.CaseReceipt:
    """What the creator of a case they cannot see is told: its number and the township it went to.
    Nothing of the case itself (it is in another area's scope now)."""
    row = (
        await Case.select(Case.id, Case.number, Case.township_code, Case.reported_at)
        .where(Case.id == case_id)
        .first()
        .run()
    )
    if row is None:
        raise NotFound()
    code = row["township_code"]
    names = await division_names({code}) if code else {}
    township = schemas.Ref(code=code, name=names.get(code) or code) if code else None
    where = f"已转交{township.name}处理" if township else "已转交县信联办处理"
    return schemas.CaseReceipt(
        id=str(row["id"]),
        number=row["number"],
        visible=False,
        township=township,
        reported_at=row["reported_at"],
        message=f"已登记，编号 {row['number']}。案发地不在您的辖区，{where}。",
    )
