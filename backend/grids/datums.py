"""GCJ-02 and BD-09 geometries to WGS-84: the one conversion path of county outlines and imports.

Chinese web-map data is offset on purpose: GCJ-02 (AMap, DataV, Tencent) and BD-09 (Baidu, GCJ-02
plus a second offset). The point formulas live in backend.core.coords; this applies them to every
vertex of a geometry (or an array of geometries), vectorised.
"""

from __future__ import annotations

import numpy as np
import shapely

from backend.core.coords import bd09_to_wgs84_array, gcj02_to_wgs84_array

CHINESE_CRS = {"gcj02", "bd09"}


def chinese_crs(option: str | None) -> str | None:
    """'gcj02' or 'bd09' for the spellings people type (GCJ-02, gcj02, BD09, bd-09), else None."""
    name = (option or "").lower().replace("-", "").replace("_", "").strip()
    return name if name in CHINESE_CRS else None


def gcj02_geometry_to_wgs84(geom):
    """Every vertex through the GCJ-02 inverse (vectorised; a geometry or an array of them)."""

    def convert(coords: np.ndarray) -> np.ndarray:
        lon, lat = gcj02_to_wgs84_array(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(geom, convert)


def bd09_geometry_to_wgs84(geom):
    """Every vertex through the BD-09 → GCJ-02 → WGS-84 inverse (vectorised)."""

    def convert(coords: np.ndarray) -> np.ndarray:
        lon, lat = bd09_to_wgs84_array(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(geom, convert)


def chinese_geometry_to_wgs84(geom, crs: str):
    """The one conversion path for GCJ-02 and BD-09 geometries (outlines and imports alike)."""
    if crs == "gcj02":
        return gcj02_geometry_to_wgs84(geom)
    if crs == "bd09":
        return bd09_geometry_to_wgs84(geom)
    raise ValueError(crs)
