"""Reference data the phone keeps offline, each part with a version (a hash of its content, or the
grid generation), so a pull sends a part again only when it has changed: the categories, the teams
of the user's township, the township's divisions (codes and names) and its grid cells as simplified
GeoJSON, enough to name the grid of a new case without signal; and a team member's own team's 月排查
reports of this month, so the phone knows offline which villages are screened already."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from backend.cases.categories import list_categories
from backend.core.errors import AppError
from backend.core.identity import CurrentUser
from backend.grids import maps
from backend.grids.tables import Division
from backend.people.service import team_views
from backend.people.tables import Team
from backend.screenings import service as screenings
from backend.sync.schemas import Reference, ReferencePart


def _version(data: Any) -> str:
    return hashlib.sha256(msgspec.json.encode(data, order="sorted")).hexdigest()[:16]


async def _categories(user: CurrentUser) -> Any:
    return await list_categories(include_inactive=True)


async def _teams(user: CurrentUser) -> Any:
    township = user.township_code
    query = Team.select(Team.id).where(Team.active == True)  # noqa: E712
    if township is not None:
        query = query.where(Team.township_code == township)
    ids = [r["id"] for r in await query.order_by(Team.id).run()]
    return await team_views(ids)


async def _divisions(user: CurrentUser) -> Any:
    township = user.township_code
    query = Division.select(Division.code, Division.name, Division.level, Division.parent_code)
    if township is not None:
        query = query.where((Division.code == township) | (Division.parent_code == township))
    return await query.order_by(Division.code).run()


async def _screenings(user: CurrentUser) -> Any:
    # The team's own reports of this month (screenings.team_month): its month changes the version too.
    return await screenings.team_month(user)


PARTS: dict[str, Callable[[CurrentUser], Awaitable[Any]]] = {
    "categories": _categories,
    "teams": _teams,
    "divisions": _divisions,
    "screenings": _screenings,
}


async def _grids(user: CurrentUser, known: str | None) -> tuple[str, ReferencePart | None]:
    township = user.township_code
    try:
        etag = await maps.grids_etag("grid", None, township)
    except AppError:  # no active grid generation yet
        return "none", None
    version = etag.strip('"')
    if known == version:
        return version, None
    _, body = await maps.grids_geojson("grid", None, township)
    return version, ReferencePart(version=version, data=msgspec.Raw(body))


def parse_known(raw: str | None) -> dict[str, str]:
    """`ref=categories:ab12,teams:cd34,...` as the phone last received them."""
    known: dict[str, str] = {}
    for item in (raw or "").split(","):
        name, sep, version = item.partition(":")
        if sep and name and version:
            known[name.strip()] = version.strip()
    return known


async def reference_for(user: CurrentUser, known: dict[str, str]) -> tuple[Reference | None, dict[str, str]]:
    """(the parts whose version differs from `known`, or None; every part's current version)."""
    parts: dict[str, ReferencePart] = {}
    versions: dict[str, str] = {}
    for name, load in PARTS.items():
        data = msgspec.to_builtins(await load(user))
        versions[name] = _version(data)
        if known.get(name) != versions[name]:
            parts[name] = ReferencePart(version=versions[name], data=data)
    versions["grids"], grids_part = await _grids(user, known.get("grids"))
    if grids_part is not None:
        parts["grids"] = grids_part
    return (Reference(**parts) if parts else None), versions
