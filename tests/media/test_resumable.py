"""Resumable uploads over a weak link: HEAD says how much is held, PUT with Content-Range continues."""

from __future__ import annotations

import io

from PIL import Image

from backend.media import storage
from tests.media.images import encode, jpeg, noise_image, sha
from tests.media.support import assert_nothing_stored, stored


def photo() -> bytes:
    data = encode(noise_image((160, 120)), "JPEG", quality=90)  # random pixels: ~18 KB
    assert len(data) > 12_000
    return data


def thirds(data: bytes) -> list[tuple[int, int]]:
    a, b = len(data) // 3, 2 * len(data) // 3
    return [(0, a), (a, b), (b, len(data))]


async def put_chunk(
    client, headers, sha256: str, data: bytes, start: int, stop: int, total: int | str | None = None
):
    total = len(data) if total is None else total
    return await client.put(
        f"/api/media/{sha256}",
        content=data[start:stop],
        headers={**headers, "Content-Range": f"bytes {start}-{stop - 1}/{total}"},
    )


async def head(client, headers, sha256: str):
    return await client.head(f"/api/media/{sha256}", headers=headers)


async def test_three_chunks_with_head_in_between(client, mediator1, media_dir):
    data = photo()
    h = sha(data)
    (a0, a1), (b0, b1), (c0, c1) = thirds(data)

    r = await head(client, mediator1, h)
    assert r.status_code == 404 and r.content == b""

    r = await put_chunk(client, mediator1, h, data, a0, a1)
    assert r.status_code == 202, r.text
    assert r.json() == {"sha256": h, "status": "partial", "offset": a1, "total": len(data)}
    assert r.headers["upload-offset"] == str(a1)

    r = await head(client, mediator1, h)
    assert r.status_code == 200
    assert r.headers["upload-offset"] == str(a1)
    assert r.headers["upload-length"] == str(len(data))
    assert r.headers["upload-complete"] == "?0" and r.headers["x-media-status"] == "partial"
    assert r.headers["range"] == f"bytes=0-{a1 - 1}"
    assert (await stored(h, media_dir))["partials"] == [f"{h}.{(await _uid(client, mediator1))}.part"]

    # The third chunk before the second: the server names the offset to continue from.
    r = await put_chunk(client, mediator1, h, data, c0, c1)
    assert r.status_code == 409
    assert r.json()["code"] == "media.offset_mismatch" and r.json()["offset"] == a1
    assert r.headers["upload-offset"] == str(a1)
    # A resend of the first chunk (its answer was lost) is also told where to go on.
    r = await put_chunk(client, mediator1, h, data, a0, a1)
    assert r.status_code == 409 and r.json()["offset"] == a1

    r = await put_chunk(client, mediator1, h, data, b0, b1)
    assert r.status_code == 202 and r.json()["offset"] == b1
    assert (await head(client, mediator1, h)).headers["upload-offset"] == str(b1)

    r = await put_chunk(client, mediator1, h, data, c0, c1)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["sha256"] == h and body["bytes"] == len(data) and body["sizes"]["full"]["width"] == 160

    r = await head(client, mediator1, h)
    assert r.status_code == 200 and r.headers["upload-complete"] == "?1"
    assert r.headers["x-media-status"] == "complete" and r.headers["upload-offset"] == str(len(data))
    assert await stored(h, media_dir) == {
        "media": 1,
        "uploads": 0,
        "files": ["full.jpg", "medium.jpg", "thumb.jpg"],
        "partials": [],
    }

    # The final chunk sent again (its answer was lost on the way back): the same answer, 200.
    r = await put_chunk(client, mediator1, h, data, c0, c1)
    assert r.status_code == 200 and r.json() == body
    # And so is the whole photo sent again.
    r = await client.put(f"/api/media/{h}", content=data, headers=mediator1)
    assert r.status_code == 200 and r.json() == body

    served = await client.get(f"/api/media/{h}?size=full", headers=mediator1)
    assert Image.open(io.BytesIO(served.content)).size == (160, 120)


async def _uid(client, headers) -> int:
    return (await client.get("/api/me", headers=headers)).json()["id"]


async def test_final_hash_mismatch_discards_the_partial(client, mediator1, media_dir):
    data, claimed = photo(), jpeg()
    h = sha(claimed)
    (a0, a1), (b0, b1), (c0, c1) = thirds(data)
    assert (await put_chunk(client, mediator1, h, data, a0, a1)).status_code == 202
    assert (await put_chunk(client, mediator1, h, data, b0, b1)).status_code == 202
    assert (await stored(h, media_dir))["uploads"] == 1
    r = await put_chunk(client, mediator1, h, data, c0, c1)
    assert r.status_code == 400
    assert r.json()["code"] == "media.hash_mismatch"
    assert (await head(client, mediator1, h)).status_code == 404
    await assert_nothing_stored(h, media_dir)
    # The phone starts again from 0 with the right bytes.
    r = await put_chunk(client, mediator1, h, claimed, 0, len(claimed))
    assert r.status_code == 201


async def test_total_may_be_unknown_until_the_last_chunk(client, mediator1):
    data = photo()
    h = sha(data)
    (a0, a1), (b0, b1), (c0, c1) = thirds(data)
    r = await put_chunk(client, mediator1, h, data, a0, a1, total="*")
    assert r.status_code == 202 and r.json()["total"] is None
    head_r = await head(client, mediator1, h)
    assert head_r.headers["upload-offset"] == str(a1) and "upload-length" not in head_r.headers
    assert (await put_chunk(client, mediator1, h, data, b0, b1, total="*")).status_code == 202
    assert (await put_chunk(client, mediator1, h, data, c0, c1)).status_code == 201


async def test_whole_photo_in_one_content_range(client, mediator1, media_dir):
    data = photo()
    r = await put_chunk(client, mediator1, sha(data), data, 0, len(data))
    assert r.status_code == 201
    assert (await stored(sha(data), media_dir))["partials"] == []


async def test_a_partial_upload_belongs_to_its_uploader(client, mediator1, mediator2, media_dir):
    data = photo()
    h = sha(data)
    (a0, a1), _, _ = thirds(data)
    assert (await put_chunk(client, mediator1, h, data, a0, a1)).status_code == 202
    assert (await head(client, mediator2, h)).status_code == 404
    # mediator2 continuing mediator1's upload is told to start from 0 (its own upload).
    r = await put_chunk(client, mediator2, h, data, a1, len(data))
    assert r.status_code == 409 and r.json()["offset"] == 0
    # mediator2 sends the photo whole: stored, and his.
    assert (await client.put(f"/api/media/{h}", content=data, headers=mediator2)).status_code == 201
    assert (await head(client, mediator2, h)).headers["x-media-status"] == "complete"
    # mediator1 still holds only his own third: another's copy is not his until his bytes arrive.
    r = await head(client, mediator1, h)
    assert r.headers["x-media-status"] == "partial" and r.headers["upload-offset"] == str(a1)
    _, (b0, b1), (c0, c1) = thirds(data)
    assert (await put_chunk(client, mediator1, h, data, b0, b1)).status_code == 202
    last = await put_chunk(client, mediator1, h, data, c0, c1)
    assert last.status_code == 200 and last.json()["status"] == "complete"
    assert (await head(client, mediator1, h)).headers["x-media-status"] == "complete"
    assert (await stored(h, media_dir))["partials"] == []


async def test_a_first_chunk_not_at_zero_is_told_to_start_at_zero(client, mediator1, media_dir):
    data = photo()
    r = await put_chunk(client, mediator1, sha(data), data, 100, 200)
    assert r.status_code == 409 and r.json()["offset"] == 0
    await assert_nothing_stored(sha(data), media_dir)


async def test_bad_ranges(client, mediator1, media_dir):
    data = photo()
    h = sha(data)
    url = f"/api/media/{h}"
    for value in ("bytes=0-9/100", "bytes 9-0/100", "bytes 0-100/100", "items 0-9/100", "bytes 0-9"):
        r = await client.put(url, content=data[:10], headers={**mediator1, "Content-Range": value})
        assert r.status_code == 400 and r.json()["code"] == "media.bad_range", value
    # The body is longer or shorter than the range says.
    r = await client.put(
        url, content=data[:20], headers={**mediator1, "Content-Range": f"bytes 0-9/{len(data)}"}
    )
    assert r.status_code == 400 and r.json()["code"] == "media.bad_range"
    r = await client.put(
        url, content=data[:5], headers={**mediator1, "Content-Range": f"bytes 0-9/{len(data)}"}
    )
    assert r.status_code == 400
    # A total over 15 MB is refused before any byte is read.
    r = await client.put(url, content=data[:10], headers={**mediator1, "Content-Range": "bytes 0-9/20000000"})
    assert r.status_code == 413 and r.json()["code"] == "media.too_large"
    await assert_nothing_stored(h, media_dir)


async def test_a_changed_total_is_refused(client, mediator1):
    data = photo()
    h = sha(data)
    (a0, a1), (b0, b1), _ = thirds(data)
    assert (await put_chunk(client, mediator1, h, data, a0, a1)).status_code == 202
    r = await put_chunk(client, mediator1, h, data, b0, b1, total=len(data) + 1)
    assert r.status_code == 400 and r.json()["code"] == "media.bad_range"


async def test_a_corrupt_photo_sent_in_chunks_is_refused_and_discarded(client, mediator1, media_dir):
    whole = photo()
    data = whole[: len(whole) * 7 // 10]  # the phone's file itself is truncated
    h = sha(data)
    (a0, a1), (b0, b1), (c0, c1) = thirds(data)
    assert (await put_chunk(client, mediator1, h, data, a0, a1)).status_code == 202
    assert (await put_chunk(client, mediator1, h, data, b0, b1)).status_code == 202
    r = await put_chunk(client, mediator1, h, data, c0, c1)
    assert r.status_code == 422 and r.json()["code"] == "media.corrupt"
    await assert_nothing_stored(h, media_dir)


async def test_bytes_past_the_committed_offset_are_cut_off(client, mediator1, media_dir):
    """A crash between writing a chunk and committing its offset leaves extra bytes in the file;
    the next chunk is written at the committed offset, over them."""
    data = photo()
    h = sha(data)
    (a0, a1), (b0, b1), (c0, c1) = thirds(data)
    assert (await put_chunk(client, mediator1, h, data, a0, a1)).status_code == 202
    uid = await _uid(client, mediator1)
    _append_garbage(storage.partial_path(media_dir, h, uid))
    assert (await head(client, mediator1, h)).headers["upload-offset"] == str(a1)
    assert (await put_chunk(client, mediator1, h, data, b0, b1)).status_code == 202
    assert (await put_chunk(client, mediator1, h, data, c0, c1)).status_code == 201


def _append_garbage(path) -> None:
    with open(path, "ab") as f:
        f.write(b"garbage from an interrupted append")


async def test_a_lost_partial_file_restarts_the_upload(client, mediator1, media_dir):
    data = photo()
    h = sha(data)
    (a0, a1), (b0, b1), _ = thirds(data)
    assert (await put_chunk(client, mediator1, h, data, a0, a1)).status_code == 202
    storage.partial_path(media_dir, h, await _uid(client, mediator1)).unlink()
    r = await put_chunk(client, mediator1, h, data, b0, b1)
    assert r.status_code == 409 and r.json()["offset"] == 0
    assert (await head(client, mediator1, h)).headers["upload-offset"] == "0"
    assert (await put_chunk(client, mediator1, h, data, 0, len(data))).status_code == 201


async def test_head_needs_a_token_and_a_well_formed_hash(client, mediator1):
    assert (await client.head(f"/api/media/{'a' * 64}")).status_code == 401
    assert (await client.head("/api/media/xyz", headers=mediator1)).status_code == 400
