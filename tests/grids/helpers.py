"""Small builders for grid test files: squares in metres around a point, written with pyogrio."""

from __future__ import annotations

import json
import math
from pathlib import Path


def square(lon: float, lat: float, size_m: float, dx_m: float = 0.0, dy_m: float = 0.0) -> dict:
    """A GeoJSON square of size_m metres whose south-west corner is dx/dy metres from (lon, lat)."""
    kx = 111_320 * math.cos(math.radians(lat))
    ky = 110_574
    x0, y0 = lon + dx_m / kx, lat + dy_m / ky
    x1, y1 = x0 + size_m / kx, y0 + size_m / ky
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return {"type": "Polygon", "coordinates": [ring]}


def square_fc(cells: list[tuple], parent: str | None = None) -> dict:
    """cells: (code, name, lon, lat, size_m[, dx_m, dy_m[, parent_code]])."""
    features = []
    for cell in cells:
        code, name, lon, lat, size = cell[:5]
        dx, dy = (cell[5], cell[6]) if len(cell) >= 7 else (0.0, 0.0)
        p = cell[7] if len(cell) >= 8 else parent
        props = {"code": code, "name": name}
        if p is not None:
            props["parent_code"] = p
        features.append({"type": "Feature", "properties": props, "geometry": square(lon, lat, size, dx, dy)})
    return {"type": "FeatureCollection", "features": features}


def write_geojson(path: Path, fc: dict) -> Path:
    path.write_text(json.dumps(fc, ensure_ascii=False), encoding="utf-8")
    return path


async def run_cli(*args: str) -> tuple[int, str, str]:
    """Run `fengqiao ...` in another process against the test database (the environment says which)."""
    import asyncio
    import os
    import sys

    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "backend.cli",
        *args,
        env=dict(os.environ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 180)
    return proc.returncode, out.decode(), err.decode()
