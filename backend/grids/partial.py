"""Partial imports: what happens to the levels below the ones a county re-imports.

A generation is whole: every level it holds is either imported or carried forward from the base
generation. Levels *above* the imported ones are always carried (grids re-drawn inside the same
villages). Levels *below* depend on `lower`:

- `carry` (default): carried unchanged. If they no longer nest in the new parents, the report says so
  (`carried_mismatch`, then the detailed unknown-parent, outside-parent and gap errors) and the
  generation is not activated without --force.
- `drop` (--drop-lower): not carried. The generation ends at the finest imported level and locate
  answers from it (a township-only generation answers the township and nothing finer).
- `recut` (--recut-lower): carried cells are clipped to the new parents and get their parent codes by
  location. A cell split between parents keeps its code for its largest piece; the others get
  `<code>-1`, `<code>-2`, …; every piece is marked `synthetic: "recut"` with `recut_from`. A stop-gap
  until the county supplies the finer levels, not boundaries of record.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely

from backend.grids.importer import clean_geometry
from backend.grids.topology import (
    LEVEL_NAMES,
    TOLERANCE_M2,
    Feature,
    equal_area_transformer,
    issue,
    to_metric,
)

LOWER_MODES = ("carry", "drop", "recut")
# Errors on a carried lower level that mean it no longer nests in the new parents.
NESTING_CHECKS = ("unknown_parent", "missing_parent", "outside_parent", "gap")


def split_carried(
    net_levels: Sequence[str], base_levels: Sequence[str], imported: Sequence[str], lower: str
) -> tuple[list[str], list[str]]:
    """(levels carried from the base, levels below the imported ones among them)."""
    lowest = max(net_levels.index(lv) for lv in imported)
    carried = [lv for lv in base_levels if lv not in imported]
    below = [lv for lv in carried if net_levels.index(lv) > lowest]
    if lower == "drop":
        carried = [lv for lv in carried if lv not in below]
    return carried, below


def recut(children: list[Feature], parents: list[Feature]) -> tuple[list[Feature], int, int]:
    """Clip children to parents (see the module docstring): (pieces, children split, re-parented)."""
    if not children or not parents:
        return children, 0, 0
    cg = np.array([c.geometry for c in children], dtype=object)
    pg = np.array([p.geometry for p in parents], dtype=object)
    fwd = equal_area_transformer(np.concatenate([cg, pg]))
    pairs = shapely.STRtree(pg).query(cg, predicate="intersects")
    pieces = shapely.intersection(cg[pairs[0]], pg[pairs[1]])
    areas = shapely.area(to_metric(pieces, fwd))
    by_child: dict[int, list[tuple[float, int, shapely.Geometry]]] = {}
    for c, p, a, g in zip(pairs[0].tolist(), pairs[1].tolist(), areas.tolist(), pieces, strict=True):
        if a > TOLERANCE_M2:
            by_child.setdefault(c, []).append((a, p, g))
    out: list[Feature] = []
    split = moved = 0
    for ci, child in enumerate(children):
        kept = 0
        for _a, pi, g in sorted(by_child.get(ci, []), key=lambda t: (-t[0], parents[t[1]].code)):
            geom, _why = clean_geometry(g)
            if geom is None:
                continue
            parent = parents[pi].code
            if kept == 0 and parent != child.parent_code:
                moved += 1
            out.append(
                Feature(
                    level=child.level,
                    code=child.code if kept == 0 else f"{child.code}-{kept}",
                    name=child.name,
                    parent_code=parent,
                    geometry=geom,
                    properties={**child.properties, "synthetic": "recut", "recut_from": child.code},
                )
            )
            kept += 1
        split += kept > 1
    return out, split, moved


def recut_issue(level: str, parent_level: str, n: int, split: int, moved: int) -> dict:
    label, parent_label = LEVEL_NAMES.get(level, level), LEVEL_NAMES.get(parent_level, parent_level)
    return issue(
        "warning",
        "recut",
        level,
        f"沿用的{label}已按新导入的{parent_label}裁切：{n} 块，"
        f"其中 {split} 个被分成几块、{moved} 个换了上级。"
        f"这是临时的合成边界（属性 synthetic=recut），请尽快导入真实的{label}边界",
        f"Carried {level} cells clipped to the new {parent_level} polygons: {n} pieces, {split} split, "
        f"{moved} re-parented. A synthetic stop-gap (synthetic=recut)",
    )


def mismatch_issue(level: str, parent_level: str, number: int, count: int) -> dict:
    label, parent_label = LEVEL_NAMES.get(level, level), LEVEL_NAMES.get(parent_level, parent_level)
    return issue(
        "error",
        "carried_mismatch",
        level,
        f"沿用自第 {number} 代的{label}与新导入的{parent_label}不再对应（{count} 个问题，见下）。"
        f"只导入{parent_label}时，请加 --drop-lower（不再沿用更细的层级，定位只回答到{parent_label}），"
        f"或加 --recut-lower（把沿用的{label}按新的{parent_label}裁切，临时的合成边界）",
        f"The {level} cells carried from generation {number} no longer nest in the new {parent_level} "
        f"polygons ({count} problems): use --drop-lower or --recut-lower",
        codes=[],
    )
