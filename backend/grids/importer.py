"""Reading boundary files: Shapefile, GeoPackage, GeoJSON, KML (geopandas/pyogrio).

What the county's surveyors hand over is rarely tidy: Shapefiles in CGCS2000 Gauss-Krüger with or
without the zone prefix in the eastings, GBK attributes without a .cpg, a .prj that is missing, a
polygon that crosses itself. The reader normalises all that into `Feature`s in WGS-84 (CGCS2000 is
taken as WGS-84: they differ by centimetres) and reports what it did; it refuses only what it cannot
guess safely (no CRS, unknown fields, several layers), with a message that says how to fix it.
"""

from __future__ import annotations

import hashlib
import json
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely
from pyproj import CRS
from tqdm import tqdm

from backend.core.errors import AppError
from backend.grids.datums import chinese_crs, chinese_geometry_to_wgs84
from backend.grids.topology import Feature, issue

SHAPEFILE_SIDECARS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
MAX_CODE_LENGTH = 32  # grid_region.code
# Candidate attribute names, compared case-insensitively (Shapefile names are cut to 10 characters).
CODE_FIELDS = (
    "code",
    "adcode",  # AMap, DataV, AreaCity
    "dm",
    "xzdm",  # 乡镇代码
    "cun_dm",  # 村代码
    "cundm",
    "bm",
    "qhdm",
    "xzqdm",
    "wgbm",
    "wgdm",
    "gridcode",
    "grid_code",
    "编码",
    "代码",
    "网格编码",
    "区划代码",
)
NAME_FIELDS = (
    "name",
    "mc",
    "xzmc",
    "cun_mc",
    "cunmc",
    "qhmc",
    "xzqmc",
    "wgmc",
    "gridname",
    "名称",
    "网格名称",
    "区划名称",
)
PARENT_FIELDS = (
    "parent_code",
    "parent_cod",
    "parent",  # DataV: {"adcode": ...}
    "sjdm",
    "sjbm",
    "fdm",
    "上级代码",
    "上级编码",
    "所属代码",
)
# CGCS2000 3-degree Gauss-Krüger: EPSG:4513-4533 zones 25-45 with the zone prefix in the easting,
# EPSG:4534-4554 central meridians 75°E-135°E without it (the ones a file's prefix is checked against).
GK_PLAIN = range(4534, 4555)


class ImportRefused(AppError):
    status_code = 400
    code = "grids.import_refused"
    message = "无法导入该文件"
    message_en = "The file cannot be imported"


@dataclass
class LayerOptions:
    level: str
    code_field: str | None = None
    name_field: str | None = None
    parent_field: str | None = None
    layer: str | None = None
    encoding: str | None = None
    crs: str | None = None

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class LayerRead:
    path: Path
    options: LayerOptions
    features: list[Feature]
    issues: list[dict]
    checksum: str
    info: dict = field(default_factory=dict)  # crs, encoding, fields used, counts


# --- files ------------------------------------------------------------------------------------------


def source_files(path: Path) -> list[Path]:
    if path.suffix.lower() == ".shp":
        return [p for ext in SHAPEFILE_SIDECARS if (p := path.with_suffix(ext)).exists()] + [
            p for ext in SHAPEFILE_SIDECARS if (p := path.with_suffix(ext.upper())).exists()
        ]
    return [path]


def file_checksum(path: Path, options: LayerOptions) -> str:
    """sha256 of the file (with a Shapefile's sidecars) and the options that change the result."""
    h = hashlib.sha256()
    for p in sorted(source_files(path)):
        h.update(p.suffix.lower().encode())
        h.update(p.read_bytes())
    h.update(json.dumps(options.as_dict(), sort_keys=True, ensure_ascii=False).encode())
    return h.hexdigest()


def _guess_shapefile_encoding(path: Path) -> str | None:
    """A Shapefile without .cpg and without a code page in the .dbf header is read as ISO-8859-1 by
    GDAL, which silently garbles GBK names. Decide from the bytes: valid UTF-8, else GBK."""
    if any(path.with_suffix(ext).exists() for ext in (".cpg", ".CPG")):
        return None
    dbf = next((p for p in (path.with_suffix(".dbf"), path.with_suffix(".DBF")) if p.exists()), None)
    if dbf is None:
        return None
    data = dbf.read_bytes()
    if len(data) > 29 and data[29] != 0:  # language driver id: GDAL knows the code page
        return None
    header_len = int.from_bytes(data[8:10], "little") if len(data) >= 10 else 0
    records = data[header_len:]
    if all(b < 0x80 for b in records):
        return None
    try:
        records.decode("utf-8")
        return "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        records.decode("gb18030")
        return "GBK"
    except UnicodeDecodeError:
        return None


# --- CRS --------------------------------------------------------------------------------------------


def _crs_hint(bounds: tuple[float, float, float, float]) -> tuple[str, str]:
    minx, miny, maxx, maxy = bounds
    if -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90:
        return (
            "坐标像是经纬度：测绘数据用 --crs EPSG:4490（CGCS2000）或 --crs EPSG:4326（WGS-84）；"
            "从高德、DataV、腾讯地图得到的数据是 GCJ-02，用 --crs gcj02；百度地图的数据用 --crs bd09",
            "The coordinates look like lon/lat: --crs EPSG:4490 (CGCS2000) or EPSG:4326; AMap, DataV "
            "and Tencent data is GCJ-02 (--crs gcj02), Baidu data BD-09 (--crs bd09)",
        )
    if 25e6 <= minx and maxx < 46e6 and int(minx // 1e6) == int(maxx // 1e6):
        zone = int(minx // 1e6)
        epsg = 4513 + zone - 25
        return (
            f"横坐标带有带号 {zone}，像是 CGCS2000 3度带高斯-克吕格第 {zone} 带"
            f"（中央经线 {zone * 3}°E）：--crs EPSG:{epsg}",
            f"The eastings carry zone prefix {zone}: CGCS2000 3-degree Gauss-Kruger zone {zone}, "
            f"--crs EPSG:{epsg}",
        )
    if 0 < minx and maxx < 1e6 and 0 < miny and maxy < 1e7:
        return (
            "横坐标不带带号，像是 CGCS2000 3度带高斯-克吕格（不带带号），须按中央经线选择："
            "EPSG:4534（75°E）至 EPSG:4554（135°E），取离本县最近的 3 的倍数经度，如 99°E 为 --crs EPSG:4542",
            "Eastings without zone prefix: CGCS2000 3-degree Gauss-Kruger by central meridian, "
            "EPSG:4534 (75E) to EPSG:4554 (135E), the multiple of 3 nearest the county; "
            "99E is --crs EPSG:4542",
        )
    return ("无法从坐标推断坐标系", "The coordinate range does not suggest a CRS")


def _gk_params(crs: CRS) -> tuple[float, float] | None:
    """(central meridian, false easting) of a CGCS2000 transverse Mercator / Gauss-Krüger CRS."""
    if not crs.is_projected or "2000" not in (crs.datum.name if crs.datum else ""):
        return None
    op = crs.coordinate_operation
    if (
        op is None
        or "transverse mercator" not in op.method_name.lower()
        and "gauss" not in op.method_name.lower()
    ):
        return None
    params = {p.name.lower(): p.value for p in op.params}
    lon0 = params.get("longitude of natural origin", params.get("central_meridian"))
    fe = params.get("false easting", 0.0)
    if lon0 is None:
        return None
    return float(lon0), float(fe)


def resolve_crs(
    file_crs: CRS | None, option: str | None, bounds, issues: list[dict], level: str
) -> tuple[CRS, str]:
    """The CRS to read the coordinates in, and a label for the report. Fixes a zone prefix that
    disagrees with the declared Gauss-Krüger CRS (the most common surveyor mix-up)."""
    if option:
        try:
            crs = CRS.from_user_input(option)
        except Exception:
            raise ImportRefused(
                message=f"无法识别坐标系 {option}（例如 EPSG:4490、EPSG:4542、gcj02、bd09）",
                message_en=f"Unknown CRS {option} (e.g. EPSG:4490, EPSG:4542, gcj02, bd09)",
                code="geo.invalid_crs",
            ) from None
    elif file_crs is not None:
        crs = file_crs
    else:
        hint, hint_en = _crs_hint(bounds)
        raise ImportRefused(
            message=(
                "文件没有坐标系信息（Shapefile 缺少 .prj，或坐标系未定义），无法确定坐标的含义。"
                "请用 --crs 指定，例如经纬度 --crs EPSG:4490，CGCS2000 3度带带号第33带 --crs EPSG:4521，"
                "不带带号中央经线99° --crs EPSG:4542，高德/DataV/腾讯地图的 GCJ-02 数据 --crs gcj02，"
                f"百度地图的数据 --crs bd09。{hint}"
            ),
            message_en=(
                "The file has no CRS (no .prj or undefined). Give one with --crs, e.g. EPSG:4490 for "
                "lon/lat, EPSG:4521 for GK zone 33 with prefix, EPSG:4542 for GK CM 99E without, gcj02 "
                f"for AMap/DataV/Tencent data, bd09 for Baidu data. {hint_en}"
            ),
            code="grids.crs_missing",
        )
    epsg = crs.to_epsg(min_confidence=70)
    label = f"EPSG:{epsg}" if epsg else crs.name
    gk = _gk_params(crs)
    if gk is not None:
        lon0, fe = gk
        minx, maxx = bounds[0], bounds[2]
        prefixed_data = minx >= 1e7
        zone = int(minx // 1e6) if prefixed_data else None
        if prefixed_data and fe < 1e6:
            if zone is not None and int(maxx // 1e6) == zone and abs(zone * 3 - lon0) < 1e-9:
                fixed = 4513 + zone - 25
                issues.append(
                    issue(
                        "warning",
                        "crs_adjusted",
                        level,
                        f"坐标系 {label} 不带带号，但横坐标带带号 {zone}；按 EPSG:{fixed} 读取",
                        f"{label} has no zone prefix but the eastings do ({zone}); read as EPSG:{fixed}",
                    )
                )
                return CRS.from_epsg(fixed), f"EPSG:{fixed}"
            raise ImportRefused(
                message=f"坐标系 {label}（中央经线 {lon0:g}°）与横坐标的带号 {zone} 不符，"
                "请用 --crs 指定正确的坐标系",
                message_en=f"{label} (CM {lon0:g}E) does not match the eastings' zone prefix {zone}; "
                "give --crs",
                code="grids.crs_mismatch",
            )
        if not prefixed_data and fe >= 1e6 and maxx < 1e6:
            fixed = 4534 + int(round((lon0 - 75) / 3))
            if fixed in GK_PLAIN:
                issues.append(
                    issue(
                        "warning",
                        "crs_adjusted",
                        level,
                        f"坐标系 {label} 带带号，但横坐标不带；按 EPSG:{fixed}（中央经线 {lon0:g}°）读取",
                        f"{label} has a zone prefix but the eastings do not; read as EPSG:{fixed}",
                    )
                )
                return CRS.from_epsg(fixed), f"EPSG:{fixed}"
    return crs, label


def _to_wgs84(gdf, crs: CRS, level: str, label: str, issues: list[dict]):
    """Geographic CGCS2000/WGS-84 as is; CGCS2000 projections inverted on their own datum; anything
    else through PROJ to WGS-84, with a warning when the datum is not CGCS2000 or WGS-84."""
    datum = crs.datum.name if crs.datum else ""
    cgcs_or_wgs = "2000" in datum or "WGS" in datum.upper() or "World Geodetic System 1984" in datum
    if crs.is_geographic and cgcs_or_wgs:
        return gdf.set_crs(crs, allow_override=True)
    if not cgcs_or_wgs:
        issues.append(
            issue(
                "warning",
                "datum",
                level,
                f"坐标系 {label} 的基准面（{datum}）不是 CGCS2000/WGS-84，转换可能有几十米到上百米误差",
                f"{label} uses datum {datum}, not CGCS2000/WGS-84: expect tens of metres of error",
            )
        )
    target = "EPSG:4490" if "2000" in datum else "EPSG:4326"
    return gdf.set_crs(crs, allow_override=True).to_crs(target)


# --- attributes -------------------------------------------------------------------------------------


def _pick_field(
    columns: list[str], given: str | None, candidates: tuple[str, ...], what: str, required: bool
):
    if given:
        if given in columns:
            return given
        lowered = {c.lower(): c for c in columns}
        if given.lower() in lowered:
            return lowered[given.lower()]
        raise ImportRefused(
            message=f"找不到{what}字段 {given}；文件中的字段：{', '.join(columns) or '（无）'}",
            message_en=f"No field {given}; the file has: {', '.join(columns) or '(none)'}",
            code="grids.unknown_field",
        )
    lowered = {c.lower(): c for c in columns}
    for cand in candidates:
        if cand.lower() in lowered:
            return lowered[cand.lower()]
    if required:
        option = {"编码": "--code-field", "名称": "--name-field"}.get(what, "--parent-field")
        raise ImportRefused(
            message=f"无法确定{what}字段，请用 {option} 指定；文件中的字段：{', '.join(columns) or '（无）'}",
            message_en=f"Cannot tell which field holds the {what}; use {option}. "
            f"Fields: {', '.join(columns)}",
            code="grids.unknown_field",
        )
    return None


def _text(value) -> str | None:
    """An attribute as text: numbers from DBF numeric fields lose their '.0'; DataV's parent
    object ({"adcode": 530524}, read by GDAL as JSON text) gives its code."""
    if value is None:
        return None
    if isinstance(value, dict):
        return _text(value.get("adcode", value.get("code")))
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            return _text(parsed)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            return str(int(value))
    if isinstance(value, np.integer):
        return str(int(value))
    text = str(value).strip()
    return text or None


def _jsonable(value):
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if np.isnan(value) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, list | tuple | np.ndarray):
        return [_jsonable(v) for v in value]
    return str(value)


# --- geometry ---------------------------------------------------------------------------------------


def clean_geometry(geom) -> tuple[shapely.Geometry | None, str | None]:
    """(valid Polygon/MultiPolygon in 2D, or None; why it was repaired or dropped)."""
    if geom is None or geom.is_empty:
        return None, "empty"
    geom = shapely.force_2d(geom)
    reason = None
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        geom = shapely.make_valid(geom, method="structure", keep_collapsed=False)
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
        polys = [q for p in parts for q in shapely.get_parts(p)]
        if not polys:
            return None, reason or f"not a polygon ({geom.geom_type})"
        geom = polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)
        reason = reason or "polygon parts kept"
    if geom.is_empty or geom.area == 0:
        return None, reason or "empty"
    # RFC 7946 winding (exterior counter-clockwise), so the GeoJSON we serve is conformant.
    return shapely.orient_polygons(geom, exterior_cw=False), reason


# --- reading ----------------------------------------------------------------------------------------


def _choose_layer(path: Path, layer: str | None) -> str | None:
    import pyogrio

    try:
        layers = pyogrio.list_layers(path)
    except Exception as exc:
        raise _unreadable(path, exc) from None
    names = [str(row[0]) for row in layers]
    if layer is not None:
        if layer not in names:
            raise ImportRefused(
                message=f"文件中没有图层 {layer}；可用图层：{', '.join(names)}",
                message_en=f"No layer {layer}; layers: {', '.join(names)}",
                code="grids.unknown_layer",
            )
        return layer
    polygonal = [
        str(row[0]) for row in layers if row[1] is None or "Polygon" in str(row[1]) or row[1] == "Unknown"
    ]
    if len(names) > 1 and len(polygonal) != 1:
        raise ImportRefused(
            message=f"文件有多个图层：{', '.join(names)}；请用 --layer 指定",
            message_en=f"The file has several layers: {', '.join(names)}; choose one with --layer",
            code="grids.several_layers",
        )
    return polygonal[0] if len(names) > 1 else None


def _unreadable(path: Path, exc: Exception) -> ImportRefused:
    """GDAL's own words go to the English message only: the clerk gets what to do."""
    return ImportRefused(
        message=f"无法读取文件 {path.name}：不是能识别的 Shapefile（需同名的 .shp、.shx、.dbf）、"
        "GeoPackage、GeoJSON（FeatureCollection）或 KML 文件，或文件已损坏。请在 GIS 软件中另存为 "
        "GeoPackage 或 Shapefile 后重试",
        message_en=f"Cannot read {path.name}: {exc}",
        code="grids.unreadable",
    )


def _json_features(path: Path) -> dict | None:
    """A .json/.geojson file whose top level is an array (DataV and some scrapers write the features
    as a bare array, which GDAL does not read) as a FeatureCollection; None for any other file."""
    if path.suffix.lower() not in (".json", ".geojson"):
        return None
    with open(path, "rb") as f:
        head = f.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"["):
        return None
    refuse = ImportRefused(
        message=f"文件 {path.name} 是 JSON 数组，但其中不是 GeoJSON 要素（Feature）：请导出为 GeoJSON "
        "FeatureCollection、GeoPackage 或 Shapefile",
        message_en=f"{path.name} is a JSON array of something other than GeoJSON Features",
        code="grids.unreadable",
    )
    try:
        items = json.loads(path.read_text(encoding="utf-8-sig"))
    except (ValueError, UnicodeDecodeError):
        raise refuse from None
    features: list = []
    for item in items:
        if isinstance(item, dict) and item.get("type") == "Feature":
            features.append(item)
        elif isinstance(item, dict) and item.get("type") == "FeatureCollection":
            features += item.get("features") or []
        else:
            raise refuse
    return {"type": "FeatureCollection", "features": features}


def _from_chinese_datum(gdf, crs: str, bounds, level: str):
    """GCJ-02/BD-09 lon/lat to WGS-84, before anything else looks at the geometry."""
    name = {"gcj02": "GCJ-02", "bd09": "BD-09"}[crs]
    if gdf.crs is not None and not gdf.crs.is_geographic:
        raise ImportRefused(
            message=f"文件的坐标系是投影坐标（{gdf.crs.name}），而 {name} 只用于经纬度：去掉 --crs {crs}，"
            "或确认数据来源",
            message_en=f"The file is in a projected CRS ({gdf.crs.name}); {name} is lon/lat only",
            code="grids.crs_mismatch",
        )
    minx, miny, maxx, maxy = bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise ImportRefused(
            message=f"坐标不是经纬度，不可能是 {name}：请去掉 --crs {crs}，按文件实际的坐标系导入",
            message_en=f"The coordinates are not lon/lat, so not {name}",
            code="grids.crs_mismatch",
        )
    converted = chinese_geometry_to_wgs84(np.asarray(gdf.geometry.values, dtype=object), crs)
    gdf = gdf.set_geometry(list(converted), crs="EPSG:4326")
    return gdf, f"{name}（已转换为 WGS-84）"


def read_layer(path: Path | str, options: LayerOptions, *, progress: bool = False) -> LayerRead:
    """Read one file (one layer) of one level into WGS-84 features, with what was fixed on the way."""
    path = Path(path)
    if not path.exists():
        raise ImportRefused(
            message=f"文件不存在：{path}", message_en=f"No such file: {path}", code="grids.no_file"
        )
    collection = _json_features(path)
    if collection is None:
        return _read_layer(path, path, options, [], progress)
    note = issue(
        "warning",
        "json_array",
        options.level,
        f"{path.name} 的顶层是要素数组（DataV 等网站的格式），已按 GeoJSON FeatureCollection 读取",
        f"{path.name} is a bare array of features (as DataV writes them); read as a FeatureCollection",
    )
    with tempfile.TemporaryDirectory(prefix="fengqiao-import-") as tmp:
        source = Path(tmp) / f"{path.stem}.geojson"
        source.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
        return _read_layer(path, source, options, [note], progress)


def _read_layer(
    path: Path, source: Path, options: LayerOptions, issues: list[dict], progress: bool
) -> LayerRead:
    import pyogrio  # imports pandas and geopandas: only when a file is read

    level = options.level
    layer = _choose_layer(source, options.layer)
    info = pyogrio.read_info(source, layer=layer)
    encoding = options.encoding
    encoding_note = encoding or info.get("encoding")
    if encoding is None and info.get("driver") == "ESRI Shapefile":
        guessed = _guess_shapefile_encoding(source)
        if guessed:
            encoding = guessed
            encoding_note = f"{guessed}（推断）"
            issues.append(
                issue(
                    "warning",
                    "encoding_guessed",
                    level,
                    f"Shapefile 没有 .cpg 编码文件，按字节推断属性编码为 {guessed}；"
                    "如有误请用 --encoding 指定",
                    f"No .cpg: attribute encoding guessed as {guessed}; use --encoding if wrong",
                )
            )
    try:
        gdf = pyogrio.read_dataframe(source, layer=layer, encoding=encoding)
    except Exception as exc:
        raise _unreadable(path, exc) from None
    if gdf.empty:
        raise ImportRefused(
            message=f"文件 {path.name} 没有要素",
            message_en="The file has no features",
            code="grids.empty_file",
        )
    bounds = tuple(float(b) for b in gdf.total_bounds)
    chinese = chinese_crs(options.crs)
    if chinese:
        gdf, crs_label = _from_chinese_datum(gdf, chinese, bounds, level)
    else:
        crs, crs_label = resolve_crs(gdf.crs, options.crs, bounds, issues, level)
        gdf = _to_wgs84(gdf, crs, level, crs_label, issues)
    lon_min, lat_min, lon_max, lat_max = (float(b) for b in gdf.total_bounds)
    if not (-180 <= lon_min <= lon_max <= 180 and -90 <= lat_min <= lat_max <= 90):
        raise ImportRefused(
            message=f"按坐标系 {crs_label} 转换后坐标超出经纬度范围，坐标系可能不对，请用 --crs 指定",
            message_en=f"Converted with {crs_label} the coordinates are out of range; wrong CRS? Use --crs",
            code="grids.crs_mismatch",
        )
    if not (72 <= lon_min and lon_max <= 138 and 0 <= lat_min and lat_max <= 56):
        issues.append(
            issue(
                "warning",
                "far_away",
                level,
                f"数据范围（{lon_min:.3f},{lat_min:.3f} – {lon_max:.3f},{lat_max:.3f}）"
                "不在中国境内，请确认坐标系",
                "The data lies outside China: check the CRS",
            )
        )

    columns = [c for c in gdf.columns if c != gdf.geometry.name]
    code_field = _pick_field(columns, options.code_field, CODE_FIELDS, "编码", True)
    name_field = _pick_field(columns, options.name_field, NAME_FIELDS, "名称", False)
    parent_field = _pick_field(columns, options.parent_field, PARENT_FIELDS, "上级代码", False)
    other = [c for c in columns if c not in (code_field, name_field, parent_field)]

    features: list[Feature] = []
    repaired: list[str] = []
    dropped: list[str] = []
    records = gdf[columns].to_dict("records")
    geoms = gdf.geometry.values
    for row, geom in tqdm(
        zip(records, geoms, strict=True),
        total=len(records),
        desc=f"读取 {path.name}",
        unit="个",
        disable=not progress,
    ):
        code = _text(row.get(code_field))
        clean, why = clean_geometry(geom)
        if not code:
            dropped.append(f"#{len(features) + len(dropped) + 1}")
            issues.append(
                issue(
                    "error", "missing_code", level, "有要素没有编码，已跳过", "A feature has no code; skipped"
                )
            )
            continue
        parent = _text(row.get(parent_field)) if parent_field else None
        if len(code) > MAX_CODE_LENGTH or (parent and len(parent) > MAX_CODE_LENGTH):
            dropped.append(code[:MAX_CODE_LENGTH])
            issues.append(
                issue(
                    "error",
                    "code_too_long",
                    level,
                    f"编码 {code[:40]} 或其上级编码超过 {MAX_CODE_LENGTH} 位，已跳过",
                    f"Code {code[:40]} or its parent is longer than {MAX_CODE_LENGTH} characters; skipped",
                    codes=[code[:MAX_CODE_LENGTH]],
                )
            )
            continue
        if clean is None:
            dropped.append(code)
            issues.append(
                issue(
                    "error",
                    "empty_geometry",
                    level,
                    f"{code} 的几何为空或不是面（{why}），已跳过",
                    f"{code}: empty or not a polygon ({why}); skipped",
                    codes=[code],
                )
            )
            continue
        if why:
            repaired.append(code)
            issues.append(
                issue(
                    "warning",
                    "invalid_repaired",
                    level,
                    f"{code} 的几何无效（{why}），已用 make_valid 修复",
                    f"{code}: invalid geometry ({why}) repaired with make_valid",
                    codes=[code],
                    reason=why,
                    parts=len(shapely.get_parts(clean)),
                )
            )
        name = _text(row.get(name_field)) if name_field else None
        features.append(
            Feature(
                level=level,
                code=code,
                name=name or code,
                parent_code=parent,
                geometry=clean,
                properties={c: _jsonable(row.get(c)) for c in other},
            )
        )
    if name_field is None:
        issues.append(
            issue(
                "warning",
                "no_name_field",
                level,
                "没有名称字段，名称用编码代替",
                "No name field: names are the codes",
            )
        )
    return LayerRead(
        path=path,
        options=options,
        features=features,
        issues=issues,
        checksum=file_checksum(path, options),
        info={
            "file": path.name,
            "layer": layer,
            "driver": info.get("driver"),
            "crs": crs_label,
            "encoding": encoding_note,
            "fields": {"code": code_field, "name": name_field, "parent": parent_field},
            "features": len(features),
            "repaired": len(repaired),
            "dropped": len(dropped),
        },
    )


def derive_parents(features: list[Feature], parents: list[Feature]) -> int:
    """Give features without a parent code the parent that covers a point inside them."""
    missing = [f for f in features if not f.parent_code]
    if not missing or not parents:
        return 0
    pg = np.array([p.geometry for p in parents], dtype=object)
    order = np.argsort([p.code for p in parents])
    tree = shapely.STRtree(pg)
    pts = shapely.point_on_surface(np.array([f.geometry for f in missing], dtype=object))
    pairs = tree.query(pts, predicate="intersects")
    rank = np.empty(len(order), dtype=int)
    rank[order] = np.arange(len(order))
    best: dict[int, int] = {}
    for i, j in zip(pairs[0].tolist(), pairs[1].tolist(), strict=True):
        if i not in best or rank[j] < rank[best[i]]:
            best[i] = j
    for i, j in best.items():
        missing[i].parent_code = parents[j].code
    return len(best)
