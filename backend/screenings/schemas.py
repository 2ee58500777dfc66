"""API shapes of the screenings domain (msgspec)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import Meta

from backend.visits.schemas import VisitLocation

MAX_LEADS = 50
MAX_HOUSEHOLDS = 100_000


class LeadIn(msgspec.Struct, forbid_unknown_fields=True):
    summary: Annotated[str, Meta(max_length=500)]
    category: str | None = None
    case_id: uuid.UUID | None = None  # the case it became (filled in by a later copy of the report)


class ScreeningIn(msgspec.Struct, forbid_unknown_fields=True):
    """A village screened this month, from the phone (its outbox's `screening.record`) or the form.
    `found: []` is the zero report: screened, nothing found."""

    village_code: Annotated[str, Meta(max_length=12)]
    month: Annotated[str, Meta(max_length=7)]  # YYYY-MM
    households_visited: int
    found: list[LeadIn] = []
    visited_at: Annotated[datetime, Meta(tz=True)] | None = None  # the phone's clock; default now
    location: VisitLocation | None = None


class ScreeningCreate(ScreeningIn, forbid_unknown_fields=True):
    id: uuid.UUID | None = None  # made by the client so a retry finds the same report


class LeadView(msgspec.Struct):
    position: int
    summary: str
    category: str | None
    case_id: str | None


class ScreeningView(msgspec.Struct):
    id: str
    month: str
    village_code: str
    village_name: str
    township_code: str
    team_id: int | None
    team_name: str
    reported_by: str
    visited_at: datetime
    households_visited: int
    lon: float | None
    lat: float | None
    found: list[LeadView]


class ScreeningPage(msgspec.Struct):
    month: str
    items: list[ScreeningView]


class VillageScreening(msgspec.Struct):
    """A village a team serves, and whether it was screened in the month (for the map layer)."""

    village_code: str
    village_name: str
    status: str  # screened | not_screened
    screenings: int
    leads: int


class ScreeningLayer(msgspec.Struct):
    """The map's "screened this month" layer: the served villages of your area and their status."""

    month: str
    villages: list[VillageScreening]
