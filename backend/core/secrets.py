"""Secrets generated on first start into the data directory (mode 0600), never committed or logged."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path


def load_or_create(directory: Path, name: str, make: Callable[[], bytes]) -> bytes:
    """Read secret `name`, creating it atomically on first use.

    O_EXCL makes two processes starting at once agree on one value: the loser reads the winner's file.
    """
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    path = directory / name
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_complete(path)
    tmp_value = make()
    with os.fdopen(fd, "wb") as handle:
        handle.write(tmp_value)
        handle.flush()
        os.fsync(handle.fileno())
    return tmp_value


def _read_complete(path: Path) -> bytes:
    # The creator may still be writing; a secret is never empty once written.
    for _ in range(100):
        value = path.read_bytes()
        if value:
            return value
        time.sleep(0.01)
    raise RuntimeError(f"secret file {path.name} is empty")


def jwt_secret(directory: Path) -> str:
    return load_or_create(directory, "jwt.key", lambda: secrets.token_urlsafe(64).encode()).decode()
