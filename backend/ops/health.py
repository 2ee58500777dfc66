"""Is this server fit to serve: the database answers and the media directory takes writes.

`/api/health` asks here and answers 503 when either fails, so a load balancer or a monitor stops
sending phones to a server that would take their photos and lose them. The same judgement turns a
database or disk failure inside any request into 503 with a stable code, not a 500 (see
EXCEPTION_HANDLERS), and `fengqiao serve` into a clear message instead of a traceback.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import anyio.to_thread
import asyncpg
from litestar import Request, Response
from litestar.types import ExceptionHandlersMap

from backend import db
from backend.core.http import internal_error_handler
from backend.media import storage

log = logging.getLogger("fengqiao.health")

# A health probe must answer quickly even when PostgreSQL does not (a full pool, a network cut).
DATABASE_TIMEOUT_SECONDS = 5.0
RETRY_AFTER_SECONDS = "30"

# Errors that mean the disk, not the request, is at fault: read-only, no permission, full, failing.
_STORAGE_ERRNOS = {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT, errno.EIO}
_PG_CONNECTION_ERRORS = (
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.InvalidCatalogNameError,  # the database itself is gone
)

Unavailable = Literal["database", "storage"]


@dataclass(frozen=True)
class Health:
    database: str  # ok | unavailable
    media: str  # ok | unwritable
    migrations: dict[str, Any] | None

    @property
    def ok(self) -> bool:
        return self.database == "ok" and self.media == "ok"


def unavailable_kind(exc: BaseException) -> Unavailable | None:
    """Whether an exception means the database or the disk is out of service (not a bug)."""
    if isinstance(exc, sqlite3.OperationalError) or type(exc) is sqlite3.DatabaseError:
        return "database"  # locked past the timeout, the file gone, unreadable or not a database
    if isinstance(exc, (*_PG_CONNECTION_ERRORS, ConnectionError)):
        return "database"
    if isinstance(exc, OSError) and exc.errno in _STORAGE_ERRNOS:
        return "storage"
    if isinstance(exc, OSError) and "connect call failed" in str(exc).lower():
        return "database"  # asyncpg's refused or unreachable server
    return None


async def check_database() -> tuple[str, dict[str, Any] | None]:
    try:
        state = await asyncio.wait_for(db.migration_state(), DATABASE_TIMEOUT_SECONDS)
    except Exception as exc:
        if unavailable_kind(exc) is None and not isinstance(exc, TimeoutError):
            log.exception("health: the database check failed unexpectedly")
        else:
            log.error("health: database unavailable (%s)", type(exc).__name__)
        return "unavailable", None
    return "ok", {"applied": state["applied"], "pending": state["pending"]}


def _probe_writable(media_dir: Path) -> None:
    """Create, write, fsync and remove a small file where uploads are received."""
    tmp = storage.tmp_dir(media_dir)
    storage.ensure_dir(tmp)
    probe = tmp / f".health-{secrets.token_hex(6)}"
    fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, b"ok")
        os.fsync(fd)
    finally:
        os.close(fd)
        probe.unlink(missing_ok=True)


async def check_media(media_dir: Path) -> str:
    try:
        await anyio.to_thread.run_sync(_probe_writable, media_dir)
    except OSError as exc:
        log.error("health: media directory not writable (%s)", exc.strerror or type(exc).__name__)
        return "unwritable"
    return "ok"


async def check(media_dir: Path) -> Health:
    (database, migrations), media = await asyncio.gather(check_database(), check_media(media_dir))
    return Health(database=database, media=media, migrations=migrations)


# --- inside any request -----------------------------------------------------------------------------

_MESSAGES = {
    "database": ("数据库暂时无法访问，请稍后再试", "The database is unavailable; try again later"),
    "storage": ("服务器存储暂时无法写入，请稍后再试", "The server's storage is unavailable; try again later"),
}


def unavailable_handler(request: Request, exc: Exception) -> Response:
    """503 with a stable code when the database or the disk failed; anything else stays a 500."""
    kind = unavailable_kind(exc)
    if kind is None:
        return internal_error_handler(request, exc)
    # The class and errno only: a database error's text may quote the statement and its values.
    log.error(
        "%s unavailable on %s %s (%s %s)",
        kind,
        request.method,
        request.url.path,
        type(exc).__name__,
        getattr(exc, "errno", "") or "",
    )
    message, message_en = _MESSAGES[kind]
    return Response(
        {"code": f"server.{kind}_unavailable", "message": message, "message_en": message_en},
        status_code=503,
        headers={"Retry-After": RETRY_AFTER_SECONDS},
    )


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    OSError: unavailable_handler,
    sqlite3.OperationalError: unavailable_handler,
    sqlite3.DatabaseError: unavailable_handler,
    **{cls: unavailable_handler for cls in _PG_CONNECTION_ERRORS},
}


def database_down_message(exc: BaseException) -> str | None:
    """What to tell an operator when the database cannot be reached at start (None: not that)."""
    if unavailable_kind(exc) != "database" and not isinstance(exc, TimeoutError):
        return None
    from backend.settings import get_settings

    settings = get_settings()
    where = settings.sqlite_path if settings.engine == "sqlite" else _without_password(settings.database_url)
    return (
        f"无法连接数据库（{settings.engine}：{where}）：{type(exc).__name__}。"
        "请检查数据库服务是否运行、FENGQIAO_DATABASE_URL 是否正确。\n"
        f"Cannot reach the database ({settings.engine}: {where}): {type(exc).__name__}. "
        "Check that it is running and that FENGQIAO_DATABASE_URL is right."
    )


def _without_password(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))
