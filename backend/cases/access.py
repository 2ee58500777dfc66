"""What the cases domain tells other domains about visibility (so they need not know its tables)."""

from __future__ import annotations

from backend.people.service import CurrentUser


async def can_view_media(user: CurrentUser, sha256: str, uploaded_by: int | None) -> bool:
    """A photo is visible to its uploader and to whoever may see a case that uses it.

    Until cases exist, only the uploader and the county office may see it.
    """
    return user.id == uploaded_by or user.role == "county_admin"
