"""The county outline: read from any file the grid importer reads, in WGS-84.

`fengqiao init` stores it on the county row; imports are checked against it. Chinese public boundary
data is usually GCJ-02 (AMap, DataV) or BD-09 (Baidu): `crs="gcj02"`/`"bd09"` converts it before
anything else, here and in the importer (one conversion path).
"""

from __future__ import annotations

from pathlib import Path

import shapely

from backend.grids.datums import chinese_crs, chinese_geometry_to_wgs84
from backend.grids.importer import ImportRefused


def read_outline(path: Path | str, crs: str | None = None) -> shapely.Geometry:
    """The union of the file's polygons as one WGS-84 (Multi)Polygon; refuses what can't be a county."""
    import geopandas  # type: ignore[import-untyped]  # heavy: only when a file is read

    path = Path(path)
    if not path.exists():
        raise ImportRefused(
            message=f"文件不存在：{path}", message_en=f"No such file: {path}", code="grids.no_file"
        )
    try:
        gdf = geopandas.read_file(path)
    except Exception:
        raise ImportRefused(
            message=f"无法读取县界文件 {path.name}：请提供 GeoJSON、Shapefile 或 GeoPackage",
            message_en=f"Cannot read the outline file {path.name}: give GeoJSON, Shapefile or GeoPackage",
            code="grids.unreadable",
        ) from None
    chinese = chinese_crs(crs)
    if crs and not chinese:
        gdf = gdf.set_crs(crs, allow_override=True)
    if gdf.crs is not None and not chinese and not gdf.crs.is_geographic:
        gdf = gdf.to_crs(4326)
    elif gdf.crs is not None and not chinese and gdf.crs.to_epsg() not in (4326, 4490, None):
        gdf = gdf.to_crs(4326)
    polygons = [g for g in gdf.geometry if g is not None and g.geom_type in ("Polygon", "MultiPolygon")]
    if not polygons:
        raise ImportRefused(
            message="县界文件中没有面要素（Polygon/MultiPolygon）",
            message_en="The outline file holds no polygons",
            code="county.outline_empty",
        )
    outline: shapely.Geometry = shapely.union_all([shapely.make_valid(g) for g in polygons])
    if chinese:
        outline = chinese_geometry_to_wgs84(outline, chinese)
    min_lon, min_lat, max_lon, max_lat = (float(v) for v in shapely.bounds(outline))
    if not (73 <= min_lon and max_lon <= 136 and 3 <= min_lat and max_lat <= 54):
        raise ImportRefused(
            message=(
                f"县界坐标范围（经度 {min_lon:.3f}–{max_lon:.3f}，纬度 {min_lat:.3f}–{max_lat:.3f}）"
                "不在中国境内："
                "请检查坐标系，投影坐标请用 --crs 指定（例如 EPSG:4542），"
                "高德/DataV 数据用 --crs gcj02，百度数据用 --crs bd09"
            ),
            message_en="The outline is not in China: check its CRS (--crs EPSG:…; gcj02 for AMap/DataV)",
            code="county.outline_outside_china",
        )
    return outline
