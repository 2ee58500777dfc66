"""Case changes announced to other domains (the sync change log, visit scheduling, notifications),
so the workflow does not need to know them. Listeners run inside the change's transaction: what they
write commits or rolls back with the change itself."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from backend.core.identity import CurrentUser


@dataclass(frozen=True)
class CaseChange:
    case_id: uuid.UUID
    action: str  # create | update | accept | ... (the workflow's action names)
    actor: CurrentUser | None  # None for system changes (e.g. a visit's outcome)
    at: datetime
    case: dict[str, Any]  # the case row after the change
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)


Listener = Callable[[CaseChange], Awaitable[None]]
_listeners: list[Listener] = []


def subscribe(listener: Listener) -> Listener:
    """Register a listener (idempotent; usable as a decorator)."""
    if listener not in _listeners:
        _listeners.append(listener)
    return listener


async def emit(change: CaseChange) -> None:
    for listener in list(_listeners):
        await listener(change)
