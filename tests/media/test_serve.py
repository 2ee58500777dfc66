"""GET /api/media/{sha256}: only to those who may see the photo, cached for good."""

from __future__ import annotations

import pytest

from tests.media.images import jpeg, sha


@pytest.fixture
async def uploaded(client, mediator1) -> str:
    data = jpeg((640, 480))
    r = await client.put(f"/api/media/{sha(data)}", content=data, headers=mediator1)
    assert r.status_code == 201
    return sha(data)


async def test_uploader_gets_each_size_with_long_cache_headers_and_an_etag(client, mediator1, uploaded):
    for size in ("thumb", "medium", "full"):
        r = await client.get(f"/api/media/{uploaded}", params={"size": size}, headers=mediator1)
        assert r.status_code == 200
        assert r.headers["content-type"] == "image/jpeg"
        assert r.headers["cache-control"] == "private, max-age=31536000, immutable"
        assert r.headers["etag"] == f'"{uploaded}-{size}"'
        assert r.headers["content-disposition"].startswith("inline")
        assert r.content[:3] == b"\xff\xd8\xff"


async def test_medium_is_the_default_size(client, mediator1, uploaded):
    plain = await client.get(f"/api/media/{uploaded}", headers=mediator1)
    medium = await client.get(f"/api/media/{uploaded}?size=medium", headers=mediator1)
    assert plain.status_code == 200 and plain.content == medium.content


async def test_if_none_match_answers_304(client, mediator1, uploaded):
    url = f"/api/media/{uploaded}?size=thumb"
    etag = (await client.get(url, headers=mediator1)).headers["etag"]
    r = await client.get(url, headers={**mediator1, "If-None-Match": etag})
    assert r.status_code == 304 and r.content == b""
    assert r.headers["etag"] == etag and "immutable" in r.headers["cache-control"]
    r = await client.get(url, headers={**mediator1, "If-None-Match": '"something-else"'})
    assert r.status_code == 200


async def test_another_mediator_gets_404_not_403(client, mediator2, uploaded):
    r = await client.get(f"/api/media/{uploaded}?size=thumb", headers=mediator2)
    assert r.status_code == 404
    # Exactly what a photo that does not exist looks like: existence is not leaked.
    missing = await client.get(f"/api/media/{'0' * 64}?size=thumb", headers=mediator2)
    assert missing.status_code == 404 and r.json() == missing.json()


async def test_who_may_see_a_photo_is_decided_by_the_cases_domain(
    client, mediator1, mediator2, uploaded, monkeypatch
):
    from backend.media import routes

    asked = []

    async def allow(user, sha256):
        asked.append((user.username, sha256))
        return True

    monkeypatch.setattr(routes, "photo_visible_to", allow)
    assert (await client.get(f"/api/media/{uploaded}?size=thumb", headers=mediator2)).status_code == 200
    me = (await client.get("/api/me", headers=mediator2)).json()
    assert asked == [(me["username"], uploaded)]
    # The uploader sees their photo without the cases domain being asked.
    assert (await client.get(f"/api/media/{uploaded}?size=thumb", headers=mediator1)).status_code == 200
    assert asked == [(me["username"], uploaded)]


async def test_unauthenticated_is_401(client, uploaded):
    r = await client.get(f"/api/media/{uploaded}?size=thumb")
    assert r.status_code == 401 and r.json()["code"] == "auth.required"


async def test_unknown_size_is_400(client, mediator1, uploaded):
    r = await client.get(f"/api/media/{uploaded}?size=huge", headers=mediator1)
    assert r.status_code == 400 and r.json()["code"] == "media.unknown_size"


async def test_malformed_hash_is_400(client, mediator1):
    r = await client.get("/api/media/not-a-hash?size=thumb", headers=mediator1)
    assert r.status_code == 400 and r.json()["code"] == "media.invalid_sha256"
