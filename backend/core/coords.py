"""Coordinates: the distance between two points, and GCJ-02 (the offset datum of AMap, Tencent maps and
WeChat) to WGS-84.

Phones give WGS-84 from GPS; a point picked on a Chinese web map is GCJ-02 and about 300-600 m off
in Changning. GCJ-02 is WGS-84 shifted by a published forward formula; there is no closed-form
inverse, so the inverse is solved by fixed-point iteration (converges to 1e-10 degrees in a few steps;
the round trip is exact to well under a millimetre). Outside mainland China GCJ-02 equals WGS-84.
BD-09 (Baidu) is a second offset on top of GCJ-02 (below).
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


# BD-09 (Baidu maps) is GCJ-02 with a second published offset on top, applied everywhere. Its usual
# "inverse" formula is itself an approximation (metres off), so the inverse is again solved by
# iteration from it, as for GCJ-02.
_BD_X_PI = math.pi * 3000.0 / 180.0


def gcj02_to_bd09_array(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The published forward formula, vectorised (scalars work too)."""
    x = np.asarray(lon, dtype=float)
    y = np.asarray(lat, dtype=float)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _BD_X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02_array(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Invert the BD-09 offset: the approximate formula, then fixed-point iteration on the forward one."""
    b_lon = np.asarray(lon, dtype=float)
    b_lat = np.asarray(lat, dtype=float)
    x, y = b_lon - 0.0065, b_lat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _BD_X_PI)
    g_lon, g_lat = z * np.cos(theta), z * np.sin(theta)
    for _ in range(_MAX_ITER):
        f_lon, f_lat = gcj02_to_bd09_array(g_lon, g_lat)
        e_lon, e_lat = f_lon - b_lon, f_lat - b_lat
        g_lon, g_lat = g_lon - e_lon, g_lat - e_lat
        if np.all(np.abs(e_lon) < _TOL_DEG) and np.all(np.abs(e_lat) < _TOL_DEG):
            break
    return g_lon, g_lat


def wgs84_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    """WGS-84 → GCJ-02 → BD-09 (for tests, and to compare with points picked on Baidu maps)."""
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    b_lon, b_lat = gcj02_to_bd09_array(np.array(g_lon), np.array(g_lat))
    return float(b_lon), float(b_lat)


def bd09_to_wgs84_array(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 → GCJ-02 → WGS-84, vectorised: the one path Baidu coordinates take."""
    g_lon, g_lat = bd09_to_gcj02_array(lon, lat)
    return gcj02_to_wgs84_array(g_lon, g_lat)


def bd09_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    w_lon, w_lat = bd09_to_wgs84_array(np.array([lon]), np.array([lat]))
    return float(w_lon[0]), float(w_lat[0])
