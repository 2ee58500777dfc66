"""Grids: networks, generations, imports and locating points. Knows nothing of HTTP.

Other domains call `locate`, `locate_many` (with `load_index` first) and `region_names`.

The in-memory locate index is loaded lazily on first use and rebuilt when the set of active
generations changes. An activation is announced on the bus (`grids`, core/bus.py) when it commits, and
every process listening there re-checks that set at its next use; a process not listening (SQLite, or
one whose listening connection is down) re-checks at most every RECHECK_SECONDS with one tiny query.
So an activation made in another server process or by `fengqiao grids import` reaches every running
server within seconds, and never half-way: a generation is swapped in whole.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import anyio
import numpy as np
import shapely
from tqdm import tqdm

from backend.core import bus, clock
from backend.core.coords import gcj02_to_wgs84, gcj02_to_wgs84_array
from backend.core.errors import AppError, InvalidRequest, NotFound
from backend.db import write_transaction
from backend.grids import county
from backend.grids.county_check import check_against_county
from backend.grids.importer import ImportRefused, LayerRead, derive_parents
from backend.grids.locate import (
    PRIMARY_LEVELS,
    InvalidCoordinates,
    LocateIndex,
    LocateResult,
    NetworkData,
    Place,
    RegionData,
    check_coordinates,
)
from backend.grids.partial import (
    LOWER_MODES,
    NESTING_CHECKS,
    mismatch_issue,
    recut,
    recut_issue,
    split_carried,
)
from backend.grids.tables import Division, GridGeneration, GridNetwork, GridRegion
from backend.grids.topology import Feature, cap_issues, check_generation, issue, summarise

__all__ = [
    "InvalidCoordinates",
    "LocateResult",
    "Place",
    "gcj02_to_wgs84",
    "locate",
    "locate_many",
    "load_index",
    "region_names",
]

RECHECK_SECONDS = 2.0
RECHECK_SECONDS_LISTENING = 300.0  # told by the bus; this is only the belt to its braces
GRIDS_TOPIC = "grids"
CRS_NAMES = ("wgs84", "gcj02", "cgcs2000")
_INSERT_BATCH = 200


class GenerationNotClean(AppError):
    status_code = 409
    code = "grids.report_not_clean"
    message = (
        "该代网格的拓扑检查有错误，不能启用：请修正后重新导入；"
        "确认无误要强制启用，命令行加 --force，管理页面勾选“强制启用”"
    )
    message_en = "The generation's topology report has errors; activation needs force"


class UnknownCrs(AppError):
    status_code = 400
    code = "geo.invalid_crs"
    message = "坐标系只能是 wgs84 或 gcj02"
    message_en = "crs must be wgs84 or gcj02"


# --- networks and generations -----------------------------------------------------------------------


async def ensure_network(
    code: str, *, name: str | None = None, kind: str | None = None, levels: Sequence[str] | None = None
) -> dict:
    """The network with this code, created on first use (the first network is the primary one)."""
    row = await GridNetwork.select().where(GridNetwork.code == code).first().run()
    if row is not None:
        return row
    if kind is None:
        kind = (
            "overlay" if await GridNetwork.exists().where(GridNetwork.kind == "primary").run() else "primary"
        )
    if kind not in ("primary", "overlay"):
        raise InvalidRequest(
            message=f"网格体系类型 {kind} 无效",
            message_en=f"Invalid network kind {kind}",
            code="grids.invalid",
        )
    if kind == "primary":
        levels = tuple(levels or PRIMARY_LEVELS)
        if tuple(levels) != PRIMARY_LEVELS:
            raise InvalidRequest(
                message="综治网格（主网格体系）的层级必须是 township,village,grid",
                message_en="The primary network's levels are township,village,grid",
                code="grids.invalid",
            )
    elif not levels:
        levels = ("grid",)
    async with write_transaction():
        await GridNetwork.insert(
            GridNetwork(code=code, name=name or code, kind=kind, levels=",".join(levels))
        ).run()
    row = await GridNetwork.select().where(GridNetwork.code == code).first().run()
    assert row is not None  # inserted above; networks are never deleted
    return row


async def active_generation(network_id: int) -> dict | None:
    return (
        await GridGeneration.select()
        .where((GridGeneration.network == network_id) & (GridGeneration.active.eq(True)))
        .first()
        .run()
    )


async def active_generations() -> dict[str, dict]:
    """The active generation of each network: {network code: {generation, kind, levels}}."""
    rows = (
        await GridGeneration.select(
            GridGeneration.id,
            GridGeneration.network.code.as_alias("code"),
            GridGeneration.network.kind.as_alias("kind"),
            GridGeneration.network.levels.as_alias("levels"),
        )
        .where(GridGeneration.active.eq(True))
        .run()
    )
    return {
        r["code"]: {"generation": r["id"], "kind": r["kind"], "levels": r["levels"].split(",")} for r in rows
    }


async def active_primary() -> tuple[str, int] | None:
    """(code, active generation id) of the primary network (township → village → grid), if any."""
    active = await active_generations()
    return next(((k, v["generation"]) for k, v in active.items() if v["kind"] == "primary"), None)


async def get_generation(generation_id: int) -> dict:
    row = (
        await GridGeneration.select(
            *GridGeneration.all_columns(), GridGeneration.network.code.as_alias("network_code")
        )
        .where(GridGeneration.id == generation_id)
        .first()
        .run()
    )
    if row is None:
        raise NotFound(
            message=f"没有第 {generation_id} 号网格代",
            message_en=f"No generation {generation_id}",
            code="grids.unknown_generation",
        )
    row["report"] = json.loads(row["report"] or "{}")
    return row


async def list_networks() -> list[dict]:
    """Networks with their generations, newest first (for the CLI and the admin API)."""
    networks = await GridNetwork.select().order_by(GridNetwork.id).run()
    gens = (
        await GridGeneration.select(
            GridGeneration.id,
            GridGeneration.network,
            GridGeneration.number,
            GridGeneration.levels,
            GridGeneration.source,
            GridGeneration.clean,
            GridGeneration.active,
            GridGeneration.imported_at,
            GridGeneration.activated_at,
        )
        .order_by(GridGeneration.id, ascending=False)
        .run()
    )
    counts = await GridRegion.raw(
        "SELECT generation, level, COUNT(*) AS n FROM grid_region GROUP BY generation, level"
    ).run()
    per_gen: dict[int, dict[str, int]] = {}
    for c in counts:
        per_gen.setdefault(c["generation"], {})[c["level"]] = c["n"]
    out = []
    for n in networks:
        out.append(
            {
                **n,
                "levels": n["levels"].split(","),
                "generations": [
                    {**g, "levels": g["levels"].split(","), "counts": per_gen.get(g["id"], {})}
                    for g in gens
                    if g["network"] == n["id"]
                ],
            }
        )
    return out


async def _activate_in_transaction(network_id: int, generation_id: int) -> None:
    # Clear first, then set: the partial unique index allows one active generation per network.
    await (
        GridGeneration.update({GridGeneration.active: False})
        .where((GridGeneration.network == network_id) & (GridGeneration.active.eq(True)))
        .run()
    )
    await (
        GridGeneration.update({GridGeneration.active: True, GridGeneration.activated_at: clock.now()})
        .where(GridGeneration.id == generation_id)
        .run()
    )
    await bus.publish(GRIDS_TOPIC, {"generation": generation_id})  # every process, on commit


async def activate_generation(generation_id: int, *, force: bool = False) -> dict:
    """Make a generation its network's current one, atomically, for every process."""
    gen = await get_generation(generation_id)
    if not gen["clean"] and not force:
        raise GenerationNotClean(details={"report": gen["report"]})
    async with write_transaction():
        await _activate_in_transaction(gen["network"], generation_id)
    invalidate_index()
    return await get_generation(generation_id)


# --- import -----------------------------------------------------------------------------------------


@dataclass
class ImportResult:
    network: str
    generation_id: int
    number: int
    reused: bool
    activated: bool
    active: bool
    clean: bool
    report: dict = field(default_factory=dict)

    def summary(self) -> str:
        head = f"网格体系 {self.network} 第 {self.number} 代（id {self.generation_id}）"
        if self.reused:
            head += "：与已导入的一代相同，未新建"
        if self.activated:
            return head + "，已启用"
        if self.active:
            return head + "，已是当前启用的一代"
        if not self.clean:
            return head + "，拓扑检查有错误，未启用（修正后重新导入，或加 --force 强制启用）"
        return head + "，未启用"


def generation_checksum(
    layer_checksums: dict[str, str], base_checksum: str | None = None, lower: str = "carry"
) -> str:
    """What identifies a generation's content: each level's source checksum, plus the base
    generation's when levels are carried forward from it, plus what was done to the lower levels."""
    h = hashlib.sha256()
    for level, checksum in sorted(layer_checksums.items()):
        h.update(f"{level}:{checksum};".encode())
    if base_checksum is not None:
        h.update(f"base:{base_checksum}".encode())
    if lower != "carry":
        h.update(f"lower:{lower}".encode())
    return h.hexdigest()


async def find_generation(network: str, checksum: str) -> dict | None:
    return (
        await GridGeneration.select()
        .where((GridGeneration.network.code == network) & (GridGeneration.checksum == checksum))
        .first()
        .run()
    )


async def _load_features(generation_id: int, levels: Iterable[str]) -> dict[str, list[Feature]]:
    rows = (
        await GridRegion.select(
            GridRegion.level,
            GridRegion.code,
            GridRegion.name,
            GridRegion.parent_code,
            GridRegion.geometry_wkb,
            GridRegion.properties,
        )
        .where((GridRegion.generation == generation_id) & GridRegion.level.is_in(list(levels)))
        .order_by(GridRegion.code)
        .run()
    )
    geoms: Iterable[shapely.Geometry] = shapely.from_wkb([r["geometry_wkb"] for r in rows]) if rows else []
    out: dict[str, list[Feature]] = {}
    for r, g in zip(rows, geoms, strict=True):
        out.setdefault(r["level"], []).append(
            Feature(
                r["level"], r["code"], r["name"], r["parent_code"], g, json.loads(r["properties"] or "{}")
            )
        )
    return out


def _region_rows(features: dict[str, list[Feature]]) -> list[dict]:
    feats = [f for lv in features.values() for f in lv]
    if not feats:
        return []
    geoms = np.array([f.geometry for f in feats], dtype=object)
    wkb = shapely.to_wkb(geoms, hex=True)
    bounds = shapely.bounds(geoms)
    return [
        {
            "level": f.level,
            "code": f.code,
            "name": f.name[:100],
            "parent_code": f.parent_code,
            "geometry_wkb": w,
            "min_lon": b[0],
            "min_lat": b[1],
            "max_lon": b[2],
            "max_lat": b[3],
            "area_km2": round(f.area_m2 / 1e6, 6),
            "properties": json.dumps(f.properties, ensure_ascii=False),
        }
        for f, w, b in zip(feats, wkb, bounds.tolist(), strict=True)
    ]


async def import_layers(
    network: str,
    layers: Sequence[LayerRead],
    *,
    base: int | None = None,
    activate: bool | str = True,
    force: bool = False,
    network_name: str | None = None,
    network_kind: str | None = None,
    network_levels: Sequence[str] | None = None,
    lower: str = "carry",
    progress: bool = False,
) -> ImportResult:
    """Store layers as a new generation of a network and activate it if the report is clean (or
    forced). Levels not imported are carried forward from the base (default: the active generation);
    `lower` says what happens to the levels below the imported ones (backend.grids.partial).
    Every import is checked against the county's outline (backend.grids.county_check).
    Importing the same files with the same options again makes no new generation.
    `activate`: True, False, or "if_none" (only when the network has no active generation)."""
    if lower not in LOWER_MODES:
        raise InvalidRequest(
            message=f"lower 只能是 {'、'.join(LOWER_MODES)}",
            message_en=f"lower must be one of {', '.join(LOWER_MODES)}",
            code="grids.invalid",
        )
    net = await ensure_network(network, name=network_name, kind=network_kind, levels=network_levels)
    net_levels = tuple(net["levels"].split(","))
    imported = [layer.options.level for layer in layers]
    for lv in imported:
        if lv not in net_levels:
            raise ImportRefused(
                message=f"网格体系 {network} 没有层级 {lv}（有：{'、'.join(net_levels)}）",
                message_en=f"Network {network} has no level {lv} (levels: {', '.join(net_levels)})",
                code="grids.unknown_level",
            )
    if len(set(imported)) != len(imported):
        raise ImportRefused(
            message="同一层级导入了多个文件", message_en="Several files for one level", code="grids.invalid"
        )
    base_gen = await get_generation(base) if base is not None else await active_generation(net["id"])
    if base_gen is not None and base_gen["network"] != net["id"]:
        raise ImportRefused(
            message=f"第 {base} 号网格代不属于 {network}",
            message_en="The base generation is of another network",
            code="grids.invalid",
        )
    carried, below = split_carried(
        net_levels, base_gen["levels"].split(",") if base_gen else [], imported, lower
    )
    checksum = generation_checksum(
        {layer.options.level: layer.checksum for layer in layers},
        base_gen["checksum"] if carried and base_gen else None,
        lower if below else "carry",
    )
    wants = activate is True or (activate == "if_none" and await active_generation(net["id"]) is None)

    existing = (
        await GridGeneration.select()
        .where((GridGeneration.network == net["id"]) & (GridGeneration.checksum == checksum))
        .first()
        .run()
    )
    if existing is not None:
        activated = False
        if wants and not existing["active"] and (existing["clean"] or force):
            await activate_generation(existing["id"], force=force)
            activated = True
        return ImportResult(
            network=network,
            generation_id=existing["id"],
            number=existing["number"],
            reused=True,
            activated=activated,
            active=existing["active"] or activated,
            clean=existing["clean"],
            report=json.loads(existing["report"] or "{}"),
        )

    features = await _load_features(base_gen["id"], carried) if carried and base_gen else {}
    issues: list[dict] = []
    for layer in layers:
        features[layer.options.level] = list(layer.features)
        issues += layer.issues
    if lower == "recut":
        for lv in below:
            parent_level = net_levels[net_levels.index(lv) - 1]
            pieces, split, moved = await anyio.to_thread.run_sync(
                recut, features.get(lv, []), features.get(parent_level, [])
            )
            features[lv] = pieces
            issues.append(recut_issue(lv, parent_level, len(pieces), split, moved))
    levels_here = tuple(lv for lv in net_levels if features.get(lv))
    for layer in layers:
        pos = net_levels.index(layer.options.level)
        if pos > 0 and features.get(net_levels[pos - 1]):
            n = derive_parents(features[layer.options.level], features[net_levels[pos - 1]])
            if n:
                issues.append(
                    issue(
                        "warning",
                        "parent_by_location",
                        layer.options.level,
                        f"{n} 个要素没有上级代码，已按位置确定上级",
                        f"{n} features had no parent code; parents found by location",
                    )
                )
    known = (
        {r["code"] for r in await Division.select(Division.code).run()} if net["kind"] == "primary" else None
    )
    checked = await anyio.to_thread.run_sync(
        lambda: check_generation(
            features, net_levels, primary=net["kind"] == "primary", known_divisions=known
        )
    )
    if lower == "carry" and base_gen is not None:
        lowest = max(imported, key=net_levels.index)
        for lv in below:
            count = sum(
                1
                for i in checked
                if i["level"] == lv and i["check"] in NESTING_CHECKS and i["severity"] == "error"
            )
            if count:
                issues.append(mismatch_issue(lv, lowest, base_gen["number"], count))
    issues += await _county_issues(features, net_levels, imported, primary=net["kind"] == "primary")
    issues += checked
    report = {
        **summarise(issues),
        "levels": {lv: len(features[lv]) for lv in levels_here},
        "sources": [layer.info for layer in layers],
        "carried": {lv: base_gen["number"] for lv in carried} if base_gen else {},
        "lower": {
            "mode": lower,
            "levels": below if lower != "drop" else [],
            "dropped": below if lower == "drop" else [],
        },
        "issues": cap_issues(issues),
    }
    if report["blocking"]:
        raise ImportRefused(
            message=f"拓扑检查发现无法保存的问题（{'、'.join(report['blocking'])}），未导入",
            message_en=f"Blocking problems ({', '.join(report['blocking'])}); nothing imported",
            code="grids.import_blocked",
            details={"report": report},
        )
    rows = await anyio.to_thread.run_sync(_region_rows, features)
    source = "; ".join(
        f"{layer.options.level}={layer.path.name}"
        + (f"[{layer.options.layer}]" if layer.options.layer else "")
        for layer in layers
    )
    do_activate = wants and (report["clean"] or force)
    async with write_transaction():
        last = (
            await GridGeneration.select(GridGeneration.number)
            .where(GridGeneration.network == net["id"])
            .order_by(GridGeneration.number, ascending=False)
            .first()
            .run()
        )
        number = (last["number"] if last else 0) + 1
        gen_id = (
            await GridGeneration.insert(
                GridGeneration(
                    network=net["id"],
                    number=number,
                    levels=",".join(levels_here),
                    source=source[:2000],
                    checksum=checksum,
                    report=json.dumps(report, ensure_ascii=False),
                    clean=report["clean"],
                    active=False,
                    imported_at=clock.now(),
                )
            ).run()
        )[0]["id"]
        with tqdm(total=len(rows), desc="写入数据库", unit="个", disable=not progress) as bar:
            for start in range(0, len(rows), _INSERT_BATCH):
                batch = rows[start : start + _INSERT_BATCH]
                await GridRegion.insert(*[GridRegion(generation=gen_id, **row) for row in batch]).run()
                bar.update(len(batch))
        if do_activate:
            await _activate_in_transaction(net["id"], gen_id)
    invalidate_index()
    return ImportResult(
        network=network,
        generation_id=gen_id,
        number=number,
        reused=False,
        activated=do_activate,
        active=do_activate,
        clean=report["clean"],
        report=report,
    )


async def _county_issues(
    features: dict[str, list[Feature]], levels: tuple[str, ...], imported: list[str], *, primary: bool
) -> list[dict]:
    info = await county.current()
    outline = info.outline() if info else None
    if info is None or outline is None:
        return [
            issue(
                "warning",
                "no_county_outline",
                imported[0],
                "尚未设置县界（fengqiao init --outline …），未检查数据是否在本县范围内",
                "No county outline yet (fengqiao init --outline ...): not checked against the county",
            )
        ]
    return await anyio.to_thread.run_sync(
        lambda: check_against_county(features, levels, imported, outline, info.name, primary=primary)
    )


# --- the locate index -------------------------------------------------------------------------------


class _IndexState:
    def __init__(self) -> None:
        self.index: LocateIndex | None = None
        self.key: tuple | None = None
        self.checked = 0.0
        self.invalidations = 0  # a check that began before an invalidation must not count as fresh
        self.lock: asyncio.Lock | None = None
        self.lock_loop: asyncio.AbstractEventLoop | None = None

    def get_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self.lock is None or self.lock_loop is not loop:
            self.lock, self.lock_loop = asyncio.Lock(), loop
        return self.lock


_state = _IndexState()


def invalidate_index() -> None:
    """Re-check the active generations on the next use (after an activation in this or, told by the
    bus, another process)."""
    _state.checked = 0.0
    _state.invalidations += 1


bus.on(GRIDS_TOPIC, lambda message: invalidate_index())  # an activation anywhere, or a resync


def forget_index() -> None:
    """Drop the index itself (see maps.forget_cached_grids)."""
    _state.index, _state.key, _state.checked = None, None, 0.0


async def _active_key() -> tuple:
    rows = await GridGeneration.select(GridGeneration.id).where(GridGeneration.active.eq(True)).run()
    return tuple(sorted(r["id"] for r in rows))


async def _build_index(key: tuple) -> LocateIndex:
    gens = (
        await GridGeneration.select(
            GridGeneration.id,
            GridGeneration.network.code.as_alias("code"),
            GridGeneration.network.name.as_alias("name"),
            GridGeneration.network.kind.as_alias("kind"),
            GridGeneration.network.levels.as_alias("levels"),
        )
        .where(GridGeneration.id.is_in(list(key) or [-1]))
        .run()
    )
    rows = (
        await GridRegion.select(
            GridRegion.generation,
            GridRegion.level,
            GridRegion.code,
            GridRegion.name,
            GridRegion.parent_code,
            GridRegion.geometry_wkb,
        )
        .where(GridRegion.generation.is_in(list(key) or [-1]))
        .run()
    )
    names = {r["code"]: r["name"] for r in await Division.select(Division.code, Division.name).run()}

    def build() -> LocateIndex:
        geoms: Iterable[shapely.Geometry] = (
            shapely.from_wkb([r["geometry_wkb"] for r in rows]) if rows else []
        )
        nets = {
            g["id"]: NetworkData(g["code"], g["name"], g["kind"], tuple(g["levels"].split(",")), g["id"])
            for g in gens
        }
        for r, geom in zip(rows, geoms, strict=True):
            nets[r["generation"]].regions.append(
                RegionData(r["level"], r["code"], r["name"], r["parent_code"], geom)
            )
        return LocateIndex(list(nets.values()), fallback_names=names)

    return await anyio.to_thread.run_sync(build)


async def load_index() -> LocateIndex:
    """The current index: loaded on first use, rebuilt when the active generations change."""
    now = time.monotonic()
    recheck = RECHECK_SECONDS_LISTENING if bus.is_listening() else RECHECK_SECONDS
    if _state.index is not None and now - _state.checked < recheck:
        return _state.index
    invalidations = _state.invalidations
    key = await _active_key()
    if _state.index is not None and key == _state.key:
        if _state.invalidations == invalidations:
            _state.checked = now
        return _state.index
    async with _state.get_lock():
        if _state.index is None or key != _state.key:
            index = await _build_index(key)
            _state.index, _state.key = index, key
        if _state.invalidations == invalidations:
            _state.checked = time.monotonic()
        return _state.index


# --- locating -----------------------------------------------------------------------------------------


def to_wgs84(lon: float, lat: float, crs: str = "wgs84") -> tuple[float, float]:
    """Check the coordinates and convert GCJ-02 input; CGCS2000 is WGS-84 at this precision."""
    lon, lat = check_coordinates(lon, lat)
    crs = (crs or "wgs84").lower()
    if crs not in CRS_NAMES:
        raise UnknownCrs()
    if crs == "gcj02":
        lon, lat = gcj02_to_wgs84(lon, lat)
    return lon, lat


async def locate(lon: float, lat: float, crs: str = "wgs84") -> LocateResult:
    """Township, village, grid cell and overlay cells of a point (see backend.grids.locate)."""
    lon, lat = to_wgs84(lon, lat, crs)
    index = await load_index()
    return index.locate(lon, lat)


def locate_many(points: list[tuple[float, float]], crs: str = "wgs84") -> list[LocateResult]:
    """Locate many points on the current in-memory index (call `await load_index()` first)."""
    index = _state.index
    if index is None:
        raise RuntimeError("the grids index is not loaded: await backend.grids.service.load_index() first")
    if not points:
        return []
    arr = np.asarray(points, dtype=float).reshape(-1, 2)
    lon, lat = arr[:, 0], arr[:, 1]
    bad = ~(np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90))
    if bad.any():
        raise InvalidCoordinates(details={"index": int(np.flatnonzero(bad)[0])})
    if crs == "gcj02":
        lon, lat = gcj02_to_wgs84_array(lon, lat)
    elif crs not in CRS_NAMES:
        raise UnknownCrs()
    return index.locate_many(lon, lat)


async def region_names(codes: Iterable[str]) -> dict[str, str]:
    """Names of region and division codes (grid cells, villages, townships, overlay cells)."""
    codes = {c for c in codes if c}
    if not codes:
        return {}
    index = await load_index()
    out = {c: n for c in codes if (n := index.name_of(c))}
    missing = codes - out.keys()
    if missing:
        rows = (
            await Division.select(Division.code, Division.name)
            .where(Division.code.is_in(list(missing)))
            .run()
        )
        out.update({r["code"]: r["name"] for r in rows})
    return out
