"""API shapes of the supervision domain (msgspec)."""

from __future__ import annotations

import msgspec

from backend.cases.schemas import IdName, Ref, SupervisionOrderView


class SupervisedCase(msgspec.Struct):
    id: str
    number: str
    title: str
    state: str
    township: Ref | None
    owner_team: IdName | None


class SupervisionItem(msgspec.Struct):
    order: SupervisionOrderView
    case: SupervisedCase


class SupervisionCounts(msgspec.Struct):
    """Open orders, those red now (unacknowledged in 24 h or past their due date), those reported and
    waiting for the issuer's acceptance."""

    open: int
    overdue: int
    awaiting: int


class SupervisionPage(msgspec.Struct):
    items: list[SupervisionItem]
    counts: SupervisionCounts
