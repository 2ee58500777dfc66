"""Cases as the phone keeps them offline: the same shape as GET /api/cases/{id}, built for a whole
pull page in a fixed number of queries (a per-case detail would be ten queries a case)."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from backend.cases import privacy, schemas
from backend.cases import service as cases
from backend.cases.tables import Agreement, Case, CaseEvent, CasePhoto
from backend.cases.workflow import allowed_actions
from backend.media import service as media
from backend.people.service import CurrentUser


async def visible_rows(user: CurrentUser, ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    """The rows of those cases this user may see now (cases.service.visible_to decides)."""
    if not ids:
        return {}
    query = Case.select().where(Case.id.is_in(ids))
    condition = cases.visible_to(user)
    if condition is not None:
        query = query.where(condition)
    return {r["id"]: r for r in await query.run()}


async def case_details(user: CurrentUser, rows: list[dict[str, Any]]) -> list[schemas.CaseDetail]:
    """Details of rows already scoped by visible_rows, in their order. Duplicates are left out (a
    supervisor's desk work, not the phone's)."""
    if not rows:
        return []
    ids = [r["id"] for r in rows]
    summaries = await cases.case_summaries(user, rows, full=True)
    photo_rows = (
        await CasePhoto.select()
        .where(CasePhoto.case.is_in(ids))
        .order_by(CasePhoto.case)
        .order_by(CasePhoto.position)
        .run()
    )
    statuses = await media.media_status([p["sha256"] for p in photo_rows])
    events = (
        await CaseEvent.select(CaseEvent.all_columns(), CaseEvent.actor.display_name)
        .where(CaseEvent.case.is_in(ids))
        .order_by(CaseEvent.id)
        .run()
    )
    agreements = {
        a["case"]: a
        for a in await Agreement.select(Agreement.all_columns(), Agreement.made_by.display_name)
        .where(Agreement.case.is_in(ids))
        .run()
    }
    photos_of: dict[uuid.UUID, list[schemas.PhotoView]] = {i: [] for i in ids}
    for p in photo_rows:
        photos_of[p["case"]].append(
            schemas.PhotoView(
                sha256=p["sha256"], status=statuses.get(p["sha256"], "missing"), purpose=p["purpose"]
            )
        )
    events_of: dict[uuid.UUID, list[schemas.EventView]] = {i: [] for i in ids}
    for e in events:
        events_of[e["case"]].append(cases.event_view(e))
    out = []
    for row, summary in zip(rows, summaries, strict=True):
        photos = photos_of[row["id"]]
        agreement = agreements.get(row["id"])
        out.append(
            schemas.CaseDetail(
                **msgspec.structs.asdict(summary),
                description=row["description"],
                occurred_at=row["occurred_at"],
                accuracy_m=row["accuracy_m"],
                location_source=row["location_source"],
                grid_generation=row["grid_generation"],
                personal_data="full" if privacy.may_see_personal_data(user, row) else "masked",
                photos=photos,
                missing_photos=[p.sha256 for p in photos if p.status != "complete"],
                agreement=schemas.AgreementView(
                    facts=agreement["facts"],
                    matters=agreement["matters"],
                    terms=agreement["terms"],
                    performance=agreement["performance"],
                    signed_photo=agreement["signed_photo"],
                    made_at=agreement["made_at"],
                    made_by=agreement["made_by.display_name"],
                )
                if agreement
                else None,
                events=events_of[row["id"]],
                allowed_actions=allowed_actions(user, row),
                reject_reason=row["reject_reason"],
                refer_target=row["refer_target"],
                merged_into=str(row["merged_into"]) if row["merged_into"] else None,
                deadline_extended=row["deadline_extended"],
            )
        )
    return out
