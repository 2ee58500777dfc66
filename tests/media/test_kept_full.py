"""An upright JPEG within full's size is kept as "full" without its metadata: same pixels, no GPS."""

from __future__ import annotations

import io

from PIL import Image, ImageChops

from backend.media import imaging
from tests.media.images import encode, exif_with, noise_image, srgb_icc, unique_image


def photo(size: tuple[int, int]) -> Image.Image:
    """Smooth light with a little grain: compresses like a photo (random noise would not)."""
    r, g = Image.linear_gradient("L").resize(size), Image.radial_gradient("L").resize(size)
    light = Image.merge("RGB", (r, g, r.transpose(Image.Transpose.ROTATE_180)))
    return Image.blend(light, noise_image(size), 0.1)


def _decoded(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def test_the_phones_jpeg_is_full_bit_for_bit_without_metadata_or_trailer():
    im = photo((1600, 1200))
    exif = exif_with(gps=(99.6, 24.825), taken="2026:11:20 10:30:00")
    sent = encode(im, "JPEG", quality=75, exif=exif, icc_profile=srgb_icc(), comment=b"Xiaomi 13")
    sent += b"ftypmp42 a motion photo's video after EOI"
    out = imaging.process(io.BytesIO(sent))
    full = {d.name: d for d in out.derivatives}["full"]
    assert (full.width, full.height) == (1600, 1200)
    assert full.data.endswith(b"\xff\xd9") and len(full.data) < len(sent)
    for marker in (b"Exif\x00\x00", b"ICC_PROFILE", b"Xiaomi", b"ftypmp42"):
        assert marker not in full.data, marker
    assert ImageChops.difference(_decoded(full.data), _decoded(sent).convert("RGB")).getbbox() is None
    assert out.gps is not None  # read before the metadata was dropped


def test_a_progressive_jpeg_is_kept_too():
    sent = encode(photo((300, 200)), "JPEG", quality=70, progressive=True, exif=exif_with(gps=(99.6, 24.8)))
    full = {d.name: d for d in imaging.process(io.BytesIO(sent)).derivatives}["full"]
    assert b"Exif" not in full.data
    assert ImageChops.difference(_decoded(full.data), _decoded(sent)).getbbox() is None


def test_turned_too_large_or_bulky_photos_are_re_encoded():
    turned = encode(photo((400, 300)), "JPEG", quality=70, exif=exif_with(orientation=6))
    bulky = encode(noise_image((400, 300)), "JPEG", quality=100)  # > 0.4 bytes per pixel
    large = encode(unique_image((3000, 2000)), "JPEG", quality=70)
    for data in (turned, bulky, large):
        assert imaging.strip_jpeg_metadata(data) is not None
        full = {d.name: d for d in imaging.process(io.BytesIO(data)).derivatives}["full"]
        assert imaging.strip_jpeg_metadata(data) != full.data


def test_strip_refuses_what_it_cannot_copy_safely():
    plain = encode(unique_image((64, 48)), "JPEG")
    assert imaging.strip_jpeg_metadata(plain[: len(plain) // 2]) is None  # no EOI
    assert imaging.strip_jpeg_metadata(b"\x89PNG\r\n\x1a\n") is None
    adobe = plain[:2] + b"\xff\xee\x00\x0eAdobe\x00\x64\x00\x00\x00\x00\x00" + plain[2:]
    assert imaging.strip_jpeg_metadata(adobe) is None  # its colour transform flag matters
    assert imaging.strip_jpeg_metadata(plain) is not None
