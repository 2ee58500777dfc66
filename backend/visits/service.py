"""Return visits: scheduled when a case is closed, recorded from the form or the phone's sync, and what
their outcome does to the case. Knows nothing of HTTP."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import msgspec
from piccolo.columns import Column
from piccolo.columns.combination import Combinable

from backend.cases import agreement as agreements
from backend.cases import schemas as case_schemas
from backend.cases.hooks import CaseChange
from backend.cases.scope import check_photos
from backend.cases.scope import visible_to as cases_visible_to
from backend.cases.tables import Agreement, Case, CasePhoto
from backend.cases.workflow import apply_system_action, works_on_case
from backend.core import clock
from backend.core.coords import distance_m, gcj02_to_wgs84
from backend.core.errors import AppError, Forbidden, InvalidRequest, NotFound
from backend.core.identity import SUPERVISOR_ROLES, TEAM_ROLES, CurrentUser
from backend.core.pagination import decode_cursor, encode_cursor
from backend.db import read_transaction, write_transaction
from backend.media import service as media
from backend.notify import recipients
from backend.notify.service import Message, notify, topic_for
from backend.notify.wake import nudge
from backend.settings import Settings, get_settings
from backend.visits import policy, schemas
from backend.visits.tables import Visit

MAX_PHOTOS = 9
# A phone's clock may run a little fast; a visit "in the future" beyond this is taken as now.
CLOCK_SKEW = timedelta(minutes=5)
SATISFIED = ("satisfied", "basically_satisfied")


class VisitAlreadyRecorded(AppError):
    status_code = 409
    code = "visit.already_recorded"
    message = "该回访已有不同的记录"
    message_en = "This visit has already been recorded with different content"


class TooManyPhotos(AppError):
    code = "visit.too_many_photos"
    message = f"回访照片最多 {MAX_PHOTOS} 张"
    message_en = f"At most {MAX_PHOTOS} photos"


@dataclass(frozen=True)
class Recorded:
    """The outcome of record_visit: applied (False: the same record again, nothing changed) and the visit."""

    applied: bool
    visit: schemas.VisitView


# --- scope ----------------------------------------------------------------------------------------


def visible_to(user: CurrentUser) -> Combinable | None:
    """The one scoping rule for visits: those of cases the user may see (cases.visible_to), and the
    ones assigned to the user. None means everything (the county office)."""
    condition = cases_visible_to(user)
    if condition is None:
        return None
    return Visit.case.is_in(Case.select(Case.id).where(condition)) | (Visit.assignee == user.id)


def _scoped(query, user: CurrentUser):
    condition = visible_to(user)
    return query.where(condition) if condition is not None else query


# --- scheduling (from the case listeners, inside the case's transaction) --------------------------


async def _assignee(change: CaseChange) -> int | None:
    """The mediator who closed it; else the case's mediator; else the team leader; else the closer."""
    actor = change.actor
    if actor is not None and actor.role in TEAM_ROLES:
        return actor.id
    if change.case.get("mediator"):
        active = await recipients.active_users([change.case["mediator"]])
        if active:
            return active[0]
    leaders = await recipients.team_leaders(change.case.get("owner_team"))
    if leaders:
        return leaders[0]
    return actor.id if actor is not None else None


async def schedule_for_closed_case(change: CaseChange, settings: Settings | None = None) -> list[uuid.UUID]:
    """Closing a case (办结) schedules its visits by the policy; a case closed again gets a new round."""
    case = change.case
    offsets = await policy.offsets_for(case["level"], case["category"])
    closed_on = policy.local_date(case.get("closed_at") or change.at)
    previous = (
        await Visit.select(Visit.round)
        .where(Visit.case == change.case_id)
        .order_by(Visit.round, ascending=False)
        .first()
        .run()
    )
    round_no = (previous["round"] + 1) if previous else 1
    assignee = await _assignee(change)
    now = clock.now()
    rows = []
    for seq, days in enumerate(offsets, start=1):
        due = closed_on + timedelta(days=days)
        rows.append(
            Visit(
                id=uuid.uuid4(),
                case=change.case_id,
                round=round_no,
                seq=seq,
                of_total=len(offsets),
                offset_days=days,
                due_date=due,
                assignee=assignee,
                team=case.get("owner_team"),
                township_code=case.get("township_code"),
                state="pending",
                reminder_stage=0,
                next_reminder_at=policy.stage_at(due, 1, settings),
                created_at=now,
                updated_at=now,
            )
        )
    if rows:
        await Visit.insert(*rows).run()
    return [r.id for r in rows]


async def cancel_pending(case_id: uuid.UUID) -> None:
    """A reopened case is mediated again; its open visits are void (closing again schedules new ones)."""
    now = clock.now()
    await (
        Visit.update({Visit.state: "cancelled", Visit.next_reminder_at: None, Visit.updated_at: now})
        .where((Visit.case == case_id) & (Visit.state == "pending"))
        .run()
    )


# --- reading --------------------------------------------------------------------------------------

_COLUMNS = (
    *Visit.all_columns(),
    Visit.case.number,
    Visit.case.title,
    Visit.case.state,
    Visit.case.village_code,
    Visit.case.lon,
    Visit.case.lat,
    Visit.assignee.display_name,
    Visit.recorded_by.display_name,
)


def status_of(row: dict[str, Any], today: date | None = None) -> str:
    if row["state"] in ("done", "cancelled"):
        return row["state"]
    today = today or clock.local_now().date()
    if today < row["due_date"]:
        return "scheduled"
    return "due" if today == row["due_date"] else "overdue"


def _photos(value: Any) -> list[str]:
    if isinstance(value, str):
        return msgspec.json.decode(value) if value else []
    return list(value or [])


def _view(row: dict[str, Any], today: date, missing: set[str]) -> schemas.VisitView:
    status = status_of(row, today)
    photos = _photos(row["photos"])
    return schemas.VisitView(
        id=str(row["id"]),
        case_id=str(row["case"]),
        case_number=row["case.number"],
        case_title=row["case.title"],
        case_state=row["case.state"],
        village_code=row["case.village_code"],
        case_lon=row["case.lon"],
        case_lat=row["case.lat"],
        round=row["round"],
        seq=row["seq"],
        of_total=row["of_total"],
        offset_days=row["offset_days"],
        due_date=row["due_date"],
        due_from=policy.due_from(row["due_date"]),
        status=status,
        status_label=schemas.STATUS_LABELS[status],
        assignee=schemas.Person(id=row["assignee"], name=row["assignee.display_name"] or "")
        if row["assignee"]
        else None,
        reminder_stage=row["reminder_stage"],
        done_at=row["done_at"],
        recorded_at=row["recorded_at"],
        recorded_by=schemas.Person(id=row["recorded_by"], name=row["recorded_by.display_name"] or "")
        if row["recorded_by"]
        else None,
        method=row["method"],
        method_label=schemas.METHOD_LABELS.get(row["method"]) if row["method"] else None,
        satisfaction=row["satisfaction"],
        satisfaction_label=schemas.SATISFACTION_LABELS.get(row["satisfaction"])
        if row["satisfaction"]
        else None,
        recurred=row["recurred"],
        performance=row["performance"],
        performance_label=schemas.PERFORMANCE_LABELS.get(row["performance"]) if row["performance"] else None,
        obligations=[
            {**o, "performance_label": schemas.PERFORMANCE_LABELS[o["performance"]]}
            for o in agreements.json_list(row["obligation_performance"])
        ],
        notes=row["notes"],
        photos=photos,
        missing_photos=[p for p in photos if p in missing],
        lon=row["lon"],
        lat=row["lat"],
        accuracy_m=row["accuracy_m"],
        location_source=row["location_source"],
        distance_m=row["distance_m"],
        face_to_face=row["face_to_face"],
        on_time=row["on_time"],
        updated_at=row["updated_at"],
    )


async def _views(rows: list[dict[str, Any]]) -> list[schemas.VisitView]:
    photos = [p for r in rows for p in _photos(r["photos"])]
    missing = set(await media.missing_hashes(photos)) if photos else set()
    today = clock.local_now().date()
    return [_view(r, today, missing) for r in rows]


def parse_due_before(raw: str | None) -> date | None:
    """`due_before` is a local date (YYYY-MM-DD) or an instant (ISO 8601; without an offset it is
    Asia/Shanghai time): visits due on or before it, i.e. due from before that day has ended."""
    if not raw:
        return None
    try:
        if len(raw) == 10:
            return date.fromisoformat(raw)
        at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(
            message="due_before 应为日期或时间（ISO 8601）",
            message_en="due_before must be an ISO 8601 date or time",
            code="request.invalid_date",
        ) from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=clock.LOCAL_TZ)
    return policy.local_date(at)


async def list_visits(
    user: CurrentUser,
    *,
    mine: bool = False,
    status: str | None = None,
    due_before: str | None = None,
    case_id: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> schemas.VisitPage:
    """Visits in scope, earliest due first. status: open (the default: not done, not cancelled),
    scheduled, due, overdue, done, cancelled or all."""
    limit = max(1, min(limit, 500))
    query = _scoped(Visit.select(*_COLUMNS), user)
    today = clock.local_now().date()
    status = status or "open"
    if status in ("open", "scheduled", "due", "overdue"):
        query = query.where(Visit.state == "pending")
        if status == "scheduled":
            query = query.where(Visit.due_date > today)
        elif status == "due":
            query = query.where(Visit.due_date == today)
        elif status == "overdue":
            query = query.where(Visit.due_date < today)
    elif status in ("done", "cancelled"):
        query = query.where(Visit.state == status)
    elif status != "all":
        raise InvalidRequest(
            message="status 取值无效", message_en="Unknown status filter", code="request.invalid_status"
        )
    if mine:
        query = query.where(Visit.assignee == user.id)
    last_day = parse_due_before(due_before)
    if last_day is not None:
        query = query.where(Visit.due_date <= last_day)
    if case_id:
        try:
            query = query.where(Visit.case == uuid.UUID(case_id))
        except ValueError:
            raise NotFound() from None
    if cursor:
        due, vid = decode_cursor(cursor, date.fromisoformat, uuid.UUID)
        query = query.where((Visit.due_date > due) | ((Visit.due_date == due) & (Visit.id > vid)))
    async with read_transaction():
        rows = await query.order_by(Visit.due_date).order_by(Visit.id).limit(limit + 1).run()
        more = len(rows) > limit
        rows = rows[:limit]
        items = await _views(rows)
    next_cursor = encode_cursor(rows[-1]["due_date"], rows[-1]["id"]) if more and rows else None
    return schemas.VisitPage(items=items, next_cursor=next_cursor)


async def _visible_row(user: CurrentUser, visit_id: uuid.UUID | str) -> dict[str, Any]:
    try:
        key = visit_id if isinstance(visit_id, uuid.UUID) else uuid.UUID(str(visit_id))
    except ValueError:
        raise NotFound() from None
    row = await _scoped(Visit.select(*_COLUMNS).where(Visit.id == key), user).first().run()
    if row is None:
        raise NotFound(message="未找到该回访", message_en="Visit not found")
    return row


async def get_visit(user: CurrentUser, visit_id: uuid.UUID | str) -> schemas.VisitView:
    async with read_transaction():
        return (await _views([await _visible_row(user, visit_id)]))[0]


async def visits_for_cases(case_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """The visits of many cases at once (the sync feed's page), in one query; the caller has already
    checked the cases are visible."""
    out: dict[uuid.UUID, list[dict[str, Any]]] = {i: [] for i in case_ids}
    if not case_ids:
        return out
    rows = (
        await Visit.select(*_COLUMNS)
        .where(Visit.case.is_in(case_ids))
        .order_by(Visit.round)
        .order_by(Visit.seq)
        .run()
    )
    for row, view in zip(rows, await _views(rows), strict=True):
        out[row["case"]].append(msgspec.to_builtins(view))
    return out


async def visits_for_case(user: CurrentUser, case_id: uuid.UUID | str) -> list[dict[str, Any]]:
    """The case's visits for its detail page (the caller has already checked the case is visible)."""
    key = case_id if isinstance(case_id, uuid.UUID) else uuid.UUID(str(case_id))
    rows = (
        await Visit.select(*_COLUMNS).where(Visit.case == key).order_by(Visit.round).order_by(Visit.seq).run()
    )
    return [msgspec.to_builtins(v) for v in await _views(rows)]


# --- recording ------------------------------------------------------------------------------------


def record_hash(data: schemas.VisitRecord) -> str:
    body = msgspec.to_builtins(data)
    if body.get("performance") is None:  # records from before the field keep their fingerprint
        body.pop("performance", None)
    if not body.get("obligations"):
        body.pop("obligations", None)
    return hashlib.sha256(msgspec.json.encode(body, order="sorted")).hexdigest()


def _may_record(user: CurrentUser, visit: dict[str, Any], case: dict[str, Any]) -> bool:
    if visit["assignee"] == user.id or user.role in SUPERVISOR_ROLES:
        return True
    return user.role in TEAM_ROLES and works_on_case(user, case)


async def _fix(data: schemas.VisitRecord, photos: list[str]) -> tuple[float, float, float | None, str] | None:
    """Where the visit took place: the phone's GPS fix, else the first photo's EXIF GPS."""
    if data.location is not None:
        loc = data.location
        if loc.crs == "gcj02":
            lon, lat = gcj02_to_wgs84(loc.lon, loc.lat)
            return lon, lat, loc.accuracy_m, "gcj02-converted"
        return loc.lon, loc.lat, loc.accuracy_m, "gps"
    for sha in photos:
        gps = await media.exif_gps(sha)
        if gps is not None:
            return gps[0], gps[1], None, "exif"
    return None


async def record_visit(
    user: CurrentUser, visit_id: uuid.UUID | str, data: schemas.VisitRecord | dict[str, Any]
) -> Recorded:
    """Record a visit (POST /api/visits/{id}/record and the sync operation `visit.record`).

    Idempotent: the same record again changes nothing (applied=False); a different record of a visit
    already recorded is 409 visit.already_recorded with the server's copy. Not satisfied or recurred:
    the case reopens and the township supervisor is notified. The last visit satisfied: the case is
    archived."""
    if not isinstance(data, schemas.VisitRecord):
        try:
            data = msgspec.convert(data, schemas.VisitRecord)
        except msgspec.ValidationError as exc:
            raise InvalidRequest(details={"errors": [str(exc)]}, code="visit.invalid_record") from None
    settings = get_settings()
    fingerprint = record_hash(data)
    visit = await _visible_row(user, visit_id)
    if visit["state"] == "done":
        return await _replay_or_conflict(user, visit, fingerprint)
    case = await Case.select().where(Case.id == visit["case"]).first().run()
    if case is None:
        raise NotFound()
    if not _may_record(user, visit, case):
        raise Forbidden(
            message="只有回访负责人、办案调解队或督导人员可以登记回访",
            message_en="Not allowed to record this visit",
        )
    photos = list(dict.fromkeys(p.lower() for p in data.photos))
    if len(photos) > MAX_PHOTOS:
        raise TooManyPhotos(details={"max": MAX_PHOTOS})
    await check_photos(user, photos)
    data = await _with_obligations(data, case["id"])
    now = clock.now()
    done_at = min(data.visited_at, now) if data.visited_at and data.visited_at <= now + CLOCK_SKEW else now
    fix = await _fix(data, photos)
    distance = distance_m(case["lon"], case["lat"], fix[0], fix[1]) if fix else None
    face_to_face = data.method == "in_person" and distance is not None and distance <= settings.visit_radius_m
    recorded_state: dict[Column | str, Any] = {
        Visit.state: "done",
        Visit.next_reminder_at: None,
        Visit.done_at: done_at,
        Visit.recorded_at: now,
        Visit.recorded_by: user.id,
        Visit.recorded_device: user.device_id,
        Visit.method: data.method,
        Visit.satisfaction: data.satisfaction,
        Visit.recurred: data.recurred,
        Visit.performance: data.performance,
        Visit.obligation_performance: msgspec.json.encode(data.obligations).decode(),
        Visit.notes: data.notes,
        Visit.photos: msgspec.json.encode(photos).decode(),
        Visit.lon: fix[0] if fix else None,
        Visit.lat: fix[1] if fix else None,
        Visit.accuracy_m: fix[2] if fix else None,
        Visit.location_source: fix[3] if fix else None,
        Visit.distance_m: round(distance, 1) if distance is not None else None,
        Visit.face_to_face: face_to_face,
        Visit.on_time: policy.local_date(done_at) <= visit["due_date"],
        Visit.record_hash: fingerprint,
        Visit.updated_at: now,
    }
    async with write_transaction():
        # Conditional on not yet done, so two concurrent records (two replays of one outbox item)
        # cannot both apply: the second finds the row done and is a replay or a conflict.
        updated = (
            await Visit.update(recorded_state)
            .where((Visit.id == visit["id"]) & (Visit.state != "done"))
            .returning(Visit.id)
            .run()
        )
        if updated:
            await _attach_photos(case["id"], photos)
            await _flag_not_performed(user, visit, case, data)
            await _apply_outcome(user, visit, case, data)
            await _tell_leader(user, visit, case, data)
    if not updated:
        return await _replay_or_conflict(user, await _visible_row(user, visit["id"]), fingerprint)
    nudge()
    return Recorded(applied=True, visit=await get_visit(user, visit["id"]))


class UnknownObligation(AppError):
    code = "visit.unknown_obligation"
    message = "协议中没有这一项义务"
    message_en = "The agreement has no such obligation"


async def _with_obligations(data: schemas.VisitRecord, case_id: uuid.UUID) -> schemas.VisitRecord:
    """The record with each obligation checked against the agreement and, when only per-obligation
    findings were given, the overall performance derived from them (all performed → performed, none
    performed → not_performed, else partly)."""
    if not data.obligations:
        return data
    row = await Agreement.select(Agreement.obligations).where(Agreement.case == case_id).first().run()
    count = len(agreements.json_list(row["obligations"])) if row else 0
    indices = [o.obligation for o in data.obligations]
    if any(i >= count for i in indices) or len(set(indices)) != len(indices):
        raise UnknownObligation(details={"obligations": count})
    found = {o.performance for o in data.obligations}
    if data.performance is not None:
        return data
    if found == {"performed"} and len(indices) == count:
        overall = "performed"
    elif "performed" not in found and "partly" not in found:
        overall = "not_performed"
    else:
        overall = "partly"
    return msgspec.structs.replace(data, performance=overall)


async def _flag_not_performed(user: CurrentUser, visit: dict[str, Any], case: dict[str, Any], data) -> None:
    """The agreement's performance as found; an obligation not performed tells the team leaders and
    the township (人民调解法 art. 31: the committee supervises performance), who may reopen the case or
    send it the legal route."""
    if data.performance is None:
        return
    await (
        Agreement.update({Agreement.performance_status: data.performance})
        .where(Agreement.case == case["id"])
        .run()
    )
    unperformed = [o.obligation + 1 for o in data.obligations if o.performance == "not_performed"]
    if not unperformed and data.performance != "not_performed":
        return
    which = "第" + "、".join(map(str, unperformed)) + "项义务" if unperformed else "协议"
    users = set(await recipients.team_leaders(case["owner_team"]))
    users |= set(await recipients.township_supervisors(case["township_code"]))
    await notify(
        users,
        Message(
            kind="agreement_not_performed",
            title=f"协议未履行：{case['number']}"[:100],
            body=f"{case['title']}：第{visit['seq']}次回访（{user.display_name}）发现{which}未履行。"
            "可重新调解或移交法律途径。"[:1000],
            url=f"/cases/{case['id']}",
            key=f"visit:{visit['id']}:not_performed",
            case_id=case["id"],
            visit_id=visit["id"],
            urgency="high",
        ),
    )


async def _replay_or_conflict(user: CurrentUser, visit: dict[str, Any], fingerprint: str) -> Recorded:
    current = (await _views([visit]))[0]
    if visit["record_hash"] == fingerprint:
        return Recorded(applied=False, visit=current)
    raise VisitAlreadyRecorded(details={"server_copy": msgspec.to_builtins(current)})


async def _attach_photos(case_id: uuid.UUID, photos: list[str]) -> None:
    """Visit photos join the case's photos (purpose "visit"): whoever may see the case may see them."""
    if not photos:
        return
    existing = {
        r["sha256"]
        for r in await CasePhoto.select(CasePhoto.sha256)
        .where((CasePhoto.case == case_id) & CasePhoto.sha256.is_in(photos))
        .run()
    }
    new = [p for p in photos if p not in existing]
    if new:
        await CasePhoto.insert(
            *[
                CasePhoto(case=case_id, sha256=sha, position=200 + i, purpose="visit")
                for i, sha in enumerate(new)
            ]
        ).run()


async def _tell_leader(user: CurrentUser, visit: dict[str, Any], case: dict[str, Any], data) -> None:
    """The leader in charge of the case (包案) hears every return visit's result."""
    found = schemas.SATISFACTION_LABELS.get(data.satisfaction, data.satisfaction)
    bad = data.satisfaction not in SATISFIED or data.recurred
    await notify(
        await recipients.case_leader(case),
        Message(
            kind="visit_result",
            title=f"回访结果：{case['number']}"[:100],
            body=f"{case['title']}：第{visit['seq']}次回访（{user.display_name}），当事人{found}"
            f"{'，纠纷反复' if data.recurred else ''}。{data.notes}"[:1000],
            url=f"/cases/{case['id']}",
            key=f"visit:{visit['id']}:leader",
            case_id=case["id"],
            visit_id=visit["id"],
            urgency="high" if bad else "normal",
        ),
    )


async def _apply_outcome(
    user: CurrentUser, visit: dict[str, Any], case: dict[str, Any], data: schemas.VisitRecord
) -> None:
    if data.satisfaction not in SATISFIED or data.recurred:
        why = "纠纷反复" if data.recurred else "当事人不满意"
        if case["state"] in ("closed", "archived"):
            await apply_system_action(
                case["id"], case_schemas.Reopen(reason=f"第{visit['seq']}次回访：{why}"), actor=user
            )
        supervisors = await recipients.township_supervisors(case["township_code"])
        await notify(
            supervisors,
            Message(
                kind="visit_unsatisfied",
                title=f"回访{why}：{case['number']}"[:100],
                body=f"{case['title']}（第{visit['seq']}次回访，{user.display_name}），案件已重新打开，请督办。{data.notes}"[
                    :1000
                ],
                url=f"/cases/{case['id']}",
                key=f"visit:{visit['id']}:unsatisfied",
                case_id=case["id"],
                visit_id=visit["id"],
                urgency="high",
                topic=topic_for(visit["id"]),
            ),
        )
        return
    still_open = await Visit.count().where((Visit.case == case["id"]) & (Visit.state == "pending"))
    if still_open == 0 and case["state"] == "closed":
        await apply_system_action(case["id"], case_schemas.Archive(reason="回访满意，归档"), actor=user)
