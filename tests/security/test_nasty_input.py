"""Input an attacker or a broken client sends: each gets a 4xx with a stable code, nothing is written.

Found by the audit of issue 18 (a fuzzer and by hand); each of these was a 500 before, several only on
PostgreSQL (a NUL byte in text), so the whole module runs on both engines.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from backend.sync import service as sync_service
from tests.factories import auth, case_body
from tests.sync.helpers import create_op, op, push

HUGE = 2**64  # beyond every integer column (int64)
JSON = {"content-type": "application/json"}


async def test_an_empty_sync_push_is_refused(client):
    response = await client.post("/api/sync/push", json={"ops": []}, headers=await auth(client, "mediator1"))
    assert response.status_code == 400
    assert response.json()["code"] == "request.invalid"
    assert [e["key"] for e in response.json()["errors"]] == ["ops"]


@pytest.mark.parametrize(
    ("url", "user", "status", "code"),
    [
        (f"/api/admin/devices?user_id={HUGE}", "county", 400, "request.number_out_of_range"),
        (f"/api/admin/devices?user_id=-{HUGE}", "county", 400, "request.number_out_of_range"),
        (f"/api/cases?limit={HUGE}", "mediator1", 400, "request.number_out_of_range"),
        (f"/api/audit?before_id={HUGE}", "county", 400, "request.number_out_of_range"),
        (f"/api/admin/grids/generations/{HUGE}/report", "county", 404, "not_found"),
    ],
)
async def test_huge_integers_in_the_path_or_query_are_client_errors(client, url, user, status, code):
    response = await client.get(url, headers=await auth(client, user))
    assert response.status_code == status
    assert response.json()["code"] == code


async def test_a_huge_notification_id_is_not_found(client):
    response = await client.post(f"/api/inbox/{HUGE}/read", headers=await auth(client, "mediator1"))
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


async def test_a_huge_integer_in_a_body_names_its_field_and_creates_nothing(client):
    county = await auth(client, "county")
    body = {"name": "超大编号调解队", "members": [{"name": "王五", "kind": "老党员", "user_id": HUGE}]}
    response = await client.post("/api/admin/teams", json=body, headers=county)
    assert response.status_code == 400
    assert response.json()["code"] == "request.number_out_of_range"
    assert response.json()["field"] == "members[0].user_id"
    teams = (await client.get("/api/teams", headers=county)).json()
    assert "超大编号调解队" not in [t["name"] for t in teams]


async def test_a_team_member_naming_an_unknown_user_is_refused_and_creates_nothing(client):
    county = await auth(client, "county")
    body = {"name": "无此人调解队", "members": [{"name": "王五", "kind": "老党员", "user_id": 999_999}]}
    response = await client.post("/api/admin/teams", json=body, headers=county)
    assert response.status_code == 400
    assert response.json()["code"] == "people.unknown_member"
    assert response.json()["user_ids"] == [999_999]
    teams = (await client.get("/api/teams", headers=county)).json()
    assert "无此人调解队" not in [t["name"] for t in teams]


def _json_routes(app) -> list[tuple[str, str]]:
    """(method, path with placeholders filled) of every handler that takes a JSON body."""
    from backend.core.inbound import _facts

    filled = {"int": "1", "str": "x", "UUID": str(uuid.UUID(int=1))}
    routes = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if "OPTIONS" in handler.http_methods or not _facts(handler)[0]:
                continue
            path = route.path
            for name, kind in [(p.name, p.type.__name__) for p in route.path_parameters.values()]:
                path = path.replace(f"{{{name}:{kind.lower()}}}", filled[kind])
            routes.extend((method, path) for method in handler.http_methods)
    return sorted(routes)


async def test_every_json_route_refuses_deep_nesting_and_bad_bytes(client, app):
    """Before the body is decoded (msgspec recurses, and raised RecursionError at ~1,000 levels)."""
    county = await auth(client, "county")
    routes = _json_routes(app)
    assert ("POST", "/api/cases") in routes and ("POST", "/api/auth/login") in routes
    bodies = {
        "request.too_deep": b"[" * 5000 + b"]" * 5000,
        "request.invalid_encoding": b'{"title": "\xff\xfe"}',
        "request.invalid": b'{"title": ',  # not JSON at all
    }
    for code, body in bodies.items():
        for method, path in routes:
            response = await client.request(method, path, content=body, headers={**county, **JSON})
            assert (response.status_code, response.json()["code"]) == (400, code), (method, path)


async def test_depth_is_counted_outside_strings(client):
    """Brackets inside a text are text: a description full of them is an ordinary case."""
    body = case_body(description="[" * 500 + "{" * 500)
    response = await client.post("/api/cases", json=body, headers=await auth(client, "mediator1"))
    assert response.status_code == 201


async def test_a_long_run_of_escaped_quotes_is_only_a_long_string(client):
    """400 KB of \\" inside one string: decoded once, not scanned again per quote (a first version of
    the depth check used a regular expression that took minutes on this)."""
    body = b'{"name": "' + b'\\"' * 200_000 + b'"}'
    response = await client.post(
        "/api/admin/teams", content=body, headers={**await auth(client, "county"), **JSON}
    )
    assert (response.status_code, response.json()["code"]) == (400, "request.invalid")
    assert response.json()["errors"][0]["key"] == "name"  # too long for a team's name


async def test_a_body_33_levels_deep_is_refused_and_32_accepted_as_json(client):
    headers = {**await auth(client, "county"), **JSON}
    deep = b'{"name": "x", "members": ' + b"[" * 32 + b"]" * 32 + b"}"
    response = await client.post("/api/admin/teams", content=deep, headers=headers)
    assert response.json()["code"] == "request.too_deep"
    shallower = b'{"name": "x", "members": ' + b"[" * 31 + b"]" * 31 + b"}"
    response = await client.post("/api/admin/teams", content=shallower, headers=headers)
    # Through the depth check: now it is only the wrong shape for a member list.
    assert (response.status_code, response.json()["code"]) == (400, "request.invalid")


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x7f"])
async def test_control_characters_in_a_title_are_refused(client, char):
    mediator = await auth(client, "mediator1")
    body = case_body(title=f"邻居{char}纠纷")
    response = await client.post("/api/cases", json=body, headers=mediator)
    assert response.status_code == 400
    assert response.json()["code"] == "text.control_characters"
    assert response.json()["field"] == "title"
    assert (await client.get(f"/api/cases/{body['id']}", headers=mediator)).status_code == 404


async def test_a_line_break_is_refused_in_a_title_and_kept_in_a_description(client):
    mediator = await auth(client, "mediator1")
    response = await client.post("/api/cases", json=case_body(title="第一行\n第二行"), headers=mediator)
    assert (response.status_code, response.json()["code"]) == (400, "text.control_characters")
    assert response.json()["field"] == "title"
    body = case_body(description="第一段。\n\n第二段：\t双方同意。\r\n")
    response = await client.post("/api/cases", json=body, headers=mediator)
    assert response.status_code == 201
    assert response.json()["description"] == body["description"]


@pytest.mark.parametrize("title", ["\u200b\u200b\u200b", " \ufeff\u2060 ", "\u3000\u00a0"])
async def test_a_title_of_invisible_characters_is_blank(client, title):
    response = await client.post(
        "/api/cases", json=case_body(title=title), headers=await auth(client, "mediator1")
    )
    assert (response.status_code, response.json()["code"]) == (400, "case.title_required")


async def test_a_party_name_of_zero_width_characters_is_blank(client):
    body = case_body()
    body["parties"][0]["name"] = "\u200b\u200c"
    response = await client.post("/api/cases", json=body, headers=await auth(client, "mediator1"))
    assert (response.status_code, response.json()["code"]) == (400, "case.party_name_required")


async def test_nul_in_a_username_at_sign_in_is_refused_not_counted(client):
    body = {"username": "mediator1\x00", "password": "x", "device_name": "手机"}
    response = await client.post("/api/auth/login", json=body)
    assert (response.status_code, response.json()["code"]) == (400, "text.control_characters")
    assert response.json()["field"] == "username"


async def test_nul_in_a_new_users_name_is_refused(client):
    body = {
        "username": "nulname",
        "display_name": "张\x00三",
        "password": "correct-horse-9",
        "role": "grid_worker",
        "scope_code": "530524101001",
    }
    response = await client.post("/api/admin/users", json=body, headers=await auth(client, "county"))
    assert (response.status_code, response.json()["code"]) == (400, "text.control_characters")
    assert response.json()["field"] == "display_name"


@pytest.mark.parametrize("query", ["township=53052410%00", "category=neighbour%00", "state=reported%0a"])
async def test_control_characters_in_a_filter_are_refused(client, query):
    response = await client.get(f"/api/cases?{query}", headers=await auth(client, "county"))
    assert (response.status_code, response.json()["code"]) == (400, "text.control_characters")
    assert response.json()["field"] == query.split("=")[0]


async def test_nul_in_a_path_is_not_found(client):
    response = await client.get("/api/cases/abc%00def", headers=await auth(client, "county"))
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


async def test_nul_and_newline_in_a_path_stay_out_of_the_log_lines(client, caplog):
    with caplog.at_level(logging.INFO):
        for path in ("/index.html%00.js", "/index.html%0a%0dforged%20line.js"):
            response = await client.get(path)
            assert (response.status_code, response.json()["code"]) == (404, "not_found")
    lines = [record.getMessage() for record in caplog.records]
    assert any("index.html" in line for line in lines)
    for line in lines:
        assert "\x00" not in line and "\n" not in line and "\r" not in line


@pytest.mark.parametrize(
    ("occurred_at", "status", "code"),
    [
        ("1999-12-31T23:59:00+08:00", 400, "case.occurred_at_out_of_range"),
        ("0001-01-01T00:00:00Z", 400, "case.occurred_at_out_of_range"),
        ("+2 days", 400, "case.occurred_at_out_of_range"),
        ("+12 hours", 201, None),
        ("2000-01-01T00:00:00+08:00", 201, None),
    ],
)
async def test_when_it_happened_lies_between_2000_and_tomorrow(client, occurred_at, status, code):
    if occurred_at.startswith("+"):
        amount, unit = occurred_at[1:].split()
        occurred_at = (datetime.now(UTC) + timedelta(**{unit: int(amount)})).isoformat()
    body = case_body(occurred_at=occurred_at)
    response = await client.post("/api/cases", json=body, headers=await auth(client, "mediator1"))
    assert response.status_code == status
    if code:
        assert response.json()["code"] == code


async def test_a_sync_op_that_can_never_apply_is_rejected_not_retried(client):
    """A NUL title was `retry` on PostgreSQL forever and blocked the phone's outbox."""
    mediator = await auth(client, "mediator1")
    nul_title = create_op(title="标题\x00")
    huge_version = op("case.update", str(uuid.uuid4()), {"title": "新标题"}, base_version=HUGE)
    control_in_type = op("case.note\x00", str(uuid.uuid4()), {"text": "x"})
    fine = create_op()
    for attempt in range(2):  # the same answer when the phone sends the batch again
        results = await push(client, mediator, nul_title, huge_version, control_in_type, fine)
        assert [(r["status"], r["code"]) for r in results[:3]] == [
            ("rejected", "text.control_characters"),
            ("rejected", "request.number_out_of_range"),
            ("rejected", "text.control_characters"),
        ], attempt
        assert results[0]["message"] == "文字中含有不允许的控制字符"
        assert results[3]["status"] == ("applied" if attempt == 0 else "duplicate")
    assert (await client.get(f"/api/cases/{nul_title['entity_id']}", headers=mediator)).status_code == 404


async def test_a_sync_edit_to_before_2000_is_rejected(client):
    mediator = await auth(client, "mediator1")
    created = create_op()
    edit = op("case.update", created["entity_id"], {"occurred_at": "1970-01-01T00:00:00Z"}, base_version=1)
    results = await push(client, mediator, created, edit)
    assert [(r["status"], r["code"]) for r in results] == [
        ("applied", "case.created"),
        ("rejected", "case.occurred_at_out_of_range"),
    ]


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (OverflowError("Python int too large to convert to SQLite INTEGER"), "request.number_out_of_range"),
        (
            asyncpg.exceptions.DataError("invalid input for query argument $1 (value out of int64 range)"),
            "request.number_out_of_range",
        ),
        (
            asyncpg.exceptions.CharacterNotInRepertoireError(
                'invalid byte sequence for encoding "UTF8": 0x00'
            ),
            "text.control_characters",
        ),
    ],
)
def test_input_a_database_driver_refuses_is_still_a_client_error(error, code, caplog):
    """The last line of defence, for a check the layers above missed: 400 and a warning, not a 500."""
    from types import SimpleNamespace

    from backend.core.http import internal_error_handler

    request = SimpleNamespace(method="POST", url=SimpleNamespace(path="/api/x\n"))
    with caplog.at_level(logging.WARNING):
        response = internal_error_handler(request, error)  # type: ignore[arg-type]
    assert response.status_code == 400
    assert response.content["code"] == code
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "\n" not in caplog.records[0].getMessage()


async def test_an_op_that_can_never_apply_is_rejected_when_its_batch_goes_one_by_one(client, monkeypatch):
    # When a batch's shared transaction fails as a whole, its ops go one by one: an op that can never
    # apply is still refused by the checks that run before any write, not stored or retried.
    mediator = await auth(client, "mediator1")
    huge_version = op("case.update", str(uuid.uuid4()), {"title": "新标题"}, base_version=HUGE)
    fine = create_op()
    real_run = sync_service._process_run
    calls = []

    async def failing_once(user, ops, replayed):
        calls.append(len(ops))
        if len(calls) == 1:
            raise ConnectionResetError("the database connection dropped at the commit")
        return await real_run(user, ops, replayed)

    monkeypatch.setattr(sync_service, "_process_run", failing_once)
    results = await push(client, mediator, huge_version, fine)
    assert [(r["status"], r["code"]) for r in results] == [
        ("rejected", "request.number_out_of_range"),
        ("applied", "case.created"),
    ]
