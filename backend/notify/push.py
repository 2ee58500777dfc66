"""Web Push: VAPID keys, subscriptions (validated, and only to known push services), and delivery.

The `webpush` package only encrypts (RFC 8291, aes128gcm) and signs (VAPID, RFC 8292). Sending is ours:
httpx, async, with bounded concurrency; TTL 24 h; `Urgency: high` for overdue work; a `Topic` per visit;
201/202 delivered; 404/410 the subscription is gone and deleted; 413 and other 4xx fail for good; 429
and 5xx (and network errors) are retried with backoff, honouring Retry-After, then given up. Every
attempt is a row in delivery_attempt. Deliveries are claimed like the reminders: FOR UPDATE SKIP LOCKED
on PostgreSQL, an immediate transaction on SQLite, with a lease so a crashed worker's claim expires.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import logging
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from piccolo.columns import Column
from webpush import WebPush
from webpush.types import WebPushKeys, WebPushSubscription
from webpush.vapid import VAPID

from backend import db
from backend.core import clock, secrets
from backend.core.errors import AppError
from backend.core.identity import CurrentUser
from backend.notify import schemas
from backend.notify.tables import DeliveryAttempt, PushDelivery, PushSubscription
from backend.settings import Settings, get_settings

log = logging.getLogger("fengqiao.notify.push")

# The push services browsers use (Chrome/Edge via FCM, Firefox, Safari, legacy Edge/Windows).
KNOWN_PUSH_HOSTS = frozenset({"fcm.googleapis.com", "updates.push.services.mozilla.com"})
KNOWN_PUSH_SUFFIXES = (".push.apple.com", ".notify.windows.com")
TTL_SECONDS = 24 * 3600
MAX_PAYLOAD_BYTES = 3 * 1024
MAX_ATTEMPTS = 5
BACKOFF_SECONDS = 30  # 30 s, 1 min, 2 min, 4 min, ...
MAX_BACKOFF_SECONDS = 3600
REQUEST_TIMEOUT_SECONDS = 10.0
BATCH = 100
# A claim is held this long; a worker that died mid-batch lets the rows go after it.
LEASE_SECONDS = 300
_B64URL = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")


class EndpointNotAllowed(AppError):
    status_code = 422
    code = "push.endpoint_not_allowed"
    message = "推送地址不是受支持的推送服务"
    message_en = "The endpoint is not on a known push service"


class InvalidSubscription(AppError):
    status_code = 422
    code = "push.invalid_subscription"
    message = "推送订阅格式不正确"
    message_en = "The push subscription is malformed"


# --- VAPID keys -----------------------------------------------------------------------------------


def _make_private_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass(frozen=True)
class VapidKeys:
    private_pem: bytes
    public_pem: bytes
    application_server_key: str  # base64url of the uncompressed point, for pushManager.subscribe()


@lru_cache(maxsize=4)
def _keys_in(secrets_dir: Path) -> VapidKeys:
    private_pem = secrets.load_or_create(secrets_dir, "vapid_private.pem", _make_private_pem)
    key = serialization.load_pem_private_key(private_pem, password=None)
    public = key.public_key()
    return VapidKeys(
        private_pem=private_pem,
        public_pem=public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        application_server_key=VAPID.get_application_server_key(public),
    )


def vapid_keys(settings: Settings | None = None) -> VapidKeys:
    """Made on first use in the data directory's secrets (0600), the same for every process."""
    return _keys_in((settings or get_settings()).secrets_dir)


def public_key(settings: Settings | None = None) -> schemas.PushKey:
    return schemas.PushKey(public_key=vapid_keys(settings).application_server_key)


# --- subscriptions --------------------------------------------------------------------------------


def endpoint_allowed(endpoint: str, settings: Settings) -> bool:
    """Only push services may be called (else the server is an SSRF tool): https on a known push host,
    or a host named in FENGQIAO_PUSH_EXTRA_HOSTS ("host" or "host:port"), where http is allowed too."""
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:
        return False
    host = (parts.hostname or "").lower().rstrip(".")
    if not host or parts.username or parts.password or parts.scheme not in ("https", "http"):
        return False
    extra = {h.lower() for h in settings.push_extra_hosts}
    if host in extra or (port is not None and f"{host}:{port}" in extra):
        return True
    if parts.scheme != "https" or port not in (None, 443):
        return False
    return host in KNOWN_PUSH_HOSTS or any(host.endswith(suffix) for suffix in KNOWN_PUSH_SUFFIXES)


def b64url_decode(value: str) -> bytes:
    if not _B64URL.fullmatch(value):
        raise ValueError("not base64url")
    stripped = value.rstrip("=")
    return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))


def validate_subscription(data: schemas.SubscriptionIn, settings: Settings) -> tuple[str, str, str]:
    """(endpoint, p256dh, auth) in canonical form, or a 422 with a stable code."""
    endpoint = data.endpoint.strip()
    if not endpoint_allowed(endpoint, settings):
        raise EndpointNotAllowed(details={"host": (urlsplit(endpoint).hostname or "")[:100]})
    try:
        p256dh = b64url_decode(data.keys.p256dh)
        auth = b64url_decode(data.keys.auth)
    except (ValueError, binascii.Error):
        raise InvalidSubscription(
            message="订阅密钥应为 base64url 编码", message_en="Keys must be base64url"
        ) from None
    if len(p256dh) != 65 or p256dh[0] != 0x04:
        raise InvalidSubscription(
            message="p256dh 应为 65 字节的未压缩 P-256 公钥",
            message_en="p256dh must be a 65-byte uncompressed P-256 point",
        )
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), p256dh)
    except ValueError:
        raise InvalidSubscription(
            message="p256dh 不是有效的 P-256 公钥", message_en="p256dh is not a point on P-256"
        ) from None
    if len(auth) != 16:
        raise InvalidSubscription(message="auth 应为 16 字节", message_en="auth must be 16 bytes")

    def canonical(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    return endpoint, canonical(p256dh), canonical(auth)


def _endpoint_hash(endpoint: str) -> str:
    return hashlib.sha256(endpoint.encode()).hexdigest()


def _subscription_out(row: dict[str, Any]) -> schemas.SubscriptionOut:
    return schemas.SubscriptionOut(
        id=row["id"],
        endpoint_host=urlsplit(row["endpoint"]).hostname or "",
        device_id=str(row["device"]),
        created_at=row["created_at"],
    )


async def subscribe(
    user: CurrentUser, data: schemas.SubscriptionIn, settings: Settings
) -> tuple[bool, schemas.SubscriptionOut]:
    """Register this device's subscription: (True, it) when new, (False, it) when it replaced the same
    endpoint. One subscription per device: a device that subscribes again replaces its old one."""
    endpoint, p256dh, auth = validate_subscription(data, settings)
    key = _endpoint_hash(endpoint)
    device = uuid.UUID(user.device_id)
    now = clock.now()
    async with db.write_transaction():
        existing = await PushSubscription.select().where(PushSubscription.endpoint_hash == key).first().run()
        await (
            PushSubscription.delete()
            .where((PushSubscription.device == device) & (PushSubscription.endpoint_hash != key))
            .run()
        )
        values: dict[Column | str, Any] = {
            PushSubscription.user: user.id,
            PushSubscription.device: device,
            PushSubscription.p256dh: p256dh,
            PushSubscription.auth: auth,
        }
        if existing is None:
            await PushSubscription.insert(
                PushSubscription(
                    user=user.id,
                    device=device,
                    endpoint=endpoint,
                    endpoint_hash=key,
                    p256dh=p256dh,
                    auth=auth,
                    created_at=now,
                )
            ).run()
        else:
            await PushSubscription.update(values).where(PushSubscription.id == existing["id"]).run()
        row = await PushSubscription.select().where(PushSubscription.endpoint_hash == key).first().run()
        assert row is not None  # written above, in this transaction
    return existing is None, _subscription_out(row)


async def unsubscribe(user: CurrentUser, endpoint: str) -> None:
    """Forget one of the user's subscriptions (idempotent)."""
    await (
        PushSubscription.delete()
        .where(
            (PushSubscription.endpoint_hash == _endpoint_hash(endpoint.strip()))
            & (PushSubscription.user == user.id)
        )
        .run()
    )


async def subscriptions_of(user: CurrentUser) -> list[schemas.SubscriptionOut]:
    rows = (
        await PushSubscription.select()
        .where(PushSubscription.user == user.id)
        .order_by(PushSubscription.id)
        .run()
    )
    return [_subscription_out(r) for r in rows]


async def remove_for_device(device_id: uuid.UUID) -> None:
    """A device signed out or was revoked: it must not be pushed to any more."""
    await PushSubscription.delete().where(PushSubscription.device == device_id).run()


# --- delivery -------------------------------------------------------------------------------------


@dataclass
class Job:
    delivery_id: int
    notification_id: int
    subscription_id: int
    endpoint: str
    p256dh: str
    auth: str
    attempts: int
    title: str
    body: str
    url: str
    urgency: str
    topic: str | None
    created_at: datetime


@dataclass
class Result:
    job: Job
    outcome: str  # delivered | retry | gone | rejected
    status_code: int | None = None
    detail: str = ""
    elapsed_ms: int = 0
    retry_after: float | None = None


@dataclass
class DeliveryStats:
    delivered: int = 0
    retried: int = 0
    gone: int = 0
    failed: int = 0
    given_up: int = 0
    attempts: int = 0
    notifications: set[int] = field(default_factory=set)

    def add(self, other: DeliveryStats) -> None:
        for name in ("delivered", "retried", "gone", "failed", "given_up", "attempts"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.notifications |= other.notifications


def payload_for(job: Job) -> bytes:
    """`{title, body, url, notification_id}` as UTF-8 JSON under 3 KB (the body is shortened to fit)."""

    def encode(body: str) -> bytes:
        return json.dumps(
            {"title": job.title, "body": body, "url": job.url, "notification_id": job.notification_id},
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()

    data = encode(job.body)
    if len(data) <= MAX_PAYLOAD_BYTES:
        return data
    # Cut by characters until it fits; JSON escaping makes bytes per character vary, so check each time.
    keep = len(job.body)
    while keep > 0:
        keep = min(keep - 1, keep * MAX_PAYLOAD_BYTES // len(data))
        data = encode(job.body[:keep].rstrip() + "…")
        if len(data) <= MAX_PAYLOAD_BYTES:
            return data
    return encode("")


async def _claim(now: datetime, batch: int) -> list[Job]:
    due = PushDelivery.state.is_in(["pending", "sending"]) & (PushDelivery.next_attempt_at <= now)
    # A plain read first: the loop polls every few seconds, and on SQLite a write transaction would
    # take the database's write lock each time even with nothing to send.
    if not await PushDelivery.exists().where(due).run():
        return []
    async with db.write_transaction():
        query = (
            PushDelivery.select(
                PushDelivery.id,
                PushDelivery.attempts,
                PushDelivery.notification,
                PushDelivery.subscription,
                PushDelivery.subscription.endpoint,
                PushDelivery.subscription.p256dh,
                PushDelivery.subscription.auth,
                PushDelivery.notification.title,
                PushDelivery.notification.body,
                PushDelivery.notification.url,
                PushDelivery.notification.urgency,
                PushDelivery.notification.topic,
                PushDelivery.notification.created_at,
            )
            .where(due)
            .order_by(PushDelivery.next_attempt_at)
            .order_by(PushDelivery.id)
            .limit(batch)
        )
        if db.engine_name() == "postgresql":
            query = query.lock_rows(skip_locked=True, of=(PushDelivery,))
        rows = await query.run()
        if not rows:
            return []
        await (
            PushDelivery.update(
                {
                    PushDelivery.state: "sending",
                    PushDelivery.next_attempt_at: now + timedelta(seconds=LEASE_SECONDS),
                    PushDelivery.updated_at: now,
                }
            )
            .where(PushDelivery.id.is_in([r["id"] for r in rows]))
            .run()
        )
    return [
        Job(
            delivery_id=r["id"],
            notification_id=r["notification"],
            subscription_id=r["subscription"],
            endpoint=r["subscription.endpoint"],
            p256dh=r["subscription.p256dh"],
            auth=r["subscription.auth"],
            attempts=r["attempts"],
            title=r["notification.title"],
            body=r["notification.body"],
            url=r["notification.url"],
            urgency=r["notification.urgency"],
            topic=r["notification.topic"],
            created_at=r["notification.created_at"],
        )
        for r in rows
    ]


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        at = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if at.tzinfo is None:
        return None
    return max(0.0, (at - clock.now()).total_seconds())


def encrypt(job: Job, keys: VapidKeys, settings: Settings) -> tuple[bytes, dict[str, str]]:
    """The encrypted body and the headers for one delivery. A fresh WebPush per message: its get()
    overwrites instance state (ttl, subscriber), so one must never be shared between tasks."""
    pusher = WebPush(
        private_key=keys.private_pem,
        public_key=keys.public_pem,
        subscriber=settings.push_contact,
        ttl=TTL_SECONDS,
    )
    message = pusher.get(
        payload_for(job),
        WebPushSubscription(endpoint=job.endpoint, keys=WebPushKeys(auth=job.auth, p256dh=job.p256dh)),
        ttl=TTL_SECONDS,
    )
    headers = {
        "TTL": str(TTL_SECONDS),
        "Content-Encoding": "aes128gcm",
        "Content-Type": "application/octet-stream",
        "Authorization": message.headers["authorization"],
        "Urgency": "high" if job.urgency == "high" else "normal",
    }
    if job.topic:
        headers["Topic"] = job.topic
    return message.encrypted, headers


async def _send(client: httpx.AsyncClient, job: Job, keys: VapidKeys, settings: Settings) -> Result:
    if not endpoint_allowed(job.endpoint, settings):
        # The allow-list changed since it subscribed: never call it.
        return Result(job, "gone", detail="endpoint_not_allowed")
    try:
        content, headers = encrypt(job, keys, settings)
    except Exception as exc:  # a subscription that validated but cannot be encrypted to
        return Result(job, "rejected", detail=f"encrypt: {type(exc).__name__}")
    started = time.perf_counter()
    try:
        response = await client.post(job.endpoint, content=content, headers=headers)
    except httpx.HTTPError as exc:
        elapsed = int((time.perf_counter() - started) * 1000)
        return Result(job, "retry", detail=type(exc).__name__, elapsed_ms=elapsed)
    elapsed = int((time.perf_counter() - started) * 1000)
    status = response.status_code
    detail = response.text[:200] if status >= 300 else ""
    if 200 <= status < 300:
        return Result(job, "delivered", status, elapsed_ms=elapsed)
    if status in (404, 410):
        return Result(job, "gone", status, detail, elapsed)
    if status == 429 or status >= 500:
        return Result(
            job, "retry", status, detail, elapsed, _retry_after(response.headers.get("retry-after"))
        )
    return Result(job, "rejected", status, detail, elapsed)  # 413 too large, 400/401/403 ...: for good


def _backoff(attempt: int, retry_after: float | None) -> float:
    delay = min(MAX_BACKOFF_SECONDS, BACKOFF_SECONDS * 2 ** (attempt - 1))
    if retry_after is not None:
        delay = max(delay, min(retry_after, TTL_SECONDS))
    return delay


async def _record(results: list[Result]) -> DeliveryStats:
    """Write the outcome of a batch: a few set-wise statements, one row per attempt."""
    now = clock.now()
    stats = DeliveryStats()
    attempts: list[DeliveryAttempt] = []
    # (state, last status, next attempt or None) -> delivery ids: rows with the same outcome are updated
    # together (attempts is always +1, since each row was claimed once in this batch).
    updates: dict[tuple[str, int | None, datetime | None], list[int]] = {}
    delivered_to: set[int] = set()
    gone: set[int] = set()
    for r in results:
        job = r.job
        attempt = job.attempts + 1
        outcome = r.outcome
        next_at: datetime | None = None
        if outcome == "delivered":
            state = "delivered"
            stats.delivered += 1
            stats.notifications.add(job.notification_id)
            delivered_to.add(job.subscription_id)
        elif outcome == "retry":
            at = now + timedelta(seconds=_backoff(attempt, r.retry_after))
            if attempt >= MAX_ATTEMPTS or at > job.created_at + timedelta(seconds=TTL_SECONDS):
                state, outcome = "expired", "gave_up"
                stats.given_up += 1
            else:
                state, next_at = "pending", at
                stats.retried += 1
        elif outcome == "rejected":
            state = "failed"
            stats.failed += 1
        else:  # gone: the browser unsubscribed (or the service forgot it); its deliveries go with it
            state = ""
            gone.add(job.subscription_id)
            stats.gone += 1
        if state:
            updates.setdefault((state, r.status_code, next_at), []).append(job.delivery_id)
        attempts.append(
            DeliveryAttempt(
                notification=job.notification_id,
                channel="push",
                subscription_id=job.subscription_id,
                target=(urlsplit(job.endpoint).hostname or "")[:255],
                attempt=attempt,
                at=now,
                status_code=r.status_code,
                outcome=outcome,
                detail=r.detail[:255],
                elapsed_ms=r.elapsed_ms,
            )
        )
    async with db.write_transaction():
        for (state, status, next_at), ids in updates.items():
            values: dict[Any, Any] = {
                PushDelivery.state: state,
                PushDelivery.attempts: PushDelivery.attempts + 1,
                PushDelivery.last_status: status,
                PushDelivery.updated_at: now,
            }
            if next_at is not None:
                values[PushDelivery.next_attempt_at] = next_at
            await PushDelivery.update(values).where(PushDelivery.id.is_in(ids)).run()
        if delivered_to - gone:
            await (
                PushSubscription.update({PushSubscription.last_success_at: now})
                .where(PushSubscription.id.is_in(sorted(delivered_to - gone)))
                .run()
            )
        if gone:
            await PushSubscription.delete().where(PushSubscription.id.is_in(sorted(gone))).run()
        if attempts:
            await DeliveryAttempt.insert(*attempts).run()
    stats.attempts = len(attempts)
    return stats


# Hosts a lane keeps a connection open to (FCM, Mozilla, Apple, Windows).
LANE_CONNECTIONS = 4


def make_client() -> httpx.AsyncClient:
    """No redirects (a push service never redirects; following one would leave the allow-list) and no
    proxy from the environment."""
    return httpx.AsyncClient(
        timeout=REQUEST_TIMEOUT_SECONDS,
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_connections=LANE_CONNECTIONS, max_keepalive_connections=LANE_CONNECTIONS),
    )


async def deliver_due(settings: Settings | None = None, *, batch: int | None = None) -> DeliveryStats:
    """Send every push delivery that is due now (clock.now()); retries are scheduled, not waited for.

    Concurrency is bounded by lanes: push_concurrency httpx clients, each sending one request at a time
    over its own keep-alive connections. (One client with a pool of N connections to the same host is
    several times slower: httpcore's pool bookkeeping grows with the requests waiting on it.)"""
    settings = settings or get_settings()
    keys = vapid_keys(settings)
    stats = DeliveryStats()
    # Claim enough per round to keep every lane busy between the claim and the record.
    batch = batch or max(BATCH, 4 * settings.push_concurrency)
    jobs = await _claim(clock.now(), batch)
    if not jobs:
        return stats
    lanes: asyncio.Queue[httpx.AsyncClient] = asyncio.Queue()
    clients = [make_client() for _ in range(max(1, settings.push_concurrency))]
    for client in clients:
        lanes.put_nowait(client)

    async def send(job: Job) -> Result:
        client = await lanes.get()
        try:
            return await _send(client, job, keys, settings)
        finally:
            lanes.put_nowait(client)

    try:
        while jobs:
            results = await asyncio.gather(*(send(job) for job in jobs))
            stats.add(await _record(list(results)))
            if len(jobs) < batch:
                break
            jobs = await _claim(clock.now(), batch)
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))
    return stats


async def attempts_for(notification_id: int) -> list[dict[str, Any]]:
    """Every attempt to deliver a notification, oldest first (for support and tests)."""
    return (
        await DeliveryAttempt.select()
        .where(DeliveryAttempt.notification == notification_id)
        .order_by(DeliveryAttempt.id)
        .run()
    )
