"""Deterministic generator of the synthetic 昌宁县 (Changning County) demo grids.

Real inputs (``grids/changning/source/``): the county outline, the 13 township and 124 village names
and codes, and 10 of the 13 township seats. No public township or village boundaries exist, so every
boundary written here is synthetic:

* townships: Voronoi cells of the 13 seats clipped to the county outline. The 3 seats missing from the
  source are placed one by one at the centre of the largest empty circle inside the county (farthest
  from every seat and from the outline), then relaxed with a few Lloyd steps; real seats never move.
* villages: per township, k-means (fixed seed) over uniform random points with the first centre pinned
  to the seat; that cell goes to the seat village (the first 镇中心区/乡中心区 village by code, else the
  first by code). The other villages take the remaining centres in code order, clockwise from north
  around the seat. Cells are the Voronoi cells of the centres clipped to the township.
* grid cells (网格): per village 3-12 cells, the number from the village area and its urban class,
  seeded the same way; serial 001 is the cell nearest the village anchor, then clockwise.
* 党建网格: per township, groups of 2-3 neighbouring villages (deterministic search).

Geometry is computed in metres (EPSG:4542, CGCS2000 / 3-degree Gauss-Kruger CM 99E; EPSG:4544 is the
CM 105E zone). The boundaries of the finest cells are noded in metres, taken to WGS-84, their meeting
points with the county outline moved to the nearest outline vertex, then noded again with the outline
by snap rounding on the 1e-6 degree output grid and polygonized. Every output polygon (grid cell,
village, township, 党建网格) is a union of those faces, so neighbours share identical vertices along
shared edges, children tile their parent exactly and the townships tile the real outline, whose 1,298
vertices are kept unchanged.

Run ``python -m grids.generate`` from the repository root; output bytes are identical on every run.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import time
from pathlib import Path

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import MultiPolygon, Polygon, mapping, shape
from tqdm import tqdm

HERE = Path(__file__).resolve().parent
SOURCE_DIR = HERE / "changning" / "source"
OUT_DIR = HERE / "changning"

COUNTY_CODE = "530524000000"
COUNTY_NAME = "昌宁县"
METRIC_CRS = "EPSG:4542"  # CGCS2000 / 3-degree Gauss-Kruger CM 99E (EPSG:4544 is CM 105E)
GRID_DEG = 1e-6  # output precision (6 decimals, about 0.1 m)
GRID_M = 1e-3  # noding precision in metres
DECIMALS = 6

TOWNSHIP_LLOYD_STEPS = 4
SAMPLES_PER_TOWNSHIP = 6000
SAMPLES_PER_VILLAGE = 1500
KMEANS_ITERS = 80

ATTRIBUTION = (
    "County outline, township and village names and codes: Vonng/adcode (CC BY 4.0). "
    "Township, village, grid and 党建网格 boundaries are SYNTHETIC (demo only)."
)

FILES = {
    "township": "townships.geojson",
    "village": "villages.geojson",
    "grid": "grid_cells.geojson",
    "party": "party_grids.geojson",
}

_TO_M = Transformer.from_crs("EPSG:4326", METRIC_CRS, always_xy=True)
_TO_DEG = Transformer.from_crs(METRIC_CRS, "EPSG:4326", always_xy=True)


# --------------------------------------------------------------------------- geometry helpers


def _tx(transformer: Transformer):
    def f(xy: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return f


def to_metres(geom):
    return shapely.transform(geom, _tx(_TO_M))


def to_degrees(geom):
    return shapely.transform(geom, _tx(_TO_DEG))


def polygonal(geom):
    """Only the polygonal parts of an overlay result (Polygon, MultiPolygon or empty Polygon)."""
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and not p.is_empty]
    if not parts:
        return Polygon()
    if len(parts) == 1:
        return parts[0]
    return MultiPolygon(parts)


def voronoi_cells(xy: np.ndarray, clip) -> list:
    """Voronoi cells of the points (in input order) clipped to ``clip``."""
    env = shapely.box(*clip.buffer(50_000).bounds)
    vor = shapely.voronoi_polygons(shapely.multipoints(xy), extend_to=env, ordered=True)
    cells = list(shapely.get_parts(vor))
    if len(cells) != len(xy):
        raise RuntimeError("voronoi_polygons lost a cell (duplicate seeds?)")
    return [polygonal(shapely.intersection(c, clip)) for c in cells]


def defragment(cells: list) -> list:
    """Give every detached part of a cell to the sibling that borders it most (keep the largest part)."""
    cells = list(cells)
    for _ in range(6):
        changed = False
        for i in range(len(cells)):
            parts = list(shapely.get_parts(cells[i]))
            if len(parts) <= 1:
                continue
            parts.sort(key=lambda p: (-p.area, p.centroid.x, p.centroid.y))
            keep = [parts[0]]
            for part in parts[1:]:
                halo = part.buffer(1.0)
                best, best_area = None, 0.0
                for j, other in enumerate(cells):
                    if j == i or other.is_empty:
                        continue
                    a = shapely.intersection(other, halo).area
                    if a > best_area + 1e-9:
                        best, best_area = j, a
                if best is None:
                    keep.append(part)
                else:
                    cells[best] = polygonal(shapely.union(cells[best], part))
                    changed = True
            cells[i] = keep[0] if len(keep) == 1 else MultiPolygon(keep)
        if not changed:
            break
    return cells


def sample_points(poly, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = poly.bounds
    shapely.prepare(poly)
    chunks, count = [], 0
    while count < n:
        xy = rng.uniform((minx, miny), (maxx, maxy), size=(max(2 * n, 1000), 2))
        inside = shapely.contains_xy(poly, xy[:, 0], xy[:, 1])
        chunks.append(xy[inside])
        count += int(inside.sum())
    return np.vstack(chunks)[:n]


def kmeans(pts: np.ndarray, k: int, seed: int, fixed: np.ndarray | None = None) -> np.ndarray:
    """Lloyd's k-means with k-means++ initialisation; centre 0 stays at ``fixed`` if given."""
    rng = np.random.default_rng(seed)
    centres = [np.asarray(fixed, dtype=float) if fixed is not None else pts[rng.integers(len(pts))]]
    while len(centres) < k:
        c = np.array(centres)
        d2 = ((pts[:, None, :] - c[None, :, :]) ** 2).sum(-1).min(1)
        centres.append(pts[rng.choice(len(pts), p=d2 / d2.sum())])
    c = np.array(centres, dtype=float)
    for _ in range(KMEANS_ITERS):
        labels = ((pts[:, None, :] - c[None, :, :]) ** 2).sum(-1).argmin(1)
        new = c.copy()
        for j in range(k):
            if fixed is not None and j == 0:
                continue
            member = labels == j
            if member.any():
                new[j] = pts[member].mean(0)
        if np.allclose(new, c, atol=1e-3):
            c = new
            break
        c = new
    return c


def clockwise_order(xy: np.ndarray, anchor: np.ndarray) -> list[int]:
    """Indices of points sorted clockwise from north around ``anchor``."""
    ang = np.mod(np.arctan2(xy[:, 0] - anchor[0], xy[:, 1] - anchor[1]), 2 * math.pi)
    dist = np.hypot(xy[:, 0] - anchor[0], xy[:, 1] - anchor[1])
    return sorted(range(len(xy)), key=lambda i: (round(float(ang[i]), 9), round(float(dist[i]), 3)))


# --------------------------------------------------------------------------- inputs


def load_sources(source_dir: Path) -> dict:
    with open(source_dir / "county.geojson", encoding="utf-8") as f:
        county_fc = json.load(f)
    county = shape(county_fc["features"][0]["geometry"])
    with open(source_dir / "townships.csv", encoding="utf-8", newline="") as f:
        townships = sorted(csv.DictReader(f), key=lambda r: r["code12"])
    with open(source_dir / "villages.csv", encoding="utf-8", newline="") as f:
        villages = sorted(csv.DictReader(f), key=lambda r: r["code12"])
    return {"county": county, "townships": townships, "villages": villages}


def seat_village_index(vs: list[dict]) -> int:
    """The village at the township seat: the first (by code) of urban class 镇中心区/乡中心区, else the
    first by code (the codes end in 001 or 201; 柯街镇's 103001 is the 华侨 farm, its seat is 103201)."""
    for i, v in enumerate(vs):
        if v["ur_class"] in ("镇中心区", "乡中心区"):
            return i
    return 0


def grid_count(area_m2: float, mean_area_m2: float, ur_class: str) -> int:
    """Number of grid cells in a village: 3-12 from area and urban class (deterministic)."""
    bonus = {"镇中心区": 4, "乡中心区": 3, "镇乡结合区": 2}.get(ur_class, 0)
    n = round(1.0 + 6.0 * area_m2 / mean_area_m2) + bonus
    return max(3, min(12, n))


# --------------------------------------------------------------------------- levels (metres)


def township_seeds(county_m, townships: list[dict]) -> tuple[np.ndarray, list[bool]]:
    known = [bool(t["lon_wgs84"]) for t in townships]
    xy = np.full((len(townships), 2), np.nan)
    for i, t in enumerate(townships):
        if known[i]:
            x, y = _TO_M.transform(float(t["lon_wgs84"]), float(t["lat_wgs84"]))
            xy[i] = (x, y)
    # Candidate points every 500 m inside the county; a missing seat goes to the candidate farthest
    # from both the placed seats and the outline (centre of the largest empty circle), one at a time.
    minx, miny, maxx, maxy = county_m.bounds
    gx, gy = np.meshgrid(np.arange(minx + 250, maxx, 500.0), np.arange(miny + 250, maxy, 500.0))
    cand = np.column_stack([gx.ravel(), gy.ravel()])
    cand = cand[shapely.contains_xy(county_m, cand[:, 0], cand[:, 1])]
    d_edge = shapely.distance(county_m.exterior, shapely.points(cand))
    for i in range(len(townships)):
        if known[i]:
            continue
        placed = xy[~np.isnan(xy[:, 0])]
        d_seed = np.sqrt(((cand[:, None, :] - placed[None, :, :]) ** 2).sum(-1)).min(1)
        xy[i] = cand[int(np.argmax(np.minimum(d_seed, d_edge)))]
    # A few Lloyd steps for the synthetic seats only.
    for _ in range(TOWNSHIP_LLOYD_STEPS):
        cells = voronoi_cells(xy, county_m)
        for i in range(len(townships)):
            if not known[i]:
                c = cells[i].centroid
                if not cells[i].contains(c):
                    c = shapely.point_on_surface(cells[i])
                xy[i] = (round(c.x, 3), round(c.y, 3))
    return xy, known


def build_metric_levels(src: dict, progress: bool) -> dict:
    county_m = to_metres(src["county"])
    townships, villages = src["townships"], src["villages"]
    seeds, known = township_seeds(county_m, townships)
    t_cells = defragment(voronoi_cells(seeds, county_m))

    by_town: dict[str, list[dict]] = {}
    for v in villages:
        by_town.setdefault(v["town_code12"], []).append(v)

    village_cells: dict[str, object] = {}
    village_anchor: dict[str, np.ndarray] = {}
    for ti, t in enumerate(tqdm(townships, desc="villages ", unit="township", disable=not progress)):
        vs = sorted(by_town[t["code12"]], key=lambda r: r["code12"])
        si = seat_village_index(vs)
        vs = [vs[si]] + vs[:si] + vs[si + 1 :]  # the seat village takes the pinned centre 0
        pts = sample_points(t_cells[ti], SAMPLES_PER_TOWNSHIP, int(t["code12"]))
        centres = kmeans(pts, len(vs), int(t["code12"]) + 1, fixed=seeds[ti])
        order = [0] + [i for i in clockwise_order(centres, seeds[ti]) if i != 0]
        centres = centres[order]
        cells = defragment(voronoi_cells(centres, t_cells[ti]))
        for v, cell, c in zip(vs, cells, centres, strict=True):
            if cell.is_empty:
                raise RuntimeError(f"empty village cell {v['code12']}")
            village_cells[v["code12"]] = cell
            village_anchor[v["code12"]] = c

    mean_area = sum(c.area for c in village_cells.values()) / len(village_cells)
    grid_cells: list[tuple[str, int, object]] = []  # (village code, serial, cell)
    for v in tqdm(villages, desc="grids    ", unit="village", disable=not progress):
        poly = village_cells[v["code12"]]
        n = grid_count(poly.area, mean_area, v["ur_class"])
        pts = sample_points(poly, SAMPLES_PER_VILLAGE, int(v["code12"]) * 7 + 3)
        centres = kmeans(pts, n, int(v["code12"]) * 7 + 4)
        anchor = village_anchor[v["code12"]]
        first = int(np.argmin(np.hypot(centres[:, 0] - anchor[0], centres[:, 1] - anchor[1])))
        order = [first] + [i for i in clockwise_order(centres, anchor) if i != first]
        cells = defragment(voronoi_cells(centres[order], poly))
        for serial, cell in enumerate(cells, start=1):
            if cell.is_empty:
                raise RuntimeError(f"empty grid cell {v['code12']}-{serial}")
            grid_cells.append((v["code12"], serial, cell))

    return {"county_m": county_m, "seeds_m": seeds, "known": known, "grid_cells_m": grid_cells}


# --------------------------------------------------------------------------- noding (degrees)


def snap_to_outline(cells_deg: list, county_deg) -> list:
    """Move every cell vertex lying on the county outline to the nearest outline vertex.

    Cells meet the outline where a Voronoi edge crosses it. A node placed inside an outline segment
    cannot stay on it: snapped to the 1e-6 degree output grid it bends the segment (0.05 m times a
    segment up to 2.2 km long), and even a point exactly on the straight lon/lat segment lies off the
    straight segment in metres (up to ~14 m² per crossing in EPSG:4542). So the outline keeps exactly
    its real vertices and the synthetic edges are moved along it to the nearest vertex instead
    (segments are 200 m long at the median).
    """
    ring = np.asarray(county_deg.exterior.coords)[:-1]
    a = ring
    d = np.roll(ring, -1, axis=0) - ring
    dd = (d**2).sum(1)
    outline = county_deg.exterior

    def fn(xy: np.ndarray) -> np.ndarray:
        out = xy.copy()
        on = np.flatnonzero(shapely.distance(outline, shapely.points(xy)) < 1.5e-6)
        for i in on:
            p = xy[i]
            t = np.clip(((p - a) * d).sum(1) / dd, 0.0, 1.0)
            s = int(np.argmin(((a + t[:, None] * d - p) ** 2).sum(1)))
            out[i] = ring[s] if t[s] < 0.5 else ring[(s + 1) % len(ring)]
        return out

    return [shapely.transform(c, fn) for c in cells_deg]


def node_faces(county_deg, cells_m: list, cells_deg: list, progress: bool) -> tuple[list, list[int]]:
    """Node all cell boundaries and the outline on the 1e-6 degree grid; assign each face to a cell."""
    # 1. node in metres (a village edge ending on a township edge must split the neighbour's edge
    #    too, or the two copies of the edge bend differently once projected to lon/lat);
    # 2. back to lon/lat, move outline crossings to outline vertices, snap-round on the output grid.
    lines_m = shapely.union_all([shapely.boundary(c) for c in cells_m], grid_size=GRID_M)
    lines_deg = snap_to_outline([to_degrees(lines_m)], county_deg)[0]
    lines = shapely.union_all([lines_deg, county_deg.boundary], grid_size=GRID_DEG)
    faces = list(shapely.get_parts(shapely.polygonize(shapely.get_parts(lines))))
    faces.sort(key=lambda f: (round(f.centroid.x, 9), round(f.centroid.y, 9), -f.area))
    tree = shapely.STRtree(cells_deg)
    shapely.prepare(county_deg)
    kept, owner = [], []
    for f in tqdm(faces, desc="noding   ", unit="face", disable=not progress, mininterval=0.5):
        rep = shapely.point_on_surface(f)
        if not county_deg.covers(rep):
            continue  # sliver outside the real outline
        # the cell covering most of the face (outline snapping moved some edges a little)
        cand = sorted(int(h) for h in tree.query(f, predicate="intersects"))
        if cand:
            areas = [shapely.intersection(cells_deg[c], f).area for c in cand]
            idx = cand[int(np.argmax(areas))]
        else:
            idx = int(tree.query_nearest(rep)[0])
        kept.append(f)
        owner.append(idx)
    return kept, owner


def union_faces(faces: list):
    geom = shapely.coverage_union_all(faces) if len(faces) > 1 else faces[0]
    geom = polygonal(geom)
    if not geom.is_valid:
        geom = polygonal(shapely.make_valid(geom))
    return shapely.orient_polygons(geom, exterior_cw=False)


def reassign_detached(faces: list, owner: list[int], group_of: list[str]) -> list[int]:
    """A cell whose faces form several pieces keeps its largest; the rest go to a bordering cell of
    the same village (the one sharing the longest edge)."""
    owner = list(owner)
    for _ in range(4):
        members: dict[int, list[int]] = {}
        for fi, c in enumerate(owner):
            members.setdefault(c, []).append(fi)
        moved = False
        for c in sorted(members):
            geom = union_faces([faces[i] for i in members[c]])
            parts = list(shapely.get_parts(geom))
            if len(parts) <= 1:
                continue
            parts.sort(key=lambda p: -p.area)
            for part in parts[1:]:
                shapely.prepare(part)
                pf = [i for i in members[c] if part.covers(shapely.point_on_surface(faces[i]))]
                border: dict[int, float] = {}
                for other in sorted(members):
                    if other == c or group_of[other] != group_of[c]:
                        continue
                    og = union_faces([faces[i] for i in members[other]])
                    if not og.intersects(part):
                        continue
                    length = shapely.intersection(og.boundary, part.boundary).length
                    if length > 0:
                        border[other] = length
                if border:
                    target = max(sorted(border), key=lambda k: border[k])
                    for i in pf:
                        owner[i] = target
                    moved = True
        if not moved:
            break
    return owner


# --------------------------------------------------------------------------- 党建网格


def party_groups(codes: list[str], geoms: dict[str, object]) -> list[list[str]]:
    """Partition the villages of one township into connected groups of 2-3 (first solution of a
    deterministic depth-first search, compact groups first)."""
    n = len(codes)
    adj = {c: set() for c in codes}
    for i, a in enumerate(codes):
        for b in codes[i + 1 :]:
            if shapely.intersection(geoms[a].boundary, geoms[b].boundary).length > 1e-5:
                adj[a].add(b)
                adj[b].add(a)
    cen = {c: geoms[c].centroid for c in codes}

    def spread(group):
        return sum(cen[a].distance(cen[b]) for i, a in enumerate(group) for b in group[i + 1 :])

    def search(left: list[str], groups_left: int):
        if not left:
            return [] if groups_left == 0 else None
        if not (2 * groups_left <= len(left) <= 3 * groups_left):
            return None
        v = left[0]
        rest = set(left[1:])
        options = [[v, a] for a in sorted(adj[v] & rest)]
        rs = sorted(rest)
        for i, a in enumerate(rs):
            for b in rs[i + 1 :]:
                # three nodes are connected when at least two of their three pairs are neighbours
                if (a in adj[v]) + (b in adj[v]) + (b in adj[a]) >= 2:
                    options.append([v, a, b])
        uniq = {tuple(o) for o in options}
        for opt in sorted(uniq, key=lambda o: (round(spread(list(o)) / len(o), 3), o)):
            sol = search([c for c in left if c not in opt], groups_left - 1)
            if sol is not None:
                return [list(opt)] + sol
        return None

    for g in range(math.ceil(n / 3), n // 2 + 1):
        sol = search(list(codes), g)
        if sol is not None:
            return sorted(sol)
    raise RuntimeError(f"cannot group villages {codes} into 2-3 neighbours")


# --------------------------------------------------------------------------- output


def _round(obj):
    if isinstance(obj, float):
        r = round(obj, DECIMALS)
        return 0.0 if r == 0 else r
    if isinstance(obj, list | tuple):
        return [_round(o) for o in obj]
    return obj


def _dedupe_ring(ring: list) -> list:
    out = [ring[0]]
    for p in ring[1:]:
        if p != out[-1]:
            out.append(p)
    return out


def geometry_json(geom) -> dict:
    g = mapping(geom)
    coords = _round(g["coordinates"])
    if g["type"] == "Polygon":
        coords = [_dedupe_ring(r) for r in coords]
    else:
        coords = [[_dedupe_ring(r) for r in poly] for poly in coords]
    return {"type": g["type"], "coordinates": coords}


def write_fc(path: Path, name: str, features: list[tuple[dict, object]]) -> None:
    lines = []
    for props, geom in sorted(features, key=lambda f: f[0]["code"]):
        feat = {"type": "Feature", "properties": props, "geometry": geometry_json(geom)}
        lines.append(json.dumps(feat, ensure_ascii=False, separators=(",", ":")))
    head = json.dumps(
        {"type": "FeatureCollection", "name": name, "attribution": ATTRIBUTION},
        ensure_ascii=False,
        separators=(",", ":"),
    )[:-1]
    text = head + ',"features":[\n' + ",\n".join(lines) + "\n]}\n"
    path.write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------- checks


def load_level(path: Path) -> list[tuple[dict, object]]:
    with open(path, encoding="utf-8") as f:
        fc = json.load(f)
    return [(ft["properties"], shape(ft["geometry"])) for ft in fc["features"]]


def tiling_error_m2(parent, children: list) -> tuple[float, float]:
    """(overlap, gap) in m² of ``children`` against ``parent`` (all in metres); area outside the
    parent counts as overlap."""
    u = shapely.union_all(children)
    overlap = max(0.0, sum(c.area for c in children) - u.area) + shapely.difference(u, parent).area
    gap = shapely.difference(parent, u).area
    return overlap, gap


def verify(out_dir: Path, county_deg) -> dict:
    levels = {k: load_level(out_dir / f) for k, f in FILES.items()}
    report: dict = {"invalid": 0, "multipolygons": {}, "coverage_valid": {}}
    for k, feats in levels.items():
        geoms = [g for _, g in feats]
        report["invalid"] += sum(not g.is_valid for g in geoms)
        report["multipolygons"][k] = sum(g.geom_type == "MultiPolygon" for g in geoms)
        report["coverage_valid"][k] = bool(shapely.coverage_is_valid(geoms))
    m = {k: {p["code"]: (p, to_metres(g)) for p, g in feats} for k, feats in levels.items()}
    county_m = to_metres(county_deg)
    max_overlap = max_gap = 0.0
    towns = [g for _, g in m["township"].values()]
    o, gp = tiling_error_m2(county_m, towns)
    max_overlap, max_gap = max(max_overlap, o), max(max_gap, gp)
    for child, parent in (("village", "township"), ("grid", "village"), ("party", "township")):
        kids: dict[str, list] = {}
        for p, g in m[child].values():
            kids.setdefault(p["parent_code"], []).append(g)
        for code, (_, pg) in m[parent].items():
            o, gp = tiling_error_m2(pg, kids.get(code, []))
            max_overlap, max_gap = max(max_overlap, o), max(max_gap, gp)
    report["max_overlap_m2"] = max_overlap
    report["max_gap_m2"] = max_gap
    report["county_symdiff_m2"] = shapely.symmetric_difference(shapely.union_all(towns), county_m).area
    report["area_km2"] = sum(g.area for g in towns) / 1e6
    return report


# --------------------------------------------------------------------------- main entry


def generate(out_dir: Path = OUT_DIR, progress: bool = True, source_dir: Path = SOURCE_DIR) -> dict:
    """Generate the four demo GeoJSON files into ``out_dir``; return counts and check results."""
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    src = load_sources(Path(source_dir))
    county_deg = src["county"]
    townships, villages = src["townships"], src["villages"]
    vil_by_code = {v["code12"]: v for v in villages}
    town_by_code = {t["code12"]: t for t in townships}

    lv = build_metric_levels(src, progress)
    cells = lv["grid_cells_m"]
    cells_deg = [to_degrees(c) for _, _, c in cells]
    faces, owner = node_faces(county_deg, [c for _, _, c in cells], cells_deg, progress)
    owner = reassign_detached(faces, owner, [vc for vc, _, _ in cells])

    grid_faces: dict[int, list] = {}
    for f, o in zip(faces, owner, strict=True):
        grid_faces.setdefault(o, []).append(f)
    if len(grid_faces) != len(cells):
        raise RuntimeError("a grid cell lost all its faces during noding")

    # Grid serials are renumbered only if a cell vanished (it cannot, see check above).
    grid_feats, village_faces = [], {}
    for gi, (vcode, serial, _) in enumerate(cells):
        v = vil_by_code[vcode]
        geom = union_faces(grid_faces[gi])
        props = {
            "code": f"{vcode}{serial:03d}",
            "name": f"{v['short_name']}第{serial}网格",
            "level": "grid",
            "parent_code": vcode,
            "synthetic": True,
        }
        grid_feats.append((props, geom))
        village_faces.setdefault(vcode, []).extend(grid_faces[gi])

    village_feats, village_geom, town_faces = [], {}, {}
    for v in villages:
        geom = union_faces(village_faces[v["code12"]])
        village_geom[v["code12"]] = geom
        props = {
            "code": v["code12"],
            "name": v["name"],
            "short_name": v["short_name"],
            "level": "village",
            "parent_code": v["town_code12"],
            "ur_class": v["ur_class"],
            "synthetic": True,
        }
        village_feats.append((props, geom))
        town_faces.setdefault(v["town_code12"], []).extend(village_faces[v["code12"]])

    seeds_deg = np.column_stack(_TO_DEG.transform(lv["seeds_m"][:, 0], lv["seeds_m"][:, 1]))
    town_feats = []
    for ti, t in enumerate(townships):
        geom = union_faces(town_faces[t["code12"]])
        if lv["known"][ti]:
            lon, lat = float(t["lon_wgs84"]), float(t["lat_wgs84"])
        else:
            lon, lat = round(float(seeds_deg[ti, 0]), DECIMALS), round(float(seeds_deg[ti, 1]), DECIMALS)
        props = {
            "code": t["code12"],
            "code9": t["code9"],
            "name": t["name"],
            "level": "township",
            "parent_code": COUNTY_CODE,
            "seat_known": lv["known"][ti],
            "seat_lon": lon,
            "seat_lat": lat,
            "synthetic": True,
        }
        town_feats.append((props, geom))

    party_feats = []
    for t in townships:
        codes = sorted(v["code12"] for v in villages if v["town_code12"] == t["code12"])
        for k, group in enumerate(party_groups(codes, village_geom), start=1):
            faces_g = [f for c in group for f in village_faces[c]]
            props = {
                "code": f"DJ{t['code9']}-{k:02d}",
                "name": f"{town_by_code[t['code12']]['name']}第{k}党建网格",
                "level": "party",
                "parent_code": t["code12"],
                "village_codes": group,
                "synthetic": True,
            }
            party_feats.append((props, union_faces(faces_g)))

    write_fc(out_dir / FILES["township"], "昌宁县乡镇 (synthetic boundaries)", town_feats)
    write_fc(out_dir / FILES["village"], "昌宁县村(社区) (synthetic boundaries)", village_feats)
    write_fc(out_dir / FILES["grid"], "昌宁县网格 (synthetic)", grid_feats)
    write_fc(out_dir / FILES["party"], "昌宁县党建网格 (synthetic)", party_feats)

    report = verify(out_dir, county_deg)
    report.update(
        {
            "townships": len(town_feats),
            "villages": len(village_feats),
            "grids": len(grid_feats),
            "party_grids": len(party_feats),
            "faces": len(faces),
            "seconds": round(time.perf_counter() - t0, 1),
            "bytes": {k: (out_dir / f).stat().st_size for k, f in FILES.items()},
        }
    )
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT_DIR, help="output directory (default grids/changning)")
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    args = ap.parse_args(argv)
    r = generate(args.out, progress=not args.quiet)
    print(
        f"townships {r['townships']}, villages {r['villages']}, grid cells {r['grids']}, "
        f"党建网格 {r['party_grids']} ({r['faces']} noded faces)"
    )
    print(f"total area {r['area_km2']:.1f} km², outline symmetric difference {r['county_symdiff_m2']:.3g} m²")
    print(f"max overlap {r['max_overlap_m2']:.3g} m², max gap {r['max_gap_m2']:.3g} m²")
    print(f"invalid polygons {r['invalid']}, multipolygons {r['multipolygons']}")
    print(f"exact coverage (shared vertices) {r['coverage_valid']}")
    print("sizes: " + ", ".join(f"{FILES[k]} {b / 1e6:.2f} MB" for k, b in r["bytes"].items()))
    print(f"done in {r['seconds']} s")
    ok = (
        r["invalid"] == 0
        and all(r["coverage_valid"].values())
        and max(r["max_overlap_m2"], r["max_gap_m2"], r["county_symdiff_m2"]) < 1.0
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
