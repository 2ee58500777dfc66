"""Who hears of a 督办 order (registered by backend.wiring.connect): the team when it is issued or sent
back (urgent: push at once, SMS when left unread), the issuer when it is reported or turns red, and the
case's leader in charge (包案) when it is issued or turns red. The
escalation runs with the other periodic jobs of a running server (notify.worker)."""

from __future__ import annotations

import uuid
from typing import Any

from backend import db
from backend.cases.hooks import CaseChange, subscribe
from backend.cases.supervision import SupervisionOrder, red_reason
from backend.core import clock
from backend.notify import recipients, worker
from backend.notify.service import Message, notify, topic_for

RED_NAMES = {"unacknowledged": "24小时内未签收", "overdue": "已超过办理期限"}


def _label(case: dict[str, Any]) -> str:
    return f"{case['number']} {case['title']}"


@subscribe
async def on_red_risk(change: CaseChange) -> None:
    """A case turning red (at intake or after an edit by the rules, or by a supervisor) tells the
    township's supervisors and the county office at once, urgently."""
    if change.case.get("risk") != "red" or change.before.get("risk") == "red":
        return
    if change.action not in ("create", "update", "set_risk"):
        return
    if change.action == "update" and "risk" not in change.after:
        return  # an edit of a case that was red already
    actor = change.actor.id if change.actor else None
    users = set(await recipients.township_supervisors(change.case["township_code"]))
    users |= set(await recipients.county_admins())
    users |= set(await recipients.case_leader(change.case))  # 包案领导
    await notify(
        [u for u in users if u != actor],
        Message(
            kind="case_risk_red",
            title=f"红色风险：{_label(change.case)}"[:100],
            body=f"风险等级为红色（{change.case['risk_reason'] or '研判'}），请立即关注。"[:1000],
            url=f"/cases/{change.case_id}",
            key=f"case:{change.case_id}:risk_red:{change.case['version']}",
            case_id=change.case_id,
            urgency="high",
        ),
    )


@subscribe
async def on_case_change(change: CaseChange) -> None:
    if change.action not in ("supervise", "report_supervision", "return_supervision"):
        return
    order_id = uuid.UUID(change.data["order_id"])

    def message(kind: str, title: str, body: str, key: str, urgency: str = "normal") -> Message:
        # One Topic per order: a newer push about it replaces an older one still waiting.
        return Message(
            kind=kind,
            title=title[:100],
            body=body[:1000],
            url=f"/cases/{change.case_id}",
            key=key,
            case_id=change.case_id,
            urgency=urgency,
            topic=topic_for(order_id, "s"),
        )

    actor = change.actor.id if change.actor else None
    if change.action == "supervise":
        team = change.case["owner_team"]
        users = await recipients.team_members(team)
        await notify(
            [u for u in users if u != actor],
            message(
                "supervision_issued",
                f"督办：{_label(change.case)}",
                f"{change.data['instruction']}（期限 {change.data['due_date']}，请24小时内签收）",
                f"supervision:{order_id}:issued",
                urgency="high",
            ),
        )
        # The leader in charge (包案) hears of an order on its case (unless it issued it).
        await notify(
            [u for u in await recipients.case_leader(change.case) if u != actor],
            message(
                "supervision_issued",
                f"督办（包案案件）：{_label(change.case)}",
                f"{change.data['instruction']}（期限 {change.data['due_date']}）",
                f"supervision:{order_id}:issued",
            ),
        )
    elif change.action == "report_supervision":
        order = (
            await SupervisionOrder.select(SupervisionOrder.issued_by)
            .where(SupervisionOrder.id == order_id)
            .first()
            .run()
        )
        users = await recipients.active_users([order["issued_by"] if order else None])
        await notify(
            users,
            message(
                "supervision_reported",
                f"督办已回复，请验收：{change.case['number']}",
                str(change.data.get("text", "")),
                f"supervision:{order_id}:reported:{change.case['version']}",
            ),
        )
    else:
        users = await recipients.team_leaders(change.case["owner_team"])
        await notify(
            users,
            message(
                "supervision_returned",
                f"督办回复被退回：{change.case['number']}",
                f"退回理由：{change.data.get('reason', '')}",
                f"supervision:{order_id}:returned:{change.case['version']}",
                urgency="high",
            ),
        )


async def escalate() -> list[int]:
    """Turn red the open orders not acknowledged within 24 h or past their due date, and tell each
    issuer once per reason (the notification's dedupe key keeps it once across workers)."""
    now = clock.now()
    written: list[int] = []
    async with db.write_transaction():
        rows = (
            await SupervisionOrder.select(
                *SupervisionOrder.all_columns(),
                SupervisionOrder.case.number,
                SupervisionOrder.case.title,
                SupervisionOrder.case.leader,
            )
            .where(SupervisionOrder.status.is_in(["issued", "acknowledged"]))
            .run()
        )
        for row in rows:
            reason = red_reason(row, now)
            if reason is None or reason == row["red_reason"]:
                continue
            await (
                SupervisionOrder.update({SupervisionOrder.red_at: now, SupervisionOrder.red_reason: reason})
                .where(SupervisionOrder.id == row["id"])
                .run()
            )
            users = await recipients.active_users([row["issued_by"]])
            users = users or await recipients.county_admins()
            users = [*users, *await recipients.case_leader({"leader": row["case.leader"]})]  # 包案领导
            written += await notify(
                users,
                Message(
                    kind="supervision_red",
                    title=f"督办红色预警：{row['case.number']}"[:100],
                    body=f"{row['case.title']}：{RED_NAMES[reason]}（办理期限 {row['due_date']:%Y-%m-%d}）。"[
                        :1000
                    ],
                    url=f"/cases/{row['case']}",
                    key=f"supervision:{row['id']}:red:{reason}",
                    case_id=row["case"],
                    urgency="high",
                    topic=topic_for(row["id"], "s"),
                ),
            )
    return written


worker.every("supervision.escalate", lambda settings: settings.reminder_interval_seconds, escalate)
