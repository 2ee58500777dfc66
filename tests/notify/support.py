"""Test support for notifications: a local Web Push service that decrypts and checks every message,
a local SMS gateway that checks the signature, and helpers to close cases and subscribe devices."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import http_ece
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from backend.core import clock
from tests.factories import act, auth, bearer, login, make_case

AGREEMENT = {
    "facts": "张家翻修房屋期间将建材堆放在两家共用通道上。",
    "matters": "通道占用及清理时间。",
    "terms": "张家于三日内清理建材，今后施工期间保留一米宽通道；李家不再追究。",
    "performance": "三日内履行完毕，由调解队回访确认。",
}
LOCAL_HOSTS = ("127.0.0.1",)


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def b64url_decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def push_settings(**overrides):
    """The test run's settings, with the local receivers allowed as push hosts."""
    from backend.settings import load_settings

    return dataclasses.replace(load_settings(), **{"push_extra_hosts": LOCAL_HOSTS, **overrides})


# --- a tiny HTTP/1.1 server -----------------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class LocalServer:
    """HTTP/1.1 with keep-alive on 127.0.0.1; `respond(request)` gives (status, headers)."""

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def respond(self, request: Request) -> tuple[int, dict[str, str]]:
        return 201, {}

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                method, path, _ = line.decode().split(" ", 2)
                headers: dict[str, str] = {}
                while True:
                    h = await reader.readline()
                    if h in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = h.decode().partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                status, extra = self.respond(Request(method, path, headers, body))
                head = f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n"
                head += "".join(f"{k}: {v}\r\n" for k, v in extra.items())
                writer.write((head + "\r\n").encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


# --- the push service -----------------------------------------------------------------------------


@dataclass
class Device:
    """A browser's subscription: its private key decrypts what is pushed to it."""

    token: str
    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes

    def subscription(self) -> dict[str, Any]:
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {"endpoint": self.endpoint, "keys": {"p256dh": b64url(public), "auth": b64url(self.auth)}}


@dataclass
class Push:
    token: str
    headers: dict[str, str]
    payload: dict[str, Any]
    status: int


@dataclass
class PushService(LocalServer):
    """Decrypts every message with the subscription's private key (aes128gcm) and checks the VAPID JWT
    against the server's public key; problems are collected in `errors`. `script[url or token]` lists
    the answers to give to pushes of that notification url (or to that device), in order (then 201)."""

    vapid_public_key: str = ""
    devices: dict[str, Device] = field(default_factory=dict)
    received: list[Push] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    script: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)
    requests: int = 0

    def __post_init__(self) -> None:
        LocalServer.__init__(self)

    def new_device(self) -> Device:
        token = uuid.uuid4().hex
        device = Device(
            token=token,
            endpoint=f"{self.base}/push/{token}",
            private_key=ec.generate_private_key(ec.SECP256R1()),
            auth=os.urandom(16),
        )
        self.devices[token] = device
        return device

    def for_device(self, device: Device) -> list[Push]:
        return [p for p in self.received if p.token == device.token]

    def respond(self, request: Request) -> tuple[int, dict[str, str]]:
        self.requests += 1
        token = request.path.rsplit("/", 1)[-1]
        device = self.devices.get(token)
        if request.method != "POST" or device is None:
            self.errors.append(f"unexpected {request.method} {request.path}")
            return 404, {}
        try:
            payload = self._check(device, request)
        except Exception as exc:  # collected, and the test fails on it
            self.errors.append(f"{type(exc).__name__}: {exc}")
            return 400, {}
        answers = self.script.get(payload["url"]) or self.script.get(token) or []
        status, extra = answers.pop(0) if answers else (201, {})
        self.received.append(Push(token, request.headers, payload, status))
        return status, extra

    def _check(self, device: Device, request: Request) -> dict[str, Any]:
        headers = request.headers
        assert headers.get("content-encoding") == "aes128gcm", headers
        assert headers.get("ttl") == str(24 * 3600), headers
        assert headers.get("urgency") in ("normal", "high"), headers
        scheme, _, params = headers["authorization"].partition(" ")
        assert scheme == "vapid", headers["authorization"]
        parts = dict(p.strip().split("=", 1) for p in params.split(","))
        assert parts["k"] == self.vapid_public_key, "signed with another key than GET /api/push/key"
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(parts["k"]))
        claims = jwt.decode(parts["t"], key=key, algorithms=["ES256"], options={"verify_aud": False})
        # webpush names the origin without its port; both forms name this receiver.
        assert claims["aud"] in ("http://127.0.0.1", self.base), claims
        assert time.time() < claims["exp"] <= time.time() + 24 * 3600, claims
        assert claims["sub"].startswith("mailto:"), claims
        plain = http_ece.decrypt(
            request.body, private_key=device.private_key, auth_secret=device.auth, version="aes128gcm"
        )
        assert len(plain) <= 3 * 1024, len(plain)
        payload = json.loads(plain)
        assert set(payload) == {"title", "body", "url", "notification_id"}, payload
        return payload


class SmsGateway(LocalServer):
    """Checks X-Fengqiao-Signature (HMAC-SHA256 of "<timestamp>.<body>") on every request."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret
        self.received: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.status = 200

    def respond(self, request: Request) -> tuple[int, dict[str, str]]:
        import hashlib
        import hmac

        timestamp = request.headers.get("x-fengqiao-timestamp", "")
        expected = (
            "sha256="
            + hmac.new(
                self.secret.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256
            ).hexdigest()
        )
        if not hmac.compare_digest(request.headers.get("x-fengqiao-signature", ""), expected):
            self.errors.append("bad signature")
            return 401, {}
        if abs(time.time() - int(timestamp)) > 300:
            self.errors.append("stale timestamp")
            return 401, {}
        self.received.append(json.loads(request.body))
        return self.status, {}


# --- helpers --------------------------------------------------------------------------------------


async def close_case_at(client, at: datetime, username: str = "mediator1", **overrides) -> dict:
    """A case logged, accepted, resolved and closed at `at` (so its visits fall due from there)."""
    with clock.frozen(at):
        case = await make_case(client, username, **overrides)
        cid = case["id"]
        for who, action, body in (
            ("leader1", "accept", {}),
            (username, "resolve", {"agreement": AGREEMENT}),
            (username, "close", {}),
        ):
            response = await act(client, who, cid, action, **body)
            assert response.status_code == 200, response.text
        detail = await client.get(f"/api/cases/{cid}", headers=await auth(client, username))
    assert detail.json()["state"] == "closed"
    return detail.json()


async def subscribe_device(client, service: PushService, username: str) -> tuple[dict, Device]:
    """A fresh sign-in (its own device) with a push subscription to the local push service."""
    tokens = await login(client, username)
    device = service.new_device()
    response = await client.post(
        "/api/push/subscriptions", json=device.subscription(), headers=bearer(tokens)
    )
    assert response.status_code == 201, response.text
    return tokens, device


async def inbox_items(client, username: str, **params) -> list[dict]:
    response = await client.get(
        "/api/inbox", params={"limit": 200, **params}, headers=await auth(client, username)
    )
    assert response.status_code == 200, response.text
    return response.json()["items"]
