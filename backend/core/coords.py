"""Coordinates: the distance between two points, and GCJ-02 (the offset datum of AMap, Tencent maps and
WeChat) to WGS-84.

Phones give WGS-84 from GPS; a point picked on a Chinese web map is GCJ-02 and about 300-600 m off
in Changning. GCJ-02 is WGS-84 shifted by a published forward formula; there is no closed-form
inverse, so the inverse is solved by fixed-point iteration (converges to 1e-10 degrees in a few steps;
the round trip is exact to well under a millimetre). Outside mainland China GCJ-02 equals WGS-84.
"""

from __future__ import annotations

import math

import numpy as np

EARTH_RADIUS_M = 6_371_008.8  # the mean radius (IUGG)


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres (haversine: ample at the few hundred metres compared here)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


# Krasovsky 1940 ellipsoid, as the GCJ-02 formula uses it.
_A = 6378245.0
_EE = 0.00669342162296594323
_TOL_DEG = 1e-10
_MAX_ITER = 30


def in_mainland_china(lon: float, lat: float) -> bool:
    """The rough box where the GCJ-02 offset applies (the formula's own convention)."""
    return 72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271


def _offsets(lon, lat, xp=math):
    x = lon - 105.0
    y = lat - 35.0
    pi = math.pi
    sqrt_abs_x = xp.sqrt(abs(x))
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x
    dlat += (20.0 * xp.sin(6.0 * x * pi) + 20.0 * xp.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat += (20.0 * xp.sin(y * pi) + 40.0 * xp.sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat += (160.0 * xp.sin(y / 12.0 * pi) + 320.0 * xp.sin(y * pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x
    dlon += (20.0 * xp.sin(6.0 * x * pi) + 20.0 * xp.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlon += (20.0 * xp.sin(x * pi) + 40.0 * xp.sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlon += (150.0 * xp.sin(x / 12.0 * pi) + 300.0 * xp.sin(x / 30.0 * pi)) * 2.0 / 3.0
    radlat = lat / 180.0 * pi
    magic = 1.0 - _EE * xp.sin(radlat) ** 2
    sqrt_magic = xp.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * xp.cos(radlat) * pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """The published forward formula (used for tests and for showing points on AMap tiles)."""
    if not in_mainland_china(lon, lat):
        return lon, lat
    dlon, dlat = _offsets(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """Invert the GCJ-02 offset by iteration: find w with forward(w) == (lon, lat)."""
    if not in_mainland_china(lon, lat):
        return lon, lat
    w_lon, w_lat = lon, lat
    for _ in range(_MAX_ITER):
        g_lon, g_lat = wgs84_to_gcj02(w_lon, w_lat)
        e_lon, e_lat = g_lon - lon, g_lat - lat
        w_lon, w_lat = w_lon - e_lon, w_lat - e_lat
        if abs(e_lon) < _TOL_DEG and abs(e_lat) < _TOL_DEG:
            break
    return w_lon, w_lat


def gcj02_to_wgs84_array(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised inverse for batches (imports, re-mapping); same iteration as the scalar one."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    china = (lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271)
    w_lon, w_lat = lon.copy(), lat.copy()
    for _ in range(_MAX_ITER):
        d_lon, d_lat = _offsets(w_lon, w_lat, xp=np)
        e_lon = np.where(china, w_lon + d_lon - lon, 0.0)
        e_lat = np.where(china, w_lat + d_lat - lat, 0.0)
        w_lon -= e_lon
        w_lat -= e_lat
        if np.all(np.abs(e_lon) < _TOL_DEG) and np.all(np.abs(e_lat) < _TOL_DEG):
            break
    return w_lon, w_lat
