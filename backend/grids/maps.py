"""Grid polygons for maps and pickers: GeoJSON per level, simplified, with ETags.

Each level is simplified as one coverage (`shapely.coverage_simplify`), so neighbouring polygons
keep sharing their edges exactly; then coordinates are rounded to 6 decimals (about 0.1 m). A
generation never changes once stored, so the active generation ids make a perfect ETag: phones fetch
a level once and afterwards get 304s until a new generation is activated.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

import anyio
import msgspec
import numpy as np
import shapely

from backend.core.errors import InvalidRequest
from backend.grids.service import active_generations, forget_index
from backend.grids.tables import GridNetwork, GridRegion

# Simplification tolerance per level, in degrees (1e-5° is about 1 m here).
TOLERANCE_DEG = {"township": 0.0004, "village": 0.0002, "grid": 0.00005}
DEFAULT_TOLERANCE_DEG = 0.0002
_FORMAT_VERSION = "1"
_CACHE_SIZE = 64


class InvalidBbox(InvalidRequest):
    code = "geo.invalid_bbox"
    message = "bbox 应为 最小经度,最小纬度,最大经度,最大纬度"
    message_en = "bbox must be min_lon,min_lat,max_lon,max_lat"


class UnknownLevel(InvalidRequest):
    code = "grids.unknown_level"
    message = "没有这个网格层级"
    message_en = "No such level"


@dataclass
class _Level:
    """One level of one generation, simplified and ready to filter."""

    network: str
    generation: int
    level: str
    features: list[dict]  # GeoJSON features, simplified
    bounds: np.ndarray  # (n, 4), of the original polygons
    townships: list[set[str]]  # township codes each feature belongs to


_levels: OrderedDict[tuple, _Level] = OrderedDict()
_bodies: OrderedDict[str, bytes] = OrderedDict()


def forget_cached_grids() -> None:
    """Drop every in-memory copy of grid data (these simplified levels, the locate index), for a
    process that moves to another database: generation ids are only unique within one database."""
    _levels.clear()
    _bodies.clear()
    forget_index()


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    if not text:
        return None
    try:
        parts = tuple(float(p) for p in text.split(","))
    except ValueError:
        raise InvalidBbox() from None
    if len(parts) != 4 or not all(np.isfinite(parts)):
        raise InvalidBbox()
    minx, miny, maxx, maxy = parts
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise InvalidBbox()
    return parts


async def resolve(level: str, network: str | None) -> tuple[str, dict, dict | None]:
    """(network code, its active generation, the primary's) for a level; unknown levels refused."""
    active = await active_generations()
    primary = next((v | {"code": k} for k, v in active.items() if v["kind"] == "primary"), None)
    if network is None:
        if primary is not None and level in primary["levels"]:
            network = primary["code"]
        else:
            network = next((k for k, v in sorted(active.items()) if level in v["levels"]), None)
    if network is None or network not in active or level not in active[network]["levels"]:
        known = await GridNetwork.select(GridNetwork.code, GridNetwork.levels).run()
        options = "; ".join(f"{n['code']}: {n['levels']}" for n in known)
        raise UnknownLevel(
            message=f"没有启用的网格层级 {level}（{options}）",
            message_en=f"No active level {level} ({options})",
        )
    return network, active[network], primary


def etag_for(parts: tuple) -> str:
    digest = hashlib.sha256(repr((_FORMAT_VERSION, *parts)).encode()).hexdigest()[:24]
    return f'"{digest}"'


async def _load_level(network: str, gen: dict, level: str, primary: dict | None) -> _Level:
    key = (gen["generation"], level, primary["generation"] if primary else None)
    cached = _levels.get(key)
    if cached is not None:
        _levels.move_to_end(key)
        return cached
    rows = (
        await GridRegion.select(
            GridRegion.code,
            GridRegion.name,
            GridRegion.parent_code,
            GridRegion.geometry_wkb,
            GridRegion.area_km2,
        )
        .where((GridRegion.generation == gen["generation"]) & (GridRegion.level == level))
        .order_by(GridRegion.code)
        .run()
    )
    parents: dict[tuple[str, str], str | None] = {}
    if gen["kind"] == "primary":
        # Township of each feature by the parent chain.
        chain = (
            await GridRegion.select(GridRegion.level, GridRegion.code, GridRegion.parent_code)
            .where(GridRegion.generation == gen["generation"])
            .run()
        )
        parents = {(r["level"], r["code"]): r["parent_code"] for r in chain}
        levels = gen["levels"]
    township_geoms: tuple[list[str], np.ndarray] | None = None
    if gen["kind"] != "primary" and primary is not None:
        trows = (
            await GridRegion.select(GridRegion.code, GridRegion.geometry_wkb)
            .where((GridRegion.generation == primary["generation"]) & (GridRegion.level == "township"))
            .run()
        )
        township_geoms = (
            [r["code"] for r in trows],
            shapely.from_wkb([r["geometry_wkb"] for r in trows]) if trows else np.array([], dtype=object),
        )

    def build() -> _Level:
        geoms = shapely.from_wkb([r["geometry_wkb"] for r in rows]) if rows else np.array([], dtype=object)
        tol = TOLERANCE_DEG.get(level, DEFAULT_TOLERANCE_DEG)
        simple = shapely.coverage_simplify(geoms, tol) if len(geoms) else geoms
        simple = shapely.transform(simple, lambda xy: np.round(xy, 6)) if len(geoms) else simple
        townships: list[set[str]] = []
        if gen["kind"] == "primary":
            pos = levels.index(level)
            for r in rows:
                code, lv_pos = r["code"], pos
                while lv_pos > 0 and code is not None:
                    code = parents.get((levels[lv_pos], code))
                    lv_pos -= 1
                townships.append({code} if code else set())
        elif township_geoms is not None and len(township_geoms[1]):
            tree = shapely.STRtree(township_geoms[1])
            pairs = tree.query(geoms, predicate="intersects")
            keep = (
                shapely.relate_pattern(geoms[pairs[0]], township_geoms[1][pairs[1]], "T********")
                if pairs.shape[1]
                else []
            )
            townships = [set() for _ in rows]
            for i, j, k in zip(pairs[0].tolist(), pairs[1].tolist(), list(keep), strict=True):
                if k:
                    townships[i].add(township_geoms[0][j])
        else:
            townships = [set() for _ in rows]
        features = [
            {
                "type": "Feature",
                "id": r["code"],
                "properties": {
                    "code": r["code"],
                    "name": r["name"],
                    "level": level,
                    "parent_code": r["parent_code"],
                    "township": min(t) if t else None,
                    "area_km2": round(r["area_km2"], 3),
                },
                "geometry": shapely.geometry.mapping(g),
            }
            for r, g, t in zip(rows, simple, townships, strict=True)
        ]
        return _Level(
            network, gen["generation"], level, features, shapely.bounds(geoms).reshape(-1, 4), townships
        )

    built = await anyio.to_thread.run_sync(build)
    _levels[key] = built
    while len(_levels) > _CACHE_SIZE // 8:
        _levels.popitem(last=False)
    return built


async def grids_etag(level: str, bbox: tuple | None, township: str | None, network: str | None = None) -> str:
    net, gen, primary = await resolve(level, network)
    return etag_for(
        ("grids", net, gen["generation"], primary and primary["generation"], level, bbox, township)
    )


async def grids_geojson(
    level: str, bbox: tuple | None, township: str | None, network: str | None = None
) -> tuple[str, bytes]:
    """(ETag, GeoJSON FeatureCollection bytes) of the active generation's polygons at a level."""
    net, gen, primary = await resolve(level, network)
    etag = etag_for(
        ("grids", net, gen["generation"], primary and primary["generation"], level, bbox, township)
    )
    body = _bodies.get(etag)
    if body is not None:
        _bodies.move_to_end(etag)
        return etag, body
    data = await _load_level(net, gen, level, primary)
    keep = np.ones(len(data.features), dtype=bool)
    if bbox is not None and len(data.features):
        b = data.bounds
        keep &= (b[:, 0] <= bbox[2]) & (b[:, 2] >= bbox[0]) & (b[:, 1] <= bbox[3]) & (b[:, 3] >= bbox[1])
    if township:
        keep &= np.array([township in t for t in data.townships], dtype=bool)
    body = msgspec.json.encode(
        {
            "type": "FeatureCollection",
            "network": net,
            "generation": gen["generation"],
            "level": level,
            "features": [f for f, k in zip(data.features, keep.tolist(), strict=True) if k],
        }
    )
    _bodies[etag] = body
    while len(_bodies) > _CACHE_SIZE:
        _bodies.popitem(last=False)
    return etag, body


async def regions(level: str | None, parent: str | None, network: str | None) -> tuple[str, list[dict]]:
    """Codes, names and parents of the active generations, for pickers (no geometry)."""
    active = await active_generations()
    if network is not None and network not in active:
        raise UnknownLevel(message=f"没有启用的网格体系 {network}", message_en=f"No active network {network}")
    nets = {k: v for k, v in active.items() if network is None or k == network}
    if not nets:
        return etag_for(("regions", level, parent, network)), []
    gen_ids = sorted(v["generation"] for v in nets.values())
    query = GridRegion.select(
        GridRegion.generation,
        GridRegion.level,
        GridRegion.code,
        GridRegion.name,
        GridRegion.parent_code,
        GridRegion.area_km2,
    ).where(GridRegion.generation.is_in(gen_ids))
    if level:
        query = query.where(GridRegion.level == level)
    if parent:
        query = query.where(GridRegion.parent_code == parent)
    rows = await query.order_by(GridRegion.code).run()
    by_gen = {v["generation"]: k for k, v in nets.items()}
    etag = etag_for(("regions", tuple(gen_ids), level, parent, network))
    return etag, [
        {
            "network": by_gen[r["generation"]],
            "level": r["level"],
            "code": r["code"],
            "name": r["name"],
            "parent_code": r["parent_code"],
            "area_km2": round(r["area_km2"], 3),
        }
        for r in rows
    ]
