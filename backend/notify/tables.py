"""Notifications (the outbox: the row is the truth), push subscriptions, push deliveries and every
delivery attempt on every channel."""

from piccolo.columns import (
    UUID,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.people.tables import Device, User


class Notification(Table, tablename="notification"):
    id = Serial(primary_key=True)
    recipient = ForeignKey(references=User, on_delete=OnDelete.cascade, index=True)
    kind = Varchar(length=24)  # visit_due | visit_overdue | visit_escalated | case_assigned | ...
    title = Varchar(length=100)
    body = Text(default="")
    url = Varchar(length=200, default="/")
    case_id = UUID(null=True, default=None, index=True)
    visit_id = UUID(null=True, default=None, index=True)
    urgency = Varchar(length=8, default="normal")  # normal | high
    topic = Varchar(length=32, null=True, default=None)  # Web Push Topic: a newer one replaces an older
    # What makes it happen once: e.g. "visit:<id>:overdue1:<recipient>". Unique, so two workers racing
    # past every other guard still write one row.
    dedupe_key = Varchar(length=200, unique=True)
    created_at = Timestamptz(default=TimestamptzNow(), index=True)
    read_at = Timestamptz(null=True, default=None)
    # SMS escalation of a high-urgency notification left unread: none | sending | retry | sent |
    # failed | no_phone; sms_next_at is the lease or the next try.
    sms_state = Varchar(length=10, default="none", index=True)
    sms_attempts = Integer(default=0)
    sms_next_at = Timestamptz(null=True, default=None)


class PushSubscription(Table, tablename="push_subscription"):
    """A browser's Web Push subscription, per device; removed on logout and when the device is revoked."""

    id: Serial  # the primary key Piccolo adds; declared for the type checker
    user = ForeignKey(references=User, on_delete=OnDelete.cascade, index=True)
    device = ForeignKey(references=Device, on_delete=OnDelete.cascade, index=True)
    endpoint = Text()
    endpoint_hash = Varchar(length=64, unique=True)  # SHA-256 of the endpoint (URLs are long)
    p256dh = Varchar(length=100)
    auth = Varchar(length=40)
    created_at = Timestamptz(default=TimestamptzNow())
    last_success_at = Timestamptz(null=True, default=None)


class PushDelivery(Table, tablename="push_delivery"):
    """One notification to one subscription: the push outbox, claimed by workers by next_attempt_at."""

    id: Serial
    notification = ForeignKey(references=Notification, on_delete=OnDelete.cascade, index=True)
    subscription = ForeignKey(references=PushSubscription, on_delete=OnDelete.cascade, index=True)
    state = Varchar(
        length=10, default="pending", index=True
    )  # pending | sending | delivered | failed | expired
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(default=TimestamptzNow(), index=True)
    last_status = Integer(null=True, default=None)
    updated_at = Timestamptz(default=TimestamptzNow())


class DeliveryAttempt(Table, tablename="delivery_attempt"):
    """Every attempt on every channel, kept when the subscription is gone."""

    id = Serial(primary_key=True)
    notification = ForeignKey(references=Notification, on_delete=OnDelete.cascade, index=True)
    channel = Varchar(length=8)  # push | sms
    subscription_id = Integer(null=True, default=None)
    target = Varchar(length=255)  # the push service's host, or the SMS gateway's
    attempt = Integer(default=1)
    at = Timestamptz(default=TimestamptzNow(), index=True)
    status_code = Integer(null=True, default=None)
    outcome = Varchar(length=12)  # delivered | retry | gone | rejected | gave_up | no_phone
    detail = Varchar(length=255, default="")
    elapsed_ms = Integer(default=0)
