"""The browser fixtures of tests/e2e, for the CSP test here."""

from tests.e2e.conftest import browser, chromium_path, live_server, phone  # noqa: F401
