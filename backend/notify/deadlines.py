"""A mediation deadline in 3 days: told once per case and deadline (an extended deadline is told again).
The team leader is also reminded at 7 days and at 1 day left (督办's countdown), once per stage."""

from __future__ import annotations

from datetime import timedelta

from backend.cases.tables import Case
from backend.cases.workflow import IN_MEDIATION
from backend.core import clock
from backend.notify import recipients
from backend.notify.service import Message, notify
from backend.notify.tables import Notification

WARN_BEFORE = timedelta(days=3)
# The team leader's reminders, latest first: a job that first sees a case at 1 day left skips the 7.
LEADER_STAGES = (1, 7)


async def deadline_reminders() -> list[int]:
    return await _mediator_reminders() + await leader_reminders()


async def _mediator_reminders() -> list[int]:
    now = clock.now()
    rows = (
        await Case.select(
            Case.id,
            Case.number,
            Case.title,
            Case.deadline,
            Case.mediator,
            Case.owner_team,
            Case.township_code,
        )
        .where(
            Case.state.is_in(list(IN_MEDIATION))
            & (Case.deadline > now)
            & (Case.deadline <= now + WARN_BEFORE)
        )
        .run()
    )
    if not rows:
        return []

    def key(row) -> str:
        return f"case:{row['id']}:deadline:{row['deadline'].astimezone(clock.LOCAL_TZ).isoformat()}"

    told = {
        r["dedupe_key"].rsplit(":", 1)[0]
        for r in await Notification.select(Notification.dedupe_key)
        .where(Notification.case_id.is_in([r["id"] for r in rows]) & (Notification.kind == "case_deadline"))
        .run()
    }
    written: list[int] = []
    for row in rows:
        if key(row) in told:
            continue
        users = await recipients.active_users([row["mediator"]])
        users = users or await recipients.team_leaders(row["owner_team"])
        users = users or await recipients.township_supervisors(row["township_code"])
        local = row["deadline"].astimezone(clock.LOCAL_TZ)
        written += await notify(
            users,
            Message(
                kind="case_deadline",
                title=f"调解期限将到：{row['number']}"[:100],
                body=f"{row['title']}：调解期限为 {local:%Y-%m-%d %H:%M}，还剩不到3天。",
                url=f"/cases/{row['id']}",
                key=key(row),
                case_id=row["id"],
            ),
        )
    return written


async def leader_reminders() -> list[int]:
    """Remind the owning team's leaders (the township when there is no team) at 7 and at 1 day left."""
    now = clock.now()
    rows = (
        await Case.select(
            Case.id, Case.number, Case.title, Case.deadline, Case.owner_team, Case.township_code
        )
        .where(
            Case.state.is_in(list(IN_MEDIATION))
            & (Case.deadline > now)
            & (Case.deadline <= now + timedelta(days=max(LEADER_STAGES)))
        )
        .run()
    )
    if not rows:
        return []

    def stage_of(row) -> int:
        return next(days for days in LEADER_STAGES if row["deadline"] - now <= timedelta(days=days))

    def key(row) -> str:
        local = row["deadline"].astimezone(clock.LOCAL_TZ)
        return f"case:{row['id']}:deadline_leader:{local.isoformat()}:{stage_of(row)}"

    # Skipped before looking up anyone: every run sees the same cases for a week, and a county has
    # hundreds of them (three queries each to find who to tell, for nothing).
    told = {
        r["dedupe_key"].rsplit(":", 1)[0]
        for r in await Notification.select(Notification.dedupe_key)
        .where(
            Notification.case_id.is_in([r["id"] for r in rows])
            & (Notification.kind == "case_deadline_leader")
        )
        .run()
    }
    written: list[int] = []
    for row in rows:
        if key(row) in told:
            continue
        stage = stage_of(row)
        local = row["deadline"].astimezone(clock.LOCAL_TZ)
        users = await recipients.team_leaders(row["owner_team"])
        users = users or await recipients.township_supervisors(row["township_code"])
        written += await notify(
            users,
            Message(
                kind="case_deadline_leader",
                title=f"调解期限还剩{stage}天：{row['number']}"[:100],
                body=f"{row['title']}：调解期限为 {local:%Y-%m-%d %H:%M}，请督促调解员按期办结。"[:1000],
                url=f"/cases/{row['id']}",
                key=key(row),
                case_id=row["id"],
                urgency="high" if stage == 1 else "normal",
            ),
        )
    return written
