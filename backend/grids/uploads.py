"""Boundary files uploaded from the admin console: stored in pieces, inspected, imported, previewed.

The console does what `fengqiao grids import` does, in steps a browser can show progress for:
1. `new_upload()` gives an id; each file is sent in chunks (`put_chunk`, at the offset the server
   holds, so a dropped chunk is simply sent again) — a county's Shapefile set can be 100 MB.
2. `inspect()` lists the files with their layers, fields and the importer's guesses, so the form
   opens pre-filled.
3. `run_import()` reads the chosen layers exactly as the CLI does (same options, same messages) and
   stores a generation *without* activating it; the console then shows the report and both maps,
   and activates (service.activate_generation, with force) or discards (`discard_generation`).
Uploads live under <data_dir>/grid-uploads/<id>/ and are removed after UPLOAD_MAX_AGE_S.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import tempfile
import time
from pathlib import Path

import anyio
import shapely

from backend.core.errors import Conflict, InvalidRequest, NotFound
from backend.db import write_transaction
from backend.grids import service
from backend.grids.importer import (
    CODE_FIELDS,
    NAME_FIELDS,
    PARENT_FIELDS,
    ImportRefused,
    LayerOptions,
    _json_features,
    read_layer,
)
from backend.grids.maps import DEFAULT_TOLERANCE_DEG, TOLERANCE_DEG
from backend.grids.tables import GridGeneration, GridRegion
from backend.settings import get_settings

MAX_UPLOAD_BYTES = 500 * 1024 * 1024
MAX_CHUNK_BYTES = 8 * 1024 * 1024
UPLOAD_MAX_AGE_S = 24 * 3600
# The file a layer is read from; the others are a Shapefile's sidecars.
MAIN_SUFFIXES = (".shp", ".gpkg", ".geojson", ".json", ".kml")
SUFFIXES = (*MAIN_SUFFIXES, ".shx", ".dbf", ".prj", ".cpg", ".qpj", ".sbn", ".sbx")
_ID = re.compile(r"^[0-9a-f]{16}$")


class UploadNotFound(NotFound):
    code = "grids.unknown_upload"
    message = "上传的文件已过期或不存在，请重新上传"
    message_en = "No such upload (expired?): upload the files again"


class OffsetMismatch(Conflict):
    code = "grids.upload_offset"
    message = "上传位置不对，请从服务器已收到的位置继续"
    message_en = "Wrong offset: continue from the server's"


def _root() -> Path:
    return get_settings().data_dir / "grid-uploads"


def _dir(upload_id: str) -> Path:
    if not _ID.match(upload_id):
        raise UploadNotFound()
    path = _root() / upload_id
    if not path.is_dir():
        raise UploadNotFound()
    return path


def _file_name(name: str) -> str:
    """A plain file name with a boundary-file suffix (nothing that could leave the upload's folder)."""
    clean = Path(name).name
    if clean != name or clean.startswith(".") or Path(clean).suffix.lower() not in SUFFIXES:
        raise InvalidRequest(
            message=f"不能上传 {name}：只接受 Shapefile（.shp .shx .dbf .prj .cpg）、"
            "GeoPackage、GeoJSON 和 KML 文件",
            message_en=f"{name}: only Shapefile parts, GeoPackage, GeoJSON and KML files",
            code="grids.upload_type",
        )
    return clean


def _sweep() -> None:
    root = _root()
    if not root.is_dir():
        return
    cutoff = time.time() - UPLOAD_MAX_AGE_S
    for d in root.iterdir():
        if d.is_dir() and d.stat().st_mtime < cutoff:
            shutil.rmtree(d, ignore_errors=True)


def new_upload() -> str:
    _sweep()
    upload_id = secrets.token_hex(8)
    (_root() / upload_id).mkdir(parents=True)
    return upload_id


def put_chunk(upload_id: str, name: str, offset: int, data: bytes) -> int:
    """Append a chunk at `offset` (which must be what the server holds); the file's new size."""
    folder = _dir(upload_id)
    path = folder / _file_name(name)
    size = path.stat().st_size if path.exists() else 0
    if offset != size:
        raise OffsetMismatch(details={"offset": size})
    if len(data) > MAX_CHUNK_BYTES:
        raise InvalidRequest(
            message="单次上传的数据太大", message_en="Chunk too large", code="grids.upload_too_large"
        )
    total = sum(p.stat().st_size for p in folder.iterdir()) + len(data)
    if total > MAX_UPLOAD_BYTES:
        raise InvalidRequest(
            message=f"文件合计超过 {MAX_UPLOAD_BYTES // 1024 // 1024} MB",
            message_en="The files are too large",
            code="grids.upload_too_large",
        )
    with open(path, "ab") as f:
        f.write(data)
    return size + len(data)


def _guess(columns: list[str], candidates: tuple[str, ...]) -> str | None:
    lowered = {c.lower(): c for c in columns}
    return next((lowered[c.lower()] for c in candidates if c.lower() in lowered), None)


def _inspect_file(path: Path) -> dict:
    try:
        collection = _json_features(path)
    except ImportRefused as exc:
        return {"file": path.name, "problem": exc.message, "layers": []}
    if collection is None:
        return _inspect_source(path, path)
    with tempfile.TemporaryDirectory(prefix="fengqiao-inspect-") as tmp:
        source = Path(tmp) / f"{path.stem}.geojson"
        source.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
        return _inspect_source(path, source)


def _inspect_source(path: Path, source: Path) -> dict:
    import pyogrio

    out: dict = {"file": path.name, "layers": []}
    if path.suffix.lower() == ".shp":
        missing = [ext for ext in (".shx", ".dbf") if not path.with_suffix(ext).exists()]
        if missing:
            out["problem"] = f"缺少同名的 {'、'.join(missing)} 文件，请一起上传"
            return out
    try:
        layers = [str(row[0]) for row in pyogrio.list_layers(source)]
        for layer in layers:
            info = pyogrio.read_info(source, layer=layer if len(layers) > 1 else None)
            columns = [str(c) for c in info["fields"]]
            out["layers"].append(
                {
                    "name": layer,
                    "features": int(info["features"]),
                    "crs": info.get("crs"),
                    "fields": columns,
                    "guess": {
                        "code": _guess(columns, CODE_FIELDS),
                        "name": _guess(columns, NAME_FIELDS),
                        "parent": _guess(columns, PARENT_FIELDS),
                    },
                }
            )
    except Exception:
        # Something GDAL cannot open: the import step says what it is, in the importer's words.
        out["layers"] = [{"name": None, "features": None, "crs": None, "fields": [], "guess": {}}]
    return out


async def inspect(upload_id: str) -> list[dict]:
    folder = _dir(upload_id)
    mains = sorted(p for p in folder.iterdir() if p.suffix.lower() in MAIN_SUFFIXES)
    return await anyio.to_thread.run_sync(lambda: [_inspect_file(p) for p in mains])


async def run_import(
    upload_id: str, network: str, layers: list[dict], lower: str = "carry"
) -> service.ImportResult:
    """Read each chosen file as its level and store a generation (not activated)."""
    folder = _dir(upload_id)
    if not layers:
        raise InvalidRequest(
            message="请至少选择一个文件和层级", message_en="Choose at least one file", code="grids.invalid"
        )
    options = []
    for spec in layers:
        path = folder / _file_name(str(spec.get("file", "")))
        if not path.exists():
            raise UploadNotFound()
        options.append(
            (
                path,
                LayerOptions(
                    level=str(spec.get("level") or ""),
                    code_field=spec.get("code_field") or None,
                    name_field=spec.get("name_field") or None,
                    parent_field=spec.get("parent_field") or None,
                    layer=spec.get("layer") or None,
                    encoding=spec.get("encoding") or None,
                    crs=spec.get("crs") or None,
                ),
            )
        )
    read = await anyio.to_thread.run_sync(lambda: [read_layer(p, o) for p, o in options])
    return await service.import_layers(network, read, activate=False, lower=lower)


async def generation_geojson(generation_id: int, level: str) -> dict:
    """A generation's polygons at one level, simplified, for the console's preview map."""
    await service.get_generation(generation_id)
    rows = (
        await GridRegion.select(
            GridRegion.code, GridRegion.name, GridRegion.parent_code, GridRegion.geometry_wkb
        )
        .where((GridRegion.generation == generation_id) & (GridRegion.level == level))
        .order_by(GridRegion.code)
        .run()
    )

    def build() -> dict:
        if not rows:
            return {"type": "FeatureCollection", "features": []}
        geoms = shapely.from_wkb([r["geometry_wkb"] for r in rows])
        tolerance = TOLERANCE_DEG.get(level, DEFAULT_TOLERANCE_DEG)
        simple = shapely.set_precision(shapely.simplify(geoms, tolerance), 1e-6)
        features = [
            {
                "type": "Feature",
                "properties": {"code": r["code"], "name": r["name"], "parent_code": r["parent_code"]},
                "geometry": json.loads(shapely.to_geojson(g)),
            }
            for r, g in zip(rows, simple, strict=True)
        ]
        return {"type": "FeatureCollection", "features": features}

    return await anyio.to_thread.run_sync(build)


async def discard_generation(generation_id: int) -> None:
    """Delete a generation that was never active. Cases are located only in active generations, so
    none can point at it."""
    gen = await service.get_generation(generation_id)
    if gen["active"] or gen["activated_at"] is not None:
        raise Conflict(
            message="这一代网格已启用过，不能删除（可以启用别的一代代替它）",
            message_en="This generation has been active; it cannot be discarded",
            code="grids.generation_in_use",
        )
    async with write_transaction():
        await GridRegion.delete().where(GridRegion.generation == generation_id).run()
        await GridGeneration.delete().where(GridGeneration.id == generation_id).run()


__all__ = [
    "ImportRefused",
    "discard_generation",
    "generation_geojson",
    "inspect",
    "new_upload",
    "put_chunk",
    "run_import",
]
