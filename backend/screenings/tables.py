"""月排查 screening rounds: each month a team visits the villages it serves and reports what it found."""

from piccolo.columns import (
    UUID,
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


class Screening(Table, tablename="screening"):
    """One village screened by a team in a month (a report with no leads says "nothing found").
    The id is made by the phone, so a replay of its outbox finds the report it already sent."""

    id = UUID(primary_key=True)
    month = Varchar(length=7, index=True)  # YYYY-MM, the local (Asia/Shanghai) calendar month
    village_code = Varchar(length=12, index=True)
    township_code = Varchar(length=12, index=True)
    team = ForeignKey(references=Team, null=True, default=None, on_delete=OnDelete.set_null, index=True)
    reported_by = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.set_null)
    visited_at = Timestamptz()
    households_visited = Integer(default=0)
    lon = DoublePrecision(null=True, default=None)
    lat = DoublePrecision(null=True, default=None)
    accuracy_m = DoublePrecision(null=True, default=None)
    # SHA-256 of the report without the leads' case links: a replay is told from a different report.
    body_hash = Varchar(length=64)
    created_at = Timestamptz(default=TimestamptzNow())


class ScreeningLead(Table, tablename="screening_lead"):
    """A dispute found while screening (线索); `case` is set once it has been logged as a case."""

    id: Serial
    screening = ForeignKey(references=Screening, on_delete=OnDelete.cascade, index=True)
    position = Integer(default=0)
    summary = Text()
    category = Varchar(length=32, null=True, default=None)
    case = ForeignKey(references=Case, null=True, default=None, on_delete=OnDelete.set_null, index=True)
