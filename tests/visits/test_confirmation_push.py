"""The 司法确认 reminder through the reminder job, as the server runs it: on day 20 after the written
agreement took effect, the mediator's phone gets a Web Push (and the inbox item), once."""

from __future__ import annotations

from datetime import datetime, timedelta

from backend.core import clock
from backend.notify import push
from backend.visits import jobs
from tests.cases.test_agreement import resolved_case
from tests.factories import act
from tests.media.images import jpeg
from tests.media.test_photo_reference import upload
from tests.notify.support import inbox_items, subscribe_device

SHANGHAI = clock.LOCAL_TZ


async def work(settings, at: datetime) -> None:
    with clock.frozen(at):
        await jobs.remind(settings)
        await push.deliver_due(settings)


async def test_day_20_reminder_is_pushed_to_the_mediator_once(client, push_service, settings):
    case = await resolved_case(client)
    photo = await upload(client, "mediator1", jpeg())
    signed = datetime(2027, 6, 1, 9, 0, tzinfo=SHANGHAI)
    with clock.frozen(signed):
        r = await act(client, "mediator1", case["id"], "attach_signed_agreement", photos=[photo])
        assert r.status_code == 200, r.text
    _, device = await subscribe_device(client, push_service, "mediator1")
    await work(settings, signed + timedelta(days=19))
    assert push_service.for_device(device) == []
    await work(settings, signed + timedelta(days=20, minutes=1))
    await work(settings, signed + timedelta(days=22))
    assert push_service.errors == []
    [message] = push_service.for_device(device)
    [item] = [n for n in await inbox_items(client, "mediator1") if n["kind"] == "confirmation_due"]
    assert message.payload["url"] == f"/cases/{case['id']}"
    assert message.payload["title"] == item["title"] == f"司法确认提醒：{case['number']}"
    assert "2027年07月01日 前共同向人民法院申请" in message.payload["body"]
