"""Security headers on every response, set in one place (the app's before_send hook, so 404s, 405s and
errors carry them too).

The phone keeps its tokens in IndexedDB: one injected script would take every session. The
Content-Security-Policy therefore allows scripts only from this origin and no inline script (the built
PWA has none: tests/security/test_csp_e2e.py signs in under it and watches for violations), images
from here plus the map's tile hosts, and no framing. HSTS is sent only when the request really came
over HTTPS: directly, or from a reverse proxy trusted to say so (settings.trusted_proxies; uvicorn
then sets the scheme from X-Forwarded-Proto, see deploy/).
"""

from __future__ import annotations

from collections.abc import Iterable

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

# The map's base tiles (settings.map_tiles) are images from these hosts.
TILE_HOSTS = {
    "none": (),
    "osm": ("https://tile.openstreetmap.org",),
    "tianditu": ("https://*.tianditu.gov.cn",),
}
HSTS = "max-age=31536000"
# The interactive API docs (only when settings.api_docs is on) load Swagger UI from its CDN with an
# inline start script: that page alone gets a policy allowing them.
SWAGGER_PATH = "/schema/swagger"
SWAGGER_CDN = "https://cdn.jsdelivr.net"


def content_security_policy(img_hosts: Iterable[str] = (), style_hashes: Iterable[str] = ()) -> str:
    """`style_hashes`: the 'sha256-…' sources of printable pages' own inline stylesheets. Such a page
    is opened from the app as a blob: document, which inherits the app's policy, so its stylesheet is
    allowed here by its hash (and nothing else inline is)."""
    images = " ".join(("'self'", "data:", "blob:", *img_hosts))
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            " ".join(("style-src 'self'", *style_hashes)),
            f"img-src {images}",
            "connect-src 'self'",
            "font-src 'self' data:",  # the build inlines small fonts as data: URLs
            "worker-src 'self'",
            "manifest-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


SWAGGER_POLICY = "; ".join(
    (
        "default-src 'self'",
        f"script-src 'self' 'unsafe-inline' {SWAGGER_CDN}",
        f"style-src 'self' 'unsafe-inline' {SWAGGER_CDN}",
        f"img-src 'self' data: {SWAGGER_CDN}",
        "connect-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
    )
)


class SecurityHeaders:
    """The before_send hook: adds the headers to each response's start message."""

    def __init__(self, img_hosts: Iterable[str] = (), style_hashes: Iterable[str] = ()) -> None:
        self.policy = content_security_policy(img_hosts, style_hashes)
        self.fixed = {
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
            # Other sites learn our origin at most (the tile server needs it for a domain-bound
            # key), never a page's path, which holds case ids.
            "Referrer-Policy": "strict-origin-when-cross-origin",
            # The PWA uses the camera (photos) and GPS itself; nothing else, and nothing framed.
            "Permissions-Policy": (
                "camera=(self), geolocation=(self), microphone=(), payment=(), usb=(), "
                "bluetooth=(), serial=(), hid=(), midi=(), display-capture=(), interest-cohort=()"
            ),
            "Cross-Origin-Opener-Policy": "same-origin",
        }

    async def __call__(self, message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        headers = MutableScopeHeaders.from_message(message)
        for name, value in self.fixed.items():
            headers[name] = value
        if "Content-Security-Policy" not in headers:
            swagger = scope.get("path", "").startswith(SWAGGER_PATH)
            headers["Content-Security-Policy"] = SWAGGER_POLICY if swagger else self.policy
        if scope.get("scheme") == "https":
            headers["Strict-Transport-Security"] = HSTS
