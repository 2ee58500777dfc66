"""The topology report made before a generation may be activated.

Measured in metres in a Lambert azimuthal equal-area projection centred on the data, so areas are
true areas. Checks: duplicate codes, overlaps above 1 m² within a level, gaps above 1 m² inside a
parent (and holes in the top level of the primary network), cells sticking out of their parent by
more than 1 m², unknown or missing parent codes, and (warnings) code formats and codes that are not
known administrative divisions. Invalid and empty geometries are reported by the reader.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import shapely
from pyproj import Transformer

TOLERANCE_M2 = 1.0
# Issues kept per check in the stored report (the summary counts them all).
MAX_ISSUES_PER_CHECK = 200

# Checks that make a generation unusable even with --force (codes must be unique to be stored).
BLOCKING_CHECKS = frozenset({"duplicate_code"})

_CODE_FORMATS = {
    "township": re.compile(r"^\d{12}$"),
    "village": re.compile(r"^\d{12}$"),
    "grid": re.compile(r"^\d{15}$"),
}
LEVEL_NAMES = {"township": "乡镇", "village": "村（社区）", "grid": "网格", "party": "党建网格"}


@dataclass
class Feature:
    level: str
    code: str
    name: str
    parent_code: str | None
    geometry: shapely.Geometry  # WGS-84 lon/lat, Polygon or MultiPolygon, valid
    properties: dict = field(default_factory=dict)
    area_m2: float = 0.0


def issue(severity: str, check: str, level: str, message: str, message_en: str, **extra) -> dict:
    return {
        "severity": severity,
        "check": check,
        "level": level,
        "message": message,
        "message_en": message_en,
        **extra,
    }


def equal_area_transformer(geoms: Iterable[shapely.Geometry]) -> Transformer:
    arr = np.array(list(geoms), dtype=object)
    minx, miny, maxx, maxy = shapely.total_bounds(arr) if arr.size else (100.0, 25.0, 100.0, 25.0)
    lon0, lat0 = (minx + maxx) / 2, (miny + maxy) / 2
    proj = f"+proj=laea +lat_0={lat0:.4f} +lon_0={lon0:.4f} +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs"
    return Transformer.from_crs("EPSG:4326", proj, always_xy=True)


def to_metric(geoms: np.ndarray, transformer: Transformer) -> np.ndarray:
    def fn(xy: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, fn)


def _where(geom_m: shapely.Geometry, inverse: Transformer) -> list[float]:
    """A point of a problem area in lon/lat, to find it on a map."""
    p = shapely.point_on_surface(geom_m)
    lon, lat = inverse.transform(p.x, p.y)
    return [round(lon, 6), round(lat, 6)]


def _level_label(level: str) -> str:
    return LEVEL_NAMES.get(level, level)


def check_generation(
    features: dict[str, list[Feature]],
    levels: tuple[str, ...],
    *,
    primary: bool,
    known_divisions: set[str] | None = None,
) -> list[dict]:
    """All topology issues of one generation (every level it holds). Sets Feature.area_m2."""
    all_feats = [f for lv in levels for f in features.get(lv, [])]
    if not all_feats:
        return []
    fwd = equal_area_transformer(f.geometry for f in all_feats)
    inv = Transformer.from_crs(fwd.target_crs, "EPSG:4326", always_xy=True)
    metric: dict[str, np.ndarray] = {}
    for lv in levels:
        feats = features.get(lv, [])
        if feats:
            metric[lv] = to_metric(np.array([f.geometry for f in feats], dtype=object), fwd)
            for f, a in zip(feats, shapely.area(metric[lv]).tolist(), strict=True):
                f.area_m2 = a
    issues: list[dict] = []
    present = [lv for lv in levels if features.get(lv)]
    for lv in present:
        issues += _duplicates(lv, features[lv])
        issues += _overlaps(lv, features[lv], metric[lv], inv)
        if primary:
            issues += _code_formats(lv, features[lv])
            if known_divisions is not None and lv in ("township", "village"):
                unknown = [f.code for f in features[lv] if f.code not in known_divisions]
                if unknown:
                    issues.append(
                        issue(
                            "warning",
                            "not_a_division",
                            lv,
                            f"{len(unknown)} 个{_level_label(lv)}代码不在行政区划表中："
                            f"{', '.join(unknown[:10])}",
                            f"{len(unknown)} {lv} codes are not known divisions",
                            codes=unknown[:MAX_ISSUES_PER_CHECK],
                        )
                    )
    for pos, lv in enumerate(levels):
        if not features.get(lv) or pos == 0:
            continue
        parent_level = levels[pos - 1]
        if not features.get(parent_level):
            issues.append(
                issue(
                    "warning",
                    "parent_level_missing",
                    lv,
                    f"本代没有上级（{_level_label(parent_level)}）图层，未检查上级代码和范围",
                    f"No {parent_level} level in this generation: parents not checked",
                )
            )
            continue
        issues += _parents(
            lv, features[lv], metric[lv], parent_level, features[parent_level], metric[parent_level], inv
        )
    if primary and present:
        issues += _holes(present[0], metric[present[0]], inv)
    return issues


def cap_issues(issues: list[dict]) -> list[dict]:
    seen: Counter = Counter()
    kept = []
    for it in issues:
        seen[it["check"]] += 1
        if seen[it["check"]] <= MAX_ISSUES_PER_CHECK:
            kept.append(it)
    return kept


def _duplicates(level: str, feats: list[Feature]) -> list[dict]:
    counts = Counter(f.code for f in feats)
    return [
        issue(
            "error",
            "duplicate_code",
            level,
            f"代码 {code} 重复出现 {n} 次",
            f"Code {code} occurs {n} times",
            codes=[code],
        )
        for code, n in sorted(counts.items())
        if n > 1
    ]


def _code_formats(level: str, feats: list[Feature]) -> list[dict]:
    pattern = _CODE_FORMATS.get(level)
    if pattern is None:
        return []
    bad = [f.code for f in feats if not pattern.match(f.code)]
    if level == "grid":
        bad += [
            f.code for f in feats if pattern.match(f.code) and f.parent_code and f.code[:12] != f.parent_code
        ]
    if not bad:
        return []
    expected = "村代码+3位序号（15位）" if level == "grid" else "12位区划代码"
    return [
        issue(
            "warning",
            "code_format",
            level,
            f"{len(bad)} 个{_level_label(level)}代码格式不符（应为{expected}）：{', '.join(bad[:10])}",
            f"{len(bad)} {level} codes do not have the expected format",
            codes=bad[:MAX_ISSUES_PER_CHECK],
        )
    ]


def _overlaps(level: str, feats: list[Feature], geoms_m: np.ndarray, inv: Transformer) -> list[dict]:
    tree = shapely.STRtree(geoms_m)
    pairs = tree.query(geoms_m, predicate="intersects")
    pairs = pairs[:, pairs[0] < pairs[1]]
    if not pairs.shape[1]:
        return []
    inner = shapely.relate_pattern(geoms_m[pairs[0]], geoms_m[pairs[1]], "T********")
    pairs = pairs[:, inner]
    if not pairs.shape[1]:
        return []
    inter = shapely.intersection(geoms_m[pairs[0]], geoms_m[pairs[1]])
    areas = shapely.area(inter)
    out = []
    for i, j, a, g in zip(pairs[0].tolist(), pairs[1].tolist(), areas.tolist(), inter, strict=True):
        if a > TOLERANCE_M2:
            a_code, b_code = feats[i].code, feats[j].code
            out.append(
                issue(
                    "error",
                    "overlap",
                    level,
                    f"{_level_label(level)} {a_code} 与 {b_code} 重叠 {a:,.1f} 平方米",
                    f"{level} {a_code} and {b_code} overlap by {a:,.1f} m²",
                    codes=[a_code, b_code],
                    area_m2=round(a, 1),
                    at=_where(g, inv),
                )
            )
    return out


def _parents(
    level: str,
    feats: list[Feature],
    geoms_m: np.ndarray,
    parent_level: str,
    parents: list[Feature],
    parents_m: np.ndarray,
    inv: Transformer,
) -> list[dict]:
    out = []
    index = {p.code: i for i, p in enumerate(parents)}
    children: dict[str, list[int]] = defaultdict(list)
    for i, f in enumerate(feats):
        if not f.parent_code:
            out.append(
                issue(
                    "error",
                    "missing_parent",
                    level,
                    f"{_level_label(level)} {f.code} 没有上级代码",
                    f"{level} {f.code} has no parent code",
                    codes=[f.code],
                )
            )
        elif f.parent_code not in index:
            out.append(
                issue(
                    "error",
                    "unknown_parent",
                    level,
                    f"{_level_label(level)} {f.code} 的上级代码 {f.parent_code} 不存在",
                    f"{level} {f.code}: parent {f.parent_code} does not exist",
                    codes=[f.code],
                    parent_code=f.parent_code,
                )
            )
        else:
            children[f.parent_code].append(i)
    # Cells outside their parent.
    with_parent = [(i, index[code]) for code, idx in children.items() for i in idx]
    if with_parent:
        ci = np.array([c for c, _ in with_parent])
        pi = np.array([p for _, p in with_parent])
        outside = shapely.difference(geoms_m[ci], parents_m[pi])
        areas = shapely.area(outside)
        for c, p, a, g in zip(ci.tolist(), pi.tolist(), areas.tolist(), outside, strict=True):
            if a > TOLERANCE_M2:
                out.append(
                    issue(
                        "error",
                        "outside_parent",
                        level,
                        f"{_level_label(level)} {feats[c].code} 有 {a:,.1f} 平方米"
                        f"在上级 {parents[p].code} 之外",
                        f"{level} {feats[c].code} lies {a:,.1f} m² outside its parent {parents[p].code}",
                        codes=[feats[c].code],
                        parent_code=parents[p].code,
                        area_m2=round(a, 1),
                        at=_where(g, inv),
                    )
                )
    # Gaps: parts of a parent no child covers.
    for p_code, p_idx in index.items():
        kids = children.get(p_code, [])
        parent_geom = parents_m[p_idx]
        gap = parent_geom if not kids else shapely.difference(parent_geom, shapely.union_all(geoms_m[kids]))
        a = shapely.area(gap)
        if a > TOLERANCE_M2:
            out.append(
                issue(
                    "error",
                    "gap",
                    level,
                    f"{_level_label(parent_level)} {p_code} 内有 {a:,.1f} 平方米"
                    f"不属于任何{_level_label(level)}",
                    f"{a:,.1f} m² of {parent_level} {p_code} is in no {level}",
                    codes=[p_code],
                    area_m2=round(a, 1),
                    at=_where(gap, inv),
                )
            )
    return out


def _holes(level: str, geoms_m: np.ndarray, inv: Transformer) -> list[dict]:
    """Holes inside the union of the top level (a gap between townships)."""
    union = shapely.union_all(geoms_m)
    out = []
    for part in shapely.get_parts(union):
        for ring in part.interiors:
            hole = shapely.Polygon(ring)
            if hole.area > TOLERANCE_M2:
                out.append(
                    issue(
                        "error",
                        "gap",
                        level,
                        f"{_level_label(level)}之间有 {hole.area:,.1f} 平方米的空隙",
                        f"A {hole.area:,.1f} m² gap between {level} polygons",
                        codes=[],
                        area_m2=round(hole.area, 1),
                        at=_where(hole, inv),
                    )
                )
    return out


def summarise(issues: list[dict]) -> dict:
    errors = [i for i in issues if i["severity"] == "error"]
    return {
        "clean": not errors,
        "errors": len(errors),
        "warnings": sum(1 for i in issues if i["severity"] == "warning"),
        "blocking": sorted({i["check"] for i in errors if i["check"] in BLOCKING_CHECKS}),
        "by_check": dict(sorted(Counter(i["check"] for i in issues).items())),
    }
