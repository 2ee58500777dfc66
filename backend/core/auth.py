"""Auth primitives: password hashing, access tokens (JWT) and the refresh-token chain."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import secrets
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio
import jwt
from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from litestar.security.jwt import Token
from litestar.security.jwt.token import JWTDecodeOptions

from backend.core.errors import AppError
from backend.settings import get_settings

# Argon2 is slow on purpose (~0.2 s a sign-in). The test suite signs in thousands of times, so it
# sets FENGQIAO_PASSWORD_HASHING=fast-insecure; a hash records its own parameters, so hashes made
# either way verify either way.
HASHING_PROFILES = {"standard": profiles.RFC_9106_LOW_MEMORY, "fast-insecure": profiles.CHEAPEST}


@functools.cache
def _hasher_and_dummy(profile: str) -> tuple[PasswordHasher, str]:
    hasher = PasswordHasher.from_parameters(HASHING_PROFILES[profile])
    # Verifying against the dummy keeps the time of "no such user" equal to "wrong password".
    return hasher, hasher.hash("fengqiao-dummy-password")


def _hasher() -> tuple[PasswordHasher, str]:
    return _hasher_and_dummy(get_settings().password_hashing)


class TokenExpired(AppError):
    status_code = 401
    code = "auth.token_expired"
    message = "登录已过期，请刷新后重试"
    message_en = "The access token has expired"


class InvalidToken(AppError):
    status_code = 401
    code = "auth.invalid_token"
    message = "登录凭证无效，请重新登录"
    message_en = "The token is invalid"


def hash_password(password: str) -> str:
    return _hasher()[0].hash(password)


# Each standard Argon2 takes 64 MiB for its ~0.3 s. Unbounded, a morning's sign-ins arriving together
# took one process to 935 MB (13 at once) and each of them 17 s; bounded, they queue and each takes
# its 0.3 s plus the wait. Two at a time use the box's two cores and 128 MiB (bench/README.md, Load).
CONCURRENT_HASHES = 2
_hash_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = (
    weakref.WeakKeyDictionary()
)


def _hash_limiter() -> anyio.CapacityLimiter:
    # One per event loop (a server has one; the tests make several).
    loop = asyncio.get_running_loop()
    limiter = _hash_limiters.get(loop)
    if limiter is None:
        limiter = _hash_limiters[loop] = anyio.CapacityLimiter(CONCURRENT_HASHES)
    return limiter


async def hash_off_loop(hash_fn: Callable[[str], str], password: str) -> str:
    """`hash_fn(password)` (hash_password, or a one-time password's hasher) in a worker thread under
    the same limit as verify_password: a standard Argon2 hash on the event loop held every other
    request of the process for its 0.3 s, and inside a write transaction SQLite's writer too."""
    return await anyio.to_thread.run_sync(hash_fn, password, limiter=_hash_limiter())


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Argon2 is deliberately slow: run it off the event loop, at most CONCURRENT_HASHES at a time."""

    hasher, dummy = _hasher()

    def _verify() -> bool:
        try:
            return hasher.verify(password_hash or dummy, password) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    return await anyio.to_thread.run_sync(_verify, limiter=_hash_limiter())


# Tokens already verified, by their exact text (signature included) and the secret: a phone sends the
# same access token for up to 15 minutes, and PyJWT's verification (key checks, HMAC, JSON, claims) is
# a good part of a small authenticated GET. Only the expiry is checked again. Bounded: cleared when full.
_verified: dict[tuple[str, str, str], AccessToken] = {}
MAX_VERIFIED = 10_000


class AccessToken(Token):
    """Litestar's JWT token, telling an expired token apart from a bad one (the phone refreshes
    on `auth.token_expired` and replays; on anything else it signs in again)."""

    @classmethod
    def decode(
        cls,
        encoded_token: str,
        secret: str,
        algorithm: str,
        audience: str | Sequence[str] | None = None,
        issuer: str | Sequence[str] | None = None,
        require_claims: Sequence[str] | None = None,
        verify_exp: bool = True,
        verify_nbf: bool = True,
        strict_audience: bool = False,
    ) -> AccessToken:
        plain = audience is None and issuer is None and not require_claims and verify_exp and verify_nbf
        key = (encoded_token, secret, algorithm)
        token = _verified.get(key) if plain else None
        if token is not None:
            if token.exp > datetime.now(UTC):
                return token
            _verified.pop(key, None)
            raise TokenExpired()
        token = super().decode(
            encoded_token,
            secret,
            algorithm,
            audience=audience,
            issuer=issuer,
            require_claims=require_claims,
            verify_exp=verify_exp,
            verify_nbf=verify_nbf,
            strict_audience=strict_audience,
        )
        if plain:
            if len(_verified) >= MAX_VERIFIED:
                _verified.clear()
            _verified[key] = token
        return token

    @classmethod
    def decode_payload(
        cls,
        encoded_token: str,
        secret: str,
        algorithms: list[str],
        issuer: str | Sequence[str] | None = None,
        audience: str | Sequence[str] | None = None,
        options: JWTDecodeOptions | None = None,
    ) -> Any:
        try:
            return super().decode_payload(
                encoded_token, secret, algorithms, issuer=issuer, audience=audience, options=options
            )
        except jwt.ExpiredSignatureError:
            raise TokenExpired() from None
        except jwt.InvalidTokenError:
            raise InvalidToken() from None


# Refresh tokens look like "<device uuid>.<random>". Only their SHA-256 is stored. The successor of a
# token is HMAC(secret, token), so a refresh answered on a link that dropped the response can be
# answered again with the same successor within a grace window, instead of looking like theft.


@dataclass(frozen=True)
class RefreshToken:
    device_id: str
    raw: str

    @classmethod
    def parse(cls, raw: str) -> RefreshToken | None:
        device_id, sep, rest = raw.partition(".")
        if not sep or len(device_id) != 36 or len(rest) < 32:
            return None
        return cls(device_id=device_id, raw=raw)


def new_refresh_token(device_id: str) -> str:
    return f"{device_id}.{secrets.token_urlsafe(32)}"


def successor_refresh_token(secret: str, raw: str) -> str:
    device_id = raw.partition(".")[0]
    mac = hmac.new(secret.encode(), raw.encode(), hashlib.sha256).hexdigest()
    return f"{device_id}.{mac}"


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def same_hash(a: str | None, b: str) -> bool:
    return a is not None and hmac.compare_digest(a, b)
