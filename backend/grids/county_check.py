"""Every import checked against the county's outline: is this data where the county is?

Three checks, each an error in the topology report (so activation needs --force):

- **looks_like_gcj02 / looks_like_bd09.** Chinese web-map data (AMap, DataV, Tencent: GCJ-02; Baidu:
  BD-09) read as WGS-84 lands 300–800 m off and otherwise looks clean. When the features that stick out
  of the county fit it at least twice as well after the GCJ-02 (or BD-09) inverse, the file is in that
  datum: re-import with --crs gcj02 (bd09). Needs features that reach the county's edge; data wholly
  inside the county shifts without leaving it and cannot be told apart this way.
- **outside_county.** A feature more than OUTSIDE_MIN_M2 outside the outline grown by
  OUTSIDE_TOLERANCE_M (outlines from web maps are generalised: 昌宁's is 3% smaller than the official
  area, so real survey data pokes out of it by a few hundred metres along the border). Catches another
  county's data and a wrong Gauss-Krüger zone (data hundreds of kilometres away).
- **county_area.** The primary network's top level, when imported, must add up to the county's area
  within AREA_TOLERANCE: a missing township, or a file of something else, shows here.

Only the imported levels are checked; carried levels were checked when they were imported.
"""

from __future__ import annotations

import numpy as np
import shapely
from pyproj import Transformer

from backend.grids.datums import chinese_geometry_to_wgs84
from backend.grids.topology import LEVEL_NAMES, Feature, equal_area_transformer, issue, to_metric

OUTSIDE_TOLERANCE_M = 500.0
OUTSIDE_MIN_M2 = 10_000.0
AREA_TOLERANCE = 0.10
# The datum-shift test: the outside area must fall by at least half and by at least this much.
SHIFT_MIN_M2 = 20_000.0
DATUMS = {"gcj02": "GCJ-02", "bd09": "BD-09"}
DATUM_SOURCES = {"gcj02": "高德、DataV、腾讯地图", "bd09": "百度地图"}


def area_text(m2: float) -> str:
    return f"{m2 / 1e6:,.2f} 平方公里" if m2 >= 100_000 else f"{m2:,.0f} 平方米"


def check_against_county(
    features: dict[str, list[Feature]],
    levels: tuple[str, ...],
    imported: list[str],
    outline: shapely.Geometry,
    county_name: str,
    *,
    primary: bool,
) -> list[dict]:
    """The county issues of the imported levels (call after check_generation, which sets area_m2)."""
    present = [lv for lv in levels if lv in imported and features.get(lv)]
    if not present:
        return []
    fwd = equal_area_transformer([outline])
    inv = Transformer.from_crs(fwd.target_crs, "EPSG:4326", always_xy=True)
    county_m = to_metric(np.array([outline], dtype=object), fwd)[0]
    issues = _datum_shift(features[present[0]], county_m, fwd, county_name)
    fence = shapely.buffer(county_m, OUTSIDE_TOLERANCE_M, quad_segs=4)
    shapely.prepare(fence)
    for lv in present:
        issues += _outside(lv, features[lv], fence, county_m, fwd, inv, county_name)
    if primary and present[0] == levels[0]:
        issues += _area(levels[0], features[levels[0]], shapely.area(county_m), county_name)
    return issues


def _datum_shift(feats: list[Feature], county_m, fwd: Transformer, county_name: str) -> list[dict]:
    union = shapely.union_all(np.array([f.geometry for f in feats], dtype=object))
    outside = shapely.area(shapely.difference(to_metric(np.array([union]), fwd)[0], county_m))
    if outside < SHIFT_MIN_M2:
        return []
    best: tuple[str, float] | None = None
    for datum in DATUMS:
        moved = chinese_geometry_to_wgs84(union, datum)
        after = shapely.area(shapely.difference(to_metric(np.array([moved]), fwd)[0], county_m))
        if after <= outside / 2 and outside - after >= SHIFT_MIN_M2 and (best is None or after < best[1]):
            best = (datum, after)
    if best is None:
        return []
    datum, after = best
    name = DATUMS[datum]
    return [
        issue(
            "error",
            f"looks_like_{datum}",
            feats[0].level,
            f"数据与县界（{county_name}）错开的样子正是 {name} 坐标（{DATUM_SOURCES[datum]}的数据）："
            f"按 WGS-84 读取有 {area_text(outside)} 在县界外，按 {name} 转换后只有 {area_text(after)}。"
            f"请加 --crs {datum} 重新导入",
            f"The data is offset from the county outline the way {name} is: {outside:,.0f} m² outside "
            f"read as WGS-84, {after:,.0f} m² after the {name} inverse. Re-import with --crs {datum}",
            codes=[],
            datum=datum,
            area_m2=round(outside, 1),
        )
    ]


def _outside(
    level: str,
    feats: list[Feature],
    fence,
    county_m,
    fwd: Transformer,
    inv: Transformer,
    county_name: str,
) -> list[dict]:
    geoms_m = to_metric(np.array([f.geometry for f in feats], dtype=object), fwd)
    suspect = np.flatnonzero(~shapely.covered_by(geoms_m, fence))
    if not suspect.size:
        return []
    label = LEVEL_NAMES.get(level, level)
    parts = shapely.difference(geoms_m[suspect], fence)
    # The projection is centred on the county: far-away data is measured as a share of its true area.
    shares = shapely.area(parts) / np.maximum(shapely.area(geoms_m[suspect]), 1e-9)
    out = []
    for i, part, share in zip(suspect.tolist(), parts, shares.tolist(), strict=True):
        f = feats[i]
        a = share * f.area_m2
        if a <= OUTSIDE_MIN_M2 or part.is_empty:
            continue
        who = f"{label} {f.code}" + (f"（{f.name}）" if f.name and f.name != f.code else "")
        if share > 0.999:
            km = shapely.distance(geoms_m[i], county_m) / 1000
            text = f"{who} 完全在县界（{county_name}）之外，距县界约 {km:,.0f} 公里"
            text_en = f"{level} {f.code} lies wholly outside the county, about {km:,.0f} km away"
        else:
            text = f"{who} 有 {area_text(a)} 在县界（{county_name}）之外"
            text_en = f"{level} {f.code} lies {a:,.0f} m² outside the county"
        p = shapely.point_on_surface(part)
        lon, lat = inv.transform(p.x, p.y)
        out.append(
            issue(
                "error",
                "outside_county",
                level,
                text,
                text_en,
                codes=[f.code],
                area_m2=round(a, 1),
                at=[round(lon, 6), round(lat, 6)],
            )
        )
    if len(out) * 2 > len(feats):
        out.insert(
            0,
            issue(
                "error",
                "outside_county",
                level,
                f"{len(feats)} 个{label}中有 {len(out)} 个在县界（{county_name}）之外：坐标系可能不对"
                "（例如高斯-克吕格的带号或中央经线选错），或文件不是本县的数据",
                f"{len(out)} of {len(feats)} {level} features lie outside the county: wrong CRS "
                "(Gauss-Kruger zone?) or another county's data",
                codes=[],
            ),
        )
    return out


def _area(level: str, feats: list[Feature], county_m2: float, county_name: str) -> list[dict]:
    total = sum(f.area_m2 for f in feats)
    ratio = total / county_m2 if county_m2 else 1.0
    if abs(ratio - 1) <= AREA_TOLERANCE:
        return []
    label = LEVEL_NAMES.get(level, level)
    return [
        issue(
            "error",
            "county_area",
            level,
            f"{label}合计 {total / 1e6:,.1f} 平方公里，"
            f"县界（{county_name}）为 {county_m2 / 1e6:,.1f} 平方公里，"
            f"相差 {abs(ratio - 1) * 100:.0f}%（允许 {AREA_TOLERANCE * 100:.0f}%）：是否缺了一部分{label}，"
            "或混入了别处的数据？",
            f"The {level} features add up to {total / 1e6:,.1f} km², "
            f"the county is {county_m2 / 1e6:,.1f} km² "
            f"({abs(ratio - 1) * 100:.0f}% apart, {AREA_TOLERANCE * 100:.0f}% allowed)",
            codes=[],
            area_m2=round(total, 1),
            county_area_m2=round(county_m2, 1),
        )
    ]
