"""司法确认 (人民调解法 art. 33): the parties of a written agreement may ask a court to confirm it within 30
days of its taking effect. On day 20 the mediator (else the team leaders) is reminded, once, to tell them."""

from __future__ import annotations

from datetime import timedelta

from backend.cases import agreement as agreements
from backend.cases.tables import Agreement
from backend.core import clock
from backend.db import write_transaction
from backend.notify import recipients
from backend.notify.service import Message, notify, topic_for


async def confirmation_reminders() -> list[int]:
    """Remind of every signed agreement in days 20–30 since it took effect, not yet reminded and with no
    application recorded. Returns the notification ids written."""
    now = clock.now()
    start = now - timedelta(days=agreements.CONFIRMATION_DAYS)
    end = now - timedelta(days=agreements.CONFIRMATION_REMIND_DAY)
    signed_in_window = ((Agreement.signed_at > start) & (Agreement.signed_at <= end)) | (
        # Signed before signed_at was kept: it took effect when made.
        Agreement.signed_at.is_null()
        & Agreement.signed_photo.is_not_null()
        & (Agreement.made_at > start)
        & (Agreement.made_at <= end)
    )
    due = (
        (Agreement.form != "oral")
        & (Agreement.confirmation_reminded == False)  # noqa: E712
        & Agreement.confirmation_applied.is_null()
        & signed_in_window
    )
    if not await Agreement.exists().where(due).run():
        return []  # a plain read first: no write lock taken for nothing
    written: list[int] = []
    async with write_transaction():
        rows = (
            await Agreement.select(
                Agreement.id,
                Agreement.case,
                Agreement.signed_at,
                Agreement.signed_photo,
                Agreement.made_at,
                Agreement.form,
                Agreement.case.number,
                Agreement.case.title,
                Agreement.case.mediator,
                Agreement.case.owner_team,
                Agreement.made_by,
            )
            .where(due)
            .run()
        )
        for row in rows:
            users = await recipients.active_users([row["case.mediator"] or row["made_by"]])
            users = users or await recipients.team_leaders(row["case.owner_team"])
            last = agreements.confirmation_deadline(row)
            written += await notify(
                users,
                Message(
                    kind="confirmation_due",
                    title=f"司法确认提醒：{row['case.number']}"[:100],
                    body=f"{row['case.title']}：调解协议生效已满{agreements.CONFIRMATION_REMIND_DAY}天。"
                    f"如需司法确认，请告知双方当事人于 {last:%Y年%m月%d日} 前共同向人民法院申请，"
                    "并在案件中登记结果。",
                    url=f"/cases/{row['case']}",
                    key=f"case:{row['case']}:confirmation_due",
                    case_id=row["case"],
                    topic=topic_for(row["case"], prefix="c"),
                ),
            )
            await (
                Agreement.update({Agreement.confirmation_reminded: True})
                .where(Agreement.id == row["id"])
                .run()
            )
    return written
