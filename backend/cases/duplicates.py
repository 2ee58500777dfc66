"""Possible duplicates: the same dispute reported twice (two phones, two mediators, a resend with a
new id). Linked, never merged automatically; a supervisor merges or dismisses."""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta
from typing import Any

from backend.cases import party_data, schemas
from backend.cases.scope import scoped
from backend.cases.tables import Case, CaseLink
from backend.core.coords import distance_m
from backend.core.identity import CurrentUser
from backend.db import fetch, insert_rows, new_row, placeholders

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
    # Written by hand, as every intake runs both (Piccolo took longer to build them than to run them).
    nearby = await fetch(
        "SELECT id, lon, lat FROM dispute_case WHERE category = {} AND id <> {} AND reported_at >= {}"
        " AND lon >= {} AND lon <= {} AND lat >= {} AND lat <= {} AND merged_into IS NULL"
        " ORDER BY reported_at DESC LIMIT {}",
        category,
        case_id,
        now - timedelta(days=NEARBY_DAYS),
        lon - dlon,
        lon + dlon,
        lat - dlat,
        lat + dlat,
        MAX_LINKS * 3,
    )
    for row in nearby:
        if distance_m(lon, lat, row["lon"], row["lat"]) <= NEARBY_METRES:
            found[row["id"]] = "nearby"
    # Phones and ID numbers are stored encrypted: equal values are found by their keyed hashes.
    phones = [party_data.digest("phone", p["phone"]) for p in parties if p.get("phone")]
    ids = [party_data.digest("id_number", p["id_number"]) for p in parties if p.get("id_number")]
    if phones or ids:
        conditions = []
        if phones:
            conditions.append(f"p.phone_hash IN ({placeholders(phones)})")
        if ids:
            conditions.append(f"p.id_number_hash IN ({placeholders(ids)})")
        match = " OR ".join(conditions)
        rows = await fetch(
            f'SELECT p."case" FROM case_party p JOIN dispute_case c ON c.id = p."case" WHERE ({match})'
            ' AND p."case" <> {} AND c.reported_at >= {} AND c.merged_into IS NULL'
            " ORDER BY c.reported_at DESC LIMIT {}",
            *phones,
            *ids,
            case_id,
            now - timedelta(days=SAME_PARTY_DAYS),
            MAX_LINKS,
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
    rows = await fetch(
        'SELECT id, "case", other, reason, status FROM case_link WHERE "case" = {} OR other = {} ORDER BY id',
        case_id,
        case_id,
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
