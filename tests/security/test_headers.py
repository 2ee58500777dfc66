"""Security headers on every kind of response; HSTS only over HTTPS; the Swagger UI only when asked."""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from tests.factories import auth

EVERYWHERE = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
    "cross-origin-opener-policy": "same-origin",
}


def _directives(policy: str) -> dict[str, list[str]]:
    return {d.split()[0]: d.split()[1:] for d in policy.split("; ")}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/health", 200),
        ("GET", "/api/cases", 401),  # refused by authentication
        ("GET", "/api/nothing-here", 404),
        ("DELETE", "/api/health", 405),
        ("GET", "/schema/openapi.json", 200),
    ],
)
async def test_every_response_carries_the_headers(client, method, path, status):
    response = await client.request(method, path)
    assert response.status_code == status
    for name, value in EVERYWHERE.items():
        assert response.headers[name] == value
    policy = _directives(response.headers["content-security-policy"])
    assert policy["script-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert "camera=(self)" in response.headers["permissions-policy"]
    assert "microphone=()" in response.headers["permissions-policy"]
    assert "strict-transport-security" not in response.headers  # plain HTTP


async def test_the_app_shell_and_its_assets_carry_them(tmp_path, database):
    from backend.settings import load_settings

    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>枫桥网格通</title>", encoding="utf-8")
    (tmp_path / "assets" / "app.js").write_text("export {}", encoding="utf-8")
    settings = dataclasses.replace(load_settings(), pwa_dist=tmp_path)
    for path in ("/", "/cases/123", "/assets/app.js"):
        response = await _headers_of(settings, path)
        assert response.status_code == 200
        assert response.headers["x-content-type-options"] == "nosniff"
        assert _directives(response.headers["content-security-policy"])["script-src"] == ["'self'"]


async def test_a_signed_in_not_found_carries_them_too(client):
    """An answer made by the error handler still has them (the hook sees every response start)."""
    response = await client.get("/api/cases/not-a-case", headers=await auth(client, "mediator1"))
    assert response.status_code == 404
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" in response.headers


async def test_hsts_only_over_https(app):
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="https://fengqiao.example") as client:
        response = await client.get("/api/health")
    assert response.headers["strict-transport-security"] == "max-age=31536000"


async def _headers_of(settings, path: str) -> httpx.Response:
    from backend.app import create_app

    transport = httpx.ASGITransport(app=create_app(settings, manage_database=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.get(path)


@pytest.mark.parametrize(
    ("tiles", "extra", "img_src"),
    [
        ("none", (), ["'self'", "data:", "blob:"]),
        ("tianditu", (), ["'self'", "data:", "blob:", "https://*.tianditu.gov.cn"]),
        (
            "osm",
            ("https://tiles.cn.example",),
            ["'self'", "data:", "blob:", "https://tile.openstreetmap.org", "https://tiles.cn.example"],
        ),
    ],
)
async def test_the_map_tile_hosts_are_allowed_by_setting(database, tiles, extra, img_src):
    from backend.settings import load_settings

    settings = dataclasses.replace(load_settings(), map_tiles=tiles, csp_img_hosts=extra)
    response = await _headers_of(settings, "/api/health")
    assert _directives(response.headers["content-security-policy"])["img-src"] == img_src


async def test_swagger_ui_is_off_unless_asked_for(database):
    from backend.settings import load_settings

    settings = load_settings()
    assert settings.api_docs is False
    off = await _headers_of(settings, "/schema/swagger")
    assert off.status_code == 404
    assert (await _headers_of(settings, "/schema/openapi.json")).status_code == 200
    on = await _headers_of(dataclasses.replace(settings, api_docs=True), "/schema/swagger")
    assert on.status_code == 200
    assert "swagger-ui-bundle.js" in on.text
    # That page alone may load the CDN's script; the app's pages may not.
    assert "https://cdn.jsdelivr.net" in _directives(on.headers["content-security-policy"])["script-src"]


def test_the_server_believes_forwarded_headers_only_from_trusted_proxies(monkeypatch):
    from backend.app import server_options
    from backend.settings import load_settings

    monkeypatch.delenv("FENGQIAO_TRUSTED_PROXIES", raising=False)
    assert server_options(load_settings()) == {"proxy_headers": False}
    monkeypatch.setenv("FENGQIAO_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.2")
    assert server_options(load_settings()) == {
        "proxy_headers": True,
        "forwarded_allow_ips": "127.0.0.1,10.0.0.2",
    }


@pytest.mark.server
@pytest.mark.slow
@pytest.mark.parametrize(
    ("server_env", "hsts"),
    [({"FENGQIAO_TRUSTED_PROXIES": "127.0.0.1"}, True), ({}, False)],
    ids=["proxy-trusted", "no-proxy-trusted"],
)
def test_a_trusted_proxy_saying_https_turns_on_hsts(api_server, server_env, hsts):
    """The real server (uvicorn): X-Forwarded-Proto counts only from a trusted proxy, so a client
    talking to the server directly cannot make it claim HTTPS."""
    response = httpx.get(f"{api_server.base}/api/health", headers={"X-Forwarded-Proto": "https"}, timeout=30)
    assert response.status_code == 200
    assert ("strict-transport-security" in response.headers) is hsts
