"""HTTP routes of the sync domain: push a phone's outbox, pull its change feed.

Protocol for the phone:

1. Push `POST /api/sync/push {ops: [...]}` (at most 200; ~20 a batch on 2G) from the outbox in the
   order they were made. Each op: `{op_id, type, entity_id, base_version, payload, client_time,
   prev_op_id}`; `prev_op_id` names this device's previous op on the same entity (so a batch that
   overtakes an earlier one on a flaky link waits for it). Types: `case.create` (payload: the body of
   POST /api/cases), `case.update` (payload: the changed fields of title, description, occurred_at,
   category, photos; `base_version`: the case version the edit started from), `case.note` (`{text,
   participants}`), `case.action` (`{action, ...}` as POST /api/cases/{id}/actions).
   Each result: `applied`, `conflict` (applied, the case flagged for a supervisor), `duplicate` (seen
   before: `original_status`), `deferred` (kept by the server, applied when what it waits for arrives)
   → mark the op sent. `rejected` → final, show it to the user with `message` (e.g.
   `sync.payload_too_large`: a payload over FENGQIAO_SYNC_MAX_OP_BYTES; `media.photo_not_usable`: a
   photo hash this user never sent and may not see). `retry` → nothing was stored, keep it and send it
   again (`sync.too_many_deferred`: this device already has FENGQIAO_SYNC_MAX_DEFERRED_PER_DEVICE ops
   waiting). `missing_photos`: photos of the case the server does not hold yet (upload them:
   PUT /api/media/{sha256}, see backend/media/routes.py).
   If the answer never arrives, send the same batch again: every op in it comes back `duplicate`.
   401 `auth.token_expired`: nothing was applied; refresh the token and send again. 429: nothing was
   applied; wait `Retry-After` seconds. Never drop an op on either.
2. Pull `GET /api/sync/pull?cursor=&limit=&ref=` until `more` is false, keeping the returned cursor
   after applying each page. `changes`: `upsert` (the case as GET /api/cases/{id} shows it) or
   `left_scope` (drop it). `reset`: drop every case kept first (the user's area or team changed).
   `ref=categories:<v>,teams:<v>,divisions:<v>,grids:<v>` names the reference versions kept; parts
   that changed come back in `reference`, and `reference_versions` lists the current ones.
"""

from __future__ import annotations

import math
import os
import time
from collections import deque
from typing import Any

from litestar import Controller, Request, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromQuery, JSONBody
from litestar.types import ControllerRouterHandler

from backend.core.errors import TooManyRequests
from backend.core.identity import CurrentUser
from backend.core.inbound import CHECKED_PER_ITEM, SYNC_BODY_LIMIT
from backend.sync import feed, schemas, service

DEFAULT_PUSH_PER_MINUTE = 120


class PushRateLimited(TooManyRequests):
    code = "sync.rate_limited"
    message = "同步过于频繁，请稍后再试"
    message_en = "Too many sync requests from this device, try again later"


class PushLimiter:
    """At most `per_minute` pushes per device in any 60 s (a sliding window, in memory: one process)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._seen: dict[str, deque[float]] = {}

    def check(self, key: str) -> None:
        now = time.monotonic()
        seen = self._seen.setdefault(key, deque())
        while seen and seen[0] <= now - 60:
            seen.popleft()
        if len(seen) >= self.per_minute:
            raise PushRateLimited(retry_after=math.ceil(seen[0] + 60 - now))
        seen.append(now)
        if len(self._seen) > 10_000:  # forget idle devices
            for k in [k for k, v in self._seen.items() if not v or v[-1] <= now - 60]:
                del self._seen[k]


def limiter(state: State) -> PushLimiter:
    existing = state.get("sync_push_limiter")
    if existing is None:
        per_minute = int(os.environ.get("FENGQIAO_SYNC_PUSH_PER_MINUTE", DEFAULT_PUSH_PER_MINUTE))
        existing = state["sync_push_limiter"] = PushLimiter(per_minute)
    return existing


def push_rate_limit(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """A guard: runs after authentication and before the body is read, so a refused push applies nothing."""
    limiter(connection.app.state).check(connection.user.device_id)


class SyncController(Controller):
    path = "/api/sync"
    tags = ["sync"]

    @post(
        "/push",
        operation_id="sync_push",
        status_code=200,
        guards=[push_rate_limit],
        request_max_body_size=SYNC_BODY_LIMIT,
        # An operation with a control character or a huge number is rejected on its own (service.push).
        opt={CHECKED_PER_ITEM: True},
    )
    async def push(
        self, data: JSONBody[schemas.PushIn], request: Request[CurrentUser, Any, State]
    ) -> schemas.PushOut:
        """Apply operations from a phone's outbox, each once and in the phone's order (see module notes)."""
        return schemas.PushOut(results=await service.push(request.user, data.ops))

    @get("/pull", operation_id="sync_pull")
    async def pull(
        self,
        request: Request[CurrentUser, Any, State],
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int] = 100,
        ref: FromQuery[str | None] = None,
    ) -> schemas.PullOut:
        """The user's change feed after `cursor` (cases in scope, `left_scope` tombstones) and the
        reference data whose version differs from `ref`."""
        return await feed.pull(request.user, cursor, limit, ref)


ROUTES: list[ControllerRouterHandler] = [SyncController]
