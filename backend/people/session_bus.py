"""What a process keeps about signed-in devices is forgotten in every process when it changes.

Each server process may keep who a token's device belongs to for a few seconds (session_cache, of the
request-path work). A revocation, a sign-out, a disabled account or a changed role must be refused on
the very next request whichever process it reaches, so the change is announced on the bus's `sessions`
topic and every process forgets its copy when it hears it (and everything on a resync: it may have
missed one). SQLite has one server process, whose own forget is enough.

- A revoked device (sign-out, revocation, disabled account, new role or area, password reset or
  change) is announced by the revocation itself, in its transaction (service.on_device_revoked).
- Anything else that changes what a process keeps (a wipe request, a changed password's flag) calls
  `announce` where it forgets its own copy; the message leaves once that transaction has committed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from backend import db
from backend.core import bus
from backend.people import service, session_cache

TOPIC = "sessions"

# The local caches' forget(user_id, device_id): None for both means everything.
Forget = Callable[[int | None, str | None], None]
_forgets: list[Forget] = []


def forgets_locally(forget: Forget) -> None:
    """Register a cache's forget, to be called whenever another process announces a change."""
    if forget not in _forgets:
        _forgets.append(forget)


def announce(user_id: int | None = None, device_id: str | uuid.UUID | None = None) -> None:
    """Tell the other processes (PostgreSQL) to forget what they keep of a user (every device) or
    of a device, once the caller's transaction commits. Synchronous, like a cache's forget."""
    if db.engine_name() == "postgresql":
        bus.publish_soon(TOPIC, _data(user_id, device_id))


async def _device_revoked(device_id: uuid.UUID) -> None:
    if db.engine_name() == "postgresql":
        await bus.publish(TOPIC, _data(None, device_id))  # inside the revocation: on its commit


def _data(user_id: int | None, device_id: str | uuid.UUID | None) -> dict:
    return {"user": user_id, "device": str(device_id) if device_id is not None else None}


def _heard(message: bus.Message) -> None:
    user_id, device_id = (None, None) if message.resync else (message.data["user"], message.data["device"])
    for forget in list(_forgets):
        forget(user_id, device_id)


forgets_locally(session_cache.forget)
service.on_device_revoked(_device_revoked)
service.on_forget_cached(announce)
bus.on(TOPIC, _heard)
