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
from backend.db import engine_name, fetch, insert_rows, new_row

# Links are hints for a supervisor: a handful of the most recent candidates is enough, and a busy
# market square must not link every new case to hundreds of old ones.
MAX_LINKS = 10
NEARBY_METRES = 100
NEARBY_DAYS = 7
SAME_PARTY_DAYS = 30
PARTY_RECENT = 30  # parties read per phone or ID number: the latest recorded


async def possible_duplicates(
    case_id: uuid.UUID, category: str, lon: float, lat: float, parties: list[dict[str, Any]], now: datetime
) -> dict[uuid.UUID, str]:
    """Earlier cases a new one may repeat (id: reason), at most MAX_LINKS: of the same category within
    100 m and 7 days, or with the same party phone or ID number within 30 days. For a number, only
    the PARTY_RECENT parties last recorded with it are looked at (by when they were recorded, not
    reported; a merged or older case among them takes a place too), which bounds the search for a
    number on hundreds of cases. Only reads: the intake searches before its write transaction and
    links what it found (`link`) inside it."""
    found: dict[uuid.UUID, str] = {}
    # A box of ±100 m narrows in SQL; the exact distance is checked here.
    dlat = NEARBY_METRES / 111_320
    dlon = NEARBY_METRES / (111_320 * max(0.1, math.cos(math.radians(lat))))
    # Written by hand, as every intake runs both (Piccolo took longer to build them than to run them).
    nearby = await fetch(
        "SELECT id, lon, lat FROM dispute_case WHERE category = {} AND id <> {} AND reported_at >= {}"
        " AND lon >= {} AND lon <= {} AND lat >= {} AND lat <= {} AND merged_into IS NULL"
        f" ORDER BY reported_at DESC LIMIT {MAX_LINKS * 3:d}",
        category,
        case_id,
        now - timedelta(days=NEARBY_DAYS),
        lon - dlon,
        lon + dlon,
        lat - dlat,
        lat + dlat,
    )
    for row in nearby:
        if distance_m(lon, lat, row["lon"], row["lat"]) <= NEARBY_METRES:
            found[row["id"]] = "nearby"
    # Phones and ID numbers are stored encrypted: equal values are found by their keyed hashes.
    digests = [("phone_hash", party_data.digest("phone", p["phone"])) for p in parties if p.get("phone")]
    digests += [
        ("id_number_hash", party_data.digest("id_number", p["id_number"]))
        for p in parties
        if p.get("id_number")
    ]
    if digests:
        # The latest parties recorded under each number, each a short walk down its (hash, id) index,
        # then the cases among them: a number on hundreds of cases (a village committee's landline)
        # costs no more than a rare one. Joining every party with the number and sorting them took
        # 4 ms and more an intake at a few thousand, under PostgreSQL's generic plan.
        digests = list(dict.fromkeys(digests))
        # The limits are written in, not passed: PostgreSQL's generic plan of a prepared statement
        # cannot see a parameter's value, and must know these sets are small to start from them.
        recent = " UNION ALL ".join(
            f'SELECT "case" FROM (SELECT "case" FROM case_party WHERE {column} = {{}}'
            f" ORDER BY id DESC LIMIT {PARTY_RECENT:d}) AS latest_{i}"
            for i, (column, _) in enumerate(digests)
        )
        # Then their cases, the latest reported first. On PostgreSQL each is looked up by its key
        # (LATERAL … LIMIT 1): joined plainly, or sorted and limited in SQL, its generic plan for
        # the prepared statement walked the month's cases by report time instead. SQLite has no
        # LATERAL and needs none.
        if engine_name() == "postgresql":
            cases = (
                ' CROSS JOIN LATERAL (SELECT id, reported_at FROM dispute_case WHERE id = recent."case"'
                " AND id <> {} AND reported_at >= {} AND merged_into IS NULL LIMIT 1) AS c"
            )
        else:
            cases = (
                ' JOIN dispute_case c ON c.id = recent."case"'
                " WHERE c.id <> {} AND c.reported_at >= {} AND c.merged_into IS NULL"
            )
        rows = await fetch(
            f"SELECT c.id, c.reported_at FROM ({recent}) AS recent{cases}",
            *[digest for _, digest in digests],
            case_id,
            now - timedelta(days=SAME_PARTY_DAYS),
        )
        for row in sorted(rows, key=lambda r: r["reported_at"], reverse=True):
            found.setdefault(row["id"], "same_party")
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
