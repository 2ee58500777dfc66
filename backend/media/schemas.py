"""API shapes of the media domain (msgspec, so Litestar's OpenAPI stays correct)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec


class DerivativeView(msgspec.Struct):
    width: int
    height: int
    bytes: int
    url: str


class GpsView(msgspec.Struct):
    lon: float
    lat: float


class MediaView(msgspec.Struct):
    """A stored photo. `width`/`height` are of the original, upright."""

    sha256: str
    status: Literal["complete"]
    mime: str
    width: int
    height: int
    bytes: int
    orientation: int
    taken_at: datetime | None
    gps: GpsView | None
    sizes: dict[str, DerivativeView]
    uploaded_at: datetime


class UploadProgress(msgspec.Struct):
    """An unfinished resumable upload: the server holds bytes [0, offset)."""

    sha256: str
    status: Literal["partial"]
    offset: int
    total: int | None
