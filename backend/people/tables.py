"""People: users, red mediation teams (红色调解队) and their members, devices."""

from piccolo.columns import (
    UUID,
    Boolean,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class Team(Table, tablename="team"):
    """A 红色调解队: serves one or more villages of a township (or the whole county)."""

    id: Serial  # the primary key Piccolo adds; declared for the type checker
    name = Varchar(length=100, unique=True)
    township_code = Varchar(length=12, null=True, default=None, index=True)
    active = Boolean(default=True)
    created_at = Timestamptz(default=TimestamptzNow())


class TeamVillage(Table, tablename="team_village"):
    id: Serial
    team = ForeignKey(references=Team, on_delete=OnDelete.cascade, index=True)
    village_code = Varchar(length=12, index=True)


class User(Table, tablename="app_user"):
    id: Serial
    username = Varchar(length=64, unique=True, index=True)
    display_name = Varchar(length=64)
    password_hash = Varchar(length=255)
    role = Varchar(length=32)
    # The area this user works in: county, township or village, by division code.
    scope_level = Varchar(length=10)
    scope_code = Varchar(length=12)
    team = ForeignKey(references=Team, null=True, default=None, on_delete=OnDelete.set_null, index=True)
    phone = Varchar(length=20, null=True, default=None)
    active = Boolean(default=True)
    created_at = Timestamptz(default=TimestamptzNow())


class TeamMember(Table, tablename="team_member"):
    """A member of a team; members with an account link to their user."""

    id: Serial
    team = ForeignKey(references=Team, on_delete=OnDelete.cascade, index=True)
    user = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.set_null)
    name = Varchar(length=64)
    kind = Varchar(length=16)  # 老干部 | 老党员 | 老模范 | 律师 | 网格员
    is_leader = Boolean(default=False)


class Device(Table, tablename="device"):
    """One phone or browser a user signed in on; holds the refresh token chain."""

    id = UUID(primary_key=True)
    user = ForeignKey(references=User, on_delete=OnDelete.cascade, index=True)
    name = Varchar(length=64)
    created_at = Timestamptz(default=TimestamptzNow())
    last_seen_at = Timestamptz(default=TimestamptzNow())
    # SHA-256 of the current refresh token and of the one it replaced (for the grace window).
    refresh_hash = Varchar(length=64)
    previous_refresh_hash = Varchar(length=64, null=True, default=None)
    rotated_at = Timestamptz(null=True, default=None)
    refresh_expires_at = Timestamptz()
    rotations = Integer(default=0)
    revoked_at = Timestamptz(null=True, default=None)
    revoked_reason = Varchar(length=32, null=True, default=None)
