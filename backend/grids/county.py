"""The county this deployment serves: its code, name, case-number prefix and outline.

One row in `county`, written by `fengqiao init` for a real deployment or by the demo loader. Nothing
in the code names a county: numbering, reports and the map read it from here. It changes only when
`init` or the demo runs, so each process keeps it once read; `save()` refreshes this process's copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import shapely

from backend.core.errors import AppError
from backend.grids import divisions
from backend.grids.tables import County, Division

Origin = Literal["init", "demo"]


class CountyNotSet(AppError):
    status_code = 503
    code = "county.not_initialised"
    message = "系统尚未初始化：请先运行 fengqiao init（或在演示环境运行 fengqiao demo）"
    message_en = "This deployment has no county yet: run `fengqiao init` (or `fengqiao demo`)"


@dataclass(frozen=True)
class CountyInfo:
    code: str  # 12 digits: the 6-digit county code and 000000
    name: str
    case_prefix: str
    origin: Origin
    outline_wkb: str | None

    @property
    def code9(self) -> str:
        """The 9-digit form, used in place of a township's in numbers of cases outside every township."""
        return self.code[:9]

    @property
    def code6(self) -> str:
        return self.code[:6]

    def outline(self) -> shapely.Geometry | None:
        return shapely.from_wkb(bytes.fromhex(self.outline_wkb)) if self.outline_wkb else None

    def bbox(self) -> tuple[float, float, float, float] | None:
        """(min_lon, min_lat, max_lon, max_lat) of the outline, WGS-84."""
        geom = self.outline()
        if geom is None:
            return None
        min_lon, min_lat, max_lon, max_lat = (float(v) for v in shapely.bounds(geom))
        return min_lon, min_lat, max_lon, max_lat


_cached: CountyInfo | None = None


async def current() -> CountyInfo | None:
    """The county, or None on a database that neither `init` nor the demo has set up."""
    global _cached
    if _cached is None:
        row = await County.select().first().run()
        if row is not None:
            _cached = _info(row)
    return _cached


async def require() -> CountyInfo:
    info = await current()
    if info is None:
        raise CountyNotSet()
    return info


def forget() -> None:
    """Drop this process's copy (tests switch databases under a running process)."""
    global _cached
    _cached = None


async def save(
    *, code: str, name: str, origin: Origin, outline_wkb: str | None, case_prefix: str = ""
) -> CountyInfo:
    """Create or update the county row and its Division (level county). The code never changes:
    the caller checks that a second `init` names the same county."""
    values = {
        "code": code,
        "name": name,
        "origin": origin,
        "outline_wkb": outline_wkb,
        "case_prefix": case_prefix,
    }
    if await County.exists().where(County.code == code).run():
        await County.update(values).where(County.code == code).run()  # type: ignore[arg-type]
    else:
        await County.insert(County.from_dict(values)).run()
    division = {"code": code, "name": name, "short_name": name, "level": "county", "parent_code": None}
    divisions.forget_names()
    if await Division.exists().where(Division.code == code).run():
        await Division.update(division).where(Division.code == code).run()  # type: ignore[arg-type]
    else:
        await Division.insert(Division.from_dict(division)).run()
    forget()
    return await require()


def _info(row: dict) -> CountyInfo:
    return CountyInfo(
        code=row["code"],
        name=row["name"],
        case_prefix=row["case_prefix"] or "",
        origin=row["origin"],
        outline_wkb=row["outline_wkb"],
    )
