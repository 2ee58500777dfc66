"""SMS gateway webhook (off unless FENGQIAO_SMS_GATEWAY_URL is set): a high-urgency notification still
unread after FENGQIAO_SMS_AFTER_HOURS is POSTed as JSON to the county's SMS gateway.

The request carries `X-Fengqiao-Timestamp` (Unix seconds) and `X-Fengqiao-Signature:
sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`, so the gateway can check where it came from
and refuse replays. Rows are claimed like push deliveries; every attempt is recorded.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from backend import db
from backend.core import clock
from backend.notify.tables import DeliveryAttempt, Notification
from backend.settings import Settings, get_settings

log = logging.getLogger("fengqiao.notify.sms")

MAX_ATTEMPTS = 3
RETRY_SECONDS = 300
LEASE_SECONDS = 120
# A gateway switched on later must not text people about last month: only fairly recent notifications.
MAX_AGE = timedelta(days=2)
BATCH = 50
SIGNATURE_HEADER = "X-Fengqiao-Signature"
TIMESTAMP_HEADER = "X-Fengqiao-Timestamp"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


@dataclass
class SmsStats:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    no_phone: int = 0


async def _claim(settings: Settings, batch: int) -> list[dict[str, Any]]:
    now = clock.now()
    unread_since = now - timedelta(hours=settings.sms_after_hours)
    due = (
        (Notification.urgency == "high")
        & Notification.read_at.is_null()
        & Notification.sms_state.is_in(["none", "retry", "sending"])
        & (Notification.created_at <= unread_since)
        & (Notification.created_at >= unread_since - MAX_AGE)
        & (Notification.sms_next_at.is_null() | (Notification.sms_next_at <= now))
    )
    if not await Notification.exists().where(due).run():
        return []
    async with db.write_transaction():
        query = (
            Notification.select(
                Notification.id,
                Notification.kind,
                Notification.title,
                Notification.body,
                Notification.url,
                Notification.case_id,
                Notification.visit_id,
                Notification.created_at,
                Notification.sms_attempts,
                Notification.recipient,
                Notification.recipient.phone,
            )
            .where(due)
            .order_by(Notification.id)
            .limit(batch)
        )
        if db.engine_name() == "postgresql":
            query = query.lock_rows(skip_locked=True, of=(Notification,))
        rows = await query.run()
        if rows:
            await (
                Notification.update(
                    {
                        Notification.sms_state: "sending",
                        Notification.sms_next_at: now + timedelta(seconds=LEASE_SECONDS),
                    }
                )
                .where(Notification.id.is_in([r["id"] for r in rows]))
                .run()
            )
    return rows


async def escalate_unread(
    settings: Settings | None = None, *, client: httpx.AsyncClient | None = None
) -> SmsStats:
    """Text the recipients of high-urgency notifications left unread too long (when a gateway is set)."""
    settings = settings or get_settings()
    stats = SmsStats()
    if not settings.sms_gateway_url:
        return stats
    own_client = client is None
    client = client or httpx.AsyncClient(timeout=10.0, follow_redirects=False, trust_env=False)
    target = (urlsplit(settings.sms_gateway_url).hostname or "")[:255]
    try:
        while True:
            rows = await _claim(settings, BATCH)
            for row in rows:
                await _send_one(client, settings, row, target, stats)
            if len(rows) < BATCH:
                break
    finally:
        if own_client:
            await client.aclose()
    return stats


async def _send_one(
    client: httpx.AsyncClient, settings: Settings, row: dict[str, Any], target: str, stats: SmsStats
) -> None:
    attempt = row["sms_attempts"] + 1
    phone = row["recipient.phone"]
    status_code: int | None = None
    detail = ""
    started = time.perf_counter()
    if not phone:
        outcome, state = "no_phone", "no_phone"
        stats.no_phone += 1
    else:
        body = json.dumps(
            {
                "notification_id": row["id"],
                "phone": phone,
                "text": f"【枫桥网格通】{row['title']}：{row['body']}"[:300],
                "kind": row["kind"],
                "url": row["url"],
                "case_id": str(row["case_id"]) if row["case_id"] else None,
                "visit_id": str(row["visit_id"]) if row["visit_id"] else None,
                "created_at": row["created_at"].isoformat(),
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(settings.sms_gateway_secret, timestamp, body),
        }
        try:
            response = await client.post(settings.sms_gateway_url, content=body, headers=headers)
            status_code = response.status_code
            ok = 200 <= status_code < 300
            detail = "" if ok else response.text[:200]
        except httpx.HTTPError as exc:
            ok, detail = False, type(exc).__name__
        if ok:
            outcome, state = "delivered", "sent"
            stats.sent += 1
        elif attempt >= MAX_ATTEMPTS:
            outcome, state = "gave_up", "failed"
            stats.failed += 1
        else:
            outcome, state = "retry", "retry"
            stats.retried += 1
    now = clock.now()
    async with db.write_transaction():
        await (
            Notification.update(
                {
                    Notification.sms_state: state,
                    Notification.sms_attempts: attempt,
                    Notification.sms_next_at: now + timedelta(seconds=RETRY_SECONDS * attempt)
                    if state == "retry"
                    else None,
                }
            )
            .where(Notification.id == row["id"])
            .run()
        )
        await DeliveryAttempt.insert(
            DeliveryAttempt(
                notification=row["id"],
                channel="sms",
                target=target,
                attempt=attempt,
                at=now,
                status_code=status_code,
                outcome=outcome,
                detail=detail,
                elapsed_ms=int((time.perf_counter() - started) * 1000),
            )
        ).run()
