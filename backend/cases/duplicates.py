"""Possible duplicates: the same dispute reported twice (two phones, two mediators, a resend with a
new id). Linked, never merged automatically; a supervisor merges or dismisses."""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta
from typing import Any

from piccolo.columns.combination import Combinable

from backend.cases import party_data, schemas
from backend.cases.scope import scoped
from backend.cases.tables import Case, CaseLink, Party
from backend.core.coords import distance_m
from backend.core.identity import CurrentUser
from backend.db import insert_rows, new_row

# Links are hints for a supervisor: a handful of the most recent candidates is enough, and a busy
# market square must not link every new case to hundreds of old ones.
MAX_LINKS = 10
NEARBY_METRES = 100
NEARBY_DAYS = 7
SAME_PARTY_DAYS = 30


async def possible_duplicates(
    case_id: uuid.UUID, category: str, lon: float, lat: float, parties: list[dict[str, Any]], now: datetime
) -> dict[uuid.UUID, str]:
    """Earlier cases a new one may repeat (id: reason), at most MAX_LINKS: of the same category within
    100 m and 7 days, or with the same party phone or ID number within 30 days. Only reads: the
    intake searches before its write transaction and links what it found (`link`) inside it."""
    found: dict[uuid.UUID, str] = {}
    # A box of ±100 m narrows in SQL; the exact distance is checked here.
    dlat = NEARBY_METRES / 111_320
    dlon = NEARBY_METRES / (111_320 * max(0.1, math.cos(math.radians(lat))))
    nearby = (
        await Case.select(Case.id, Case.lon, Case.lat)
        .where(
            (Case.category == category)
            & (Case.id != case_id)
            & (Case.reported_at >= now - timedelta(days=NEARBY_DAYS))
            & (Case.lon >= lon - dlon)
            & (Case.lon <= lon + dlon)
            & (Case.lat >= lat - dlat)
            & (Case.lat <= lat + dlat)
            & Case.merged_into.is_null()
        )
        .order_by(Case.reported_at, ascending=False)
        .limit(MAX_LINKS * 3)
        .run()
    )
    for row in nearby:
        if distance_m(lon, lat, row["lon"], row["lat"]) <= NEARBY_METRES:
            found[row["id"]] = "nearby"
    # Phones and ID numbers are stored encrypted: equal values are found by their keyed hashes.
    phones = [party_data.digest("phone", p["phone"]) for p in parties if p.get("phone")]
    ids = [party_data.digest("id_number", p["id_number"]) for p in parties if p.get("id_number")]
    if phones or ids:
        match: Combinable = Party.phone_hash.is_in(phones) if phones else Party.id_number_hash.is_in(ids)
        if phones and ids:
            match = match | Party.id_number_hash.is_in(ids)
        rows = (
            await Party.select(Party.case)
            .where(
                match
                & (Party.case != case_id)
                & (Party.case.reported_at >= now - timedelta(days=SAME_PARTY_DAYS))
                & Party.case.merged_into.is_null()
            )
            .order_by(Party.case.reported_at, ascending=False)
            .limit(MAX_LINKS)
            .run()
        )
        for row in rows:
            found.setdefault(row["case"], "same_party")
    return dict(list(found.items())[:MAX_LINKS])


async def link(case_id: uuid.UUID, found: dict[uuid.UUID, str], now: datetime) -> None:
    """Link the new case to the possible duplicates found for it (inside the intake's transaction)."""
    await insert_rows(
        CaseLink,
        [
            new_row(CaseLink, case=case_id, other=other, reason=reason, created_at=now)
            for other, reason in found.items()
        ],
    )


async def duplicate_views(user: CurrentUser, case_id: uuid.UUID) -> list[schemas.DuplicateView]:
    """Links in both directions, to cases this user may see."""
    rows = (
        await CaseLink.select()
        .where((CaseLink.case == case_id) | (CaseLink.other == case_id))
        .order_by(CaseLink.id)
        .run()
    )
    others = {(r["other"] if r["case"] == case_id else r["case"]): r for r in rows}
    if not others:
        return []
    cases = {
        c["id"]: c
        for c in await scoped(
            Case.select(Case.id, Case.number, Case.title).where(Case.id.is_in(list(others))), user
        ).run()
    }
    visible = set(cases)
    return [
        schemas.DuplicateView(
            case_id=str(other),
            number=cases[other]["number"],
            title=cases[other]["title"],
            reason=r["reason"],
            status=r["status"],
        )
        for other, r in others.items()
        if other in visible
    ]
