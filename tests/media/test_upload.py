"""PUT /api/media/{sha256}: real photos in, clean derivatives out; every refusal stores nothing."""

from __future__ import annotations

import asyncio
import io
import os
import time

import pytest
from PIL import Image

from backend.media.tables import Media
from tests.media.images import encode, exif_with, jpeg, noise_image, png_bomb, sha, srgb_icc, unique_image
from tests.media.support import assert_nothing_stored, stored

MB = 1024 * 1024


async def put(client, headers, data: bytes, sha256: str | None = None, **extra):
    return await client.put(f"/api/media/{sha256 or sha(data)}", content=data, headers={**headers, **extra})


async def fetch(client, headers, sha256: str, size: str) -> Image.Image:
    r = await client.get(f"/api/media/{sha256}", params={"size": size}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/jpeg"
    im = Image.open(io.BytesIO(r.content))
    im.load()
    return im


async def test_jpeg_is_stored_once_with_three_derivatives_and_replay_is_a_no_op(client, mediator1, media_dir):
    data = jpeg((3000, 2000))
    r = await put(client, mediator1, data)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["sha256"] == sha(data) and body["status"] == "complete"
    assert body["mime"] == "image/jpeg"
    assert (body["width"], body["height"], body["bytes"]) == (3000, 2000, len(data))
    assert body["orientation"] == 1 and body["gps"] is None and body["taken_at"] is None
    dims = {name: (d["width"], d["height"]) for name, d in body["sizes"].items()}
    assert dims == {"thumb": (320, 213), "medium": (1280, 853), "full": (2560, 1707)}
    assert r.headers["upload-offset"] == str(len(data))

    replay = await put(client, mediator1, data)
    assert replay.status_code == 200
    assert replay.json() == body  # the same answer, so a resend after a lost response is harmless

    for name, (w, h) in dims.items():
        im = await fetch(client, mediator1, sha(data), name)
        assert im.format == "JPEG" and im.size == (w, h) and im.mode == "RGB"
        assert body["sizes"][name]["url"] == f"/api/media/{sha(data)}?size={name}"
    on_disk = await stored(sha(data), media_dir)
    assert on_disk == {
        "media": 1,
        "uploads": 0,
        "files": ["full.jpg", "medium.jpg", "thumb.jpg"],
        "partials": [],
    }
    # The original (with whatever metadata it had) is not kept.
    assert all(f.stat().st_size != len(data) for f in (media_dir / sha(data)[:2] / sha(data)).iterdir())


async def test_a_small_photo_is_never_upscaled(client, mediator1):
    data = jpeg((200, 100))
    body = (await put(client, mediator1, data)).json()
    assert {n: (d["width"], d["height"]) for n, d in body["sizes"].items()} == {
        "thumb": (200, 100),
        "medium": (200, 100),
        "full": (200, 100),
    }


async def test_truncated_jpeg_is_corrupt_and_nothing_is_stored(client, mediator1, media_dir):
    whole = encode(noise_image((256, 256)), "JPEG", quality=90)
    data = whole[: len(whole) * 6 // 10]
    r = await put(client, mediator1, data)
    assert r.status_code == 422
    assert r.json()["code"] == "media.corrupt"
    assert r.json()["message"] and r.json()["message_en"]
    await assert_nothing_stored(sha(data), media_dir)


@pytest.mark.parametrize("size", [(30000, 30000), (8000, 8000)], ids=["900Mpx", "64Mpx"])
async def test_decompression_bomb_is_refused_from_the_header_without_decoding(
    client, mediator1, media_dir, size
):
    data = png_bomb(*size)
    assert len(data) < 200_000  # tiny on the wire; decoded, hundreds of MB
    started = time.perf_counter()
    r = await put(client, mediator1, data)
    elapsed = time.perf_counter() - started
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "media.too_many_pixels"
    assert elapsed < 2.0, f"took {elapsed:.2f}s: was it decoded?"
    await assert_nothing_stored(sha(data), media_dir)


async def test_text_file_named_jpg_is_unsupported(client, mediator1, media_dir):
    data = "调解记录：双方同意。\n".encode() * 20
    r = await put(client, mediator1, data, **{"Content-Type": "image/jpeg"})
    assert r.status_code == 415
    assert r.json()["code"] == "media.unsupported_type"
    await assert_nothing_stored(sha(data), media_dir)


async def test_heic_is_unsupported_without_pillow_heif(client, mediator1, media_dir):
    from backend.media import imaging

    if imaging.HEIC_SUPPORTED:
        pytest.skip("pillow-heif is installed here, so HEIC is accepted")
    data = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + os.urandom(64)
    r = await put(client, mediator1, data)
    assert r.status_code == 415 and r.json()["code"] == "media.unsupported_type"
    await assert_nothing_stored(sha(data), media_dir)


async def test_exif_orientation_6_gives_upright_derivatives(client, mediator1):
    # Stored 400x200 (landscape) with the top-left corner red; orientation 6 = turn 90° clockwise
    # to view, so the viewer sees 200x400 (portrait) with the red corner at the top right.
    im = Image.new("RGB", (400, 200), (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, 40, 40))
    im.paste(unique_image((40, 2)), (200, 100))
    data = encode(im, "JPEG", quality=95, exif=exif_with(orientation=6))
    body = (await put(client, mediator1, data)).json()
    assert body["orientation"] == 6
    assert (body["width"], body["height"]) == (200, 400)
    for size in ("thumb", "medium", "full"):
        served = await fetch(client, mediator1, sha(data), size)
        w, h = served.size
        assert h > w, size
        assert served.getexif().get(0x0112) is None  # applied, not passed on
        r, g, b = served.getpixel((w - 3, 3))
        assert r > 200 and g < 60 and b < 60, (size, served.getpixel((w - 3, 3)))
        r, g, b = served.getpixel((3, 3))
        assert b > 200 and r < 60, size


async def test_exif_gps_goes_into_the_row_and_no_metadata_is_served(client, mediator1):
    # 24°49'30"N 99°36'E is in 昌宁县; the phone also wrote the time, an ICC profile, XMP and a comment.
    exif = exif_with(gps=(99.6, 24.825), taken="2026:11:20 10:30:00", offset="+08:00")
    data = encode(
        unique_image((300, 200)),
        "JPEG",
        quality=90,
        exif=exif,
        icc_profile=srgb_icc(),
        comment=b"Xiaomi 13 camera",
        xmp=b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>',
    )
    body = (await put(client, mediator1, data)).json()
    assert body["gps"] == {"lon": pytest.approx(99.6, abs=1e-6), "lat": pytest.approx(24.825, abs=1e-6)}
    assert body["taken_at"].startswith("2026-11-20T02:30:00")  # 10:30 +08:00 in UTC

    row = (
        await Media.select(Media.gps_lon, Media.gps_lat, Media.taken_at)
        .where(Media.sha256 == sha(data))
        .first()
    )
    assert row["gps_lon"] == pytest.approx(99.6, abs=1e-6) and row["gps_lat"] == pytest.approx(
        24.825, abs=1e-6
    )
    assert row["taken_at"].isoformat().startswith("2026-11-20T02:30:00")

    for size in ("thumb", "medium", "full"):
        r = await client.get(f"/api/media/{sha(data)}", params={"size": size}, headers=mediator1)
        served = Image.open(io.BytesIO(r.content))
        assert len(served.getexif()) == 0
        assert served.getexif().get_ifd(0x8825) == {}
        for key in ("exif", "xmp", "icc_profile", "comment"):
            assert key not in served.info, (size, key)
        for marker in (b"Exif\x00\x00", b"http://ns.adobe.com", b"adobe:ns:meta", b"ICC_PROFILE", b"Xiaomi"):
            assert marker not in r.content, (size, marker)


async def test_southern_western_and_null_island_gps(client, mediator1):
    data = encode(unique_image(), "JPEG", exif=exif_with(gps=(-70.25, -33.5)))
    assert (await put(client, mediator1, data)).json()["gps"] == {"lon": -70.25, "lat": -33.5}
    data = encode(unique_image(), "JPEG", exif=exif_with(gps=(0.0, 0.0)))  # a phone without a fix
    assert (await put(client, mediator1, data)).json()["gps"] is None


async def test_hash_mismatch_is_400_and_nothing_is_stored(client, mediator1, media_dir):
    data, other = jpeg(), jpeg()
    r = await put(client, mediator1, data, sha256=sha(other))
    assert r.status_code == 400
    assert r.json()["code"] == "media.hash_mismatch"
    await assert_nothing_stored(sha(data), media_dir)
    await assert_nothing_stored(sha(other), media_dir)


@pytest.mark.parametrize("bad", ["ABC", "A" * 64, "g" * 64, "a" * 63, "a" * 65])
async def test_malformed_sha256_is_400(client, mediator1, bad):
    r = await client.put(f"/api/media/{bad}", content=jpeg(), headers=mediator1)
    assert r.status_code == 400 and r.json()["code"] == "media.invalid_sha256"


async def test_oversize_body_is_413_and_nothing_is_stored(client, mediator1, media_dir):
    data = b"\xff\xd8\xff" + os.urandom(15 * MB - 2)
    r = await put(client, mediator1, data)  # announced by Content-Length: refused before reading
    assert r.status_code == 413
    assert r.json()["code"] == "media.too_large"
    await assert_nothing_stored(sha(data), media_dir)


async def test_oversize_streamed_body_is_cut_off_while_reading(client, mediator1, media_dir):
    sent = 0

    async def body():  # no Content-Length: chunked transfer, so the limit is enforced on the stream
        nonlocal sent
        for _ in range(40):
            sent += MB // 2
            yield b"\xff" * (MB // 2)

    r = await client.put(f"/api/media/{'e' * 64}", content=body(), headers=mediator1)
    assert r.status_code == 413 and r.json()["code"] == "media.too_large"
    await assert_nothing_stored("e" * 64, media_dir)


async def test_png_with_transparency_and_webp_are_accepted(client, mediator1):
    rgba = unique_image((120, 80)).convert("RGBA")
    rgba.putalpha(0)  # fully transparent: lands on white paper
    png = encode(rgba, "PNG")
    body = (await put(client, mediator1, png)).json()
    assert body["mime"] == "image/png"
    served = await fetch(client, mediator1, sha(png), "thumb")
    assert all(c > 240 for c in served.getpixel((10, 10)))

    webp = encode(unique_image((150, 100)), "WEBP", quality=80)
    r = await put(client, mediator1, webp)
    assert r.status_code == 201 and r.json()["mime"] == "image/webp"
    assert (await fetch(client, mediator1, sha(webp), "full")).size == (150, 100)


async def test_16_bit_greyscale_and_cmyk_become_displayable(client, mediator1):
    grey = Image.linear_gradient("L").resize((100, 60)).convert("I").point(lambda v: v * 257).convert("I;16")
    png16 = encode(grey, "PNG")
    assert (await put(client, mediator1, png16)).status_code == 201
    served = await fetch(client, mediator1, sha(png16), "full")
    assert served.mode == "L"  # scaled down to 8 bits, not clipped to white
    assert served.getpixel((50, 0)) < 20 and served.getpixel((50, 59)) > 230
    assert 100 < served.getpixel((50, 30)) < 160

    cmyk = encode(unique_image((80, 60)).convert("CMYK"), "JPEG")
    assert (await put(client, mediator1, cmyk)).status_code == 201
    assert (await fetch(client, mediator1, sha(cmyk), "thumb")).mode == "RGB"


async def test_the_same_photo_sent_twice_at_once_is_stored_once(client, mediator1, media_dir):
    data = jpeg((800, 600))
    first, second = await asyncio.gather(put(client, mediator1, data), put(client, mediator1, data))
    assert sorted([first.status_code, second.status_code]) == [200, 201]
    assert first.json() == second.json()
    assert (await stored(sha(data), media_dir))["media"] == 1


async def test_upload_needs_a_token(client):
    data = jpeg()
    assert (await client.put(f"/api/media/{sha(data)}", content=data)).status_code == 401


async def test_a_phone_dropping_off_mid_upload_stores_nothing(app, client, mediator1, media_dir):
    """Straight through ASGI, as uvicorn does when the connection dies after the first packet."""
    data = jpeg((300, 200))
    events = [
        {"type": "http.request", "body": data[:1000], "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict] = []

    async def receive():
        return events.pop(0) if events else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    token = mediator1["Authorization"].encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT",
        "scheme": "http",
        "path": f"/api/media/{sha(data)}",
        "raw_path": f"/api/media/{sha(data)}".encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"authorization", token)],
        "client": ("203.0.113.7", 40000),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 400
    assert b"media.incomplete_body" in b"".join(m.get("body", b"") for m in sent)
    await assert_nothing_stored(sha(data), media_dir)
