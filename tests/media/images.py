"""Real image files for the media tests, made with Pillow (or by hand where Pillow would need GBs)."""

from __future__ import annotations

import functools
import hashlib
import io
import os
import struct
import zlib

from PIL import Image, ImageCms


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def unique_image(size: tuple[int, int] = (64, 48), color: tuple[int, int, int] | None = None) -> Image.Image:
    """A flat image (cheap to encode) with a random stripe along the bottom, so each is unique."""
    rnd = os.urandom(3)
    im = Image.new("RGB", size, color or (rnd[0], rnd[1], rnd[2]))
    w, h = size
    stripe = Image.frombytes("RGB", (w, 1), os.urandom(w * 3))
    im.paste(stripe, (0, h - 1))
    return im


def noise_image(size: tuple[int, int]) -> Image.Image:
    """Random pixels: unique, and large once encoded (good for chunked uploads)."""
    return Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))


def encode(im: Image.Image, fmt: str = "JPEG", **params) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **params)
    return buf.getvalue()


def jpeg(size: tuple[int, int] = (64, 48), **params) -> bytes:
    return encode(unique_image(size), "JPEG", quality=90, **params)


def exif_with(
    orientation: int | None = None,
    gps: tuple[float, float] | None = None,
    taken: str | None = None,
    offset: str | None = None,
) -> Image.Exif:
    """EXIF as a phone writes it; gps is (lon, lat) in degrees, written as degrees/minutes/seconds."""
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    if gps is not None:
        lon, lat = gps

        def dms(value: float) -> tuple[float, float, float]:
            value = abs(value)
            d = int(value)
            m = int((value - d) * 60)
            s = round(((value - d) * 60 - m) * 60, 4)
            return (float(d), float(m), s)

        exif[0x8825] = {
            1: "N" if lat >= 0 else "S",
            2: dms(lat),
            3: "E" if lon >= 0 else "W",
            4: dms(lon),
        }
    if taken is not None:
        ifd = exif.get_ifd(0x8769)
        ifd[0x9003] = taken
        if offset is not None:
            ifd[0x9011] = offset
    return exif


def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@functools.cache
def png_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A valid 1-bit PNG of width x height that is ~100 KB on disk and ~112 MB (900 Mpx) decoded."""
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    comp = zlib.compressobj(6)
    block = 1000
    parts = [comp.compress(row * block) for _ in range(height // block)]
    parts.append(comp.compress(row * (height % block)))
    parts.append(comp.flush())

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")
