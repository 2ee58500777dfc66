"""Web Push against a local push service that decrypts every message and checks its VAPID signature."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from datetime import datetime, timedelta

from backend.core import clock
from backend.notify import push
from backend.notify.service import topic_for
from backend.notify.tables import PushDelivery, PushSubscription
from backend.visits import jobs
from tests.factories import auth, bearer, login, tokens_for
from tests.notify.support import b64url, close_case_at, inbox_items, push_settings, subscribe_device

SHANGHAI = clock.LOCAL_TZ


async def work(settings, at: datetime) -> push.DeliveryStats:
    """One worker's turn at `at`: the reminder job, then the push deliveries."""
    with clock.frozen(at):
        await jobs.remind(settings)
        return await push.deliver_due(settings)


async def deliver_at(settings, at: datetime) -> push.DeliveryStats:
    with clock.frozen(at):
        return await push.deliver_due(settings)


def pushes_for(service, device, visit_id: str) -> list:
    """What the device was sent: in these tests, only the one visit's reminders."""
    pushes = service.for_device(device)
    assert [p.payload["url"] for p in pushes] == [f"/visits/{visit_id}"] * len(pushes)
    return pushes


async def reminder_in_inbox(client, visit_id: str) -> dict:
    """The one item of mediator1's inbox: the visit's reminder."""
    [item] = await inbox_items(client, "mediator1")
    assert (item["kind"], item["visit_id"]) == ("visit_due", visit_id)
    return item


async def due_visit(client, closed_on: datetime) -> tuple[dict, str, datetime]:
    case = await close_case_at(client, closed_on)
    visit = case["visits"][0]
    due = datetime.fromisoformat(visit["due_date"] + "T08:30:00+08:00")
    return case, visit["id"], due


async def test_push_key_is_a_p256_public_key(client):
    headers = await auth(client, "mediator1")
    first = (await client.get("/api/push/key", headers=headers)).json()["public_key"]
    raw = base64.urlsafe_b64decode(first + "=" * (-len(first) % 4))
    assert len(raw) == 65 and raw[0] == 4
    assert (await client.get("/api/push/key", headers=headers)).json()["public_key"] == first


async def test_subscriptions_only_to_known_push_services_with_valid_keys(client, push_service):
    tokens = await login(client, "mediator1")
    headers = bearer(tokens)
    good_keys = push_service.new_device().subscription()["keys"]
    for endpoint in (
        "https://evil.example.com/push/1",
        "http://fcm.googleapis.com/fcm/send/1",  # push services only over https
        "https://fcm.googleapis.com.evil.example/1",
        "https://user:pw@fcm.googleapis.com/fcm/send/1",
        "https://fcm.googleapis.com:8443/fcm/send/1",
        "ftp://fcm.googleapis.com/1",
        "https://169.254.169.254/latest/meta-data",
        "http://localhost:8000/api/admin/users",
        "https://push.apple.com.attacker.net/1",
        "not a url",
    ):
        refused = await client.post(
            "/api/push/subscriptions", json={"endpoint": endpoint, "keys": good_keys}, headers=headers
        )
        assert refused.status_code == 422, endpoint
        assert refused.json()["code"] == "push.endpoint_not_allowed", endpoint

    def keys(**kw):
        return {**good_keys, **kw}

    for bad in (
        keys(p256dh=b64url(b"\x04" + b"\x01" * 63)),  # 64 bytes
        keys(p256dh=b64url(b"\x04" + b"\x01" * 64)),  # 65 bytes, not on the curve
        keys(p256dh=good_keys["p256dh"].replace("-", "+").replace("_", "/") + "+/"),  # not base64url
        keys(auth=b64url(b"\x00" * 15)),
    ):
        refused = await client.post(
            "/api/push/subscriptions",
            json={"endpoint": "https://fcm.googleapis.com/fcm/send/abc", "keys": bad},
            headers=headers,
        )
        assert refused.status_code == 422 and refused.json()["code"] == "push.invalid_subscription", bad

    for endpoint in (
        "https://fcm.googleapis.com/fcm/send/abc:APA91b",
        "https://updates.push.services.mozilla.com/wpush/v2/gAAAAA",
        "https://web.push.apple.com/QGVhZ2xl",
        "https://wns2-par02p.notify.windows.com/w/?token=BQYAAAD",
    ):
        body = {"endpoint": endpoint, "keys": good_keys, "expirationTime": None}
        created = await client.post("/api/push/subscriptions", json=body, headers=headers)
        assert created.status_code == 201, (endpoint, created.text)
        # The same browser subscribing again is the same subscription.
        assert (await client.post("/api/push/subscriptions", json=body, headers=headers)).status_code == 200
    # One subscription per device: the last one replaced the others.
    listed = (await client.get("/api/push/subscriptions", headers=headers)).json()
    assert [s["endpoint_host"] for s in listed] == ["wns2-par02p.notify.windows.com"]
    gone = await client.request(
        "DELETE",
        "/api/push/subscriptions",
        json={"endpoint": "https://wns2-par02p.notify.windows.com/w/?token=BQYAAAD"},
        headers=headers,
    )
    assert gone.status_code == 204
    assert (await client.get("/api/push/subscriptions", headers=headers)).json() == []


def test_endpoint_allow_list_honours_extra_hosts():
    settings = push_settings()
    assert push.endpoint_allowed("http://127.0.0.1:9999/push/x", settings)
    assert not push.endpoint_allowed("http://127.0.0.2:9999/push/x", settings)
    strict = push_settings(push_extra_hosts=("push.example.cn:8443",))
    assert push.endpoint_allowed("https://push.example.cn:8443/x", strict)
    assert not push.endpoint_allowed("https://push.example.cn:9443/x", strict)
    assert not push.endpoint_allowed("http://127.0.0.1:9999/push/x", strict)
    assert push.endpoint_allowed("https://FCM.googleapis.com./fcm/send/x", strict)


async def test_due_reminder_is_pushed_once_when_the_job_runs_twice(client, push_service, settings):
    case, visit_id, due = await due_visit(client, datetime(2027, 5, 3, 10, 0, tzinfo=SHANGHAI))
    _, device = await subscribe_device(client, push_service, "mediator1")
    await work(settings, due - timedelta(minutes=1))
    assert pushes_for(push_service, device, visit_id) == []
    await work(settings, due)
    await work(settings, due + timedelta(minutes=5))
    assert push_service.errors == []
    [message] = pushes_for(push_service, device, visit_id)
    item = await reminder_in_inbox(client, visit_id)
    assert message.payload == {
        "title": item["title"],
        "body": item["body"],
        "url": f"/visits/{visit_id}",
        "notification_id": item["id"],
    }
    assert case["number"] in message.payload["title"]
    assert message.headers["urgency"] == "normal"
    assert message.headers["topic"] == topic_for(uuid.UUID(visit_id))
    [attempt] = await push.attempts_for(item["id"])
    assert (attempt["outcome"], attempt["status_code"], attempt["target"]) == ("delivered", 201, "127.0.0.1")

    # One day late: the urgent reminder replaces the first one at the push service (same Topic).
    await work(settings, due + timedelta(days=1))
    overdue = [p for p in pushes_for(push_service, device, visit_id) if p.headers["urgency"] == "high"]
    assert len(overdue) == 1 and overdue[0].headers["topic"] == message.headers["topic"]


async def test_two_workers_at_once_push_a_reminder_once(client, push_service, settings):
    visits = [await due_visit(client, datetime(2027, 5, 4, 10, 0, tzinfo=SHANGHAI)) for _ in range(3)]
    _, device = await subscribe_device(client, push_service, "mediator1")
    due = visits[0][2]

    async def worker():
        await jobs.remind(settings, batch=1)
        return await push.deliver_due(settings, batch=1)

    with clock.frozen(due):
        await asyncio.gather(worker(), worker(), worker())
    assert push_service.errors == []
    urls = sorted(p.payload["url"] for p in push_service.for_device(device))
    assert urls == sorted(f"/visits/{visit_id}" for _, visit_id, _ in visits)  # each once


async def test_gone_subscription_is_deleted(client, push_service, settings):
    _, visit_id, due = await due_visit(client, datetime(2027, 5, 5, 10, 0, tzinfo=SHANGHAI))
    tokens, device = await subscribe_device(client, push_service, "mediator1")
    push_service.script[f"/visits/{visit_id}"] = [(410, {})]
    await work(settings, due)
    assert len(pushes_for(push_service, device, visit_id)) == 1
    assert await PushSubscription.count().where(PushSubscription.endpoint == device.endpoint) == 0
    item = await reminder_in_inbox(client, visit_id)  # the inbox still has it
    [attempt] = await push.attempts_for(item["id"])
    assert (attempt["outcome"], attempt["status_code"]) == ("gone", 410)
    assert (await client.get("/api/push/subscriptions", headers=bearer(tokens))).json() == []


async def test_rate_limited_push_is_retried_after_retry_after(client, push_service, settings):
    _, visit_id, due = await due_visit(client, datetime(2027, 5, 6, 10, 0, tzinfo=SHANGHAI))
    _, device = await subscribe_device(client, push_service, "mediator1")
    push_service.script[f"/visits/{visit_id}"] = [(429, {"Retry-After": "120"})]
    stats = await work(settings, due)
    assert stats.retried == 1
    assert [p.status for p in pushes_for(push_service, device, visit_id)] == [429]
    await deliver_at(settings, due + timedelta(seconds=60))  # the 30 s backoff alone would retry now
    assert [p.status for p in pushes_for(push_service, device, visit_id)] == [429]
    await deliver_at(settings, due + timedelta(seconds=121))
    assert [p.status for p in pushes_for(push_service, device, visit_id)] == [429, 201]
    assert push_service.errors == []
    item = await reminder_in_inbox(client, visit_id)
    attempts = await push.attempts_for(item["id"])
    assert [(a["outcome"], a["status_code"], a["attempt"]) for a in attempts] == [
        ("retry", 429, 1),
        ("delivered", 201, 2),
    ]


async def test_server_errors_are_retried_with_backoff_then_given_up(client, push_service, settings):
    _, visit_id, due = await due_visit(client, datetime(2027, 5, 7, 10, 0, tzinfo=SHANGHAI))
    _, device = await subscribe_device(client, push_service, "mediator1")
    push_service.script[f"/visits/{visit_id}"] = [(503, {})] * 10
    at = due
    for _ in range(8):
        await deliver_at(settings, at) if at != due else await work(settings, at)
        at += timedelta(hours=1)
    assert len(pushes_for(push_service, device, visit_id)) == push.MAX_ATTEMPTS
    item = await reminder_in_inbox(client, visit_id)
    outcomes = [a["outcome"] for a in await push.attempts_for(item["id"])]
    assert outcomes == ["retry"] * (push.MAX_ATTEMPTS - 1) + ["gave_up"]
    state = await PushDelivery.select(PushDelivery.state).where(PushDelivery.notification == item["id"]).run()
    assert state == [{"state": "expired"}]


async def test_too_large_fails_for_good(client, push_service, settings):
    _, visit_id, due = await due_visit(client, datetime(2027, 5, 8, 10, 0, tzinfo=SHANGHAI))
    _, device = await subscribe_device(client, push_service, "mediator1")
    push_service.script[f"/visits/{visit_id}"] = [(413, {})]
    await work(settings, due)
    await deliver_at(settings, due + timedelta(hours=2))
    assert [p.status for p in pushes_for(push_service, device, visit_id)] == [413]
    item = await reminder_in_inbox(client, visit_id)
    assert [a["outcome"] for a in await push.attempts_for(item["id"])] == ["rejected"]


async def test_an_endpoint_no_longer_allowed_is_never_called(client, push_service, settings):
    _, visit_id, due = await due_visit(client, datetime(2027, 5, 9, 10, 0, tzinfo=SHANGHAI))
    _, device = await subscribe_device(client, push_service, "mediator1")
    strict = push_settings(push_extra_hosts=())
    await work(strict, due)
    assert push_service.requests == 0
    assert await PushSubscription.count().where(PushSubscription.endpoint == device.endpoint) == 0


async def test_logout_and_revocation_remove_the_devices_subscriptions(client, push_service):
    tokens, device = await subscribe_device(client, push_service, "mediator1")
    assert (await client.post("/api/auth/logout", headers=bearer(tokens))).status_code == 204
    assert await PushSubscription.count().where(PushSubscription.endpoint == device.endpoint) == 0

    tokens, device = await subscribe_device(client, push_service, "mediator1")
    admin = bearer(await tokens_for(client, "county"))
    revoked = await client.post(f"/api/admin/devices/{tokens['device_id']}/revoke", headers=admin)
    assert revoked.status_code == 204
    assert await PushSubscription.count().where(PushSubscription.endpoint == device.endpoint) == 0


def test_payload_is_kept_under_3_kb():
    job = push.Job(
        delivery_id=1,
        notification_id=7,
        subscription_id=1,
        endpoint="https://fcm.googleapis.com/fcm/send/x",
        p256dh="",
        auth="",
        attempts=0,
        title="回访提醒：530524101-2027-000001",
        body="调解" * 3000,
        url="/visits/0d5f3c9e-0000-4000-8000-000000000000",
        urgency="normal",
        topic=None,
        created_at=clock.now(),
    )
    data = push.payload_for(job)
    assert len(data) <= 3 * 1024
    payload = json.loads(data)
    assert payload["notification_id"] == 7 and payload["body"].endswith("…")
