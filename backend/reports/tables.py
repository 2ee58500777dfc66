"""The reports domain's own table: the zero reports (零上报) of teams that had no case in a month."""

from piccolo.columns import ForeignKey, OnDelete, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.people.tables import Team, User


class ZeroReport(Table, tablename="team_zero_report"):
    """A team leader's statement that the team had no dispute in a month: the statistics list the
    teams with no case and whether they said so."""

    id: Serial
    team = ForeignKey(references=Team, on_delete=OnDelete.cascade, index=True)
    month = Varchar(length=7)  # YYYY-MM, local calendar; unique per team (migration fengqiao_0016)
    filed_by = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.set_null)
    filed_at = Timestamptz(default=TimestamptzNow())
