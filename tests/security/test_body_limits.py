"""Bodies are bounded per route before they are read: 64 KB for sign-in, 1 MB for JSON APIs, 4 MB for a
sync batch, photos alone large (issue 18: six parallel 19 MB sign-ins took the server to 3 GB)."""

from __future__ import annotations

import pytest

from backend.core.inbound import AUTH_BODY_LIMIT, BODY_LIMIT, MB, SYNC_BODY_LIMIT
from tests.factories import auth

JSON = {"content-type": "application/json"}


def _padded(size: int) -> bytes:
    """A JSON object of exactly `size` bytes (a long string), flat: only its size is wrong."""
    head, tail = b'{"pad": "', b'"}'
    return head + b"a" * (size - len(head) - len(tail)) + tail


async def _chunks(body: bytes, step: int = 64 * 1024):
    for start in range(0, len(body), step):
        yield body[start : start + step]


@pytest.mark.parametrize(
    ("path", "limit", "user"),
    [
        ("/api/auth/login", AUTH_BODY_LIMIT, None),
        ("/api/auth/refresh", AUTH_BODY_LIMIT, None),
        ("/api/cases", BODY_LIMIT, "mediator1"),
        ("/api/admin/teams", BODY_LIMIT, "county"),
        ("/api/sync/push", SYNC_BODY_LIMIT, "mediator1"),
    ],
)
async def test_a_body_over_the_routes_limit_is_413_and_at_the_limit_is_read(client, path, limit, user):
    headers = {**JSON, **(await auth(client, user) if user else {})}
    over = await client.post(path, content=_padded(limit + 1), headers=headers)
    assert (over.status_code, over.json()["code"]) == (413, "request.too_large")
    at_limit = await client.post(path, content=_padded(limit), headers=headers)
    # Read and decoded: refused only for its shape (no username, no ops...).
    assert (at_limit.status_code, at_limit.json()["code"]) == (400, "request.invalid")


async def test_an_announced_length_over_the_limit_is_refused_before_reading(client):
    """Content-Length says 19 MB: answered at once, from the header (the body here is tiny)."""
    headers = {**JSON, "content-length": str(19 * MB)}
    response = await client.post("/api/auth/login", content=b"{}", headers=headers)
    assert (response.status_code, response.json()["code"]) == (413, "request.too_large")


async def test_a_chunked_body_without_a_length_is_cut_off_at_the_limit(client):
    response = await client.post("/api/auth/login", content=_chunks(_padded(2 * MB)), headers=JSON)
    assert "content-length" not in response.request.headers
    assert (response.status_code, response.json()["code"]) == (413, "request.too_large")


async def test_a_photo_may_be_larger_than_a_json_body(client):
    """The media route keeps its own limit (15 MB, media.too_large): 2 MB of not-a-photo gets to it."""
    sha = "0" * 64
    response = await client.put(
        f"/api/media/{sha}", content=b"\x00" * (2 * MB), headers=await auth(client, "mediator1")
    )
    assert response.status_code == 400
    assert response.json()["code"] == "media.hash_mismatch"
