"""Sign-in throttling, on failures only and with its counters in the database.

Two counters, kept in the `login_throttle` table so that every server process sees the same ones:

- per username **and** address pair: after `max_failures` wrong passwords the pair waits 1 minute,
  then each further failure doubles the wait (2, 4, 8 … at most 60 minutes). A guesser at one account
  is slowed down, while colleagues behind the same address (a village office's Wi-Fi, a carrier's
  NAT) keep signing in: one person's forgotten password no longer locks the whole office out.
- per address, looser: `address_max_failures` failures within `window_seconds` close the address until
  the window ends. This is what stops one machine trying many accounts, and it is checked before the
  login body is even read (`address_guard`).

A success clears the pair's counter (not the address's). A pair forgotten for a day starts afresh.
Usernames are lower-cased before they count, as sign-in does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from piccolo.columns import Integer, Serial, Timestamptz, Varchar
from piccolo.querystring import QueryString
from piccolo.table import Table

from backend.core import clock
from backend.core.errors import TooManyRequests
from backend.db import DB, engine_name, write_transaction

# The first lock-out of a pair, how it grows, and its ceiling.
FIRST_DELAY = timedelta(minutes=1)
MAX_DELAY = timedelta(minutes=60)
# A pair whose last failure is older than this starts counting from zero again.
PAIR_MEMORY = timedelta(days=1)
# The per-address cap is this many times the per-pair threshold (5 → 30 in the window).
ADDRESS_FACTOR = 6


class LoginThrottleCounter(Table, tablename="login_throttle"):
    """Failed sign-ins of one username+address pair (`pair:<username>|<address>`) or one address
    (`addr:<address>`). Holds no password and no personal data beyond the username."""

    id: Serial  # the primary key Piccolo adds; declared for the type checker
    key = Varchar(length=200, unique=True)
    failures = Integer(default=0)
    window_start = Timestamptz(null=True, default=None)  # the address counter's window
    last_failure_at = Timestamptz(null=True, default=None)
    locked_until = Timestamptz(null=True, default=None)


class LoginThrottled(TooManyRequests):
    code = "auth.too_many_attempts"
    message = "登录失败次数过多，请稍后再试"
    message_en = "Too many failed sign-in attempts, try again later"

    def __init__(self, retry_after: int, **kwargs: Any) -> None:
        minutes = max(1, math.ceil(retry_after / 60))
        super().__init__(
            retry_after,
            message=f"登录失败次数过多，请 {minutes} 分钟后再试",
            message_en=f"Too many failed sign-in attempts, try again in {minutes} minute(s)",
            **kwargs,
        )
        self.details["retry_after_minutes"] = minutes


def pair_key(username: str, client_addr: str) -> str:
    return f"pair:{username.strip().lower()[:100]}|{client_addr[:64]}"


def address_key(client_addr: str) -> str:
    return f"addr:{client_addr[:64]}"


def pair_delay(failures: int, max_failures: int) -> timedelta:
    """How long a pair waits after its `failures`-th failure in a row (none below the threshold)."""
    if failures < max_failures:
        return timedelta(0)
    return min(FIRST_DELAY * (2 ** (failures - max_failures)), MAX_DELAY)


@dataclass
class FailureThrottle:
    max_failures: int  # per pair, before the first wait
    window_seconds: int  # the per-address window
    address_max_failures: int | None = None  # default: ADDRESS_FACTOR × max_failures

    @property
    def address_cap(self) -> int:
        return self.address_max_failures or self.max_failures * ADDRESS_FACTOR

    async def _locked_until(self, key: str) -> datetime | None:
        row = (
            await LoginThrottleCounter.select(LoginThrottleCounter.locked_until)
            .where(LoginThrottleCounter.key == key)
            .first()
            .run()
        )
        return row["locked_until"] if row else None

    async def _raise_if_locked(self, key: str) -> None:
        until = await self._locked_until(key)
        now = clock.now()
        if until is not None and until > now:
            raise LoginThrottled(retry_after=math.ceil((until - now).total_seconds()))

    async def check_address(self, client_addr: str) -> None:
        """429 if the address has used up its failures in the window."""
        await self._raise_if_locked(address_key(client_addr))

    async def check(self, username: str, client_addr: str) -> None:
        """429 if the address, or this username from this address, must wait."""
        await self.check_address(client_addr)
        await self._raise_if_locked(pair_key(username, client_addr))

    async def record_failure(self, username: str, client_addr: str) -> None:
        now = clock.now()
        async with write_transaction():
            pair = await _claim(pair_key(username, client_addr))
            fresh = pair["last_failure_at"] is None or now - pair["last_failure_at"] > PAIR_MEMORY
            failures = 1 if fresh else pair["failures"] + 1
            delay = pair_delay(failures, self.max_failures)
            await _save(pair["id"], failures, pair["window_start"], now, now + delay if delay else None)

            addr = await _claim(address_key(client_addr))
            window = timedelta(seconds=self.window_seconds)
            start = addr["window_start"]
            if start is None or now - start >= window:
                start, count = now, 1
            else:
                count = addr["failures"] + 1
            await _save(addr["id"], count, start, now, start + window if count >= self.address_cap else None)

    async def reset(self, username: str, client_addr: str) -> None:
        """A successful sign-in clears its pair (the address keeps counting)."""
        await (
            LoginThrottleCounter.delete()
            .where(LoginThrottleCounter.key == pair_key(username, client_addr))
            .run()
        )


async def _claim(key: str) -> dict[str, Any]:
    """The counter row for `key`, created if new and locked for this transaction on PostgreSQL (two
    processes counting the same failure at once must both be counted). SQLite has one writer."""
    await DB.run_querystring(
        QueryString(
            "INSERT INTO login_throttle (key, failures) VALUES ({}, 0) ON CONFLICT (key) DO NOTHING", key
        )
    )
    lock = " FOR UPDATE" if engine_name() == "postgresql" else ""
    rows = await DB.run_querystring(
        QueryString(
            "SELECT id, failures, window_start, last_failure_at FROM login_throttle WHERE key = {}" + lock,
            key,
        )
    )
    row = dict(rows[0])
    for column in ("window_start", "last_failure_at"):
        row[column] = _as_datetime(row[column])
    return row


def _as_datetime(value: Any) -> datetime | None:
    # Raw queries on SQLite give timestamps back as text.
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


async def _save(
    row_id: int, failures: int, window_start: datetime | None, at: datetime, locked_until: datetime | None
) -> None:
    await (
        LoginThrottleCounter.update(
            {
                LoginThrottleCounter.failures: failures,
                LoginThrottleCounter.window_start: window_start,
                LoginThrottleCounter.last_failure_at: at,
                LoginThrottleCounter.locked_until: locked_until,
            }
        )
        .where(LoginThrottleCounter.id == row_id)
        .run()
    )


async def address_guard(connection: Any, _handler: Any) -> None:
    """A Litestar guard for the sign-in route: guards run before the body is parsed, so an address
    that has used up its failures is turned away without reading what it sent."""
    throttle: FailureThrottle = connection.app.state.login_throttle
    client = connection.client
    await throttle.check_address(client.host if client else "unknown")
