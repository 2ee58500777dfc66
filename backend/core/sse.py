"""The one loop behind every server-sent event stream (the inbox's /api/events, the map's live cases).

A stream stays open for hours on a desk or a phone left on. So every KEEPALIVE_SECONDS, whether or not
anything was sent, the loop asks whether the listener may still hear it (a revoked phone, a user
disabled or moved to another area must stop at once, not when they close the page) and sends a comment
that keeps proxies from closing an idle connection.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable

from litestar.response import ServerSentEvent, ServerSentEventMessage

KEEPALIVE_SECONDS = 20.0
RETRY_MS = 5000  # how long the browser waits before reconnecting
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

# Waits at most the given seconds for what there is to send; [] when nothing came.
WaitForEvents = Callable[[float], Awaitable[list[ServerSentEventMessage]]]


async def events(
    wait_for_events: WaitForEvents, still_listening: Callable[[], Awaitable[bool]]
) -> AsyncIterator[ServerSentEventMessage]:
    """Events as they come; each KEEPALIVE_SECONDS the listener is re-checked and a keep-alive sent."""
    next_check = time.monotonic() + KEEPALIVE_SECONDS
    while True:
        for event in await wait_for_events(max(0.0, next_check - time.monotonic())):
            yield event
        if time.monotonic() >= next_check:
            if not await still_listening():
                return
            yield ServerSentEventMessage(comment="keep-alive")
            next_check = time.monotonic() + KEEPALIVE_SECONDS


def response(stream: AsyncIterator[ServerSentEventMessage]) -> ServerSentEvent:
    """The streaming response, unbuffered by proxies (nginx honours X-Accel-Buffering)."""
    return ServerSentEvent(stream, headers=HEADERS)
