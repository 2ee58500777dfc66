"""The 督办 list and its counts (what supervisors watch), in the caller's scope: an order is seen with
its case (cases.scope.visible_to)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from piccolo.columns.combination import Combinable

from backend.cases import supervision as orders
from backend.cases.schemas import IdName, Ref
from backend.cases.scope import visible_to
from backend.cases.supervision import OPEN_STATUSES, SupervisionOrder
from backend.cases.tables import Case
from backend.core import clock
from backend.core.errors import InvalidRequest
from backend.core.identity import CurrentUser
from backend.db import read_transaction
from backend.grids import service as grids
from backend.supervision import schemas

FILTERS = ("open", "overdue", "awaiting", "all")
LIMIT = 500


def _in_scope(query: Any, condition: Combinable | None) -> Any:
    # visible_to speaks of Case columns; an order is reached through its case.
    if condition is not None:
        query = query.where(SupervisionOrder.case.is_in(Case.select(Case.id).where(condition)))
    return query


async def _open_rows(condition: Combinable | None, *columns: Any) -> list[dict[str, Any]]:
    query = SupervisionOrder.select(*columns).where(SupervisionOrder.status.is_in(list(OPEN_STATUSES)))
    return await _in_scope(query, condition).run()


def _counts(rows: list[dict[str, Any]]) -> schemas.SupervisionCounts:
    now = clock.now()
    return schemas.SupervisionCounts(
        open=len(rows),
        overdue=sum(1 for r in rows if orders.red_reason(r, now)),
        awaiting=sum(1 for r in rows if r["status"] == "reported"),
    )


async def counts(condition: Combinable | None) -> schemas.SupervisionCounts:
    """The dashboard's figures for cases matching `condition` (a Case condition; None: all)."""
    return _counts(
        await _open_rows(
            condition, SupervisionOrder.status, SupervisionOrder.issued_at, SupervisionOrder.due_date
        )
    )


_COLUMNS = (
    *SupervisionOrder.all_columns(),
    SupervisionOrder.issued_by.display_name,
    SupervisionOrder.case.number,
    SupervisionOrder.case.title,
    SupervisionOrder.case.state,
    SupervisionOrder.case.township_code,
    SupervisionOrder.case._.owner_team._.id,
    SupervisionOrder.case._.owner_team._.name,
)


async def supervision_list(user: CurrentUser, status: str | None) -> schemas.SupervisionPage:
    """Orders in the user's scope: `open` (default), `overdue` (red now), `awaiting` (reported, waiting
    for acceptance) or `all` (accepted ones too); red ones first, then by due date."""
    status = status or "open"
    if status not in FILTERS:
        raise InvalidRequest(
            message="状态应为 open、overdue、awaiting 或 all",
            message_en="status must be open, overdue, awaiting or all",
            code="supervision.invalid_filter",
        )
    condition = visible_to(user)
    now = clock.now()
    async with read_transaction():
        open_rows = await _open_rows(condition, *_COLUMNS)
        if status == "all":
            rows = await _in_scope(SupervisionOrder.select(*_COLUMNS), condition).run()
        else:
            rows = open_rows
        items = await _items(rows, now)
    if status == "overdue":
        items = [i for i in items if i.order.red]
    elif status == "awaiting":
        items = [i for i in items if i.order.status == "reported"]
    return schemas.SupervisionPage(items=items[:LIMIT], counts=_counts(open_rows))


async def period_items(
    condition: Combinable | None, since: datetime, until: datetime
) -> list[schemas.SupervisionItem]:
    """月排查's list: the orders issued in [since, until) and those still open at `until`, on cases
    matching `condition`, each as it stood at `until` (or now, if earlier): the status replayed from
    its steps (cases.supervision.as_of), red as of then. An order accepted after the period shows as
    still open in that period's report."""
    at = min(clock.now(), until)
    query = SupervisionOrder.select(*_COLUMNS).where(
        (SupervisionOrder.issued_at < at)
        & (
            (SupervisionOrder.issued_at >= since)
            | SupervisionOrder.accepted_at.is_null()
            | (SupervisionOrder.accepted_at > at)
        )
    )
    rows = await _in_scope(query, condition).run()
    steps = await orders.order_steps({r["case"] for r in rows})
    then = [orders.as_of(r, steps.get(str(r["id"]), []), at) for r in rows]
    then = [r for r in then if r["issued_at"] >= since or r["status"] in OPEN_STATUSES]
    return (await _items(then, at))[:LIMIT]


async def _items(rows: list[dict[str, Any]], now: Any) -> list[schemas.SupervisionItem]:
    """Order rows selected with _COLUMNS as list items: red first, then by due date."""
    names = await grids.region_names({r["case.township_code"] for r in rows if r["case.township_code"]})
    rows = sorted(rows, key=lambda r: (orders.red_reason(r, now) is None, r["due_date"], r["issued_at"]))
    return [
        schemas.SupervisionItem(
            order=orders.order_view(r, now),
            case=schemas.SupervisedCase(
                id=str(r["case"]),
                number=r["case.number"],
                title=r["case.title"],
                state=r["case.state"],
                township=Ref(code=r["case.township_code"], name=names.get(r["case.township_code"], ""))
                if r["case.township_code"]
                else None,
                owner_team=IdName(id=r["case.owner_team.id"], name=r["case.owner_team.name"])
                if r["case.owner_team.id"]
                else None,
            ),
        )
        for r in rows
    ]
