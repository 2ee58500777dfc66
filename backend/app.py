"""create_app(settings): the Litestar application, collecting each domain's routes."""

from __future__ import annotations

import warnings

from litestar import Litestar, Response, Router, get
from litestar.config.app import AppConfig
from litestar.config.compression import CompressionConfig
from litestar.connection import ASGIConnection
from litestar.datastructures import MutableScopeHeaders, State
from litestar.middleware.base import DefineMiddleware
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin
from litestar.security.jwt import JWTAuth
from litestar.types import Message, Scope

from backend import db, wiring
from backend.cases import dossier
from backend.cases import routes as cases_routes
from backend.core import inbound, secrets
from backend.core.auth import AccessToken
from backend.core.headers import TILE_HOSTS, SecurityHeaders
from backend.core.http import EXCEPTION_HANDLERS, RequestLogMiddleware, configure_logging
from backend.core.identity import CurrentUser
from backend.core.pwa import make_pwa_handler
from backend.core.throttle import FailureThrottle
from backend.grids import routes as grids_routes
from backend.map import routes as map_routes
from backend.media import routes as media_routes
from backend.media.uploads import MAX_BYTES as MEDIA_MAX_BYTES
from backend.notify import live, worker
from backend.notify import routes as notify_routes
from backend.ops import health as ops_health
from backend.people import routes as people_routes
from backend.people.service import PasswordChangeRequired, load_current_user
from backend.reports import routes as reports_routes
from backend.screenings import routes as screenings_routes
from backend.settings import Settings, get_settings
from backend.supervision import routes as supervision_routes
from backend.sync import routes as sync_routes
from backend.visits import routes as visits_routes

VERSION = "0.1.0"


@get("/api/health", exclude_from_auth=True, operation_id="health", tags=["system"])
async def health(state: State) -> Response[dict]:
    """Whether this server can serve: the database answers with every migration applied and the
    media directory takes writes. 503 otherwise (backend/ops/health.py)."""
    checks = await ops_health.check(state.settings.media_dir)
    pending = checks.migrations["pending"] if checks.migrations else []
    status = "unavailable" if not checks.ok else "migrations_pending" if pending else "ok"
    body = {
        "status": status,
        "database": db.engine_name(),
        "checks": {"database": checks.database, "media": checks.media},
        "migrations": checks.migrations,
        "version": VERSION,
    }
    # Pending migrations at run time mean the database was replaced or lost (an SQLite file deleted
    # comes back empty): requests would fail, so the server is not ready either.
    return Response(body, status_code=200 if status == "ok" else 503, headers={"Cache-Control": "no-store"})


# What a user signed in with a one-time password may do before choosing their own password.
OPEN_BEFORE_PASSWORD_CHANGE = frozenset({"/api/me", "/api/me/password", "/api/auth/logout", "/api/county"})


async def _retrieve_user(token: AccessToken, connection: ASGIConnection) -> CurrentUser:
    addr = connection.client.host if connection.client else None
    user = await load_current_user(int(token.sub), str(token.extras.get("did", "")), addr)
    if user.must_change_password and connection.scope["path"] not in OPEN_BEFORE_PASSWORD_CHANGE:
        raise PasswordChangeRequired()
    return user


async def _tell_device_to_wipe(message: Message, scope: Scope) -> None:
    """Every answer to a device an administrator asked to wipe says so; the phone then sends its
    outbox, deletes its local data and confirms (POST /api/me/wiped)."""
    if message["type"] == "http.response.start":
        user = scope.get("user")
        if isinstance(user, CurrentUser) and user.wipe_requested:
            headers = MutableScopeHeaders.from_message(message)
            headers["Fengqiao-Wipe"] = "requested"


async def _check_personal_data_keys() -> None:
    # `fengqiao serve` says it in words before starting; a server started otherwise refuses here.
    from backend.cases import party_data

    await party_data.check_keys()


async def _warm_locate_index() -> None:
    # Build the STRtree before the first phone asks (about 0.5 s), not during its request.
    from backend.grids import service as grids

    await grids.load_index()


def _log_requests_outermost(app_config: AppConfig) -> AppConfig:
    # Added after the auth plugin, so the request log also sees requests refused by authentication.
    app_config.middleware.insert(0, DefineMiddleware(RequestLogMiddleware))
    return app_config


# Paths NOT matching this are left alone by the compression middleware (its `exclude` is a regex).
COMPRESS_ONLY = r"^(?!/api/map/(cases|cells)$)"


def server_options(settings: Settings) -> dict:
    """uvicorn's options for the client address: X-Forwarded-* only from the trusted proxies."""
    if not settings.trusted_proxies:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": ",".join(settings.trusted_proxies)}


def initial_state(settings: Settings, jwt_secret: str) -> dict[str, object]:
    """What the app keeps between requests. Everything else a request needs is in the database (or in
    caches the bus keeps true), so an app whose state is set back to this is as good as a new one."""
    return {
        "settings": settings,
        "jwt_secret": jwt_secret,
        "login_throttle": FailureThrottle(settings.login_max_failures, settings.login_window_seconds),
    }


def create_app(settings: Settings | None = None, *, manage_database: bool = True) -> Litestar:
    """Build the app. `manage_database=False` leaves the engine's pool to the caller (tests)."""
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    wiring.connect()
    jwt_secret = secrets.jwt_secret(settings.secrets_dir)

    jwt_auth = JWTAuth[CurrentUser, AccessToken](
        retrieve_user_handler=_retrieve_user,
        token_secret=jwt_secret,
        token_cls=AccessToken,
        # Health, sign-in and the schema are public; the PWA shell opts out with exclude_from_auth.
        exclude=["^/api/health", "^/api/auth/(login|refresh)$", "^/schema"],
        # Litestar skips HEAD by default; HEAD /api/media/{sha256} reports a user's upload, so it
        # needs the user like every other /api method. Only CORS preflights go unauthenticated.
        exclude_http_methods=["OPTIONS"],
    )
    state = State(initial_state(settings, jwt_secret))
    # Litestar's check tries the pattern on "" and calls it "matches everything"; it is a negative
    # look-ahead on purpose (see COMPRESS_ONLY).
    warnings.filterwarnings("ignore", message="Middleware 'CompressionMiddleware' exclude pattern")
    return Litestar(
        route_handlers=[
            health,
            *people_routes.ROUTES,
            *grids_routes.ROUTES,
            # Photos are the only large bodies; the media service answers media.too_large itself.
            Router(
                "/", route_handlers=media_routes.ROUTES, request_max_body_size=MEDIA_MAX_BYTES + inbound.MB
            ),
            *cases_routes.ROUTES,
            *supervision_routes.ROUTES,
            *map_routes.ROUTES,
            *sync_routes.ROUTES,
            *visits_routes.ROUTES,
            *screenings_routes.ROUTES,
            *notify_routes.ROUTES,
            *reports_routes.ROUTES,
            make_pwa_handler(settings.pwa_dist),
        ],
        on_app_init=[jwt_auth.on_app_init, _log_requests_outermost],
        # The bus's one listening connection per process (and SQLite's notification relay), also for
        # tests' served apps, which run no start-up hooks.
        lifespan=[live.lifespan],
        # The real server also runs the delivery loop and the periodic reminders (cancelled on shutdown).
        on_startup=[db.prepare, _check_personal_data_keys, _warm_locate_index, worker.start]
        if manage_database
        else [],
        on_shutdown=[worker.stop, db.close] if manage_database else [],
        # A database or disk out of service is 503 with a stable code, not a 500 (ops/health.py).
        exception_handlers={**EXCEPTION_HANDLERS, **ops_health.EXCEPTION_HANDLERS},
        state=state,
        openapi_config=OpenAPIConfig(
            title="枫桥网格通 API",
            version=VERSION,
            path="/schema",
            # Swagger UI comes from a CDN (and fails offline): only when settings.api_docs asks.
            render_plugins=[SwaggerRenderPlugin()] if settings.api_docs else [JsonRenderPlugin()],
        ),
        before_send=[
            SecurityHeaders(
                (*TILE_HOSTS.get(settings.map_tiles, ()), *settings.csp_img_hosts),
                dossier.print_style_hashes(),
            ),
            _tell_device_to_wipe,
        ],
        # Every body is bounded before it is read (sign-in and the sync push set their own) and
        # checked before it is decoded: core/inbound.py.
        request_max_body_size=inbound.BODY_LIMIT,
        before_request=inbound.check_request,
        # The map's bulk JSON (50,000 markers are ~7 MB, ~1 MB gzipped) is compressed on the fly.
        # Only there: the PWA's assets are served precompressed, photos are JPEG, and a gzip stream
        # would hold back server-sent events.
        compression_config=CompressionConfig(
            backend="gzip", gzip_compress_level=5, minimum_size=2048, exclude=COMPRESS_ONLY
        ),
        debug=False,
    )
