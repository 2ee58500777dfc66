"""Sign-in, tokens and devices, as a phone that is offline for days experiences them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from backend.demo.loader import DEMO_ACCOUNTS
from tests.factories import bearer, login, make_user


@pytest.mark.parametrize("account", DEMO_ACCOUNTS, ids=lambda a: a.username)
async def test_each_demo_account_signs_in_and_sees_its_role_and_area(client, account):
    tokens = await login(client, account.username)
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 15 * 60
    assert tokens["refresh_expires_in"] > 29 * 24 * 3600  # a phone may stay offline for 30 days
    me = (await client.get("/api/me", headers=bearer(tokens))).json()
    assert me["username"] == account.username
    assert me["display_name"] == account.display_name
    assert me["role"] == account.role
    assert me["scope"]["code"] == account.scope_code
    assert me["scope"]["name"]  # a real division name, not just a code
    assert (me["team"] is not None) == (account.team_village is not None)


async def test_me_names_the_area_in_chinese(client):
    me = (await client.get("/api/me", headers=bearer(await login(client, "tianyuan")))).json()
    assert me["scope"] == {"level": "township", "code": "530524101000", "name": "田园镇"}
    assert me["role_label"] == "乡镇综治中心"
    mediator = (await client.get("/api/me", headers=bearer(await login(client, "mediator1")))).json()
    assert mediator["team"]["name"] == "关庙社区红色调解队"


async def test_wrong_password_is_401_with_a_stable_code(client):
    response = await client.post(
        "/api/auth/login", json={"username": "mediator1", "password": "wrong", "device_name": "x"}
    )
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "auth.invalid_credentials"
    assert body["message"] == "用户名或密码错误"
    assert "message_en" in body


async def test_unknown_user_looks_like_a_wrong_password(client):
    response = await client.post(
        "/api/auth/login", json={"username": "nobody", "password": "x", "device_name": "x"}
    )
    assert response.status_code == 401 and response.json()["code"] == "auth.invalid_credentials"


async def test_sixth_failure_within_five_minutes_is_throttled(client):
    user = await make_user(client, await login(client, "county"))
    for _ in range(5):
        r = await client.post(
            "/api/auth/login", json={"username": user["username"], "password": "nope", "device_name": "x"}
        )
        assert r.status_code == 401
    sixth = await client.post(
        "/api/auth/login",
        json={"username": user["username"], "password": user["password"], "device_name": "x"},
    )
    assert sixth.status_code == 429
    assert sixth.json()["code"] == "auth.too_many_attempts"
    assert 1 <= int(sixth.headers["Retry-After"]) <= 300


async def test_expired_access_token_is_401_token_expired(client, app):
    tokens = await login(client, "mediator1")
    secret = app.state.jwt_secret
    claims = jwt.decode(tokens["access_token"], secret, algorithms=["HS256"])
    past = datetime.now(UTC) - timedelta(minutes=1)
    expired = jwt.encode(
        {**claims, "exp": int(past.timestamp()), "iat": int((past - timedelta(minutes=15)).timestamp())},
        secret,
    )
    response = await client.get("/api/me", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert response.json()["code"] == "auth.token_expired"


async def test_forged_token_is_refused(client, app):
    tokens = await login(client, "mediator1")
    claims = jwt.decode(tokens["access_token"], app.state.jwt_secret, algorithms=["HS256"])
    forged = jwt.encode({**claims, "sub": "1"}, "not-the-server-secret-but-long-enough-for-hs256")
    response = await client.get("/api/me", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401 and response.json()["code"] == "auth.invalid_token"


async def test_missing_token_is_401(client):
    response = await client.get("/api/me")
    assert response.status_code == 401 and response.json()["code"] == "auth.required"


async def test_refresh_rotates_the_token_and_keeps_the_user(client):
    first = await login(client, "mediator1")
    second = (await client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["device_id"] == first["device_id"]
    assert second["user"]["username"] == "mediator1"
    assert (await client.get("/api/me", headers=bearer(second))).status_code == 200


async def test_a_lost_refresh_answer_can_be_asked_again(client):
    """On 2G the answer to a refresh may be lost after the server rotated: the same request again
    within the grace window gets the same new token, and the device stays signed in."""
    first = await login(client, "mediator1")
    a = await client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    b = await client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert a.status_code == b.status_code == 200
    assert a.json()["refresh_token"] == b.json()["refresh_token"]
    c = await client.post("/api/auth/refresh", json={"refresh_token": b.json()["refresh_token"]})
    assert c.status_code == 200


async def test_reused_rotated_refresh_token_revokes_the_device(client):
    first = await login(client, "mediator1")
    second = (await client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})).json()
    third = (await client.post("/api/auth/refresh", json={"refresh_token": second["refresh_token"]})).json()
    # The first token was rotated twice over: whoever holds it is not this phone.
    reuse = await client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401 and reuse.json()["code"] == "auth.refresh_reused"
    # The whole device is revoked, including the newest tokens.
    after = await client.post("/api/auth/refresh", json={"refresh_token": third["refresh_token"]})
    assert after.status_code == 401 and after.json()["code"] == "auth.device_revoked"
    me = await client.get("/api/me", headers=bearer(third))
    assert me.status_code == 401 and me.json()["code"] == "auth.device_revoked"


async def test_revoked_device_cannot_refresh_or_call_the_api(client):
    admin = await login(client, "county")
    phone = await login(client, "mediator2", device_name="丢失的手机")
    other_phone = await login(client, "mediator2", device_name="新手机")
    devices = (
        await client.get("/api/admin/devices", params={"user_id": phone["user"]["id"]}, headers=bearer(admin))
    ).json()
    assert sorted(d["name"] for d in devices) == sorted(["丢失的手机", "新手机"])
    revoke = await client.post(f"/api/admin/devices/{phone['device_id']}/revoke", headers=bearer(admin))
    assert revoke.status_code == 204
    refresh = await client.post("/api/auth/refresh", json={"refresh_token": phone["refresh_token"]})
    assert refresh.status_code == 401
    assert refresh.json() == {
        "code": "auth.device_revoked",
        "message": "此设备已被管理员停用，请重新登录",
        "message_en": "This device has been revoked",
    }
    me = await client.get("/api/me", headers=bearer(phone))
    assert me.status_code == 401 and me.json()["code"] == "auth.device_revoked"
    # The user's other phone keeps working.
    assert (await client.get("/api/me", headers=bearer(other_phone))).status_code == 200


async def test_logout_ends_the_device_session(client):
    tokens = await login(client, "leader1")
    assert (await client.post("/api/auth/logout", headers=bearer(tokens))).status_code == 204
    refresh = await client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 401 and refresh.json()["code"] == "auth.signed_out"


async def test_an_empty_refresh_token_is_a_malformed_request(client):
    response = await client.post("/api/auth/refresh", json={"refresh_token": ""})
    assert response.status_code == 400
    assert response.json()["code"] == "request.invalid"


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "not-a-uuid.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "00000000-0000-0000-0000-000000000000.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    ],
)
async def test_bad_refresh_tokens_are_401_refresh_invalid(client, token):
    response = await client.post("/api/auth/refresh", json={"refresh_token": token})
    assert response.status_code == 401
    assert response.json()["code"] == "auth.refresh_invalid"


async def test_malformed_json_is_400_request_invalid(client):
    response = await client.post(
        "/api/auth/login",
        content=b'{"username": "mediator1", "pass',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "request.invalid" and body["message"]
    assert "Traceback" not in response.text


async def test_missing_field_is_400_and_names_the_field(client):
    response = await client.post("/api/auth/login", json={"username": "mediator1"})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "request.invalid"
    assert any("password" in (e.get("message") or "") + (e.get("key") or "") for e in body["errors"])
