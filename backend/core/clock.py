"""The one source of "now", so tests and the reminder job can fix time."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from backend.settings import get_settings

# The county's wall clock (settings.timezone, Asia/Shanghai by default): reports, deadlines, numbering.
LOCAL_TZ = ZoneInfo(get_settings().timezone)

_frozen: datetime | None = None


def now() -> datetime:
    """Current time, timezone-aware UTC."""
    return _frozen if _frozen is not None else datetime.now(UTC)


def local_now() -> datetime:
    return now().astimezone(LOCAL_TZ)


@contextlib.contextmanager
def frozen(at: datetime) -> Iterator[None]:
    """Fix "now" (tests, `--now` on jobs)."""
    global _frozen
    if at.tzinfo is None:
        raise ValueError("frozen time must be timezone-aware")
    previous, _frozen = _frozen, at.astimezone(UTC)
    try:
        yield
    finally:
        _frozen = previous
