"""Offline sync: the operations phones pushed (idempotency and deferral), the change log pulls read,
and which cases each device has been sent (so it can be told when one leaves its scope)."""

from piccolo.columns import JSON, UUID, Boolean, ForeignKey, Integer, OnDelete, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.people.tables import User


class SyncOp(Table, tablename="sync_op"):
    """One pushed operation, keyed by the phone's op_id: its result is stored so a replay answers
    `duplicate` with it. A deferred operation keeps its payload until it is applied."""

    id = Serial(primary_key=True)  # arrival order
    op_id = Varchar(length=64, unique=True)
    user = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.set_null, index=True)
    device = Varchar(length=36, null=True, default=None)
    type = Varchar(length=32)
    entity_id = UUID(index=True)
    base_version = Integer(null=True, default=None)
    prev_op_id = Varchar(length=64, null=True, default=None)
    payload = JSON(default="{}")  # emptied once the operation is final (it may hold personal data)
    client_time = Timestamptz(null=True, default=None)
    received_at = Timestamptz(default=TimestamptzNow(), index=True)
    status = Varchar(length=12, index=True)  # applied | conflict | rejected | deferred
    code = Varchar(length=64, null=True, default=None)
    server_version = Integer(null=True, default=None)
    resolved_at = Timestamptz(null=True, default=None)
    # Applied by the 7-day job rather than in the phone's order: someone should look at it.
    flagged = Boolean(default=False)


class SyncChange(Table, tablename="sync_change"):
    """The change log: one row per change of a case. `id` is the pull cursor; see service.horizon()
    for why a reader never skips an id that commits late."""

    id = Serial(primary_key=True)
    entity = Varchar(length=16, default="case")
    entity_id = UUID(index=True)
    version = Integer()
    action = Varchar(length=24)
    at = Timestamptz(default=TimestamptzNow())


class SyncDelivery(Table, tablename="sync_delivery"):
    """A case this device has been sent. When it is no longer visible to the device's user, the
    next pull carries a `left_scope` tombstone for it; `gone_at` is the change id that did."""

    id: Serial  # the primary key Piccolo adds; declared for the type checker
    key = Varchar(length=80, unique=True)  # "<device>:<case id>"
    device = Varchar(length=36, index=True)
    case_id = UUID()
    gone_at = Integer(null=True, default=None)
