"""Which cases a user may see: the one scoping rule for cases, and the reads that go through it.

Lists, details, photos, sync, the map and the reports all ask here. A case outside the user's scope
is 404, not 403, so its existence is not leaked.
"""

from __future__ import annotations

import uuid
from typing import Any

from piccolo.columns.combination import Combinable

from backend.cases.tables import Case, CasePhoto
from backend.core.errors import NotFound
from backend.core.identity import TEAM_ROLES, CurrentUser, Role
from backend.media import service as media


class CaseNotFound(NotFound):
    message = "未找到该案件"
    message_en = "Case not found"


def visible_to(user: CurrentUser) -> Combinable | None:
    """The one scoping rule for cases. None means everything (the county office)."""
    if user.role == Role.county_admin:
        return None
    if user.role == Role.township_supervisor:
        return Case.township_code == user.scope_code
    if user.role == Role.leader:
        # A leader reads its area like its supervisor (a county leader: all of it), and keeps the
        # cases in its charge should one be moved out of the area (correct_location).
        if user.scope_level == "county":
            return None
        return (Case.township_code == user.scope_code) | (Case.leader == user.id)
    if user.role in TEAM_ROLES:
        mine = Case.mediator == user.id
        return (Case.owner_team == user.team_id) | mine if user.team_id is not None else mine
    # Grid workers: the cases of their area, and the ones they reported.
    area = Case.village_code if user.scope_level == "village" else Case.township_code
    return (area == user.scope_code) | (Case.created_by == user.id)


def scoped(query: Any, user: CurrentUser, *conditions: Combinable | None) -> Any:
    """`query` limited to the user's cases and to `conditions` (None ones are left out)."""
    for condition in (visible_to(user), *conditions):
        if condition is not None:
            query = query.where(condition)
    return query


def case_key(case_id: uuid.UUID | str) -> uuid.UUID:
    """A case id from the URL or a body; a malformed one is simply a case that is not there."""
    try:
        return case_id if isinstance(case_id, uuid.UUID) else uuid.UUID(str(case_id))
    except ValueError:
        raise CaseNotFound() from None


async def get_case_row(user: CurrentUser, case_id: uuid.UUID | str, *columns: Any) -> dict[str, Any]:
    """The case if this user may see it; 404 otherwise. `columns`: what to select (all by default)."""
    row = await scoped(Case.select(*columns).where(Case.id == case_key(case_id)), user).first().run()
    if row is None:
        raise CaseNotFound()
    return row


async def visible_rows(
    user: CurrentUser, ids: list[uuid.UUID], *columns: Any
) -> dict[uuid.UUID, dict[str, Any]]:
    """The rows of those cases this user may see now, by id. `columns`: what to select (all by default)."""
    if not ids:
        return {}
    return {r["id"]: r for r in await scoped(Case.select(*columns).where(Case.id.is_in(ids)), user).run()}


async def visible_case_ids(user: CurrentUser, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    if not ids:
        return set()
    return {r["id"] for r in await scoped(Case.select(Case.id).where(Case.id.is_in(ids)), user).run()}


async def photo_case(user: CurrentUser, sha256: str) -> uuid.UUID | None:
    """A case this user may see that uses this photo (as a scene photo, the signed agreement or a
    visit photo), or None."""
    query = CasePhoto.select(CasePhoto.case).where(CasePhoto.sha256 == sha256)
    condition = visible_to(user)
    if condition is not None:
        # visible_to speaks of Case columns; here they are reached through the photo's case.
        query = query.where(CasePhoto.case.is_in(Case.select(Case.id).where(condition)))
    row = await query.order_by(CasePhoto.id).first().run()
    return row["case"] if row else None


async def photo_visible_to(user: CurrentUser, sha256: str) -> bool:
    """Whether the user may see a case that uses this photo. Whoever sent the photo's bytes may see
    it too: the media domain knows that part."""
    return await photo_case(user, sha256) is not None


async def check_photos(user: CurrentUser, hashes: list[str]) -> None:
    """Every photo a case, an agreement or a visit names must be one this user sent or may already
    see (else 400 media.photo_not_usable): a hash copied from elsewhere does not open a photo."""
    await media.check_usable(user, hashes, photo_visible_to)
