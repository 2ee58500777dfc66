"""Small helpers to make test data and sign in; one function per need."""

from __future__ import annotations

import uuid

from backend.demo import DEMO_PASSWORD


async def login(client, username: str, password: str = DEMO_PASSWORD, device_name: str | None = None) -> dict:
    response = await client.post(
        "/api/auth/login",
        json={"username": username, "password": password, "device_name": device_name or f"测试手机-{uuid.uuid4().hex[:6]}"},
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
