"""What the media domain offers other domains, and its image pipeline on its own."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from backend.core import clock
from backend.media import imaging, service
from backend.media.errors import Corrupt, TooManyPixels, UnsupportedType
from tests.media.images import encode, exif_with, jpeg, noise_image, png_bomb, sha, unique_image
from tests.media.support import stored


async def test_media_status_missing_hashes_and_exif_gps(client, mediator1, media_dir):
    complete = encode(unique_image(), "JPEG", exif=exif_with(gps=(99.61, 24.83)))
    plain = jpeg()
    partial = encode(noise_image((64, 64)), "JPEG")
    missing = sha(b"never sent")
    for data in (complete, plain):
        assert (
            await client.put(f"/api/media/{sha(data)}", content=data, headers=mediator1)
        ).status_code == 201
    r = await client.put(
        f"/api/media/{sha(partial)}",
        content=partial[:100],
        headers={**mediator1, "Content-Range": f"bytes 0-99/{len(partial)}"},
    )
    assert r.status_code == 202

    hashes = [sha(complete), sha(partial), missing, sha(plain), "not-a-hash"]
    assert await service.media_status(hashes) == {
        sha(complete): "complete",
        sha(partial): "partial",
        missing: "missing",
        sha(plain): "complete",
        "not-a-hash": "missing",
    }
    assert await service.missing_hashes([missing, sha(complete), sha(partial), missing]) == [
        missing,
        sha(partial),
    ]
    assert await service.media_status([]) == {}
    assert await service.missing_hashes([]) == []

    assert await service.exif_gps(sha(complete)) == pytest.approx((99.61, 24.83), abs=1e-6)
    assert await service.exif_gps(sha(plain)) is None
    assert await service.exif_gps(missing) is None


async def test_stale_partial_uploads_are_purged(client, mediator1, media_dir):
    data = encode(noise_image((64, 64)), "JPEG")
    r = await client.put(
        f"/api/media/{sha(data)}",
        content=data[:50],
        headers={**mediator1, "Content-Range": f"bytes 0-49/{len(data)}"},
    )
    assert r.status_code == 202
    assert await service.purge_stale_uploads(media_dir) == 0  # fresh: kept
    with clock.frozen(datetime.now(UTC) + timedelta(days=32)):
        assert await service.purge_stale_uploads(media_dir) == 1
    assert await stored(sha(data), media_dir) == {"media": 0, "uploads": 0, "files": [], "partials": []}


# --- the pipeline without HTTP -------------------------------------------------------------------


def test_type_is_judged_by_content():
    assert imaging.sniff(jpeg()[:16]) == "image/jpeg"
    assert imaging.sniff(encode(unique_image(), "PNG")[:16]) == "image/png"
    assert imaging.sniff(encode(unique_image(), "WEBP")[:16]) == "image/webp"
    assert imaging.sniff(encode(unique_image(), "GIF")[:16]) is None
    assert imaging.sniff(encode(unique_image(), "BMP")[:16]) is None
    assert imaging.sniff(b"%PDF-1.7") is None
    with pytest.raises(UnsupportedType):
        imaging.process(io.BytesIO(encode(unique_image(), "TIFF")))


def test_a_png_with_a_broken_crc_is_corrupt():
    data = bytearray(encode(noise_image((32, 32)), "PNG"))
    data[-20] ^= 0xFF  # inside the last IDAT
    with pytest.raises(Corrupt):
        imaging.process(io.BytesIO(bytes(data)))


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_the_pixel_limit_follows_pillows_if_lower(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(TooManyPixels):
        imaging.process(io.BytesIO(jpeg((40, 30))))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    assert imaging.pixel_limit() == imaging.MAX_PIXELS
    assert imaging.pixel_limit("image/jpeg") == imaging.MAX_PIXELS_JPEG
    with pytest.raises(TooManyPixels):
        imaging.process(io.BytesIO(png_bomb(8000, 8000)))


def test_a_50_mp_mode_phone_photo_is_accepted():
    """Budget phones' "50 MP" mode writes 8160x6144, just over 50 MP: JPEG is decoded at reduced scale."""
    data = encode(unique_image((8160, 6144)), "JPEG", quality=70)
    out = imaging.process(io.BytesIO(data))
    assert (out.width, out.height) == (8160, 6144)
    assert [(d.width, d.height) for d in out.derivatives] == [(320, 241), (1280, 964), (2560, 1928)]
    with pytest.raises(TooManyPixels):  # the same pixel count as PNG is decoded in full: refused
        imaging.process(io.BytesIO(png_bomb(8160, 6144)))


def test_jpeg_larger_than_full_is_decoded_at_reduced_scale_yet_sized_exactly():
    im = unique_image((5400, 3600))
    out = imaging.process(io.BytesIO(encode(im, "JPEG", quality=80)))
    assert (out.width, out.height) == (5400, 3600)
    assert {d.name: (d.width, d.height) for d in out.derivatives} == {
        "thumb": (320, 213),
        "medium": (1280, 853),
        "full": (2560, 1707),
    }


def test_embedded_colour_profiles_never_reach_the_derivatives():
    from PIL import ImageCms

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()  # wrong colour space: ignored
    for icc in (srgb, lab, b"not a profile"):
        data = encode(unique_image((100, 80)), "JPEG", icc_profile=icc)
        out = imaging.process(io.BytesIO(data))
        for d in out.derivatives:
            assert "icc_profile" not in Image.open(io.BytesIO(d.data)).info


def test_taken_at_without_offset_is_local_time():
    data = encode(unique_image(), "JPEG", exif=exif_with(taken="2026:03:01 08:00:00"))
    out = imaging.process(io.BytesIO(data))
    assert out.taken_at is not None and out.taken_at.astimezone(UTC) == datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
    junk = encode(unique_image(), "JPEG", exif=exif_with(taken="0000:00:00 00:00:00"))
    assert imaging.process(io.BytesIO(junk)).taken_at is None


def _orphan(media_dir, name: str, age_days: int):
    import os
    import time

    path = media_dir / "partial" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"left by a crash")
    old = time.time() - age_days * 86400
    os.utime(path, (old, old))
    return path


async def test_old_partial_files_without_a_row_are_swept(database, media_dir):
    old = _orphan(media_dir, f"{'b' * 64}.1.part", 40)
    recent = _orphan(media_dir, f"{'c' * 64}.1.part", 1)
    await service.purge_stale_uploads(media_dir)
    assert not old.exists() and recent.exists()
    recent.unlink()
