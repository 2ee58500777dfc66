"""Dispute cases (矛盾纠纷), their parties, photos, agreement, events and duplicates."""

from piccolo.columns import (
    JSON,
    UUID,
    Boolean,
    Date,
    DoublePrecision,
    ForeignKey,
    Integer,
    Numeric,
    OnDelete,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.people.tables import Team, User


class Category(Table, tablename="case_category"):
    """The county's dispute categories, each mapped to the national mediation statistics category."""

    id: Serial  # the primary key Piccolo adds; declared for the type checker
    code = Varchar(length=32, unique=True)
    name = Varchar(length=32, unique=True)
    national_category = Varchar(length=32)
    active = Boolean(default=True)
    sort_order = Integer(default=0)


class CaseNumberCounter(Table, tablename="case_number_counter"):
    """Last serial handed out per township and year; bumped with an upsert so numbers never repeat."""

    id: Serial
    key = Varchar(length=16, unique=True)  # "<9-digit township code>-<year>"
    last_serial = Integer(default=0)


class Case(Table, tablename="dispute_case"):
    id = UUID(primary_key=True)  # made on the phone
    number = Varchar(length=32, unique=True)
    category = Varchar(length=32, index=True)
    title = Varchar(length=100)
    description = Text(default="")
    level = Varchar(length=8, index=True)  # small | hard | big
    state = Varchar(length=16, index=True)
    # Where: WGS-84 as stored; the township/village/grid found for it and how sure that is.
    lon = DoublePrecision()
    lat = DoublePrecision()
    accuracy_m = DoublePrecision(null=True, default=None)
    location_source = Varchar(length=16)  # gps | manual | gcj02-converted
    township_code = Varchar(length=12, null=True, default=None, index=True)
    village_code = Varchar(length=12, null=True, default=None, index=True)
    grid_code = Varchar(length=15, null=True, default=None, index=True)
    locate_status = Varchar(length=10, null=True, default=None)
    grid_generation = Integer(null=True, default=None)
    # Who owns the work: a team, the township or the county.
    owner_level = Varchar(length=10)  # team | township | county
    owner_team = ForeignKey(references=Team, null=True, default=None, on_delete=OnDelete.set_null, index=True)
    mediator = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.set_null, index=True)
    created_by = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.set_null, index=True)
    created_device = Varchar(length=36, null=True, default=None)
    occurred_at = Timestamptz(null=True, default=None)
    # When the case was reported: the phone's capture time when it is plausible (within 30 days before
    # and 5 minutes after the server's clock), else when the server received it. Reports, deadlines and
    # numbering count by it; `received_at` keeps the receipt and `reported_at_source` says which was used.
    reported_at = Timestamptz(default=TimestamptzNow(), index=True)
    received_at = Timestamptz(null=True, default=None)
    reported_at_source = Varchar(length=8, default="server")  # phone | server
    accepted_at = Timestamptz(null=True, default=None)
    deadline = Timestamptz(null=True, default=None)
    deadline_extended = Boolean(default=False)
    resolved_at = Timestamptz(null=True, default=None)
    closed_at = Timestamptz(null=True, default=None)
    reject_reason = Text(null=True, default=None)
    refer_target = Varchar(length=20, null=True, default=None)
    merged_into = UUID(null=True, default=None)
    # For the 司法局's statistics (人民调解案件统计): where the dispute came from (fields.SOURCES), who
    # sent a referred one (fields.REFERRERS), how many people it involves (the parties unless a
    # mediator counted a group: 5 or more is a 群体性纠纷) and what closing it prevented.
    source = Varchar(length=16, null=True, default=None)
    referred_by = Varchar(length=16, null=True, default=None)
    people_involved = Integer(null=True, default=None)
    # 涉及金额 (标的额) claimed at intake, in yuan: what the risk rules weigh (an agreement's amount is
    # what was agreed, known only at the end).
    amount_yuan = Numeric(digits=(14, 2), null=True, default=None)
    prevented_criminal = Boolean(default=False)  # 防止民转刑
    prevented_group_petition = Boolean(default=False)  # 防止群体性上访
    prevented_group_fight = Boolean(default=False)  # 防止群体性械斗
    # 卷宗 number, given once when the case is first archived: {year}-{committee short code}-{serial}.
    archive_number = Varchar(length=24, null=True, default=None)  # unique: index in fengqiao_0016
    conflict = Boolean(default=False, index=True)
    version = Integer(default=1)
    # The status of the case's open 督办 order (issued | acknowledged | reported), None when none is open
    # (backend/cases/supervision.py).
    supervision = Varchar(length=12, null=True, default=None, index=True)
    # 包案领导: the leader (role leader) in charge of the case, whose area covers it (cases/leaders.py).
    leader = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.set_null, index=True)
    # 风险等级 green | yellow | red and why (backend/cases/risk.py): set at intake, re-assessed by set_risk.
    risk = Varchar(length=8, default="green", index=True)
    risk_reason = Varchar(length=200, default="")
    # SHA-256 of the create request as first received, so a replay can be told from a clash.
    create_hash = Varchar(length=64)
    updated_at = Timestamptz(default=TimestamptzNow(), index=True)
    # 不公开 (若干规定 art. 29: privacy involved): prints mask third parties, map popups show no details.
    confidential = Boolean(default=False)


class Party(Table, tablename="case_party"):
    """当事人. Personal data: masked in lists, full only to the owners, every full read audited.

    Phone and ID number are stored encrypted (AES-GCM under key `key_id`, backend/cases/party_data.py)
    with a keyed hash of each for equality lookups (duplicates, repeated parties, search)."""

    id: Serial
    case = ForeignKey(references=Case, on_delete=OnDelete.cascade, index=True)
    position = Integer(default=0)
    name = Varchar(length=64)
    role = Varchar(length=16, default="party")  # applicant | respondent | party | witness
    key_id = Integer(null=True, default=None, index=True)  # None: no phone and no ID number
    phone_cipher = Text(null=True, default=None)
    id_number_cipher = Text(null=True, default=None)
    phone_hash = Varchar(length=64, null=True, default=None, index=True)
    id_number_hash = Varchar(length=64, null=True, default=None, index=True)


class CasePhoto(Table, tablename="case_photo"):
    id: Serial
    case = ForeignKey(references=Case, on_delete=OnDelete.cascade, index=True)
    sha256 = Varchar(length=64, index=True)
    position = Integer(default=0)
    purpose = Varchar(length=16, default="scene")  # scene | agreement | visit


class Agreement(Table, tablename="case_agreement"):
    """调解协议书 (人民调解法 art. 28–29). A written agreement has facts, matters, responsibilities and its
    obligations (each with manner, place, deadline); an oral one (口头协议) only the recorded content.
    Agreements made before the structured form (form "") keep their free text in terms/performance."""

    id: Serial
    case = ForeignKey(references=Case, on_delete=OnDelete.cascade, unique=True)
    facts = Text()
    matters = Text()
    terms = Text()
    performance = Text()
    signed_photo = Varchar(length=64, null=True, default=None)
    made_by = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.set_null)
    made_at = Timestamptz(default=TimestamptzNow())
    form = Varchar(length=8, default="")  # written | oral | "" (free text, from before the form)
    responsibilities = Text(default="")
    # [{party: index into the case's parties or None, content, manner, place, deadline: "YYYY-MM-DD"}]
    obligations = JSON(default="[]")
    amount_yuan = Numeric(digits=(14, 2), null=True, default=None)
    content = Text(default="")  # an oral agreement's recorded text
    # The photos of the signed paper (attach_signed_agreement); signed_at is when it took effect.
    signed_photos = JSON(default="[]")
    signed_at = Timestamptz(null=True, default=None)
    # The last return visit's finding per obligation and overall: performed | partly | not_performed.
    performance_status = Varchar(length=16, null=True, default=None)
    # 司法确认 (人民调解法 art. 33): whether the parties applied, where, the result and its date.
    confirmation_applied = Boolean(null=True, default=None)
    confirmation_court = Varchar(length=100, default="")
    confirmation_result = Varchar(length=10, null=True, default=None)  # confirmed | rejected | pending
    confirmation_date = Date(null=True, default=None)
    confirmation_reminded = Boolean(default=False)


class CaseEvent(Table, tablename="case_event"):
    """Append-only history: every action, with who, when, from which device, before and after."""

    id = Serial(primary_key=True)
    case = ForeignKey(references=Case, on_delete=OnDelete.cascade, index=True)
    at = Timestamptz(default=TimestamptzNow())
    actor = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.set_null)
    device = Varchar(length=36, null=True, default=None)
    action = Varchar(length=24)
    before = JSON(default="{}")
    after = JSON(default="{}")
    data = JSON(default="{}")
    # The case's version after this event (stamped by backend.cases.edits; base versions of edits).
    version = Integer(null=True, default=None, index=True)


class CaseLink(Table, tablename="case_link"):
    """A possible duplicate: the newer case points at the older one."""

    id: Serial
    case = ForeignKey(references=Case, on_delete=OnDelete.cascade, index=True)
    other = ForeignKey(references=Case, on_delete=OnDelete.cascade, index=True)
    reason = Varchar(length=16)  # nearby | same_party
    status = Varchar(length=10, default="open")  # open | merged | dismissed
    created_at = Timestamptz(default=TimestamptzNow())
    decided_by = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.set_null)
