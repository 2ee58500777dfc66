"""Text a person typed: no control characters, and not blank when it has to say something.

JSON lets a client send any code point as `\\u0000`-style escapes. A NUL is refused by PostgreSQL in
text and JSONB columns (so the same write works on SQLite and fails on PostgreSQL), and other C0
controls break log lines, CSV exports and the agreement's PDF. Every request body and query string
is checked once (core/inbound.py); a single-line field (a title, a name) also refuses tab and line
breaks, and counts zero-width characters as blank.
"""

from __future__ import annotations

import re
from typing import Any

from backend.core.errors import AppError

# C0 controls and DEL, except tab, line feed and carriage return (multi-line text keeps those).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Characters that show nothing: whitespace plus the zero-width and direction marks a paste can bring.
_INVISIBLE = (
    " \t\n\r\f\v\u00a0\u00ad\u180e\u2028\u2029\u202f\u205f\u3000\ufeff"
    + "".join(chr(c) for c in range(0x2000, 0x2010))  # the typographic spaces, zero-width marks
    + "\u2060"
)


class ControlCharacters(AppError):
    status_code = 400
    code = "text.control_characters"
    message = "文字中含有不允许的控制字符"
    message_en = "The text contains control characters"


def find_control_characters(value: Any, where: str = "") -> str | None:
    """Where the first string (or key) with a control character is in decoded JSON, or None."""
    if isinstance(value, str):
        return (where or "$") if _CONTROL.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            if isinstance(key, str) and _CONTROL.search(key):
                return where or "$"
            found = find_control_characters(item, path)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = find_control_characters(item, f"{where}[{index}]")
            if found is not None:
                return found
    return None


def check_no_control_characters(value: Any, where: str = "") -> None:
    """Raise ControlCharacters naming the field (never its value) if any string holds one."""
    found = find_control_characters(value, where)
    if found is not None:
        # The path is made of the client's own keys: keep it short and printable in the answer.
        raise ControlCharacters(details={"field": _CONTROL.sub("?", found)[:200]})


def has_control_characters(value: str) -> bool:
    """True when text holds a control character other than tab and line breaks."""
    return _CONTROL.search(value) is not None


def has_line_controls(value: str) -> bool:
    """True when a one-line value (a name, a filter) holds a control character, tab or line break."""
    return _LINE_CONTROL.search(value) is not None


def is_blank(value: str) -> bool:
    """True when nothing would show: empty, spaces, or only zero-width characters."""
    return not value.strip(_INVISIBLE)


def single_line(raw: str, field: str) -> str:
    """A one-line field with the invisible ends trimmed; tab, line breaks and controls refused."""
    value = raw.strip(_INVISIBLE)
    if has_line_controls(value):
        raise ControlCharacters(
            message="此处只能填写一行文字",
            message_en="Only one line of text is allowed here",
            details={"field": field},
        )
    return value
