"""What the cases domain tells other domains about visibility (so they need not know its tables)."""

from __future__ import annotations

from backend.people.service import CurrentUser


async def can_view_media(user: CurrentUser, sha256: str, uploaded_by: int | None) -> bool:
    """A photo is visible to its uploader and to whoever may see a case that uses it
    (as a scene photo, the signed agreement, or later a visit photo)."""
    if user.id == uploaded_by:
        return True
    from backend.cases.service import visible_to
    from backend.cases.tables import CasePhoto

    query = CasePhoto.select(CasePhoto.id).where(CasePhoto.sha256 == sha256)
    condition = visible_to(user)
    if condition is not None:
        # visible_to speaks of Case columns; here they are reached through the photo's case.
        query = query.where(CasePhoto.case.is_in(_visible_case_ids_subquery(condition)))
    return bool(await query.first().run())


def _visible_case_ids_subquery(condition):
    from backend.cases.tables import Case

    return Case.select(Case.id).where(condition)
