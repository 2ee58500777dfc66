"""The per-process cache of signed-in devices (people/session_cache.py): a request right after a
revocation, a sign-out, a wipe request, a deactivation or a change of role or password is answered
as the database says now, not as the cache remembered a moment ago."""

from __future__ import annotations

from backend import db
from backend.people import service, session_cache
from tests.factories import bearer, login, make_user


async def test_a_revoked_device_is_refused_on_its_very_next_request(client):
    admin = await login(client, "county")
    phone = await login(client, "mediator2", device_name="丢失的手机")
    other = await login(client, "mediator2", device_name="新手机")
    assert (await client.get("/api/me", headers=bearer(phone))).status_code == 200
    assert (await client.get("/api/me", headers=bearer(other))).status_code == 200
    assert session_cache.get(phone["user"]["id"], phone["device_id"]) is not None  # now remembered

    revoke = await client.post(f"/api/admin/devices/{phone['device_id']}/revoke", headers=bearer(admin))
    assert revoke.status_code == 204
    me = await client.get("/api/me", headers=bearer(phone))
    assert me.status_code == 401
    assert me.json() == {
        "code": "auth.device_revoked",
        "message": "此设备已被管理员停用，请重新登录",
        "message_en": "This device has been revoked",
    }
    assert (await client.get("/api/me", headers=bearer(other))).status_code == 200


async def test_a_signed_out_device_is_refused_at_once(client):
    phone = await login(client, "leader1")
    assert (await client.get("/api/categories", headers=bearer(phone))).status_code == 200
    assert (await client.post("/api/auth/logout", headers=bearer(phone))).status_code == 204
    me = await client.get("/api/me", headers=bearer(phone))
    assert me.status_code == 401 and me.json()["code"] == "auth.signed_out"


async def test_a_disabled_account_and_a_new_area_take_effect_on_the_next_request(client):
    admin = await login(client, "county")
    disabled = await make_user(client, admin)
    moved = await make_user(client, admin)
    disabled_phone = await login(client, disabled["username"], disabled["password"])
    moved_phone = await login(client, moved["username"], moved["password"])
    for phone in (disabled_phone, moved_phone):
        assert (await client.get("/api/me", headers=bearer(phone))).status_code == 200

    r = await client.post(f"/api/admin/users/{disabled['id']}/disable", headers=bearer(admin))
    assert r.status_code == 200
    after = await client.get("/api/me", headers=bearer(disabled_phone))
    assert after.status_code == 401 and after.json()["code"] == "auth.device_revoked"

    r = await client.patch(
        f"/api/admin/users/{moved['id']}", json={"scope_code": "530524101002"}, headers=bearer(admin)
    )
    assert r.status_code == 200
    after = await client.get("/api/me", headers=bearer(moved_phone))
    assert after.status_code == 401 and after.json()["code"] == "auth.device_revoked"


async def test_a_wipe_request_is_told_on_the_next_answer(client):
    admin = await login(client, "county")
    phone = await login(client, "mediator1")
    assert "fengqiao-wipe" not in (await client.get("/api/me", headers=bearer(phone))).headers
    r = await client.post(f"/api/admin/devices/{phone['device_id']}/wipe", headers=bearer(admin))
    assert r.status_code == 204
    assert (await client.get("/api/me", headers=bearer(phone))).headers["fengqiao-wipe"] == "requested"


async def test_a_new_password_opens_the_app_on_the_same_device_at_once(client):
    admin = await login(client, "county")
    user_id = (await login(client, "mediator1"))["user"]["id"]
    one_time = (
        await client.post(f"/api/admin/users/{user_id}/reset-password", headers=bearer(admin))
    ).json()["one_time_password"]
    phone = await login(client, "mediator1", one_time)
    blocked = await client.get("/api/cases", headers=bearer(phone))
    assert blocked.status_code == 403 and blocked.json()["code"] == "auth.password_change_required"
    changed = await client.post(
        "/api/me/password",
        json={"old_password": one_time, "new_password": "Guanmiao-2026!"},
        headers=bearer(phone),
    )
    assert changed.status_code == 204
    assert (await client.get("/api/cases", headers=bearer(phone))).status_code == 200


async def test_what_was_read_before_a_forget_is_not_kept(client):
    phone = await login(client, "mediator1")
    user = await service.load_current_user(phone["user"]["id"], phone["device_id"])
    session_cache.clear()
    read_at = session_cache.generation()
    service.forget_cached(device_id=phone["device_id"])  # a revocation while the row was being read
    session_cache.put(user, read_at)
    assert session_cache.get(user.id, user.device_id) is None


async def test_a_forget_inside_a_write_transaction_is_repeated_after_it(client):
    phone = await login(client, "mediator1")
    user = await service.load_current_user(phone["user"]["id"], phone["device_id"])
    async with db.write_transaction():
        service.forget_cached(user.id)
        # Another request read the old row meanwhile (the change is not committed yet) and kept it.
        session_cache.put(user, session_cache.generation())
        assert session_cache.get(user.id, user.device_id) is not None
    assert session_cache.get(user.id, user.device_id) is None
