"""Wake the in-process delivery loops early when a notification was just written.

A nudge is only a hint: it may arrive before the writing transaction commits, so every loop also polls
on a timer and the outbox rows stay the truth."""

from __future__ import annotations

import asyncio
import contextlib

_events: set[asyncio.Event] = set()
DEBOUNCE_SECONDS = 0.05  # let the transaction that nudged commit first


def nudge() -> None:
    for event in list(_events):
        with contextlib.suppress(RuntimeError):
            event.set()


class Waker:
    """Used by one loop: `await waker.wait(seconds)` returns on a nudge or after that long."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def __enter__(self) -> Waker:
        _events.add(self._event)
        return self

    def __exit__(self, *exc: object) -> None:
        _events.discard(self._event)

    async def wait(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._event.wait(), seconds)
        except TimeoutError:
            return False
        self._event.clear()
        await asyncio.sleep(DEBOUNCE_SECONDS)
        return True
