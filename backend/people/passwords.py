"""The password policy (one check for the API, the CLI and the roster import) and one-time passwords.

Policy: at least 8 characters, not the username, not a date (YYYYMMDD: birthdays top every Chinese
leak), not in the shipped list of common passwords (data/common_passwords.txt).
"""

from __future__ import annotations

import re
import secrets
from datetime import date
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher

from backend.core.errors import InvalidRequest

MIN_LENGTH = 8
MAX_LENGTH = 256
_COMMON_FILE = Path(__file__).parent / "data" / "common_passwords.txt"
# One-time passwords are read aloud or handed out on paper: no 0/O, 1/l/I.
_OTP_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
_OTP_LENGTH = 12  # about 59 bits
# A one-time password is random and replaced at first sign-in, so its hash needs no memory-hard cost
# (that is for guessable human passwords); a light Argon2 keeps a 600-person roster import fast.
_ONE_TIME_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


class WeakPassword(InvalidRequest):
    code = "auth.weak_password"
    message = "密码太弱"
    message_en = "The password is too weak"


@cache
def _common() -> frozenset[str]:
    lines = _COMMON_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def _is_date(text: str) -> bool:
    if not re.fullmatch(r"(19|20)\d{6}", text):
        return False
    try:
        date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return False
    return True


def weakness(password: str, username: str | None = None) -> str | None:
    """Why a password is refused, in Chinese, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"密码至少 {MIN_LENGTH} 位"
    if len(password) > MAX_LENGTH:
        return f"密码最多 {MAX_LENGTH} 位"
    lowered = password.lower()
    if username and lowered in (username.lower(), username.lower()[::-1]):
        return "密码不能与用户名相同"
    if any(ord(c) < 32 or ord(c) == 127 for c in password):
        return "密码不能含控制字符"
    if _is_date(lowered):
        return "密码不能是日期（如生日）"
    if lowered in _common():
        return "这是常见密码，很容易被猜到，请换一个"
    return None


def check(password: str, username: str | None = None) -> None:
    reason = weakness(password, username)
    if reason is not None:
        raise WeakPassword(message=f"密码太弱：{reason}", details={"reason": reason})


def one_time() -> str:
    """A new one-time password, e.g. 'k7mq-3xr9-p2ht' (grouped for reading aloud)."""
    raw = "".join(secrets.choice(_OTP_ALPHABET) for _ in range(_OTP_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, _OTP_LENGTH, 4))


def hash_one_time(password: str) -> str:
    return _ONE_TIME_HASHER.hash(password)
