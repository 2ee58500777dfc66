"""HTTP routes of the notify domain: the inbox, live events, and Web Push subscriptions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import ServerSentEvent, ServerSentEventMessage
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT
from litestar.types import ControllerRouterHandler

from backend.core import bus, sse
from backend.core.identity import CurrentUser
from backend.notify import live, push, schemas, service
from backend.people.service import still_current


class InboxController(Controller):
    path = "/api/inbox"
    tags = ["notify"]

    @get("/", operation_id="list_inbox")
    async def list_inbox(
        self,
        request: Request[CurrentUser, Any, State],
        unread: FromQuery[bool] = False,
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int] = 50,
    ) -> schemas.InboxPage:
        """Your notifications, newest first, with the unread count. The inbox is the record: push and
        SMS are only faster ways to the same rows."""
        return await service.inbox(request.user, unread_only=unread, cursor=cursor, limit=limit)

    @post("/{notification_id:int}/read", status_code=HTTP_200_OK, operation_id="read_notification")
    async def read_notification(
        self, notification_id: FromPath[int], request: Request[CurrentUser, Any, State]
    ) -> schemas.NotificationView:
        """Mark a notification read (idempotent); a read notification is never escalated by SMS."""
        return await service.mark_read(request.user, notification_id)

    @post("/read-all", status_code=HTTP_200_OK, operation_id="read_all_notifications")
    async def read_all(self, request: Request[CurrentUser, Any, State]) -> schemas.ReadAll:
        """Mark every notification read."""
        return schemas.ReadAll(marked=await service.mark_all_read(request.user))


@get("/api/events", operation_id="events", tags=["notify"])
async def events(request: Request[CurrentUser, Any, State]) -> ServerSentEvent:
    """Server-sent events while the app is open: `ready` (with the unread count), then one
    `notification` event per new notification (id = notification id; a reconnect with Last-Event-ID
    gets what it missed), and a comment every 20 s to keep proxies from closing the stream. The stream
    ends when your device is signed out or revoked, or your account, role or area changes. Send the
    bearer token as usual (the PWA reads the stream with fetch, since EventSource cannot set headers)."""
    user = request.user
    last_event_id = request.headers.get("last-event-id", "")

    async def stream() -> AsyncIterator[ServerSentEventMessage]:
        # Subscribed before anything is read, so nothing committed meanwhile falls in between.
        with bus.subscribe(live.TOPIC, live.key_for(user.id)) as messages:
            sent: set[int] = set()
            newest = int(last_event_id) if last_event_id.isdigit() else await live.newest_id(user.id)

            def fresh(items: list[schemas.NotificationView]) -> list[ServerSentEventMessage]:
                nonlocal newest
                out = []
                for item in items:
                    if item.id not in sent:
                        sent.add(item.id)
                        newest = max(newest, item.id)
                        data = live.encode(item)
                        out.append(ServerSentEventMessage(event="notification", id=item.id, data=data))
                if len(sent) > 1000:  # only the recent ones can come again
                    sent.difference_update(sorted(sent)[:-500])
                return out

            async def arrivals(wait: float) -> list[ServerSentEventMessage]:
                found = await messages.get(wait)
                if any(m.resync for m in found):  # messages may have been lost: read what is newer
                    return fresh(await service.since(user.id, newest))
                return fresh(await live.views(user.id, [int(m.data["id"]) for m in found]))

            unread = await service.unread_count(user.id)
            yield ServerSentEventMessage(
                event="ready", data=msgspec.json.encode({"unread": unread}).decode(), retry=sse.RETRY_MS
            )
            if last_event_id.isdigit():
                for message in fresh(await service.since(user.id, int(last_event_id))):
                    yield message
            async for message in sse.events(arrivals, lambda: still_current(user)):
                yield message

    return sse.response(stream())


class PushController(Controller):
    path = "/api/push"
    tags = ["notify"]

    @get("/key", operation_id="push_key")
    async def push_key(self, state: State) -> schemas.PushKey:
        """The VAPID public key (base64url) to pass to pushManager.subscribe as applicationServerKey."""
        return push.public_key(state.settings)

    @get("/subscriptions", operation_id="list_push_subscriptions")
    async def list_subscriptions(
        self, request: Request[CurrentUser, Any, State]
    ) -> list[schemas.SubscriptionOut]:
        """Your devices' push subscriptions (push service host only)."""
        return await push.subscriptions_of(request.user)

    @post("/subscriptions", operation_id="create_push_subscription")
    async def create_subscription(
        self, data: JSONBody[schemas.SubscriptionIn], request: Request[CurrentUser, Any, State]
    ) -> Response[schemas.SubscriptionOut]:
        """Register this device's push subscription (201 new, 200 same endpoint again). The endpoint must
        be https on a known push service, else 422 push.endpoint_not_allowed."""
        created, out = await push.subscribe(request.user, data, request.app.state.settings)
        return Response(out, status_code=201 if created else 200)

    @delete("/subscriptions", status_code=HTTP_204_NO_CONTENT, operation_id="delete_push_subscription")
    async def delete_subscription(
        self, data: JSONBody[schemas.SubscriptionDelete], request: Request[CurrentUser, Any, State]
    ) -> None:
        """Stop pushing to this endpoint (idempotent)."""
        await push.unsubscribe(request.user, data.endpoint)


ROUTES: list[ControllerRouterHandler] = [InboxController, events, PushController]
