"""What the import's checks cost on the Changning demo set (13 townships, 124 villages, 932 cells).

    .venv/bin/python bench/import_checks.py [--rounds 3]

Prints, best of the rounds, the seconds of: the topology report (check_generation), the county check
(check_against_county: datum shift, outside the outline, total area), the GCJ-02 inverse of every
vertex of every level, and --recut-lower of the villages and cells against the townships.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from shapely.geometry import shape

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from backend.grids.county_check import check_against_county  # noqa: E402
from backend.grids.datums import chinese_geometry_to_wgs84  # noqa: E402
from backend.grids.outline import read_outline  # noqa: E402
from backend.grids.partial import recut  # noqa: E402
from backend.grids.topology import Feature, check_generation  # noqa: E402

DEMO = ROOT / "grids" / "changning"
LEVELS = ("township", "village", "grid")
FILES = {"township": "townships", "village": "villages", "grid": "grid_cells"}


def features() -> dict[str, list[Feature]]:
    out = {}
    for level, name in FILES.items():
        fc = json.loads((DEMO / f"{name}.geojson").read_text(encoding="utf-8"))
        out[level] = [
            Feature(level, p["code"], p["name"], p.get("parent_code"), shape(f["geometry"]))
            for f in fc["features"]
            for p in [f["properties"]]
        ]
    return out


def best(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    feats = features()
    outline = read_outline(DEMO / "source" / "county.geojson")
    n = sum(len(v) for v in feats.values())
    print(f"demo set: {n} features")
    print(
        f"topology report       {best(lambda: check_generation(feats, LEVELS, primary=True), rounds):6.2f} s"
    )
    county = best(
        lambda: check_against_county(feats, LEVELS, list(LEVELS), outline, "昌宁县", primary=True), rounds
    )
    print(f"county check          {county:6.2f} s")
    geoms = np.array([f.geometry for lv in LEVELS for f in feats[lv]], dtype=object)
    print(f"GCJ-02 inverse, all   {best(lambda: chinese_geometry_to_wgs84(geoms, 'gcj02'), rounds):6.2f} s")

    def recut_all() -> None:
        villages, _, _ = recut(feats["village"], feats["township"])
        recut(feats["grid"], villages)

    print(f"recut villages+cells  {best(recut_all, rounds):6.2f} s")


if __name__ == "__main__":
    main()
