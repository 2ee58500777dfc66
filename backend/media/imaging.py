"""Turning an uploaded photo into clean derivatives: pure Pillow, no database, no HTTP.

Order matters (FixMyStreet's lesson): the type is judged by content; the header's pixel count is
checked before anything is decoded; orientation, GPS and the time taken are read from EXIF before
re-encoding drops it. Derivatives are JPEG because every phone, browser, WeChat web view, printer
driver and spreadsheet export reads it, and libjpeg-turbo encodes several times faster than libwebp
on the server's two cores; WebP would save about a quarter of the bytes.

Cost (bench/photos.py): the work is one decode (at 1/2, 1/4 or 1/8 scale when libjpeg can), one
resize per derivative, each from the one before it, and an encode per derivative. What the PWA sends
(upright, ≤1600 px, no EXIF) keeps its own bytes as "full", minus any metadata: no second lossy
encode and no encoding time.

Everything here is synchronous and CPU-bound: call it through `anyio.to_thread` (the service does).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import IO, Any

from PIL import Image, ImageCms, UnidentifiedImageError

from backend.core.clock import LOCAL_TZ
from backend.media.errors import Corrupt, TooManyPixels, UnsupportedType

try:  # HEIC (iPhone) only when pillow-heif is installed; it is not a dependency.
    import pillow_heif  # type: ignore[import-not-found]

    pillow_heif.register_heif_opener()
    HEIC_SUPPORTED = True
except ImportError:  # pragma: no cover - depends on the environment
    HEIC_SUPPORTED = False

# Long edge of each derivative, in pixels; never upscaled.
SIZES: dict[str, int] = {"thumb": 320, "medium": 1280, "full": 2560}
QUALITY: dict[str, int] = {"thumb": 75, "medium": 80, "full": 85}
# Huffman tables fitted to the picture save ~10-15 % of the bytes for a second pass over it: worth it
# for thumb and medium, which phones fetch over 2G, not for full, which the PWA never asks for (it is
# for zooming in and exports on better links). No progressive JPEG: the PWA shows a photo only once
# its whole blob is in (PhotoThumb.vue), so a coarse first scan is never seen, and progressive costs
# two to three times the encoding time for ~2 % fewer bytes.
OPTIMIZE = frozenset({"thumb", "medium"})
DERIVATIVE_MIME = "image/jpeg"
DERIVATIVE_EXT = "jpg"

# Shrinking: first by whole factors with reduce() (a box average over n×n pixels, nearly free), then
# the rest (less than 2×) with bilinear, whose support grows with the factor so it does not alias.
# Against Lanczos on a camera-like photo it scores SSIM 0.984-0.99 at 40-60 % of bicubic's time
# (4000 -> 2560 px: ~150 ms instead of ~250 ms on this box's cores); the difference is not visible.
RESAMPLE = Image.Resampling.BILINEAR
REDUCING_GAP = 1.0

# The phone's own JPEG is kept as "full" (metadata removed) when it needs no turning and no colour
# conversion, is no larger than full, and is not bulkier than ~quality 90 would make it: a camera
# original at quality 98 is re-encoded rather than stored at three times the size.
LOSSLESS_MAX_BYTES_PER_PIXEL = 0.4

# EXIF orientation -> the operation that makes the picture upright (as ImageOps.exif_transpose).
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

# Formats decoded in full (PNG, WebP, HEIC): 50 MP is more than any phone photo in the field (a
# 12 MP photo is 4000x3000) and bounds a decode at ~200 MB; more is a decompression bomb.
MAX_PIXELS = 50_000_000
# JPEG is decoded at 1/2, 1/4 or 1/8 scale when that still covers the full size (libjpeg's DCT
# scaling), so the "50 MP mode" of budget phones (8160x6144, just over 50 MP) or a 64 MP sensor
# decodes to ~13-16 MP. Capped by Pillow's MAX_IMAGE_PIXELS (~89 MP) like everything else.
MAX_PIXELS_JPEG = 90_000_000

_PIL_FORMAT = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP", "image/heic": "HEIF"}
_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@dataclass(frozen=True)
class Derivative:
    name: str
    width: int
    height: int
    data: bytes


@dataclass(frozen=True)
class Processed:
    mime: str
    width: int  # upright, after orientation
    height: int
    orientation: int
    gps: tuple[float, float] | None  # (lon, lat), WGS-84 as written by the phone
    taken_at: datetime | None
    derivatives: tuple[Derivative, ...]


def sniff(head: bytes) -> str | None:
    """The MIME type from the first bytes of the file, whatever its name claims."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if HEIC_SUPPORTED and len(head) >= 12 and head[4:8] == b"ftyp" and head[8:12] in _HEIC_BRANDS:
        return "image/heic"
    return None


def pixel_limit(mime: str = "image/png") -> int:
    own = MAX_PIXELS_JPEG if mime == "image/jpeg" else MAX_PIXELS
    pillow_limit = Image.MAX_IMAGE_PIXELS
    return min(own, pillow_limit) if pillow_limit else own


def process(fp: IO[bytes]) -> Processed:
    """Check, decode and re-encode one photo from a seekable file; raises media errors."""
    fp.seek(0)
    mime = sniff(fp.read(16))
    if mime is None:
        raise UnsupportedType()
    formats = [_PIL_FORMAT[mime]]

    # First pass: header and structure only (verify() checks PNG CRCs; nothing is decoded).
    fp.seek(0)
    with _open(fp, formats) as im:
        _check_pixels(im, mime)
        try:
            im.verify()
        except Exception as exc:  # Pillow raises many types for broken files
            raise Corrupt() from exc

    # Second pass: a fresh image (verify() leaves the first unusable), decoded for real.
    fp.seek(0)
    with _open(fp, formats) as im:
        _check_pixels(im, mime)
        exif = im.getexif()
        orientation = _orientation(exif)
        gps = _gps(exif)
        taken_at = _taken_at(exif)
        raw_w, raw_h = im.size
        icc = im.info.get("icc_profile")
        kept = _kept_as_full(fp, im, orientation, icc)
        try:
            if getattr(im, "is_animated", False):
                im.seek(0)
            if im.format == "JPEG":
                # libjpeg decodes at 1/2, 1/4 or 1/8 scale when even that covers the largest
                # derivative still to be made (medium when the phone's bytes are kept as full).
                im.draft(None, _fit((raw_w, raw_h), SIZES["medium" if kept else "full"]))
            im.load()  # every byte is decoded, whatever the scale: a truncated photo fails here
            flat = _flatten(im)
        except (Image.DecompressionBombError, TooManyPixels):
            raise TooManyPixels() from None
        except Exception as exc:
            raise Corrupt() from exc

    width, height = (raw_h, raw_w) if orientation in (5, 6, 7, 8) else (raw_w, raw_h)
    derivatives = _derivatives(flat, (width, height), orientation, icc, kept)
    return Processed(mime, width, height, orientation, gps, taken_at, derivatives)


def _open(fp: IO[bytes], formats: list[str]) -> Image.Image:
    try:
        return Image.open(fp, formats=formats)
    except Image.DecompressionBombError:
        raise TooManyPixels() from None
    except UnidentifiedImageError as exc:
        raise Corrupt() from exc  # the magic bytes said it was this format
    except Exception as exc:
        raise Corrupt() from exc


def _check_pixels(im: Image.Image, mime: str) -> None:
    w, h = im.size
    if w <= 0 or h <= 0:
        raise Corrupt()
    if w * h > pixel_limit(mime):
        raise TooManyPixels(details={"width": w, "height": h, "max_pixels": pixel_limit(mime)})


def _fit(size: tuple[int, int], long_edge: int) -> tuple[int, int]:
    """`size` scaled down so its long edge is at most `long_edge` (never up)."""
    w, h = size
    scale = min(1.0, long_edge / max(w, h))
    return max(1, round(w * scale)), max(1, round(h * scale))


def _flatten(im: Image.Image) -> Image.Image:
    """RGB (or L) without alpha, as JPEG needs; transparency goes on white like paper."""
    if im.mode.startswith("I"):  # 16-bit greyscale PNG
        im = im.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        paper = Image.new("RGB", rgba.size, (255, 255, 255))
        paper.paste(rgba, mask=rgba.getchannel("A"))
        return paper
    if im.mode in ("L", "RGB"):
        return im
    if im.mode == "1":
        return im.convert("L")
    return im.convert("RGB")  # CMYK, YCbCr, LAB, F ...


def _is_srgb(icc: bytes) -> bool:
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return "srgb" in (ImageCms.getProfileDescription(profile) or "").lower()
    except Exception:  # ImageCms.PyCMSError, ...
        return False


def _to_srgb(im: Image.Image, icc: bytes | None) -> Image.Image:
    """Convert from the embedded colour profile (Display P3 on many phones) so the colours survive
    dropping the profile; a broken profile is ignored."""
    if not icc or _is_srgb(icc):
        return im
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return ImageCms.profileToProfile(im, source, _SRGB, outputMode=im.mode) or im
    except Exception:  # ImageCms.PyCMSError, a profile for another colour space, ...
        return im


def _kept_as_full(fp: IO[bytes], im: Image.Image, orientation: int, icc: bytes | None) -> bytes | None:
    """The upload's own JPEG without its metadata, to serve as "full", when that needs no pixel
    work: upright, at most full's size, YCbCr or grey, sRGB; None means re-encode."""
    if im.format != "JPEG" or orientation != 1 or im.mode not in ("RGB", "L"):
        return None
    w, h = im.size
    if max(w, h) > SIZES["full"] or (icc and not _is_srgb(icc)):
        return None
    fp.seek(0)
    stripped = strip_jpeg_metadata(fp.read())
    if stripped is None or len(stripped) > LOSSLESS_MAX_BYTES_PER_PIXEL * w * h:
        return None
    return stripped


def _shrink(im: Image.Image, size: tuple[int, int]) -> Image.Image:
    return im if im.size == size else im.resize(size, RESAMPLE, reducing_gap=REDUCING_GAP)


def _derivatives(
    im: Image.Image, upright: tuple[int, int], orientation: int, icc: bytes | None, kept: bytes | None
) -> tuple[Derivative, ...]:
    """Largest first, each made from the one before (12 MP -> 2560 -> 1280 -> 320), so no resize
    starts from the original but the first. The first one made is turned upright and converted to
    sRGB (turning 2560 px is cheaper than 12 MP), and those after it inherit that. Every size is
    computed from the original's upright size so rounding does not compound. `kept`: the upload's
    own bytes serve as full, and medium is made from the decoded (perhaps draft-scaled) image."""
    turned = orientation in (5, 6, 7, 8)
    made: dict[str, Derivative] = {}
    source, upright_yet = im, False
    for name in sorted(SIZES, key=SIZES.__getitem__, reverse=True):
        size = _fit(upright, SIZES[name])
        if name == "full" and kept is not None:
            made[name] = Derivative(name, *size, kept)
            continue
        source = _shrink(source, size if upright_yet or not turned else (size[1], size[0]))
        if not upright_yet:
            if (method := _TRANSPOSE.get(orientation)) is not None:
                source = source.transpose(method)
            source, upright_yet = _to_srgb(source, icc), True
        made[name] = Derivative(name, *source.size, _encode(source, QUALITY[name], optimize=name in OPTIMIZE))
    return tuple(made[name] for name in sorted(SIZES, key=SIZES.__getitem__))


def _encode(im: Image.Image, quality: int, *, optimize: bool) -> bytes:
    clean = im.copy() if im.info else im
    clean.info = {}  # Pillow copies comments from info into the file; carry nothing over
    buf = io.BytesIO()
    clean.save(buf, "JPEG", quality=quality, optimize=optimize)
    return buf.getvalue()


# --- copying a JPEG without its metadata ----------------------------------------------------------

# Segments a decoder needs: SOF0-2 (Huffman-coded baseline, extended, progressive), DHT, DQT, DRI.
# SOS and its entropy-coded data are copied too. Everything else is refused (arithmetic coding,
# lossless, hierarchical: re-encoded instead), except metadata, which is dropped: APP1 (EXIF with
# GPS, XMP), APP2 (ICC, MPF), APP13 (IPTC), other APPn and comments; and whatever follows EOI (a
# motion photo's video, a maker's trailer).
_SEGMENTS_KEPT = frozenset({0xC0, 0xC1, 0xC2, 0xC4, 0xDB, 0xDD})
_SOS, _EOI, _APP0, _APP14, _COM = 0xDA, 0xD9, 0xE0, 0xEE, 0xFE


def strip_jpeg_metadata(data: bytes) -> bytes | None:
    """The same JPEG, bit for bit the same pixels, without metadata; None if it is not a plain
    Huffman-coded JPEG this can copy safely."""
    if not data.startswith(b"\xff\xd8"):
        return None
    out = [b"\xff\xd8"]
    pos, end = 2, len(data)
    while pos + 1 < end:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == _EOI:
            out.append(b"\xff\xd9")
            return b"".join(out)
        if pos + 4 > end:
            return None
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        segment_end = pos + 2 + length
        if length < 2 or segment_end > end:
            return None
        if marker == _SOS:
            scan_end = _entropy_end(data, segment_end)
            if scan_end is None:
                return None
            out.append(data[pos:scan_end])
            pos = scan_end
            continue
        if marker in _SEGMENTS_KEPT:
            out.append(data[pos:segment_end])
        elif marker == _APP0 and data[pos + 4 : pos + 9] == b"JFIF\x00" and length >= 16:
            # JFIF says "YCbCr" to decoders that would otherwise guess from component ids; its
            # version and pixel density are kept, an embedded thumbnail is not.
            out.append(b"\xff\xe0\x00\x10" + data[pos + 4 : pos + 16] + b"\x00\x00")
        elif marker == _APP14:
            return None  # Adobe's colour transform flag decides how the pixels are read: re-encode
        elif not (_APP0 <= marker <= 0xEF or marker == _COM):
            return None
        pos = segment_end
    return None  # no EOI: truncated


def _entropy_end(data: bytes, pos: int) -> int | None:
    """Where the entropy-coded data starting at `pos` ends: the next marker other than a stuffed
    0xFF00 or a restart marker."""
    while True:
        i = data.find(b"\xff", pos)
        if i < 0 or i + 1 >= len(data):
            return None
        following = data[i + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7:
            pos = i + 2
        elif following == 0xFF:
            pos = i + 1
        else:
            return i


# --- EXIF ---------------------------------------------------------------------------------------

_TAG_ORIENTATION = 0x0112
_IFD_EXIF = 0x8769
_IFD_GPS = 0x8825
_TAG_DATETIME_ORIGINAL = 0x9003
_TAG_DATETIME_DIGITIZED = 0x9004
_TAG_OFFSET_TIME_ORIGINAL = 0x9011


def _orientation(exif: Image.Exif) -> int:
    value = exif.get(_TAG_ORIENTATION, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _number(value: Any) -> float:
    result = float(value)  # IFDRational with a zero denominator gives nan
    if not math.isfinite(result):
        raise ValueError("not finite")
    return result


def _dms(value: Any, ref: Any) -> float | None:
    if value is None:
        return None
    parts = value if isinstance(value, (tuple, list)) else (value,)
    degrees = 0.0
    for part, unit in zip(parts, (1, 60, 3600), strict=False):
        degrees += _number(part) / unit
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "replace")
    if isinstance(ref, str) and ref.strip("\x00 ").upper() in ("S", "W"):
        degrees = -degrees
    return degrees


def _gps(exif: Image.Exif) -> tuple[float, float] | None:
    """(lon, lat) from the GPS IFD, or None when absent, malformed or the 0,0 of a phone without a fix."""
    try:
        ifd = exif.get_ifd(_IFD_GPS)
        lat = _dms(ifd.get(2), ifd.get(1))
        lon = _dms(ifd.get(4), ifd.get(3))
    except Exception:
        return None
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    if lat == 0 and lon == 0:
        return None
    return round(lon, 7), round(lat, 7)


def _taken_at(exif: Image.Exif) -> datetime | None:
    """DateTimeOriginal with its offset if the phone wrote one, else the county's local time."""
    try:
        ifd = exif.get_ifd(_IFD_EXIF)
        raw = ifd.get(_TAG_DATETIME_ORIGINAL) or ifd.get(_TAG_DATETIME_DIGITIZED)
        if not isinstance(raw, str):
            return None
        taken = datetime.strptime(raw.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
        if not 1990 <= taken.year <= 2100:
            return None
        offset = ifd.get(_TAG_OFFSET_TIME_ORIGINAL)
        tz: Any = LOCAL_TZ
        if isinstance(offset, str) and len(offset.strip("\x00 ")) == 6:
            text = offset.strip("\x00 ")
            sign = -1 if text[0] == "-" else 1
            tz = timezone(sign * timedelta(hours=int(text[1:3]), minutes=int(text[4:6])))
        return taken.replace(tzinfo=tz)
    except Exception:
        return None
