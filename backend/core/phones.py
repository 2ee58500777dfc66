"""Phone numbers: one rule for parties and for staff, as the PWA checks them (core/validate.ts)."""

from __future__ import annotations

import re

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}$")


def normalise(phone: str | None) -> str | None:
    """11-digit mobile or landline with area code, spaces, brackets and +86 dropped; None when empty.
    Raises ValueError for anything else (each domain answers with its own error code)."""
    if phone is None or not phone.strip():
        return None
    value = re.sub(r"[\s()（）]", "", phone).removeprefix("+86")
    if not (_MOBILE.match(value) or _LANDLINE.match(value)):
        raise ValueError(phone)
    return value


def mask(phone: str | None) -> str | None:
    """138****5678: enough to tell two people apart in a list, not enough to call them."""
    if not phone:
        return phone
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 8 else "****"
