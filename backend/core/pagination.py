"""Keyset pagination cursors: opaque to the client, the sort key of the last row to the server.

A cursor is the last row's sort values (e.g. its updated_at and id) joined and base64url-encoded, so
the next page starts strictly after it, however many rows were added in between (no OFFSET).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from backend.core.errors import InvalidRequest

SEPARATOR = "|"


class InvalidCursor(InvalidRequest):
    code = "request.invalid_cursor"
    message = "分页游标无效"
    message_en = "Invalid cursor"


def encode_cursor(*values: Any) -> str:
    """Values with isoformat() (dates, instants) are written that way, others with str()."""
    parts = [v.isoformat() if hasattr(v, "isoformat") else str(v) for v in values]
    return base64.urlsafe_b64encode(SEPARATOR.join(parts).encode()).decode()


def decode_cursor(cursor: str, *parse: Callable[[str], Any]) -> tuple[Any, ...]:
    """The values of a cursor, each read by its parser (e.g. datetime.fromisoformat, uuid.UUID)."""
    try:
        parts = base64.urlsafe_b64decode(cursor.encode()).decode().split(SEPARATOR)
        if len(parts) != len(parse):
            raise ValueError(cursor)
        return tuple(read(part) for read, part in zip(parse, parts, strict=True))
    except (ValueError, UnicodeError, binascii.Error):
        raise InvalidCursor() from None
