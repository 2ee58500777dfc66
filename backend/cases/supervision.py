"""督办 (supervision orders): the county office or a township's 综治中心 orders a case's team to act by
a date; the team leader acknowledges it (from the phone, offline too), reports, and the issuer accepts
the report or sends it back.

The orders live with the cases because the workflow writes them: each step is a case action
(workflow.RULES), so it is an event in the case's log, goes through the sync outbox like any other, and
bumps the case's version. `Case.supervision` holds the status of the case's open order (one at a time;
None when there is none), so the role table can tell which step is next without a query. The 督办 list,
the notifications and the red escalation are in backend/supervision (above notify).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

import msgspec
from piccolo.columns import UUID, Date, ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.cases import schemas
from backend.cases.tables import Case, CaseEvent
from backend.core import clock
from backend.core.errors import AppError, Forbidden, InvalidRequest
from backend.core.identity import CurrentUser, Role
from backend.people.tables import User

# An order not acknowledged within this long turns red (as does one past its due date).
ACKNOWLEDGE_WITHIN = timedelta(hours=24)
# The order's steps. An order sent back returns to "acknowledged": the team works on and reports again.
OPEN_STATUSES = ("issued", "acknowledged", "reported")
MAX_DUE_DAYS = 366
# How the status and the red reason read in print (the case file, 月排查).
STATUS_NAMES = {"issued": "待签收", "acknowledged": "办理中", "reported": "待验收", "accepted": "已验收"}
RED_NAMES = {"unacknowledged": "超24小时未签收", "overdue": "已超办理期限"}


class SupervisionOrder(Table, tablename="supervision_order"):
    id = UUID(primary_key=True)
    case = ForeignKey(references=Case, on_delete=OnDelete.cascade, index=True)
    issued_by = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.set_null, index=True)
    issued_at = Timestamptz(default=TimestamptzNow(), index=True)
    instruction = Text()
    due_date = Date(index=True)  # a local date (Asia/Shanghai): due by the end of that day
    status = Varchar(length=12, index=True)  # issued | acknowledged | reported | accepted
    acknowledged_at = Timestamptz(null=True, default=None)
    acknowledged_by = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.set_null)
    reported_at = Timestamptz(null=True, default=None)
    report = Text(null=True, default=None)
    accepted_at = Timestamptz(null=True, default=None)
    returned_count = Integer(default=0)
    return_reason = Text(null=True, default=None)
    # Set once by the escalation job when it turned red and told the issuer (unacknowledged | overdue).
    red_at = Timestamptz(null=True, default=None, index=True)
    red_reason = Varchar(length=16, null=True, default=None)


class SupervisionError(AppError):
    status_code = 409
    code = "supervision.invalid_step"
    message = "督办单当前状态下不能执行此操作"
    message_en = "This step is not possible for the supervision order now"


def red_reason(order: dict[str, Any], now: datetime | None = None) -> str | None:
    """Why an order is red now (computed, never trusted from storage): not acknowledged within 24 h,
    or not reported by the end of its due date. None: not red."""
    now = now or clock.now()
    if order["status"] == "issued" and now - order["issued_at"] > ACKNOWLEDGE_WITHIN:
        return "unacknowledged"
    if (
        order["status"] in ("issued", "acknowledged")
        and now.astimezone(clock.LOCAL_TZ).date() > order["due_date"]
    ):
        return "overdue"
    return None


async def open_order(case_id: uuid.UUID) -> dict[str, Any]:
    row = (
        await SupervisionOrder.select()
        .where((SupervisionOrder.case == case_id) & SupervisionOrder.status.is_in(list(OPEN_STATUSES)))
        .order_by(SupervisionOrder.issued_at, ascending=False)
        .first()
        .run()
    )
    if row is None:
        raise SupervisionError(message="该案件没有进行中的督办", message_en="No open supervision order")
    return row


def _check_due(due: date, now: datetime) -> None:
    today = now.astimezone(clock.LOCAL_TZ).date()
    if due < today or due > today + timedelta(days=MAX_DUE_DAYS):
        raise InvalidRequest(
            message="办理期限须在今天到一年之内",
            message_en="The due date must be between today and a year from now",
            code="supervision.bad_due_date",
        )


# --- the workflow's handlers: (user, case row, action, now) → (case column changes, event data) -------


async def supervise(user: CurrentUser, case: dict[str, Any], action: Any, now: datetime):
    if case["owner_team"] is None:
        raise SupervisionError(
            message="案件尚未指派调解队，不能督办",
            message_en="Assign a team before supervising",
            code="supervision.no_team",
        )
    _check_due(action.due_date, now)
    order_id = uuid.uuid4()
    await SupervisionOrder.insert(
        SupervisionOrder(
            id=order_id,
            case=case["id"],
            issued_by=user.id,
            issued_at=now,
            instruction=action.instruction,
            due_date=action.due_date,
            status="issued",
        )
    ).run()
    return {"supervision": "issued"}, {
        "order_id": str(order_id),
        "instruction": action.instruction,
        "due_date": action.due_date.isoformat(),
    }


async def acknowledge(user: CurrentUser, case: dict[str, Any], action: Any, now: datetime):
    order = await open_order(case["id"])
    await (
        SupervisionOrder.update(
            {
                SupervisionOrder.status: "acknowledged",
                SupervisionOrder.acknowledged_at: now,
                SupervisionOrder.acknowledged_by: user.id,
            }
        )
        .where(SupervisionOrder.id == order["id"])
        .run()
    )
    return {"supervision": "acknowledged"}, {"order_id": str(order["id"])}


async def report(user: CurrentUser, case: dict[str, Any], action: Any, now: datetime):
    order = await open_order(case["id"])
    await (
        SupervisionOrder.update(
            {
                SupervisionOrder.status: "reported",
                SupervisionOrder.reported_at: now,
                SupervisionOrder.report: action.text,
            }
        )
        .where(SupervisionOrder.id == order["id"])
        .run()
    )
    return {"supervision": "reported"}, {"order_id": str(order["id"]), "text": action.text}


def _check_issuer(user: CurrentUser, order: dict[str, Any]) -> None:
    # The order's issuer decides on the report; the county office may stand in (the issuer left).
    if user.role != Role.county_admin and order["issued_by"] != user.id:
        raise Forbidden(
            message="只有督办人可以验收或退回",
            message_en="Only the issuer accepts or returns",
            code="supervision.not_issuer",
        )


async def accept(user: CurrentUser, case: dict[str, Any], action: Any, now: datetime):
    order = await open_order(case["id"])
    _check_issuer(user, order)
    await (
        SupervisionOrder.update({SupervisionOrder.status: "accepted", SupervisionOrder.accepted_at: now})
        .where(SupervisionOrder.id == order["id"])
        .run()
    )
    return {"supervision": None}, {"order_id": str(order["id"])}


async def send_back(user: CurrentUser, case: dict[str, Any], action: Any, now: datetime):
    order = await open_order(case["id"])
    _check_issuer(user, order)
    await (
        SupervisionOrder.update(
            {
                SupervisionOrder.status: "acknowledged",
                SupervisionOrder.returned_count: order["returned_count"] + 1,
                SupervisionOrder.return_reason: action.reason,
            }
        )
        .where(SupervisionOrder.id == order["id"])
        .run()
    )
    return {"supervision": "acknowledged"}, {"order_id": str(order["id"]), "reason": action.reason}


# --- views -----------------------------------------------------------------------------------------


async def orders_of(case_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[schemas.SupervisionOrderView]]:
    """The orders of these (already visible) cases, oldest first, as the case detail shows them."""
    out: dict[uuid.UUID, list[schemas.SupervisionOrderView]] = {i: [] for i in case_ids}
    if not case_ids:
        return out
    rows = (
        await SupervisionOrder.select(
            *SupervisionOrder.all_columns(), SupervisionOrder.issued_by.display_name
        )
        .where(SupervisionOrder.case.is_in(case_ids))
        .order_by(SupervisionOrder.issued_at)
        .run()
    )
    now = clock.now()
    for r in rows:
        out[r["case"]].append(order_view(r, now))
    return out


def order_view(r: dict[str, Any], now: datetime) -> schemas.SupervisionOrderView:
    """An order row (selected with `issued_by.display_name`) as the API shows it."""
    return schemas.SupervisionOrderView(
        id=str(r["id"]),
        issued_by=r["issued_by.display_name"],
        issued_at=r["issued_at"],
        instruction=r["instruction"],
        due_date=r["due_date"],
        status=r["status"],
        acknowledged_at=r["acknowledged_at"],
        reported_at=r["reported_at"],
        report=r["report"],
        accepted_at=r["accepted_at"],
        returned_count=r["returned_count"],
        return_reason=r["return_reason"],
        red=red_reason(r, now),
    )


# --- history: an order's steps are its case events (who and when, each send-back too) ---------------

# Each step's case action and the order's status after it (a send-back returns the order to work).
STEP_STATUS = {
    "supervise": "issued",
    "acknowledge_supervision": "acknowledged",
    "report_supervision": "reported",
    "accept_supervision": "accepted",
    "return_supervision": "acknowledged",
}


def _data(value: Any) -> dict[str, Any]:
    if isinstance(value, str | bytes):
        return msgspec.json.decode(value) if value else {}
    return value or {}


async def order_steps(case_ids: Iterable[uuid.UUID]) -> dict[str, list[dict[str, Any]]]:
    """The steps of the orders on these (already visible) cases, oldest first, by order id:
    `{action, at, actor (display name or None), data}`. The order row keeps only the latest report and
    send-back; the case's events keep them all."""
    ids = list(case_ids)
    if not ids:
        return {}
    rows = (
        await CaseEvent.select(CaseEvent.at, CaseEvent.action, CaseEvent.data, CaseEvent.actor.display_name)
        .where(CaseEvent.case.is_in(ids) & CaseEvent.action.is_in(list(STEP_STATUS)))
        .order_by(CaseEvent.id)
        .run()
    )
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        data = _data(r["data"])
        if data.get("order_id"):
            out.setdefault(data["order_id"], []).append(
                {"action": r["action"], "at": r["at"], "actor": r["actor.display_name"], "data": data}
            )
    return out


def as_of(order: dict[str, Any], steps: list[dict[str, Any]], at: datetime) -> dict[str, Any]:
    """The order row as it stood at `at`, replayed from its steps: status, when acknowledged, the last
    report then and when, accepted or not, how often sent back. An order without steps (none are
    missing in practice) is taken as it is now."""
    done = [s for s in steps if s["at"] <= at]
    if not done:
        return order
    last = {s["action"]: s for s in done}
    report = last.get("report_supervision")
    returned = last.get("return_supervision")
    return {
        **order,
        "status": STEP_STATUS[done[-1]["action"]],
        "acknowledged_at": next((s["at"] for s in done if s["action"] == "acknowledge_supervision"), None),
        "reported_at": report["at"] if report else None,
        "report": report["data"].get("text") if report else None,
        "accepted_at": last["accept_supervision"]["at"] if "accept_supervision" in last else None,
        "returned_count": sum(1 for s in done if s["action"] == "return_supervision"),
        "return_reason": returned["data"].get("reason") if returned else None,
    }
