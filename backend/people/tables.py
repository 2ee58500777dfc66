"""People: users, red mediation teams (红色调解队) and their members, devices."""

from piccolo.columns import (
    JSON,
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
    # Set by an administrator's reset (a one-time password): every route but the password change
    # answers 403 auth.password_change_required until the user picks their own.
    must_change_password = Boolean(default=False)
    password_changed_at = Timestamptz(null=True, default=None)
    disabled_at = Timestamptz(null=True, default=None)
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
    # An administrator asked this phone to wipe itself: on its next contact it sends its outbox,
    # then deletes its local cases, photos and session (wiped_at: when it confirmed).
    wipe_requested_at = Timestamptz(null=True, default=None)
    wiped_at = Timestamptz(null=True, default=None)


class AuditEntry(Table, tablename="audit_entry"):
    """Who read personal data or changed a case, when and from where. Holds no personal data itself."""

    id = Serial(primary_key=True)
    at = Timestamptz(default=TimestamptzNow(), index=True)
    user = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.set_null, index=True)
    device = Varchar(length=36, null=True, default=None)
    client_addr = Varchar(length=64, null=True, default=None)
    action = Varchar(length=32)
    case = UUID(null=True, default=None, index=True)
    detail = JSON(default="{}")
