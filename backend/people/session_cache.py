"""Who a token's device belongs to, kept a few seconds in this process.

Every authenticated request resolves its (user, device) pair to a CurrentUser: one query joining the
device and its user (service.load_current_user). A phone or a supervisor's screen sends several
requests a second at times; this cache answers the repeats for TTL_SECONDS.

It never lets a revoked device, a signed-out one, a disabled account or an old role through: whatever
changes those rows calls `forget` in the same process (service.revoke_devices, people.accounts), so the
very next request reads the database again. `forget` also runs once more after the surrounding write
transaction ends (db.after_commit), since a request that read between the change and its commit saw
the old row; and a read that started before a `forget` does not store what it read (`generation`).
Another process's changes (the command line on SQLite; another server process on PostgreSQL, until its
notification arrives) are seen after at most TTL_SECONDS.
"""

from __future__ import annotations

import time

from backend import db
from backend.core.identity import CurrentUser

TTL_SECONDS = 5.0
MAX_ENTRIES = 10_000  # a county's signed-in devices, several times over

_entries: dict[tuple[int, str], tuple[float, CurrentUser]] = {}
_generation = 0


def generation() -> int:
    """Taken before reading the database; `put` stores only if no `forget` came since."""
    return _generation


def get(user_id: int, device_id: str) -> CurrentUser | None:
    entry = _entries.get((user_id, device_id))
    if entry is None:
        return None
    if time.monotonic() - entry[0] > TTL_SECONDS:
        _entries.pop((user_id, device_id), None)
        return None
    return entry[1]


def put(user: CurrentUser, read_at_generation: int) -> None:
    if read_at_generation != _generation:
        return  # something was forgotten while this was read: it may be what changed
    if len(_entries) >= MAX_ENTRIES:
        _entries.clear()
    _entries[(user.id, user.device_id)] = (time.monotonic(), user)


def forget(user_id: int | None = None, device_id: str | None = None) -> None:
    """Drop what is kept for a user (all their devices), a device, or, with neither, everything;
    now and again when the caller's write transaction ends."""
    _forget_now(user_id, device_id)
    db.after_commit(lambda: _forget_now(user_id, device_id))


def clear() -> None:
    _forget_now(None, None)


def _forget_now(user_id: int | None, device_id: str | None) -> None:
    global _generation
    _generation += 1
    if user_id is None and device_id is None:
        _entries.clear()
        return
    for key in list(_entries):
        if (user_id is None or key[0] == user_id) and (device_id is None or key[1] == device_id):
            del _entries[key]
