"""API shapes of the grids domain (msgspec, so Litestar's OpenAPI stays correct)."""

from __future__ import annotations

from datetime import datetime

import msgspec


class PlaceView(msgspec.Struct):
    code: str
    name: str


class OverlayView(msgspec.Struct):
    network: str
    code: str
    name: str


class LocateView(msgspec.Struct):
    status: str  # inside | boundary | nearest | outside
    lon: float
    lat: float
    township: PlaceView | None
    village: PlaceView | None
    grid: PlaceView | None
    overlays: list[OverlayView]
    distance_m: float | None
    generation: int | None


class RegionView(msgspec.Struct):
    network: str
    level: str
    code: str
    name: str
    parent_code: str | None
    area_km2: float


class GenerationView(msgspec.Struct):
    id: int
    number: int
    levels: list[str]
    source: str
    clean: bool
    active: bool
    imported_at: datetime
    activated_at: datetime | None
    counts: dict[str, int]


class NetworkView(msgspec.Struct):
    id: int
    code: str
    name: str
    kind: str
    levels: list[str]
    generations: list[GenerationView]


class ActivateRequest(msgspec.Struct):
    force: bool = False


class ImportLayerSpec(msgspec.Struct, forbid_unknown_fields=True):
    file: str
    level: str
    code_field: str | None = None
    name_field: str | None = None
    parent_field: str | None = None
    layer: str | None = None
    encoding: str | None = None
    crs: str | None = None  # EPSG:…, gcj02, bd09; empty: the file's own


class ImportRequest(msgspec.Struct, forbid_unknown_fields=True):
    upload: str
    layers: list[ImportLayerSpec]
    network: str = "primary"
    lower: str = "carry"  # carry | drop | recut (see backend.grids.partial)


class ImportView(msgspec.Struct):
    generation_id: int
    number: int
    network: str
    reused: bool
    active: bool
    clean: bool
    summary: str
    carried: list[str]  # what was carried forward and what that means, as the CLI prints it
    report: dict
