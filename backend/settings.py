"""One settings object for the whole server, read from FENGQIAO_* environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str) -> str:
    return os.environ.get(f"FENGQIAO_{name}", default)


def _env_list(name: str) -> tuple[str, ...]:
    raw = os.environ.get(f"FENGQIAO_{name}", "")
    return tuple(part.strip() for part in raw.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    host: str = "127.0.0.1"
    port: int = 8000
    pwa_dist: Path = REPO_ROOT / "pwa" / "dist"
    # Short-lived bearer tokens; the phone refreshes them through its device's refresh token.
    access_token_minutes: int = 15
    # A mediator may be out of signal for weeks: the refresh token keeps the device signed in.
    refresh_token_days: int = 30
    # A refresh whose answer was lost on a weak link may be sent again within this window
    # and gets the same successor instead of revoking the device.
    refresh_grace_seconds: int = 120
    login_max_failures: int = 5
    login_window_seconds: int = 300
    timezone: str = "Asia/Shanghai"
    push_extra_hosts: tuple[str, ...] = field(default_factory=tuple)
    log_level: str = "INFO"

    @property
    def engine(self) -> str:
        return "postgresql" if self.database_url.startswith(("postgres://", "postgresql://")) else "sqlite"

    @property
    def sqlite_path(self) -> Path:
        """The file behind an sqlite:/// URL (relative paths are taken from the working directory)."""
        if self.engine != "sqlite":
            raise ValueError("not an SQLite database URL")
        return Path(self.database_url.removeprefix("sqlite:///"))

    @property
    def secrets_dir(self) -> Path:
        return self.data_dir / "secrets"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"


def load_settings() -> Settings:
    data_dir = Path(_env("DATA_DIR", "./var")).resolve()
    database_url = _env("DATABASE_URL", "") or f"sqlite:///{data_dir / 'fengqiao.sqlite3'}"
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        host=_env("HOST", "127.0.0.1"),
        port=int(_env("PORT", "8000")),
        pwa_dist=Path(_env("PWA_DIST", str(REPO_ROOT / "pwa" / "dist"))),
        access_token_minutes=int(_env("ACCESS_TOKEN_MINUTES", "15")),
        refresh_token_days=int(_env("REFRESH_TOKEN_DAYS", "30")),
        push_extra_hosts=_env_list("PUSH_EXTRA_HOSTS"),
        log_level=_env("LOG_LEVEL", "INFO"),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
