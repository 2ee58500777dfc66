"""Unfinished uploads are bounded per user and expire with the server's hourly upkeep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.core import clock
from tests.media.images import encode, noise_image, sha
from tests.media.support import stored


@pytest.fixture
async def app(database, monkeypatch):
    from backend.app import create_app
    from backend.settings import get_settings, load_settings

    monkeypatch.setenv("FENGQIAO_MEDIA_MAX_PARTIAL_UPLOADS", "2")
    get_settings.cache_clear()
    yield create_app(load_settings(), manage_database=False)
    monkeypatch.delenv("FENGQIAO_MEDIA_MAX_PARTIAL_UPLOADS")
    get_settings.cache_clear()


def photo() -> bytes:
    return encode(noise_image((64, 64)), "JPEG")


async def first_chunk(client, headers, data: bytes):
    return await client.put(
        f"/api/media/{sha(data)}",
        content=data[:50],
        headers={**headers, "Content-Range": f"bytes 0-49/{len(data)}"},
    )


async def test_a_user_keeps_at_most_the_set_number_of_unfinished_uploads(
    client, mediator1, mediator2, media_dir
):
    a, b, c = photo(), photo(), photo()
    assert (await first_chunk(client, mediator1, a)).status_code == 202
    assert (await first_chunk(client, mediator1, b)).status_code == 202
    refused = await first_chunk(client, mediator1, c)
    assert refused.status_code == 429
    assert refused.json()["code"] == "media.too_many_partial_uploads" and refused.json()["max"] == 2
    assert "未完成的照片上传过多" in refused.json()["message"] and refused.headers["retry-after"] == "300"
    assert await stored(sha(c), media_dir) == {"media": 0, "uploads": 0, "files": [], "partials": []}
    # Resending the first chunk of one already begun is not a new upload (told where to go on, not
    # refused); a photo sent whole needs no slot.
    again = await first_chunk(client, mediator1, a)
    assert again.status_code == 409 and again.json() == {
        **again.json(),
        "code": "media.offset_mismatch",
        "offset": 50,
    }
    assert (await client.put(f"/api/media/{sha(c)}", content=c, headers=mediator1)).status_code == 201
    # The quota is per user.
    assert (await first_chunk(client, mediator2, photo())).status_code == 202
    # Finishing one frees its slot.
    rest = await client.put(
        f"/api/media/{sha(a)}",
        content=a[50:],
        headers={**mediator1, "Content-Range": f"bytes 50-{len(a) - 1}/{len(a)}"},
    )
    assert rest.status_code == 201
    assert (await first_chunk(client, mediator1, photo())).status_code == 202


async def test_the_running_server_purges_stale_uploads_every_hour(client, mediator1, media_dir):
    from backend.notify import worker
    from backend.ops import jobs

    interval, job = worker._periodic["media.purge_uploads"]
    assert job is jobs.purge_stale_uploads and interval(None) == 3600.0
    data = photo()
    assert (await first_chunk(client, mediator1, data)).status_code == 202
    assert await job() == 0  # fresh: kept
    with clock.frozen(datetime.now(UTC) + timedelta(days=32)):
        assert await job() == 1
    assert await stored(sha(data), media_dir) == {"media": 0, "uploads": 0, "files": [], "partials": []}
