"""Locate: which township, village and grid cell (and overlay cells) a WGS-84 point falls in.

The index is built in memory once per set of active generations and is read-only afterwards, so it is
safe to share between requests and threads. Rules (see also bench/README.md):

- **Covers, not contains.** A point on a cell's edge belongs to that cell (`intersects` with the
  polygon, i.e. the closed polygon covers it).
- **Shared edges: the smallest code wins.** A point on an edge or vertex shared by several cells is
  covered by all of them; it goes to the one with the smallest code (string order, which for the fixed
  width codes is numeric order). Cells are stored sorted by code and candidates are tried in that
  order, so the first hit is the answer, both for single points and in batches.
- **inside / boundary.** A covered point closer than 50 m to an edge of its cell is `boundary` (the
  phone asks the user to confirm), with `distance_m` to that edge; else `inside`.
- **nearest / outside.** A point no cell covers goes to the nearest cell within 500 m as `nearest`
  with the distance in metres (ties: smallest code); farther is `outside`.
- **Ancestors by code.** The township and village of a grid cell are its parents by code in the same
  generation (the administrative answer), not a second geometric lookup. If the finest level has a
  hole (only possible with a forced import), a coarser level that covers the point answers instead.
- **Overlays, one cell per overlay network.** The overlay cell that covers the whole chosen grid cell;
  if none does, the overlay cell covering the point (smallest code).

Distances are measured in metres in a transverse Mercator projection centred on the data (scale error
below 0.02% across a county), computed once per generation for the cells and per point only when a
point needs a distance. The common case (a point well inside a cell) costs a bucket lookup and one
or two prepared point-in-polygon tests.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import shapely
from pyproj import Transformer
from shapely import lib as _geos

from backend.core.errors import AppError

BOUNDARY_M = 50.0
NEAREST_M = 500.0
STATUSES = ("inside", "boundary", "nearest", "outside")
INSIDE, BOUNDARY, NEAREST, OUTSIDE = range(4)
PRIMARY_LEVELS = ("township", "village", "grid")
# Bucket grid for single points: about this many metres a side, at most this many buckets per axis.
_BUCKET_M = 600.0
_MAX_BUCKETS = 1024
# Inner polygons are shrunk this much more than BOUNDARY_M, so a point inside one is certainly
# 50 m or more from the edge (the buffer's arcs are chords); others get an exact distance.
_INNER_MARGIN_M = 0.1

# Shapely's private scalar functions, which its type stubs do not list.
_intersects_xy = _geos.intersects_xy_scalar  # type: ignore[attr-defined]
_distance = _geos.distance_scalar  # type: ignore[attr-defined]
_KEEP_NAN = np.intc(0)


def _point(x: float, y: float) -> shapely.Point:
    """A point without shapely.Point's argument checks (about 3x faster; the coordinates are floats)."""
    return _geos.points(np.array((x, y)), _KEEP_NAN)


class InvalidCoordinates(AppError):
    status_code = 400
    code = "geo.invalid_coordinates"
    message = "坐标无效：经度须在 -180 到 180 之间，纬度须在 -90 到 90 之间"
    message_en = "Invalid coordinates: lon must be within -180..180 and lat within -90..90"


@dataclass(frozen=True)
class Place:
    code: str
    name: str

    def to_dict(self) -> dict:
        return {"code": self.code, "name": self.name}


@dataclass(frozen=True)
class LocateResult:
    status: str  # "inside" | "boundary" | "nearest" | "outside"
    lon: float  # the WGS-84 point actually used (after gcj02 conversion)
    lat: float
    township: Place | None
    village: Place | None
    grid: Place | None
    overlays: list[dict]  # [{"network": ..., "code": ..., "name": ...}]
    distance_m: float | None  # nearest: distance to the chosen cell; boundary: distance to the edge
    generation: int | None  # id of the primary network's active generation used

    @classmethod
    def _make(
        cls, status, lon, lat, township, village, grid, overlays, distance_m, generation
    ) -> LocateResult:
        # The frozen dataclass __init__ sets each field through object.__setattr__, which is a third
        # of a single locate's time; filling __dict__ directly gives the same object.
        obj = object.__new__(cls)
        d = obj.__dict__
        d["status"] = status
        d["lon"] = lon
        d["lat"] = lat
        d["township"] = township
        d["village"] = village
        d["grid"] = grid
        d["overlays"] = overlays
        d["distance_m"] = distance_m
        d["generation"] = generation
        return obj

    def to_dict(self) -> dict:
        return {
            "status": self.status,
            "lon": self.lon,
            "lat": self.lat,
            "township": self.township.to_dict() if self.township else None,
            "village": self.village.to_dict() if self.village else None,
            "grid": self.grid.to_dict() if self.grid else None,
            "overlays": [dict(o) for o in self.overlays],
            "distance_m": self.distance_m,
            "generation": self.generation,
        }


def check_coordinates(lon: float, lat: float) -> tuple[float, float]:
    """Floats within range, or InvalidCoordinates."""
    try:
        lon = float(lon)
        lat = float(lat)
    except (TypeError, ValueError):
        raise InvalidCoordinates() from None
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):  # also false for NaN
        raise InvalidCoordinates()
    return lon, lat


@dataclass(frozen=True)
class RegionData:
    level: str
    code: str
    name: str
    parent_code: str | None
    geometry: shapely.Geometry


@dataclass
class NetworkData:
    """One network's active generation, as the index is built from it."""

    code: str
    name: str
    kind: str  # primary | overlay
    levels: tuple[str, ...]
    generation_id: int
    regions: list[RegionData] = field(default_factory=list)


def metric_transformers(lon0: float) -> tuple[Transformer, Transformer]:
    """Lon/lat ↔ metres in a transverse Mercator centred near lon0 (the data's middle)."""
    cm = round(lon0 * 2) / 2
    proj = f"+proj=tmerc +lat_0=0 +lon_0={cm} +k=1 +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs"
    fwd = Transformer.from_crs("EPSG:4326", proj, always_xy=True)
    inv = Transformer.from_crs(proj, "EPSG:4326", always_xy=True)
    return fwd, inv


def _transform(geoms: np.ndarray, transformer: Transformer) -> np.ndarray:
    def fn(xy: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, fn)


def _first_per_input(pairs: np.ndarray, n: int) -> np.ndarray:
    """From STRtree (input, tree) index pairs, the smallest tree index per input (-1 if none)."""
    best = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    if pairs.shape[1]:
        np.minimum.at(best, pairs[0], pairs[1])
    best[best == np.iinfo(np.int64).max] = -1
    return best


class _Overlay:
    """An overlay network's finest level: cells sorted by code, prepared, with a tree for direct
    point queries."""

    def __init__(self, net: NetworkData) -> None:
        present = {r.level for r in net.regions}
        finest = next((lv for lv in reversed(net.levels) if lv in present), None)
        regions = sorted((r for r in net.regions if r.level == finest), key=lambda r: r.code)
        self.code = net.code
        self.entries = [{"network": net.code, "code": r.code, "name": r.name} for r in regions]
        self.geoms = np.array([r.geometry for r in regions], dtype=object)
        shapely.prepare(self.geoms)
        self.tree = shapely.STRtree(self.geoms)
        self.bounds = (
            tuple(shapely.total_bounds(self.geoms).tolist()) if len(regions) else (1.0, 1.0, -1.0, -1.0)
        )

    def at(self, lon: float, lat: float) -> dict | None:
        minx, miny, maxx, maxy = self.bounds
        if not (minx <= lon <= maxx and miny <= lat <= maxy):
            return None
        hits = self.tree.query(_point(lon, lat), predicate="intersects")
        return dict(self.entries[int(hits.min())]) if hits.size else None

    def at_many(self, points: np.ndarray) -> list[dict | None]:
        hits = _first_per_input(self.tree.query(points, predicate="intersects"), len(points))
        return [dict(self.entries[h]) if h >= 0 else None for h in hits.tolist()]


class LocateIndex:
    """The read-only locate index over the active generations (one primary, any overlays)."""

    def __init__(
        self,
        networks: Sequence[NetworkData],
        *,
        boundary_m: float = BOUNDARY_M,
        nearest_m: float = NEAREST_M,
        fallback_names: dict[str, str] | None = None,
    ) -> None:
        self.boundary_m = boundary_m
        self.nearest_m = nearest_m
        primaries = [n for n in networks if n.kind == "primary" and n.regions]
        self.primary = primaries[0] if primaries else None
        self.generation = self.primary.generation_id if self.primary else None
        self.generations = {n.code: n.generation_id for n in networks}
        self.overlays = [
            _Overlay(n) for n in sorted(networks, key=lambda n: n.code) if n.kind != "primary" and n.regions
        ]
        self._names = dict(fallback_names or {})
        all_regions = [r for n in networks for r in n.regions]
        if all_regions:
            bounds = shapely.total_bounds(np.array([r.geometry for r in all_regions], dtype=object))
            lon0 = (bounds[0] + bounds[2]) / 2
        else:
            lon0 = 100.0
        self._fwd, self._inv = metric_transformers(lon0)
        self._fwd_one = self._fwd.transform
        self.size = 0
        self._leaf: list[RegionData] = []
        self._by_code: dict[tuple[str, str], RegionData] = {}
        self._nx = self._ny = 0
        self._bx0 = self._by0 = self._bsx = self._bsy = 0.0
        self._near_box = (1.0, 1.0, -1.0, -1.0)
        if self.primary is not None:
            self._build_primary(self.primary)
        self._build_overlay_links()
        self._code_names = {r.code: r.name for r in all_regions}

    # --- building --------------------------------------------------------------------------------

    def _build_primary(self, net: NetworkData) -> None:
        by_level: dict[str, list[RegionData]] = {}
        for r in net.regions:
            by_level.setdefault(r.level, []).append(r)
        levels = [lv for lv in net.levels if by_level.get(lv)]
        self._by_code = {(r.level, r.code): r for r in net.regions}
        leaf_level = levels[-1]
        leaf = sorted(by_level[leaf_level], key=lambda r: r.code)
        self._leaf = leaf
        self.size = len(leaf)
        self._leaf_places = [self._places(net, r) for r in leaf]

        geoms = np.array([r.geometry for r in leaf], dtype=object)
        shapely.prepare(geoms)
        self._geoms = geoms
        self._tree = shapely.STRtree(geoms)
        geoms_m = _transform(geoms, self._fwd)
        self._boundary_m = shapely.boundary(geoms_m)
        self._tree_m = shapely.STRtree(geoms_m)
        inner_m = shapely.buffer(geoms_m, -(self.boundary_m + _INNER_MARGIN_M), quad_segs=32)
        inner = _transform(inner_m, self._inv)
        shapely.prepare(inner)
        self._inner = inner

        # Coarser levels answer only where the finest level has a hole (forced imports).
        self._coarser = []
        for lv in reversed(levels[:-1]):
            regs = sorted(by_level[lv], key=lambda r: r.code)
            g = np.array([r.geometry for r in regs], dtype=object)
            shapely.prepare(g)
            self._coarser.append(
                (
                    regs,
                    [self._places(net, r) for r in regs],
                    g,
                    shapely.STRtree(g),
                    shapely.boundary(_transform(g, self._fwd)),
                )
            )
        self._build_buckets()

    def _places(self, net: NetworkData, region: RegionData) -> dict[str, Place]:
        """The region and its ancestors by parent code, keyed by level."""
        places: dict[str, Place] = {}
        level_pos = {lv: i for i, lv in enumerate(net.levels)}
        current: RegionData | None = region
        seen = set()
        while current is not None and current.code not in seen:
            seen.add(current.code)
            places[current.level] = Place(current.code, current.name)
            pos = level_pos.get(current.level, 0)
            if not current.parent_code or pos == 0:
                break
            parent_level = net.levels[pos - 1]
            parent = self._by_code.get((parent_level, current.parent_code))
            if parent is None:
                places[parent_level] = Place(
                    current.parent_code, self._names.get(current.parent_code, current.parent_code)
                )
                break
            current = parent
        return places

    def _build_buckets(self) -> None:
        extent = [self._geoms] + [c[2] for c in self._coarser]
        minx, miny, maxx, maxy = shapely.total_bounds(np.concatenate(extent))
        eps = 1e-9
        minx, miny, maxx, maxy = minx - eps, miny - eps, maxx + eps, maxy + eps
        mid_lat = math.radians((miny + maxy) / 2)
        width_m = (maxx - minx) * 111_320 * math.cos(mid_lat)
        height_m = (maxy - miny) * 110_574
        nx = int(min(_MAX_BUCKETS, max(1, math.ceil(width_m / _BUCKET_M))))
        ny = int(min(_MAX_BUCKETS, max(1, math.ceil(height_m / _BUCKET_M))))
        dx, dy = (maxx - minx) / nx, (maxy - miny) / ny
        self._bx0, self._by0, self._nx, self._ny = minx, miny, nx, ny
        self._bsx, self._bsy = 1.0 / dx, 1.0 / dy
        gx, gy = np.meshgrid(np.arange(nx), np.arange(ny))
        ix, iy = gx.ravel(), gy.ravel()
        # Boxes grown a little so rounding in the bucket arithmetic can never drop a candidate.
        grow = 1e-9
        boxes = shapely.box(
            minx + ix * dx - grow,
            miny + iy * dy - grow,
            minx + (ix + 1) * dx + grow,
            miny + (iy + 1) * dy + grow,
        )
        pairs = self._tree.query(boxes, predicate="intersects")
        order = np.lexsort((pairs[1], pairs[0]))
        b_idx, c_idx = pairs[0][order], pairs[1][order]
        buckets: list = [()] * (nx * ny)
        if b_idx.size:
            starts = np.flatnonzero(np.r_[True, b_idx[1:] != b_idx[:-1]])
            ends = np.r_[starts[1:], b_idx.size]
            counts = ends - starts
            cells = c_idx.tolist()
            bucket_ids = b_idx[starts].tolist()
            for b, s, e in zip(bucket_ids, starts.tolist(), ends.tolist(), strict=True):
                buckets[b] = tuple(cells[s:e])
            # A bucket with one candidate lying wholly in that cell's inner polygon needs no test.
            single = counts == 1
            sb = b_idx[starts[single]]
            sc = c_idx[starts[single]]
            pure = shapely.covers(self._inner[sc], boxes[sb])
            for b, c in zip(sb[pure].tolist(), sc[pure].tolist(), strict=True):
                buckets[b] = c
        # An empty bucket with no cell within the nearest tolerance (1 m to spare) and no coarser
        # region in it is plainly outside: None.
        empty = np.array([i for i, b in enumerate(buckets) if b == ()], dtype=np.int64)
        if empty.size:
            boxes_m = _transform(boxes[empty], self._fwd)
            near = np.zeros(empty.size, dtype=bool)
            near[self._tree_m.query(boxes_m, predicate="dwithin", distance=self.nearest_m + 1.0)[0]] = True
            for _regs, _places, _geoms, tree, _boundary in self._coarser:
                near[tree.query(boxes[empty], predicate="intersects")[0]] = True
            for b in empty[~near].tolist():
                buckets[b] = None
        # Bucket (ix, iy) lives at iy * nx + ix.
        self._buckets = buckets
        # Beyond the bucket grid plus the tolerance (10% to spare) nothing is near.
        pad_x = self.nearest_m * 1.1 / (111_320 * math.cos(math.radians(max(abs(miny), abs(maxy)))))
        pad_y = self.nearest_m * 1.1 / 110_574
        self._near_box = (minx - pad_x, miny - pad_y, maxx + pad_x, maxy + pad_y)

    def _build_overlay_links(self) -> None:
        """Per leaf cell and overlay network: the overlay cell covering the whole cell, or the
        overlay cells that only partly overlap it (tested per point)."""
        self._cell_overlays: list[list[tuple[_Overlay, dict | None, tuple[int, ...]]]] = [
            [] for _ in range(len(self._leaf))
        ]
        if not self._leaf:
            return
        for ov in self.overlays:
            full = _first_per_input(ov.tree.query(self._geoms, predicate="covered_by"), len(self._leaf))
            inter = ov.tree.query(self._geoms, predicate="intersects")
            if inter.shape[1]:
                keep = shapely.relate_pattern(self._geoms[inter[0]], ov.geoms[inter[1]], "T********")
                inter = inter[:, keep]
            partial: dict[int, list[int]] = {}
            for i, j in zip(inter[0].tolist(), inter[1].tolist(), strict=True):
                partial.setdefault(i, []).append(j)
            for i in range(len(self._leaf)):
                if full[i] >= 0:
                    self._cell_overlays[i].append((ov, ov.entries[int(full[i])], ()))
                elif i in partial:
                    self._cell_overlays[i].append((ov, None, tuple(sorted(partial[i]))))

    # --- single points -----------------------------------------------------------------------------

    def locate(self, lon: float, lat: float) -> LocateResult:
        """Locate one WGS-84 point (already checked); the hot path of every case and visit."""
        ix = int((lon - self._bx0) * self._bsx)
        iy = int((lat - self._by0) * self._bsy)
        if 0 <= ix < self._nx and 0 <= iy < self._ny and lon >= self._bx0 and lat >= self._by0:
            bucket = self._buckets[iy * self._nx + ix]
            if bucket.__class__ is int:
                return self._result(bucket, "inside", lon, lat, None)
            if bucket is None:
                return self._plain({}, "outside", lon, lat, None, self._overlays_at(lon, lat))
            for k in bucket:
                if _intersects_xy(self._geoms[k], lon, lat):
                    if _intersects_xy(self._inner[k], lon, lat):
                        return self._result(k, "inside", lon, lat, None)
                    x, y = self._fwd_one(lon, lat)
                    d = _distance(self._boundary_m[k], _point(x, y))
                    if d >= self.boundary_m:
                        return self._result(k, "inside", lon, lat, None)
                    return self._result(k, "boundary", lon, lat, d)
        else:
            minx, miny, maxx, maxy = self._near_box
            if not (minx <= lon <= maxx and miny <= lat <= maxy):
                return self._plain({}, "outside", lon, lat, None, self._overlays_at(lon, lat))
        return self._locate_slow(lon, lat)

    def _result(self, k: int, status: str, lon: float, lat: float, distance: float | None) -> LocateResult:
        places = self._leaf_places[k]
        overlays = []
        for ov, entry, partial in self._cell_overlays[k]:
            if entry is not None:
                overlays.append(dict(entry))
            else:
                for j in partial:
                    if _intersects_xy(ov.geoms[j], lon, lat):
                        overlays.append(dict(ov.entries[j]))
                        break
        return LocateResult._make(
            status,
            lon,
            lat,
            places.get("township"),
            places.get("village"),
            places.get("grid"),
            overlays,
            None if distance is None else round(distance, 1),
            self.generation,
        )

    def _locate_slow(self, lon: float, lat: float) -> LocateResult:
        """Not covered by the finest level: a coarser level, the nearest cell, or outside."""
        point = _point(lon, lat)
        x, y = self._fwd_one(lon, lat)
        point_m = _point(x, y)
        for _regs, places, _geoms, tree, boundary_m in self._coarser:
            hits = tree.query(point, predicate="intersects")
            if hits.size:
                k = int(hits.min())
                d = _distance(boundary_m[k], point_m)
                status, dist = ("boundary", d) if d < self.boundary_m else ("inside", None)
                return self._plain(places[k], status, lon, lat, dist, self._overlays_at(lon, lat))
        if self._leaf:
            idx, dist = self._tree_m.query_nearest(point_m, max_distance=self.nearest_m, return_distance=True)
            if idx.size:
                best = dist.min()
                k = int(idx[dist == best].min())
                return self._result(k, "nearest", lon, lat, float(best))
        return self._plain({}, "outside", lon, lat, None, self._overlays_at(lon, lat))

    def _overlays_at(self, lon: float, lat: float) -> list[dict]:
        """Overlay cells at a point no grid cell holds (one per overlay network)."""
        return [o for o in (ov.at(lon, lat) for ov in self.overlays) if o is not None]

    def _overlays_many(self, points: np.ndarray) -> list[list[dict]]:
        out: list[list[dict]] = [[] for _ in range(len(points))]
        for ov in self.overlays:
            for i, entry in enumerate(ov.at_many(points)):
                if entry is not None:
                    out[i].append(entry)
        return out

    def _plain(self, places: dict, status: str, lon: float, lat: float, distance, overlays) -> LocateResult:
        return LocateResult._make(
            status,
            lon,
            lat,
            places.get("township"),
            places.get("village"),
            places.get("grid"),
            overlays,
            None if distance is None else round(distance, 1),
            self.generation,
        )

    # --- batches ---------------------------------------------------------------------------------

    def classify(self, lon: np.ndarray, lat: np.ndarray) -> dict[str, np.ndarray]:
        """The vectorised core of a batch: per point a status code (see STATUSES), the index of the
        cell (finest level, or the coarser level `level` where that has a hole), and the distance
        (boundary, nearest; NaN otherwise). Same rules and results as `locate`."""
        n = lon.size
        status = np.full(n, OUTSIDE, dtype=np.int8)
        cell = np.full(n, -1, dtype=np.int64)
        level = np.full(n, -1, dtype=np.int8)  # -1: finest level; k: self._coarser[k]
        dist = np.full(n, np.nan)
        # A 1-D array of points (the stubs also allow a 0-d array in, and a single Point out).
        pts = cast(np.ndarray, shapely.points(lon, lat))
        if not self._leaf or n == 0:
            return {"status": status, "cell": cell, "level": level, "distance": dist, "points": pts}
        hit = _first_per_input(self._tree.query(pts, predicate="intersects"), n)
        matched = np.flatnonzero(hit >= 0)
        cell[matched] = hit[matched]
        inner = shapely.intersects(self._inner[hit[matched]], pts[matched])
        status[matched[inner]] = INSIDE
        need = matched[~inner]
        rest = np.flatnonzero(hit < 0)
        metric_idx = np.concatenate([need, rest])
        pts_m = np.empty(n, dtype=object)
        if metric_idx.size:
            x, y = self._fwd.transform(lon[metric_idx], lat[metric_idx])
            pts_m[metric_idx] = shapely.points(x, y)
        if need.size:
            d = shapely.distance(self._boundary_m[hit[need]], pts_m[need])
            near_edge = d < self.boundary_m
            status[need] = np.where(near_edge, BOUNDARY, INSIDE)
            dist[need[near_edge]] = d[near_edge]
        # Holes in the finest level (forced imports only): a coarser level answers.
        for k, (_regs, _places, _geoms, tree, boundary_m) in enumerate(self._coarser):
            if not rest.size:
                break
            h = _first_per_input(tree.query(pts[rest], predicate="intersects"), rest.size)
            found = h >= 0
            if found.any():
                idx = rest[found]
                d = shapely.distance(boundary_m[h[found]], pts_m[idx])
                cell[idx], level[idx] = h[found], k
                near_edge = d < self.boundary_m
                status[idx] = np.where(near_edge, BOUNDARY, INSIDE)
                dist[idx[near_edge]] = d[near_edge]
            rest = rest[~found]
        if rest.size:
            pairs, d = self._tree_m.query_nearest(
                pts_m[rest], max_distance=self.nearest_m, return_distance=True, all_matches=True
            )
            if pairs.shape[1]:
                # Per point: the smallest distance, then the smallest code (= index).
                order = np.lexsort((pairs[1], d, pairs[0]))
                p0 = pairs[0][order]
                first = order[np.r_[True, p0[1:] != p0[:-1]]]
                idx = rest[pairs[0][first]]
                status[idx] = NEAREST
                cell[idx] = pairs[1][first]
                dist[idx] = d[first]
        return {"status": status, "cell": cell, "level": level, "distance": dist, "points": pts}

    def locate_many(self, lon: Iterable[float], lat: Iterable[float]) -> list[LocateResult]:
        """Locate many WGS-84 points at once (imports, re-mapping): vectorised tree queries, with
        exactly the results `locate` gives point by point."""
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        c = self.classify(lon, lat)
        status, cell, level, dist, pts = c["status"], c["cell"], c["level"], c["distance"], c["points"]
        plain = np.flatnonzero((level >= 0) | (status == OUTSIDE))
        plain_overlays = (
            dict(zip(plain.tolist(), self._overlays_many(pts[plain]), strict=True)) if plain.size else {}
        )
        results: list[LocateResult] = []
        names = STATUSES
        result, make = self._result, LocateResult._make
        for i, (x, y, s, k, lv, d) in enumerate(
            zip(
                lon.tolist(),
                lat.tolist(),
                status.tolist(),
                cell.tolist(),
                level.tolist(),
                dist.tolist(),
                strict=True,
            )
        ):
            distance = None if d != d else d
            if lv < 0 and s != OUTSIDE:
                results.append(result(k, names[s], x, y, distance))
            else:
                places = self._coarser[lv][1][k] if lv >= 0 else {}
                results.append(
                    make(
                        names[s],
                        x,
                        y,
                        places.get("township"),
                        places.get("village"),
                        places.get("grid"),
                        plain_overlays[i],
                        None if distance is None else round(distance, 1),
                        self.generation,
                    )
                )
        return results

    def locate_codes(self, lon: Iterable[float], lat: Iterable[float]) -> dict[str, np.ndarray]:
        """Statuses and grid codes only, as arrays (re-mapping many records without result objects)."""
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        c = self.classify(lon, lat)
        codes = np.array([r.code for r in self._leaf] + [None], dtype=object)
        grid = codes[np.where((c["level"] < 0) & (c["status"] != OUTSIDE), c["cell"], len(self._leaf))]
        return {
            "status": np.array(STATUSES, dtype=object)[c["status"]],
            "grid": grid,
            "distance_m": c["distance"],
        }

    # --- other lookups -----------------------------------------------------------------------------

    def name_of(self, code: str) -> str | None:
        return self._code_names.get(code) or self._names.get(code)
