"""When visits fall due and when their reminders fire.

The schedule: by the case's level and category, days after closing (default 小事 +7; 难事 +7 and +30;
大事 +7, +30 and +90), overridable per level or per level and category. Due dates are local dates in
Asia/Shanghai: a visit due on 2026-12-01 is due from 2026-12-01 00:00+08:00 (2026-11-30 16:00 UTC).
Reminders fire at 08:30 local: on the due date (stage 1, the assignee), one day late (stage 2, the
assignee again, urgent) and three days late (stage 3, the team leader and the township supervisor).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from backend.cases.categories import require_active
from backend.core import clock
from backend.core.errors import InvalidRequest
from backend.core.identity import CurrentUser
from backend.db import write_transaction
from backend.settings import Settings, get_settings
from backend.visits import schemas
from backend.visits.tables import VisitPolicy

DEFAULT_OFFSETS: dict[str, tuple[int, ...]] = {"small": (7,), "hard": (7, 30), "big": (7, 30, 90)}
LEVELS = ("small", "hard", "big")

# stage -> days after the due date
STAGE_DAYS = {1: 0, 2: 1, 3: 3}
STAGE_NAMES = {1: "due", 2: "overdue1", 3: "overdue3"}


def reminder_time(settings: Settings | None = None) -> time:
    raw = (settings or get_settings()).visit_reminder_time
    hours, _, minutes = raw.partition(":")
    return time(int(hours), int(minutes or 0))


def due_from(due_date: date) -> datetime:
    """The instant a visit becomes due: local midnight of its due date."""
    return datetime.combine(due_date, time(0, 0), tzinfo=clock.LOCAL_TZ)


def stage_at(due_date: date, stage: int, settings: Settings | None = None) -> datetime:
    """When a reminder stage fires: 08:30 local on the due date, one day after, three days after."""
    day = due_date + timedelta(days=STAGE_DAYS[stage])
    return datetime.combine(day, reminder_time(settings), tzinfo=clock.LOCAL_TZ)


def reached_stage(due_date: date, now: datetime, settings: Settings | None = None) -> int:
    reached = 0
    for stage in (1, 2, 3):
        if stage_at(due_date, stage, settings) <= now:
            reached = stage
    return reached


def local_date(at: datetime) -> date:
    return at.astimezone(clock.LOCAL_TZ).date()


def _key(level: str, category: str | None) -> str:
    return f"{level}:{category or '*'}"


def _parse(raw: str) -> list[int]:
    return [int(x) for x in raw.split(",") if x.strip()]


async def offsets_for(level: str, category: str | None) -> list[int]:
    """Days after closing: the level-and-category rule, else the level rule, else the default."""
    rows = (
        await VisitPolicy.select(VisitPolicy.key, VisitPolicy.offsets_days)
        .where(VisitPolicy.key.is_in([_key(level, category), _key(level, None)]))
        .run()
    )
    by_key = {r["key"]: _parse(r["offsets_days"]) for r in rows}
    return (
        by_key.get(_key(level, category))
        or by_key.get(_key(level, None))
        or list(DEFAULT_OFFSETS.get(level, DEFAULT_OFFSETS["small"]))
    )


async def list_policies() -> list[schemas.PolicyView]:
    rows = await VisitPolicy.select().order_by(VisitPolicy.key).run()
    custom = {(r["level"], r["category"]): _parse(r["offsets_days"]) for r in rows}
    views = [
        schemas.PolicyView(
            level=level,
            category=None,
            offsets_days=custom.get((level, None), list(DEFAULT_OFFSETS[level])),
            source="custom" if (level, None) in custom else "default",
        )
        for level in LEVELS
    ]
    views += [
        schemas.PolicyView(level=level, category=category, offsets_days=offsets, source="custom")
        for (level, category), offsets in sorted(custom.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))
        if category is not None
    ]
    return views


async def set_policy(user: CurrentUser, data: schemas.PolicyIn) -> list[schemas.PolicyView]:
    offsets = sorted(set(data.offsets_days))
    if offsets != list(data.offsets_days):
        raise InvalidRequest(
            message="回访天数应从小到大且不重复",
            message_en="offsets_days must be strictly increasing",
            code="visit.invalid_policy",
        )
    if data.category:
        await require_active(data.category)
    key = _key(data.level, data.category)
    async with write_transaction():
        await VisitPolicy.delete().where(VisitPolicy.key == key).run()
        await VisitPolicy.insert(
            VisitPolicy(
                key=key,
                level=data.level,
                category=data.category or None,
                offsets_days=",".join(str(d) for d in offsets),
                updated_at=clock.now(),
                updated_by=user.id,
            )
        ).run()
    return await list_policies()


async def delete_policy(data: schemas.PolicyDelete) -> list[schemas.PolicyView]:
    await VisitPolicy.delete().where(VisitPolicy.key == _key(data.level, data.category)).run()
    return await list_policies()
