"""Small helpers to make test data and sign in; one function per need."""

from __future__ import annotations

import uuid

from backend.demo.loader import DEMO_PASSWORD


async def login(client, username: str, password: str = DEMO_PASSWORD, device_name: str | None = None) -> dict:
    response = await client.post(
        "/api/auth/login",
        json={
            "username": username,
            "password": password,
            "device_name": device_name or f"测试手机-{uuid.uuid4().hex[:6]}",
        },
    )
    assert response.status_code == 200, response.text
    return response.json()


def bearer(tokens: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def make_user(client, admin_tokens: dict, **fields) -> dict:
    body = {
        "username": f"u{uuid.uuid4().hex[:10]}",
        "display_name": "测试用户",
        "password": "correct-horse-9",
        "role": "grid_worker",
        "scope_code": "530524101001",
    }
    body.update(fields)
    response = await client.post("/api/admin/users", json=body, headers=bearer(admin_tokens))
    assert response.status_code == 201, response.text
    return {**response.json(), "password": body["password"]}


# --- one sign-in per account per test, as one phone would -------------------------------------------

_sessions: dict[str, dict] = {}


def forget_sessions() -> None:
    """Called as each test gets its own database (tests/conftest.py): its devices are not the last's."""
    _sessions.clear()


async def tokens_for(client, username: str) -> dict:
    """The test's signed-in session for an account (made on first use)."""
    if username not in _sessions:
        _sessions[username] = await login(client, username, device_name=f"测试-{username}")
    return _sessions[username]


async def auth(client, username: str) -> dict[str, str]:
    return bearer(await tokens_for(client, username))


# Points inside the demo grids: the township seats fall in each township's seat village.
TIANYUAN_POINT = (99.614962, 24.825632)  # 田园镇, 关庙社区
KASI_POINT = (99.392591, 24.790793)  # 卡斯镇, 卡斯社区


def case_body(point: tuple[float, float] = TIANYUAN_POINT, **overrides) -> dict:
    body = {
        "id": str(uuid.uuid4()),
        "category": "neighbour",
        "title": "邻居修房占用通道",
        "description": "张家翻修房屋，建材堆放在共用通道上，李家出入不便，双方发生口角。",
        "level": "small",
        "location": {"lon": point[0], "lat": point[1], "accuracy_m": 12.0, "crs": "wgs84", "source": "gps"},
        "occurred_at": "2026-11-20T09:30:00+08:00",
        "parties": [
            {
                "name": "张建华",
                "phone": "13812345678",
                "id_number": "11010519491231002X",
                "role": "applicant",
            },
            {"name": "李秀英", "phone": "0875-6123456", "role": "respondent"},
        ],
        "photos": [],
    }
    body.update(overrides)
    return body


async def make_case(client, username: str = "mediator1", **overrides) -> dict:
    response = await client.post(
        "/api/cases", json=case_body(**overrides), headers=await auth(client, username)
    )
    assert response.status_code == 201, response.text
    return response.json()


async def act(client, username: str, case_id: str, action: str, **body):
    return await client.post(
        f"/api/cases/{case_id}/actions", json={"action": action, **body}, headers=await auth(client, username)
    )
