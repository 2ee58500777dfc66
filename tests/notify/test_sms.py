"""SMS gateway webhook: an urgent notification still unread after N hours, signed with HMAC-SHA256."""

from __future__ import annotations

from datetime import datetime, timedelta

from backend.core import clock
from backend.notify import push, sms
from backend.notify.service import Message, notify
from tests.factories import make_user, tokens_for
from tests.notify.support import SmsGateway, push_settings

SHANGHAI = clock.LOCAL_TZ
SECRET = "gateway-shared-secret-for-tests"


async def test_unread_urgent_notifications_are_texted_once_signed(client):
    gateway = SmsGateway(SECRET)
    await gateway.start()
    try:
        settings = push_settings(
            sms_gateway_url=f"{gateway.base}/sms", sms_gateway_secret=SECRET, sms_after_hours=4
        )
        admin = await tokens_for(client, "county")
        with_phone = await make_user(
            client,
            admin,
            role="mediator",
            team_id=(await tokens_for(client, "mediator1"))["user"]["team"]["id"],
            phone="13987654321",
        )
        without_phone = await make_user(client, admin, role="grid_worker")
        created = datetime(2031, 1, 6, 8, 30, tzinfo=SHANGHAI)

        async def make(user_id: int, key: str, urgency: str) -> int:
            message = Message(
                kind="visit_overdue",
                title="回访已逾期：测试",
                body="请尽快回访。",
                url="/visits/x",
                key=key,
                urgency=urgency,
            )
            with clock.frozen(created):
                [nid] = await notify([user_id], message)
            return nid

        urgent = await make(with_phone["id"], "sms-test:urgent", "high")
        read = await make(with_phone["id"], "sms-test:read", "high")
        normal = await make(with_phone["id"], "sms-test:normal", "normal")
        no_phone = await make(without_phone["id"], "sms-test:nophone", "high")
        from backend.notify.tables import Notification

        await (
            Notification.update({Notification.read_at: created + timedelta(hours=1)})
            .where(Notification.id == read)
            .run()
        )

        async def escalate_at(at: datetime, s=settings) -> sms.SmsStats:
            with clock.frozen(at):
                return await sms.escalate_unread(s)

        await escalate_at(created + timedelta(hours=3, minutes=59))
        assert gateway.received == []
        stats = await escalate_at(created + timedelta(hours=4, minutes=1))
        await escalate_at(created + timedelta(hours=5))
        assert gateway.errors == []
        assert [m["notification_id"] for m in gateway.received] == [urgent]
        [text] = gateway.received
        assert text["phone"] == "13987654321" and text["text"].startswith("【枫桥网格通】回访已逾期")
        assert stats.sent == 1 and stats.no_phone == 1
        assert [a["outcome"] for a in await push.attempts_for(urgent)] == ["delivered"]
        assert [a["channel"] for a in await push.attempts_for(no_phone)] == ["sms"]
        assert await push.attempts_for(normal) == [] and await push.attempts_for(read) == []

        # A failing gateway is retried, then given up; off when no URL is set.
        gateway.status = 503
        failing = await make(with_phone["id"], "sms-test:failing", "high")
        at = created + timedelta(hours=4, minutes=2)
        for _ in range(5):
            await escalate_at(at)
            at += timedelta(hours=1)
        assert [a["outcome"] for a in await push.attempts_for(failing)] == ["retry", "retry", "gave_up"]
        off = await make(with_phone["id"], "sms-test:off", "high")
        assert (await escalate_at(at, push_settings())).sent == 0
        assert await push.attempts_for(off) == []
    finally:
        await gateway.stop()
