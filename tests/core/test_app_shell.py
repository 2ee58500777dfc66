"""Health, the OpenAPI schema, the PWA shell and the request log."""

from __future__ import annotations

import json
import logging
from urllib.parse import unquote

import httpx
import pytest

from tests.factories import bearer, login

# Paths that climb out of the build directory, as an attacker sends them (see raw_get): with dot
# segments, percent-encoded dots, and percent-encoded slashes. Twelve levels up reach / from the
# test's build directory (tmp_path/dist), so a server that let them through would serve /etc/passwd.
ESCAPES_TO_ETC = {
    "etc-passwd-dots": "/" + "../" * 12 + "etc/passwd",
    "etc-passwd-encoded-dots": "/" + "%2e%2e/" * 12 + "etc/passwd",
    "etc-passwd-encoded-slashes": "/" + "..%2f" * 12 + "etc%2fpasswd",
}
ESCAPES_BESIDE_THE_BUILD = {
    "beside-dots": "/../outside.txt",
    "beside-encoded-dots": "/%2e%2e/outside.txt",
    "beside-encoded-slashes": "/..%2foutside.txt",
}
OUTSIDE_SECRET = "不应被读取的文件"


async def test_health_reports_engine_and_migrations(client, request):
    response = await client.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == request.config.getoption("--engine")
    assert body["migrations"]["pending"] == []
    assert body["migrations"]["applied"] >= 1


async def test_migrate_again_applies_nothing(database):
    from backend import db

    assert await db.migrate() == []


async def test_openapi_schema_lists_the_contract(client):
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in ("/api/auth/login", "/api/auth/refresh", "/api/auth/logout", "/api/me", "/api/health"):
        assert path in paths


@pytest.fixture
async def pwa_app(tmp_path, database):
    """The app serving a small build in tmp_path/dist; beside the build, a file no request may reach."""
    from backend.app import create_app
    from backend.settings import load_settings

    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>枫桥网格通</title>", encoding="utf-8")
    (dist / "sw.js").write_text("self.addEventListener('fetch', () => {})")
    (dist / "assets" / "index-3f2a.js").write_text("console.log(1)")
    (dist / "manifest.webmanifest").write_text('{"name": "枫桥网格通"}', encoding="utf-8")
    (tmp_path / "outside.txt").write_text(OUTSIDE_SECRET, encoding="utf-8")
    settings = load_settings()
    return create_app(type(settings)(**{**settings.__dict__, "pwa_dist": dist}), manage_database=False)


@pytest.fixture
async def pwa_client(pwa_app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=pwa_app), base_url="http://t") as c:
        yield c


async def raw_get(app, raw_path: str) -> tuple[int, bytes]:
    """GET a path exactly as given, dot segments included, as a server hands it to the app (uvicorn
    decodes %2e and %2f and removes nothing). httpx would remove the dot segments before sending."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": unquote(raw_path),
        "raw_path": raw_path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"t")],
        "client": ("203.0.113.7", 40000),
        "server": ("t", 80),
    }
    messages: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        messages.append(message)

    await app(scope, receive, send)
    return messages[0]["status"], b"".join(m.get("body", b"") for m in messages[1:])


async def test_pwa_shell_cache_policy(pwa_client):
    sw = await pwa_client.get("/sw.js")
    assert sw.status_code == 200 and sw.headers["cache-control"] == "no-cache"
    assert "javascript" in sw.headers["content-type"]
    index = await pwa_client.get("/")
    assert index.headers["cache-control"] == "no-cache" and "枫桥网格通" in index.text
    asset = await pwa_client.get("/assets/index-3f2a.js")
    assert "immutable" in asset.headers["cache-control"]
    manifest = await pwa_client.get("/manifest.webmanifest")
    assert manifest.headers["content-type"].startswith("application/manifest+json")


async def test_client_side_routes_get_the_app_shell(pwa_client):
    page = await pwa_client.get("/cases/2f1e/visits")
    assert page.status_code == 200 and "枫桥网格通" in page.text


async def test_missing_assets_and_api_paths_are_404_not_the_shell(pwa_client):
    asset = await pwa_client.get("/assets/missing-123.js")
    assert asset.status_code == 404 and asset.json()["code"] == "not_found"
    api = await pwa_client.get("/api/does-not-exist")
    assert api.status_code == 404 and api.json()["code"] == "not_found"


def escapes() -> list:
    return [
        pytest.param(path, id=name) for name, path in {**ESCAPES_TO_ETC, **ESCAPES_BESIDE_THE_BUILD}.items()
    ]


@pytest.mark.parametrize("path", escapes())
async def test_paths_never_serve_a_file_outside_the_build(pwa_app, path):
    status, body = await raw_get(pwa_app, path)
    text = body.decode()
    assert "root:" not in text and OUTSIDE_SECRET not in text, (path, status)


@pytest.mark.parametrize("path", escapes())
async def test_paths_cannot_escape_the_build_directory(pwa_app, path):
    status, body = await raw_get(pwa_app, path)
    assert status == 404, (path, status, body[:80])
    assert json.loads(body)["code"] == "not_found"


async def test_a_nul_byte_in_the_path_is_404(pwa_app):
    status, body = await raw_get(pwa_app, "/index.html\x00.js")
    assert status == 404 and json.loads(body)["code"] == "not_found"


async def test_request_log_has_no_passwords_tokens_or_query_values(client, caplog):
    caplog.set_level(logging.INFO, logger="fengqiao.request")
    tokens = await login(client, "mediator1")
    await client.get("/api/me", params={"phone": "13812345678"}, headers=bearer(tokens))
    await client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    records = [r.getMessage() for r in caplog.records if r.name == "fengqiao.request"]
    assert len(records) >= 3
    text = "\n".join(records)
    for secret in ("demo-2026", tokens["access_token"], tokens["refresh_token"], "13812345678"):
        assert secret not in text
    me_line = json.loads(next(r for r in records if '"/api/me"' in r))
    assert (
        me_line["query_keys"] == ["phone"]
        and me_line["status"] == 200
        and me_line["user_id"] == tokens["user"]["id"]
    )


async def test_refused_requests_are_logged_too(client, caplog):
    caplog.set_level(logging.INFO, logger="fengqiao.request")
    await client.get("/api/me", headers={"Authorization": "Bearer nonsense"})
    assert any('"status": 401' in r.getMessage() for r in caplog.records if r.name == "fengqiao.request")


async def test_unexpected_errors_are_500_json_without_a_traceback(app, monkeypatch):
    from backend.people import service

    async def boom(user_id):
        raise RuntimeError("secret internals")

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        tokens = await login(c, "kasi")
        monkeypatch.setattr(service, "user_view", boom)
        response = await c.get("/api/me", headers=bearer(tokens))
    assert response.status_code == 500
    assert response.json()["code"] == "server.error"
    assert "secret internals" not in response.text and "Traceback" not in response.text


async def test_precompressed_assets_go_gzipped_to_browsers_that_accept_it(pwa_client, tmp_path):
    import gzip

    body = "console.log('枫桥');" * 200
    asset = tmp_path / "dist" / "assets" / "big-9a8b.js"
    asset.write_text(body, encoding="utf-8")
    asset.with_name(asset.name + ".gz").write_bytes(gzip.compress(body.encode()))
    packed = await pwa_client.get("/assets/big-9a8b.js", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip" and packed.text == body  # httpx unpacks it
    assert packed.headers["vary"] == "Accept-Encoding" and "javascript" in packed.headers["content-type"]
    plain = await pwa_client.get("/assets/big-9a8b.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.text == body
