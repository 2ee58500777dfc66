"""A bounded schemathesis pass over the OpenAPI, signed in as the county office and as a mediator:
a few valid and a few invalid requests per operation, and none may get a 5xx (issue 18 found eight
kinds of 500 this way). Deterministic (derandomized), so a failure reproduces; about a minute."""

from __future__ import annotations

import time

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode

pytestmark = [pytest.mark.slow, pytest.mark.server]

EXAMPLES = 3  # per operation, role and mode: ~600 requests, about a minute and a half
# Streams never end (server-sent events); signing out would end the fuzzer's own session.
SKIPPED = {"events", "map_events", "logout"}


def _sign_in(base: str, username: str) -> dict[str, str]:
    body = {"username": username, "password": "demo-2026", "device_name": f"fuzz-{username}"}
    response = httpx.post(f"{base}/api/auth/login", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_no_operation_answers_a_server_error(api_server):
    """One server for both roles (a server start costs more than a role's pass)."""
    base = api_server.base
    schema = schemathesis.openapi.from_dict(httpx.get(f"{base}/schema/openapi.json", timeout=30).json())
    # Both sign in first: the fuzzed sign-ins fail, and failures from one address are throttled.
    sessions = {username: _sign_in(base, username) for username in ("county", "mediator1")}
    server_errors: list[str] = []
    for username, headers in sessions.items():
        server_errors += _fuzz(schema, base, username, headers)
    assert server_errors == []
    assert "unhandled error" not in api_server.log.read_text(errors="replace")


def _fuzz(schema, base: str, username: str, headers: dict[str, str]) -> list[str]:
    server_errors: list[str] = []
    calls = 0
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.definition.raw.get("operationId") in SKIPPED:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def call(case) -> None:
                nonlocal calls
                calls += 1
                response = case.call(base_url=base, headers=headers, timeout=30)
                if response.status_code >= 500:
                    server_errors.append(
                        f"{username}: {case.method} {case.formatted_path} → {response.status_code}"
                    )

            call()
    print(f"[fuzz] {username}: {calls} requests in {time.monotonic() - started:.0f} s")
    assert calls > 150, "the pass must reach most operations"
    return server_errors
