"""Accounts with a lifecycle: the password policy, changing and resetting passwords, disabling and
enabling, scope changes that sign devices out, the device wipe, and who may manage whom."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.factories import bearer, login, make_user


async def _audit_actions(client, admin, user_id: int | None = None) -> list[str]:
    params = {"user": user_id} if user_id else {}
    r = await client.get("/api/audit", params=params, headers=bearer(admin))
    return [e["action"] for e in r.json()]


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("1", "密码至少 8 位"),
        ("a123456", "密码至少 8 位"),
        ("12345678", "这是常见密码，很容易被猜到，请换一个"),
        ("88888888", "这是常见密码，很容易被猜到，请换一个"),
        ("woaini1314", "这是常见密码，很容易被猜到，请换一个"),
        ("19820315", "密码不能是日期（如生日）"),
        ("zhangsan01", "密码不能与用户名相同"),
    ],
)
async def test_weak_passwords_are_refused_with_the_reason(client, password, reason):
    admin = await login(client, "county")
    r = await client.post(
        "/api/admin/users",
        json={
            "username": "zhangsan01",
            "display_name": "张三",
            "password": password,
            "role": "grid_worker",
            "scope_code": "530524101001",
        },
        headers=bearer(admin),
    )
    assert r.status_code == 400
    assert r.json()["code"] == "auth.weak_password"
    assert r.json()["message"] == f"密码太弱：{reason}"


async def test_changing_ones_password_signs_out_the_other_devices_only(client):
    admin = await login(client, "county")
    user = await make_user(client, admin)
    phone = await login(client, user["username"], user["password"], device_name="手机")
    tablet = await login(client, user["username"], user["password"], device_name="平板")

    wrong = await client.post(
        "/api/me/password",
        json={"old_password": "not-my-password", "new_password": "Brand-new-pass-7"},
        headers=bearer(phone),
    )
    assert wrong.status_code == 400
    assert wrong.json()["code"] == "auth.wrong_password"
    r = await client.post(
        "/api/me/password",
        json={"old_password": user["password"], "new_password": "Brand-new-pass-7"},
        headers=bearer(phone),
    )
    assert r.status_code == 204
    assert (await client.get("/api/me", headers=bearer(phone))).status_code == 200
    signed_out = await client.get("/api/me", headers=bearer(tablet))
    assert signed_out.status_code == 401
    assert signed_out.json()["code"] == "auth.device_revoked"
    old = await client.post(
        "/api/auth/login",
        json={"username": user["username"], "password": user["password"], "device_name": "x"},
    )
    assert old.status_code == 401
    assert "user.change_password" in await _audit_actions(client, admin, user["id"])


async def test_a_password_change_does_not_hold_up_the_other_requests(client, monkeypatch):
    """A standard Argon2 hash takes ~0.3 s (0.5 s here): it runs off the event loop, so everything
    else the process serves goes on meanwhile."""
    from backend.core import auth

    hasher, dummy = auth._hasher()
    hashing: list[float] = []  # when the new password's hash started and ended

    class SlowHasher:
        def hash(self, password: str) -> str:
            hashing.append(time.monotonic())
            time.sleep(0.5)  # blocks whichever thread runs it
            hashing.append(time.monotonic())
            return hasher.hash(password)

        def __getattr__(self, name: str):
            return getattr(hasher, name)

    admin = await login(client, "county")
    user = await make_user(client, admin)
    phone = await login(client, user["username"], user["password"], device_name="手机")
    monkeypatch.setattr(auth, "_hasher", lambda: (SlowHasher(), dummy))
    answered: list[float] = []

    async def someone_else() -> None:
        while True:
            assert (await client.get("/api/health")).status_code == 200
            answered.append(time.monotonic())

    others = asyncio.create_task(someone_else())
    try:
        r = await client.post(
            "/api/me/password",
            json={"old_password": user["password"], "new_password": "Brand-new-pass-7"},
            headers=bearer(phone),
        )
    finally:
        others.cancel()
    assert r.status_code == 204
    started, ended = hashing
    # On the event loop the hash would have answered nobody while it ran.
    assert len([t for t in answered if started < t < ended]) >= 3, (len(answered), hashing)


async def test_a_reset_password_is_one_time_and_must_be_changed(client):
    admin = await login(client, "county")
    mediator = await login(client, "mediator1")
    r = await client.post(f"/api/admin/users/{mediator['user']['id']}/reset-password", headers=bearer(admin))
    assert r.status_code == 200
    one_time = r.json()["one_time_password"]
    assert len(one_time) == 14 and one_time.count("-") == 2
    # The phone signed in before the reset is signed out.
    assert (await client.get("/api/me", headers=bearer(mediator))).json()["code"] == "auth.device_revoked"

    tokens = await login(client, "mediator1", one_time)
    assert tokens["must_change_password"] is True
    for path in ("/api/cases", "/api/visits", "/api/inbox"):
        blocked = await client.get(path, headers=bearer(tokens))
        assert blocked.status_code == 403, path
        assert blocked.json()["code"] == "auth.password_change_required"
    assert (await client.get("/api/me", headers=bearer(tokens))).status_code == 200
    changed = await client.post(
        "/api/me/password",
        json={"old_password": one_time, "new_password": "Guanmiao-2026!"},
        headers=bearer(tokens),
    )
    assert changed.status_code == 204
    assert (await client.get("/api/cases", headers=bearer(tokens))).status_code == 200
    again = await login(client, "mediator1", "Guanmiao-2026!")
    assert again["must_change_password"] is False
    assert "user.reset_password" in await _audit_actions(client, admin)


async def test_a_disabled_account_is_signed_out_at_once_and_cannot_sign_in(client):
    admin = await login(client, "county")
    phone = await login(client, "mediator2")
    user_id = phone["user"]["id"]
    r = await client.post(f"/api/admin/users/{user_id}/disable", headers=bearer(admin))
    assert r.status_code == 200
    assert r.json()["active"] is False
    assert r.json()["devices"] == 0

    after = await client.get("/api/cases", headers=bearer(phone))
    assert after.status_code == 401
    assert after.json()["code"] == "auth.device_revoked"
    refresh = await client.post("/api/auth/refresh", json={"refresh_token": phone["refresh_token"]})
    assert refresh.status_code == 401
    denied = await client.post(
        "/api/auth/login", json={"username": "mediator2", "password": "demo-2026", "device_name": "手机"}
    )
    assert denied.status_code == 403
    assert denied.json() == {
        "code": "auth.account_disabled",
        "message": "账号已被停用，请联系管理员",
        "message_en": "The account is disabled",
    }
    # A wrong password on a disabled account says only that the password is wrong.
    guess = await client.post(
        "/api/auth/login", json={"username": "mediator2", "password": "wrong-guess-1", "device_name": "手机"}
    )
    assert guess.json()["code"] == "auth.invalid_credentials"

    assert (await client.post(f"/api/admin/users/{user_id}/enable", headers=bearer(admin))).json()[
        "active"
    ] is True
    back = await client.post(
        "/api/auth/login", json={"username": "mediator2", "password": "demo-2026", "device_name": "手机"}
    )
    assert back.status_code == 200
    actions = await _audit_actions(client, admin)
    assert actions[:2] == ["user.enable", "user.disable"]


async def test_changing_role_area_or_team_signs_the_devices_out(client):
    admin = await login(client, "county")
    user = await make_user(client, admin, scope_code="530524101001")
    phone = await login(client, user["username"], user["password"])
    renamed = await client.patch(
        f"/api/admin/users/{user['id']}", json={"display_name": "  罗 光荣 "}, headers=bearer(admin)
    )
    assert renamed.json()["display_name"] == "罗 光荣"
    assert (await client.get("/api/me", headers=bearer(phone))).status_code == 200  # a name is not a scope

    moved = await client.patch(
        f"/api/admin/users/{user['id']}", json={"scope_code": "530524101002"}, headers=bearer(admin)
    )
    assert moved.status_code == 200
    assert moved.json()["scope"]["code"] == "530524101002"
    assert (await client.get("/api/me", headers=bearer(phone))).json()["code"] == "auth.device_revoked"


async def test_account_fields_are_checked_by_the_shared_rules(client):
    admin = await login(client, "county")
    user = await make_user(client, admin)
    cases = [
        ({"display_name": "   "}, "people.invalid_display_name"),
        ({"display_name": "王\x00明"}, "text.control_characters"),  # refused before decoding (core.inbound)
        ({"phone": "1381234"}, "people.invalid_phone"),
        ({"team_id": 999999}, "people.unknown_team"),
        ({"scope_code": "530524199999"}, "people.invalid_area"),
    ]
    for body, code in cases:
        r = await client.patch(f"/api/admin/users/{user['id']}", json=body, headers=bearer(admin))
        assert r.status_code == 400, body
        assert r.json()["code"] == code, body
    for username in ("ab", "UPPER.but.ok", "a" * 33, "名字"):
        r = await client.post(
            "/api/admin/users",
            json={
                "username": username,
                "display_name": "某人",
                "password": "long-enough-1",
                "role": "grid_worker",
                "scope_code": "530524101001",
            },
            headers=bearer(admin),
        )
        if username == "UPPER.but.ok":
            assert r.status_code == 201 and r.json()["username"] == "upper.but.ok"
        else:
            assert r.status_code == 400 and r.json()["code"] == "people.invalid_username", username


async def test_a_new_account_without_a_password_gets_a_one_time_password(client):
    admin = await login(client, "county")
    r = await client.post(
        "/api/admin/users",
        json={
            "username": "lhz01",
            "display_name": "李华章",
            "role": "grid_worker",
            "scope_code": "530524101003",
            "phone": "139 8765 4321",
        },
        headers=bearer(admin),
    )
    assert r.status_code == 201
    created = r.json()
    assert created["must_change_password"] is True
    assert created["phone_masked"] == "139****4321"
    assert created["phone"] is None
    tokens = await login(client, "lhz01", created["one_time_password"])
    assert tokens["must_change_password"] is True


async def test_users_are_searched_by_name_username_or_phone_with_phones_masked(client):
    admin = await login(client, "county")
    await make_user(client, admin, username="lgr2026", display_name="罗光荣", phone="13712345678")
    for q in ("罗光", "lgr20", "1371234"):
        r = await client.get("/api/admin/users", params={"q": q}, headers=bearer(admin))
        items = r.json()["items"]
        assert [u["username"] for u in items] == ["lgr2026"], q
        assert items[0]["phone_masked"] == "137****5678"
        assert items[0]["phone"] is None
    one = await client.get(f"/api/admin/users/{items[0]['id']}", headers=bearer(admin))
    assert one.json()["phone"] == "13712345678"
    assert (await _audit_actions(client, admin))[0] == "user.read"


async def test_the_user_list_pages_and_filters(client):
    admin = await login(client, "county")
    page = await client.get(
        "/api/admin/users", params={"township": "530524101000", "limit": 2}, headers=bearer(admin)
    )
    body = page.json()
    assert [u["username"] for u in body["items"]] == ["tianyuan", "mediator1"]
    rest = await client.get(
        "/api/admin/users",
        params={"township": "530524101000", "limit": 2, "cursor": body["next_cursor"]},
        headers=bearer(admin),
    )
    # (tianyuan_leader: 田园镇's 包案领导 of the demo.)
    assert [u["username"] for u in rest.json()["items"]] == ["leader1", "tianyuan_leader"]
    assert rest.json()["next_cursor"] is None
    leaders = await client.get("/api/admin/users", params={"role": "team_leader"}, headers=bearer(admin))
    assert [u["username"] for u in leaders.json()["items"]] == ["leader1"]


async def test_a_township_supervisor_sees_and_changes_only_their_townships_field_accounts(client):
    tianyuan = await login(client, "tianyuan")
    listed = await client.get("/api/admin/users", headers=bearer(tianyuan))
    assert [u["username"] for u in listed.json()["items"]] == ["mediator1", "leader1"]
    mediator2 = (await login(client, "mediator2"))["user"]["id"]
    kasi = (await login(client, "kasi"))["user"]["id"]
    for user_id in (mediator2, kasi):
        for method, path in (
            ("GET", f"/api/admin/users/{user_id}"),
            ("POST", f"/api/admin/users/{user_id}/disable"),
            ("POST", f"/api/admin/users/{user_id}/reset-password"),
        ):
            r = await client.request(method, path, headers=bearer(tianyuan))
            assert r.status_code == 404, (method, path)
            assert r.json()["code"] == "people.user_not_found"
    mediator1 = (await login(client, "mediator1"))["user"]["id"]
    # Inside the township, but not into another township.
    r = await client.patch(
        f"/api/admin/users/{mediator1}", json={"scope_code": "530524104201"}, headers=bearer(tianyuan)
    )
    assert r.status_code == 403
    assert r.json()["code"] == "people.role_not_allowed"
    r = await client.post(f"/api/admin/users/{mediator1}/reset-password", headers=bearer(tianyuan))
    assert r.status_code == 200


async def test_another_townships_filter_is_not_found_for_a_township_supervisor(client):
    tianyuan = await login(client, "tianyuan")
    for path in ("/api/admin/users", "/api/admin/teams"):
        for township in ("530524104000", "530524104201", "999999999999"):
            r = await client.get(path, params={"township": township}, headers=bearer(tianyuan))
            assert r.status_code == 404, (path, township)
            assert r.json()["code"] == "scope.not_found" and "乡镇" in r.json()["message"]
            assert "卡斯" not in r.text
        own = await client.get(path, params={"township": "530524101000"}, headers=bearer(tianyuan))
        assert own.status_code == 200 and own.json()
    # The county office may filter by any township.
    county = await login(client, "county")
    kasi = await client.get("/api/admin/users", params={"township": "530524104000"}, headers=bearer(county))
    assert [u["username"] for u in kasi.json()["items"]] == ["kasi", "mediator2"]


async def test_an_existing_member_is_made_the_teams_leader(client):
    tianyuan = await login(client, "tianyuan")
    (team,) = (await client.get("/api/admin/teams", params={"q": "关庙"}, headers=bearer(tianyuan))).json()
    old = next(m for m in team["members"] if m["is_leader"])
    other = next(m for m in team["members"] if not m["is_leader"])
    url = f"/api/admin/teams/{team['id']}/members/{other['id']}"
    r = await client.patch(url, json={"is_leader": True}, headers=bearer(tianyuan))
    assert r.status_code == 200, r.text
    # One leader per team: the previous one is an ordinary member now.
    assert [m["id"] for m in r.json()["members"] if m["is_leader"]] == [other["id"]]
    assert next(m for m in r.json()["members"] if m["id"] == old["id"])["is_leader"] is False
    r = await client.patch(url, json={"is_leader": False}, headers=bearer(tianyuan))
    assert [m for m in r.json()["members"] if m["is_leader"]] == []
    audit = await client.get("/api/audit", headers=bearer(await login(client, "county")))
    assert "team.update_member" in [e["action"] for e in audit.json()]
    # Another township's team, a member of another team and a made-up one are not found.
    kasi = await login(client, "kasi")
    r = await client.patch(url, json={"is_leader": True}, headers=bearer(kasi))
    assert r.status_code == 404 and r.json()["code"] == "people.team_not_found"
    (kasi_team, *_) = (await client.get("/api/admin/teams", headers=bearer(kasi))).json()
    foreign = kasi_team["members"][0]["id"]
    for member_id in (foreign, 987654):
        r = await client.patch(
            f"/api/admin/teams/{team['id']}/members/{member_id}",
            json={"is_leader": True},
            headers=bearer(tianyuan),
        )
        assert r.status_code == 404 and r.json()["code"] == "people.member_not_found"
    # A field the endpoint does not change is refused, not ignored.
    r = await client.patch(url, json={"name": "改名"}, headers=bearer(tianyuan))
    assert r.status_code == 400 and r.json()["code"] == "request.invalid"


async def test_a_team_member_must_be_an_account_one_manages(client):
    admin = await login(client, "county")
    r = await client.post(
        "/api/admin/teams",
        json={"name": "测试调解队", "members": [{"name": "某人", "kind": "老党员", "user_id": 987654}]},
        headers=bearer(admin),
    )
    assert r.status_code == 400
    assert r.json()["code"] == "people.unknown_member"
    tianyuan = await login(client, "tianyuan")
    mediator2 = (await login(client, "mediator2"))["user"]["id"]
    r = await client.post(
        "/api/admin/teams",
        json={
            "name": "田园镇新调解队",
            "township_code": "530524101000",
            "members": [{"name": "赵丽芬", "kind": "老党员", "user_id": mediator2}],
        },
        headers=bearer(tianyuan),
    )
    assert r.status_code == 400
    assert r.json()["code"] == "people.unknown_member"


async def test_teams_are_renamed_given_villages_members_and_deactivated(client):
    admin = await login(client, "county")
    teams = (await client.get("/api/admin/teams", params={"q": "关庙"}, headers=bearer(admin))).json()
    assert len(teams) == 1
    team = teams[0]
    r = await client.patch(
        f"/api/admin/teams/{team['id']}",
        json={"name": "关庙社区联合红色调解队", "village_codes": ["530524101001", "530524101002"]},
        headers=bearer(admin),
    )
    assert r.status_code == 200
    assert r.json()["name"] == "关庙社区联合红色调解队"
    assert [v["code"] for v in r.json()["villages"]] == ["530524101001", "530524101002"]
    added = await client.post(
        f"/api/admin/teams/{team['id']}/members",
        json={"name": "施玉兰", "kind": "律师"},
        headers=bearer(admin),
    )
    assert added.status_code == 201
    member = next(m for m in added.json()["members"] if m["name"] == "施玉兰")
    removed = await client.delete(
        f"/api/admin/teams/{team['id']}/members/{member['id']}", headers=bearer(admin)
    )
    assert removed.status_code == 204
    off = await client.patch(f"/api/admin/teams/{team['id']}", json={"active": False}, headers=bearer(admin))
    assert off.json()["active"] is False
    # A deactivated team is no longer offered for assignment.
    offered = await client.get("/api/teams", params={"township": "530524101000"}, headers=bearer(admin))
    assert team["id"] not in [t["id"] for t in offered.json()]
    # Another township's village is refused.
    wrong = await client.patch(
        f"/api/admin/teams/{team['id']}", json={"village_codes": ["530524104201"]}, headers=bearer(admin)
    )
    assert wrong.status_code == 400
    assert wrong.json()["code"] == "people.invalid_area"


async def test_a_wiped_device_is_told_on_every_answer_then_signed_out_when_it_confirms(client):
    admin = await login(client, "county")
    phone = await login(client, "mediator1", device_name="红米手机")
    other = await login(client, "mediator1", device_name="平板")
    before = await client.get("/api/me", headers=bearer(phone))
    assert "fengqiao-wipe" not in before.headers
    r = await client.post(f"/api/admin/devices/{phone['device_id']}/wipe", headers=bearer(admin))
    assert r.status_code == 204
    told = await client.get("/api/cases", headers=bearer(phone))
    assert told.status_code == 200  # it may still send its outbox
    assert told.headers["fengqiao-wipe"] == "requested"
    assert "fengqiao-wipe" not in (await client.get("/api/me", headers=bearer(other))).headers
    done = await client.post("/api/me/wiped", headers=bearer(phone))
    assert done.status_code == 204
    assert (await client.get("/api/me", headers=bearer(phone))).json()["code"] == "auth.device_revoked"
    devices = await client.get(
        "/api/admin/devices", params={"user_id": phone["user"]["id"]}, headers=bearer(admin)
    )
    wiped = next(d for d in devices.json() if d["id"] == phone["device_id"])
    assert wiped["name"] == "红米手机"
    assert wiped["wipe_requested_at"] is not None and wiped["wiped_at"] is not None
    assert wiped["revoked_reason"] == "wiped"
    # A revoked device will not call again: it cannot be told to wipe.
    again = await client.post(f"/api/admin/devices/{phone['device_id']}/wipe", headers=bearer(admin))
    assert again.status_code == 409
    assert again.json()["code"] == "people.device_revoked"


async def test_devices_of_another_township_are_not_found(client):
    tianyuan = await login(client, "tianyuan")
    phone = await login(client, "mediator2")
    listed = await client.get("/api/admin/devices", headers=bearer(tianyuan))
    assert phone["device_id"] not in [d["id"] for d in listed.json()]
    for action in ("revoke", "wipe"):
        r = await client.post(f"/api/admin/devices/{phone['device_id']}/{action}", headers=bearer(tianyuan))
        assert r.status_code == 404
        assert r.json()["code"] == "people.device_not_found"


async def test_admin_actions_are_in_the_audit_log_and_export_as_xlsx(client):
    import io

    from openpyxl import load_workbook

    admin = await login(client, "county")
    user = await make_user(client, admin)
    await client.post(f"/api/admin/users/{user['id']}/disable", headers=bearer(admin))
    mine = await client.get("/api/audit", params={"user": admin["user"]["id"]}, headers=bearer(admin))
    assert [e["action"] for e in mine.json()][:2] == ["user.disable", "user.create"]
    assert mine.json()[0]["detail"] == {"target_user": user["id"]}
    future = await client.get("/api/audit", params={"since": "2099-01-01T00:00:00Z"}, headers=bearer(admin))
    assert future.json() == []
    r = await client.get("/api/audit/export", params={"user": admin["user"]["id"]}, headers=bearer(admin))
    assert r.status_code == 200
    assert "filename*=UTF-8''%E5%AE%A1%E8%AE%A1%E6%97%A5%E5%BF%97.xlsx" in r.headers["content-disposition"]
    rows = list(load_workbook(io.BytesIO(r.content))["审计日志"].iter_rows(values_only=True))
    assert rows[0] == ("时间", "账号", "操作", "案件", "设备", "地址", "详情")
    assert [row[2] for row in rows[1:3]] == ["user.disable", "user.create"]
    assert {row[1] for row in rows[1:]} == {"county"}
    tianyuan = await login(client, "tianyuan")
    assert (await client.get("/api/audit/export", headers=bearer(tianyuan))).status_code == 403
