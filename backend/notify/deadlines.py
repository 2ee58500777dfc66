"""A mediation deadline in 3 days: told once per case and deadline (an extended deadline is told again)."""

from __future__ import annotations

from datetime import timedelta

from backend.cases.tables import Case
from backend.cases.workflow import IN_MEDIATION
from backend.core import clock
from backend.notify import recipients
from backend.notify.service import Message, notify
from backend.notify.tables import Notification

WARN_BEFORE = timedelta(days=3)


async def deadline_reminders() -> list[int]:
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
