"""Return visits (回访) and the policy that schedules them when a case is closed."""

from piccolo.columns import (
    JSON,
    UUID,
    Boolean,
    Date,
    DoublePrecision,
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

from backend.cases.tables import Case
from backend.people.tables import Team, User


class Visit(Table, tablename="visit"):
    """One return visit of a closed case. What the reports need is stored, not recomputed: the due date,
    when it was done, how, the satisfaction, whether the dispute recurred, the distance to the case and
    whether that made it face-to-face, and whether it was on time."""

    id = UUID(primary_key=True)
    case = ForeignKey(references=Case, on_delete=OnDelete.cascade, index=True)
    round = Integer(default=1)  # which closing of the case scheduled it (a reopened case closes again)
    seq = Integer(default=1)  # 1..of_total within the round
    of_total = Integer(default=1)
    offset_days = Integer(default=7)
    due_date = Date(index=True)  # a local date in Asia/Shanghai
    assignee = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.set_null, index=True)
    team = ForeignKey(references=Team, null=True, default=None, on_delete=OnDelete.set_null, index=True)
    township_code = Varchar(length=12, null=True, default=None, index=True)
    state = Varchar(length=10, default="pending", index=True)  # pending | done | cancelled
    # Reminders: the last stage sent (0 none, 1 due today, 2 overdue 1 day, 3 overdue 3 days) and when
    # the next one falls due; the reminder job claims rows by next_reminder_at.
    reminder_stage = Integer(default=0)
    next_reminder_at = Timestamptz(null=True, default=None, index=True)
    # The record.
    done_at = Timestamptz(null=True, default=None)  # when the visit took place (the phone's clock)
    recorded_at = Timestamptz(null=True, default=None)
    recorded_by = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.set_null)
    recorded_device = Varchar(length=36, null=True, default=None)
    method = Varchar(length=10, null=True, default=None)  # in_person (上门) | phone (电话)
    satisfaction = Varchar(
        length=20, null=True, default=None
    )  # satisfied | basically_satisfied | unsatisfied
    recurred = Boolean(null=True, default=None)
    # Whether the agreement was performed: performed (已履行) | partly (部分履行) | not_performed (未履行).
    performance = Varchar(length=16, null=True, default=None)
    # Per obligation of a written agreement: [{"obligation": index, "performance": ...}] (performance then
    # sums them up: all performed → performed, none → not_performed, else partly).
    obligation_performance = JSON(default="[]")
    notes = Text(default="")
    photos = JSON(default="[]")
    lon = DoublePrecision(null=True, default=None)
    lat = DoublePrecision(null=True, default=None)
    accuracy_m = DoublePrecision(null=True, default=None)
    location_source = Varchar(length=16, null=True, default=None)  # gps | gcj02-converted | exif
    distance_m = DoublePrecision(null=True, default=None)
    face_to_face = Boolean(null=True, default=None)
    on_time = Boolean(null=True, default=None)
    # SHA-256 of the record request, so a replay from the phone is told from a different record.
    record_hash = Varchar(length=64, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow(), index=True)


class VisitPolicy(Table, tablename="visit_policy"):
    """An override of the default schedule for a level, optionally for one category."""

    id: Serial  # the primary key Piccolo adds; declared for the type checker
    key = Varchar(length=48, unique=True)  # "<level>:<category or *>"
    level = Varchar(length=8)  # small | hard | big
    category = Varchar(length=32, null=True, default=None)  # None: every category of the level
    offsets_days = Varchar(length=64)  # e.g. "7,30,90"
    updated_at = Timestamptz(default=TimestamptzNow())
    updated_by = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.set_null)
