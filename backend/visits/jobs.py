"""The reminder job: `fengqiao visits remind [--now ISO]`, and every few minutes inside a running server.

Each (visit, stage) is notified exactly once, across restarts and concurrent workers. Rows are claimed
by next_reminder_at: PostgreSQL locks them with FOR UPDATE SKIP LOCKED (a second worker skips what the
first holds, and re-checks the condition on rows committed meanwhile); SQLite serialises writers with
an immediate transaction. The notification's unique dedupe key is the belt and braces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from backend import db
from backend.core import clock
from backend.notify import recipients
from backend.notify.confirmations import confirmation_reminders
from backend.notify.deadlines import deadline_reminders
from backend.notify.service import Message, notify, topic_for
from backend.settings import Settings, get_settings
from backend.visits import policy
from backend.visits.tables import Visit

BATCH = 200


@dataclass
class RemindResult:
    visits: int = 0
    notifications: list[int] = field(default_factory=list)
    deadlines: list[int] = field(default_factory=list)
    confirmations: list[int] = field(default_factory=list)


def _message(row: dict[str, Any], stage: int) -> Message:
    number, title = row["case.number"], row["case.title"]
    when = f"第{row['seq']}/{row['of_total']}次回访，{row['due_date']:%Y-%m-%d}到期"
    common = {
        "url": f"/visits/{row['id']}",
        "key": f"visit:{row['id']}:{policy.STAGE_NAMES[stage]}",
        "case_id": row["case"],
        "visit_id": row["id"],
        "topic": topic_for(row["id"]),
    }
    if stage == 1:
        return Message(kind="visit_due", title=f"今日回访：{number}", body=f"{title}（{when}）", **common)
    if stage == 2:
        return Message(
            kind="visit_overdue",
            title=f"回访已逾期：{number}",
            body=f"{title}（{when}），已逾期1天，请尽快回访。",
            urgency="high",
            **common,
        )
    who = row["assignee.display_name"] or "负责人"
    return Message(
        kind="visit_escalated",
        title=f"回访逾期3天：{number}",
        body=f"{title}（{when}），{who}尚未回访，请督促。",
        urgency="high",
        **common,
    )


async def _recipients(row: dict[str, Any], stage: int) -> list[int]:
    if stage in (1, 2):
        users = await recipients.active_users([row["assignee"]])
        return users or await recipients.team_leaders(row["team"])
    leaders = await recipients.team_leaders(row["team"])
    return sorted(set(leaders) | set(await recipients.township_supervisors(row["township_code"])))


async def _batch(settings: Settings, batch: int) -> tuple[int, list[int]]:
    now = clock.now()
    written: list[int] = []
    due = (Visit.state == "pending") & (Visit.next_reminder_at <= now)
    if not await Visit.exists().where(due).run():
        return 0, written  # a plain read first: no write lock taken for nothing
    async with db.write_transaction():
        query = (
            Visit.select(
                Visit.id,
                Visit.case,
                Visit.seq,
                Visit.of_total,
                Visit.due_date,
                Visit.reminder_stage,
                Visit.assignee,
                Visit.team,
                Visit.township_code,
                Visit.case.number,
                Visit.case.title,
                Visit.assignee.display_name,
            )
            .where(due)
            .order_by(Visit.next_reminder_at)
            .limit(batch)
        )
        if db.engine_name() == "postgresql":
            query = query.lock_rows(skip_locked=True, of=(Visit,))
        rows = await query.run()
        for row in rows:
            reached = policy.reached_stage(row["due_date"], now, settings)
            sent = row["reminder_stage"]
            stages = []
            # The assignee gets the latest of "due today" / "overdue 1 day" not yet sent (a worker that
            # was down does not send a stale "due today" on top of "overdue").
            assignee_stage = min(reached, 2)
            if assignee_stage > sent:
                stages.append(assignee_stage)
            if reached == 3 and sent < 3:
                stages.append(3)
            for stage in stages:
                written += await notify(await _recipients(row, stage), _message(row, stage))
            await (
                Visit.update(
                    {
                        Visit.reminder_stage: max(sent, reached),
                        Visit.next_reminder_at: policy.stage_at(row["due_date"], reached + 1, settings)
                        if reached < 3
                        else None,
                    }
                )
                .where(Visit.id == row["id"])
                .run()
            )
    return len(rows), written


async def remind(settings: Settings | None = None, *, batch: int = BATCH) -> RemindResult:
    """Create the reminders due at clock.now() (visits by stage, mediation deadlines within 3 days, and
    司法确认 on day 20 of a signed agreement)."""
    settings = settings or get_settings()
    result = RemindResult()
    while True:
        count, written = await _batch(settings, batch)
        result.visits += count
        result.notifications += written
        if count < batch:
            break
    result.deadlines = await deadline_reminders()
    result.confirmations = await confirmation_reminders()
    return result
