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
    # Who the push services may contact about our traffic (VAPID "sub", sent as mailto:).
    push_contact: str = "admin@fengqiao.invalid"
    push_concurrency: int = 16
    # A return visit in person counts as face-to-face when its GPS fix is this close to the case.
    visit_radius_m: float = 300.0
    # Local time (Asia/Shanghai) at which a visit's reminder fires on its due date.
    visit_reminder_time: str = "08:30"
    # How often the server runs the reminder job while it is up.
    reminder_interval_seconds: int = 300
    # SMS gateway webhook: off while the URL is empty. A high-urgency notification still unread after
    # sms_after_hours is POSTed there, signed with HMAC-SHA256 of the shared secret.
    sms_gateway_url: str = ""
    sms_gateway_secret: str = ""
    sms_after_hours: float = 4.0
    log_level: str = "INFO"
    # "standard" Argon2 (RFC 9106 low-memory); "fast-insecure" only for the test suite.
    password_hashing: str = "standard"
    # The supervisors' map: base tiles none (boundaries on a plain background, works offline),
    # tianditu (needs tianditu_key) or osm.
    map_tiles: str = "none"
    tianditu_key: str = ""
    # More image hosts the Content-Security-Policy allows (the map_tiles host is allowed already),
    # e.g. a county tile server: https://tiles.example.gov.cn
    csp_img_hosts: tuple[str, ...] = field(default_factory=tuple)
    # Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (the client address used
    # by sign-in throttling and the audit log; HTTPS for HSTS). Empty: no proxy, headers ignored.
    trusted_proxies: tuple[str, ...] = field(default_factory=tuple)
    # The interactive API docs at /schema/swagger load Swagger UI from a CDN: off unless asked for
    # (development). /schema/openapi.json is always served.
    api_docs: bool = False
    # Quotas, so one phone (or a stolen token) cannot fill the disk with what waits to be applied.
    # A pushed operation's payload, JSON-encoded (a case with 20 parties and a 5,000-character
    # description is about 25 KB).
    sync_max_op_bytes: int = 64 * 1024
    # Operations of one device stored `deferred` at once; more are answered `retry` (kept on the phone).
    sync_max_deferred_per_device: int = 500
    # Unfinished resumable photo uploads of one user at once (each up to 15 MB).
    media_max_partial_uploads: int = 30

    # Parties of a case archived this many years ago are anonymised by `fengqiao retention run`
    # (个人信息保护法 art. 19 and 47: kept no longer than the purpose needs). Five years: the three-year
    # limitation period of a civil claim (民法典 art. 188) from when a party learns the agreement was
    # broken, with room for a dispute that comes back. 0 turns retention off. README: 个人信息.
    retention_years: int = 5

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


def _password_hashing(value: str) -> str:
    if value not in ("standard", "fast-insecure"):
        raise ValueError(f"FENGQIAO_PASSWORD_HASHING must be standard or fast-insecure, not {value!r}")
    return value


def _timezone(name: str) -> str:
    """The county's time zone (an IANA name); refused at start-up rather than at the first report."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"FENGQIAO_TIMEZONE must be an IANA time zone such as Asia/Shanghai, not {name!r}"
        ) from None
    return name


def _retention_years(value: str) -> int:
    if not value.isdigit() or not 0 <= int(value) <= 100:
        raise ValueError(f"FENGQIAO_RETENTION_YEARS must be a whole number of years (0 = off), not {value!r}")
    return int(value)


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
        push_contact=_env("PUSH_CONTACT", "admin@fengqiao.invalid"),
        push_concurrency=int(_env("PUSH_CONCURRENCY", "16")),
        visit_radius_m=float(_env("VISIT_RADIUS_M", "300")),
        timezone=_timezone(_env("TIMEZONE", "Asia/Shanghai")),
        visit_reminder_time=_env("VISIT_REMINDER_TIME", "08:30"),
        reminder_interval_seconds=int(_env("REMINDER_INTERVAL_SECONDS", "300")),
        sms_gateway_url=_env("SMS_GATEWAY_URL", ""),
        sms_gateway_secret=_env("SMS_GATEWAY_SECRET", ""),
        sms_after_hours=float(_env("SMS_AFTER_HOURS", "4")),
        log_level=_env("LOG_LEVEL", "INFO"),
        password_hashing=_password_hashing(_env("PASSWORD_HASHING", "standard")),
        map_tiles=_env("MAP_TILES", "none"),
        tianditu_key=_env("TIANDITU_KEY", ""),
        csp_img_hosts=_env_list("CSP_IMG_HOSTS"),
        trusted_proxies=_env_list("TRUSTED_PROXIES"),
        api_docs=_env("API_DOCS", "off").lower() in ("1", "on", "true", "yes"),
        sync_max_op_bytes=int(_env("SYNC_MAX_OP_BYTES", str(64 * 1024))),
        sync_max_deferred_per_device=int(_env("SYNC_MAX_DEFERRED_PER_DEVICE", "500")),
        media_max_partial_uploads=int(_env("MEDIA_MAX_PARTIAL_UPLOADS", "30")),
        retention_years=_retention_years(_env("RETENTION_YEARS", "5")),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
