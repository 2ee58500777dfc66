"""Failure throttling (login): Litestar's rate limiter counts every request, but a login must be
limited on failures only, per username and per client address, so a user who types the right
password is not locked out by their own earlier successes."""

from __future__ import annotations

import json
import math

from litestar.stores.base import Store

from backend.core import clock
from backend.core.errors import TooManyRequests


class LoginThrottled(TooManyRequests):
    code = "auth.too_many_attempts"
    message = "登录失败次数过多，请稍后再试"
    message_en = "Too many failed sign-in attempts, try again later"


class FailureThrottle:
    def __init__(self, store: Store, max_failures: int, window_seconds: int) -> None:
        self.store = store
        self.max_failures = max_failures
        self.window = window_seconds

    async def _failures(self, key: str) -> list[float]:
        raw = await self.store.get(key)
        if not raw:
            return []
        cutoff = clock.now().timestamp() - self.window
        return [t for t in json.loads(raw) if t > cutoff]

    async def check(self, *keys: str) -> None:
        """Raise 429 with Retry-After if any key has used up its failures in the window."""
        now = clock.now().timestamp()
        for key in keys:
            failures = await self._failures(key)
            if len(failures) >= self.max_failures:
                retry_after = math.ceil(failures[-self.max_failures] + self.window - now)
                raise LoginThrottled(retry_after=retry_after)

    async def record_failure(self, *keys: str) -> None:
        now = clock.now().timestamp()
        for key in keys:
            failures = await self._failures(key)
            failures.append(now)
            await self.store.set(key, json.dumps(failures[-self.max_failures :]), expires_in=self.window)

    async def reset(self, key: str) -> None:
        await self.store.delete(key)
