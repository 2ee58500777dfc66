"""Connects the domains' listeners to case changes. Called by create_app and the CLI (idempotent)."""

from __future__ import annotations

_connected = False


def connect() -> None:
    global _connected
    if _connected:
        return
    # Importing a listeners module subscribes its functions (backend.cases.hooks.subscribe).
    import backend.map.listeners  # noqa: F401  (the open maps hear of changed cases, in every process)
    import backend.notify.listeners  # noqa: F401
    import backend.ops.jobs  # noqa: F401  (periodic upkeep: stale partial uploads)
    import backend.people.session_bus  # noqa: F401  (revocations reach every process's caches)
    import backend.screenings.reminders  # noqa: F401  (月排查: teams that have not screened by the 25th)
    import backend.supervision.listeners  # noqa: F401  (督办 notifications and the red escalation)
    import backend.sync.listeners  # noqa: F401
    import backend.visits.listeners  # noqa: F401

    _connected = True
