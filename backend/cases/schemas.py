"""API shapes of the cases domain (msgspec, so Litestar's OpenAPI stays right)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

Level = Literal["small", "hard", "big"]
Reason = Annotated[str, Meta(min_length=1, max_length=2000)]
LongText = Annotated[str, Meta(max_length=20000)]  # hard cap; the service gives the friendly limits


class LocationIn(msgspec.Struct):
    lon: float
    lat: float
    accuracy_m: float | None = None
    crs: Literal["wgs84", "gcj02"] = "wgs84"
    source: Literal["gps", "manual"] = "gps"


class PartyIn(msgspec.Struct):
    name: Annotated[str, Meta(max_length=200)]
    phone: Annotated[str, Meta(max_length=40)] | None = None
    id_number: Annotated[str, Meta(max_length=40)] | None = None
    role: Literal["applicant", "respondent", "party", "witness"] = "party"


class CaseCreate(msgspec.Struct):
    id: uuid.UUID
    category: Annotated[str, Meta(max_length=64)]
    title: LongText
    location: LocationIn
    description: LongText = ""
    level: Level = "small"
    occurred_at: datetime | None = None
    parties: list[PartyIn] = []
    photos: list[Annotated[str, Meta(max_length=64)]] = []
    # When the phone captured it (its clock); believed within 30 days before and 5 minutes after the
    # server's. The sync operation's client_time serves when this is absent.
    captured_at: Annotated[datetime, Meta(tz=True)] | None = None
    # For the statistics (cases/fields.py has the codes): where it came from, who referred it, and how
    # many people it involves (the parties' count when absent).
    source: Annotated[str, Meta(max_length=16)] | None = None
    referred_by: Annotated[str, Meta(max_length=16)] | None = None
    people_involved: int | None = None
    # 涉及金额 in yuan (cases/fields.py: 0 to MAX_AMOUNT, to the fen): the risk rules weigh it.
    amount_yuan: float | None = None


class CaseReceipt(msgspec.Struct):
    """The answer to a create the creator may not see (it located in another township): the number
    and where it went, without the case."""

    id: str
    number: str
    visible: bool
    township: Ref | None
    reported_at: datetime
    message: str


# --- actions: one tagged union, so a missing reason is a clear 400 ----------------------------------


Day = date  # a field may be named `date` (the confirmation's), so its type goes by another name
AgreementText = Annotated[str, Meta(max_length=5000)]
Sha256 = Annotated[str, Meta(pattern=r"^[0-9a-f]{64}$")]


class ObligationIn(msgspec.Struct):
    """One obligation of a written agreement: who does what, how, where and by when (履行方式、地点、期限)."""

    # Whose obligation: a party's index in the case's parties (0-based) or their name; None: every party.
    party: Annotated[int, Meta(ge=0, le=1000)] | Annotated[str, Meta(max_length=64)] | None = None
    content: AgreementText = ""
    manner: Annotated[str, Meta(max_length=500)] = ""
    place: Annotated[str, Meta(max_length=200)] = ""
    deadline: date | None = None


class AgreementIn(msgspec.Struct):
    """调解协议书. `form` written: facts, matters, responsibilities and ≥ 1 obligation with content, manner,
    place and deadline (else 400 agreement.incomplete naming each missing field); oral (口头协议, art.
    28): the recorded `content`. Without `form`, the free-text shape of earlier app versions (facts,
    matters, terms, performance), so actions still waiting in a phone's outbox are not lost."""

    form: Literal["written", "oral"] | None = None
    facts: AgreementText = ""
    matters: AgreementText = ""
    responsibilities: AgreementText = ""
    obligations: Annotated[list[ObligationIn], Meta(max_length=50)] = []
    # Yuan with at most 2 decimals (a float on the wire, stored as a NUMERIC(14, 2)).
    amount_yuan: Annotated[float, Meta(ge=0, le=999_999_999_999)] | None = None
    content: AgreementText = ""
    terms: AgreementText = ""
    performance: Annotated[str, Meta(max_length=2000)] = ""
    signed_photo: Sha256 | None = None


class Accept(msgspec.Struct, tag="accept", tag_field="action"):
    level: Level | None = None
    category: str | None = None


class Reject(msgspec.Struct, tag="reject", tag_field="action"):
    reason: Reason


class Refer(msgspec.Struct, tag="refer", tag_field="action"):
    target: Literal["court", "arbitration", "legal_aid", "petition_office"]
    reason: Annotated[str, Meta(max_length=2000)] = ""


class Assign(msgspec.Struct, tag="assign", tag_field="action"):
    team_id: int | None = None
    mediator_id: int | None = None


class Escalate(msgspec.Struct, tag="escalate", tag_field="action"):
    reason: Reason
    owner: Literal["township", "county"] | None = None
    level: Literal["hard", "big"] | None = None


class Note(msgspec.Struct, tag="note", tag_field="action"):
    text: Annotated[str, Meta(min_length=1, max_length=5000)]
    participants: list[Annotated[str, Meta(max_length=64)]] = []
    # Where the session was held (调解记录 names it; the case's village when not given).
    place: Annotated[str, Meta(max_length=100)] = ""
    # Photos taken at the session (SHA-256, uploaded like any other): they join the case's photos.
    photos: Annotated[list[Annotated[str, Meta(pattern=r"^[0-9a-f]{64}$")]], Meta(max_length=9)] = []


class Resolve(msgspec.Struct, tag="resolve", tag_field="action"):
    agreement: AgreementIn


class Fail(msgspec.Struct, tag="fail", tag_field="action"):
    reason: Reason


class Close(msgspec.Struct, tag="close", tag_field="action"):
    """办结, with what the settlement prevented (counted in the 司法局's statistics)."""

    prevented_criminal: bool = False  # 防止民转刑
    prevented_group_petition: bool = False  # 防止群体性上访
    prevented_group_fight: bool = False  # 防止群体性械斗


class Reopen(msgspec.Struct, tag="reopen", tag_field="action"):
    reason: Reason


class CorrectLocation(msgspec.Struct, tag="correct_location", tag_field="action"):
    grid_code: Annotated[str, Meta(pattern=r"^\d{15}$")]
    reason: Reason


class ExtendDeadline(msgspec.Struct, tag="extend_deadline", tag_field="action"):
    days: Annotated[int, Meta(ge=1, le=30)]
    reason: Reason


class ClearConflict(msgspec.Struct, tag="clear_conflict", tag_field="action"):
    pass


class Archive(msgspec.Struct, tag="archive", tag_field="action"):
    """The last return visit found the parties satisfied (the system), or a supervisor's decision."""

    reason: Annotated[str, Meta(max_length=2000)] = ""


class Merge(msgspec.Struct, tag="merge", tag_field="action"):
    into: uuid.UUID


class DismissDuplicate(msgspec.Struct, tag="dismiss_duplicate", tag_field="action"):
    other: uuid.UUID


class AttachSignedAgreement(msgspec.Struct, tag="attach_signed_agreement", tag_field="action"):
    """The photos of the signed paper: the written agreement takes effect (and the 30 days for 司法确认
    start)."""

    photos: Annotated[list[Sha256], Meta(min_length=1, max_length=9)]


class RecordConfirmation(msgspec.Struct, tag="record_confirmation", tag_field="action"):
    """司法确认 (人民调解法 art. 33): whether the parties applied to the court, which court, the result."""

    applied: bool
    court: Annotated[str, Meta(max_length=100)] = ""
    result: Literal["confirmed", "rejected", "pending"] | None = None
    date: Day | None = None


class SetConfidential(msgspec.Struct, tag="set_confidential", tag_field="action"):
    """不公开 (若干规定 art. 29): prints mask third parties; the map shows no details."""

    confidential: bool
    reason: Annotated[str, Meta(max_length=2000)] = ""


class Supervise(msgspec.Struct, tag="supervise", tag_field="action"):
    """督办: an order to the case's team, due by the end of `due_date` (local)."""

    instruction: Annotated[str, Meta(min_length=1, max_length=2000)]
    due_date: date


class AcknowledgeSupervision(msgspec.Struct, tag="acknowledge_supervision", tag_field="action"):
    pass


class ReportSupervision(msgspec.Struct, tag="report_supervision", tag_field="action"):
    text: Annotated[str, Meta(min_length=1, max_length=5000)]


class AcceptSupervision(msgspec.Struct, tag="accept_supervision", tag_field="action"):
    pass


class ReturnSupervision(msgspec.Struct, tag="return_supervision", tag_field="action"):
    reason: Reason


class SetRisk(msgspec.Struct, tag="set_risk", tag_field="action"):
    """A supervisor's re-assessment of the risk colour (red tells the township and the county at once)."""

    risk: Literal["green", "yellow", "red"]
    reason: Annotated[str, Meta(min_length=1, max_length=200)]


class AssignLeader(msgspec.Struct, tag="assign_leader", tag_field="action"):
    """领导包案: a leader whose area covers the case takes charge of it; `user_id` null clears it."""

    user_id: int | None
    reason: Annotated[str, Meta(max_length=2000)] = ""


Action = (
    Accept
    | Reject
    | Refer
    | Assign
    | Escalate
    | Note
    | Resolve
    | Fail
    | Close
    | Reopen
    | CorrectLocation
    | ExtendDeadline
    | ClearConflict
    | Merge
    | DismissDuplicate
    | Archive
    | AttachSignedAgreement
    | RecordConfirmation
    | SetConfidential
    | Supervise
    | AcknowledgeSupervision
    | ReportSupervision
    | AcceptSupervision
    | ReturnSupervision
    | SetRisk
    | AssignLeader
)


# --- views --------------------------------------------------------------------------------------


class Ref(msgspec.Struct):
    code: str
    name: str


class IdName(msgspec.Struct):
    id: int
    name: str


class PartyView(msgspec.Struct):
    name: str
    phone: str | None
    id_number: str | None
    role: str


class PhotoView(msgspec.Struct):
    sha256: str
    status: str  # complete | partial | missing
    purpose: str


class ObligationView(msgspec.Struct):
    party: int | None
    party_name: str | None  # masked like the parties when the caller sees them masked
    content: str
    manner: str
    place: str
    deadline: date | None


class ConfirmationView(msgspec.Struct):
    applied: bool | None
    court: str
    result: str | None
    date: Day | None


class AgreementView(msgspec.Struct):
    facts: str
    matters: str
    terms: str
    performance: str
    signed_photo: str | None
    made_at: datetime
    made_by: str | None
    form: str = ""  # written | oral | "" (free text from before the structured form)
    responsibilities: str = ""
    obligations: list[ObligationView] = []
    amount_yuan: float | None = None
    content: str = ""
    signed_photos: list[str] = []
    signed_at: datetime | None = None
    awaiting_signature: bool = False  # 待签字: a written agreement without the signed paper's photo
    status_label: str = ""  # 待签字 | 已签字生效 | 口头协议 | ""
    performance_status: str | None = None
    # 司法确认: by when the parties may apply (30 days after it took effect), and what was recorded.
    confirmation_deadline: date | None = None
    confirmation: ConfirmationView | None = None


class EventView(msgspec.Struct):
    id: int
    at: datetime
    action: str
    actor: str | None
    before: dict[str, Any]
    after: dict[str, Any]
    data: dict[str, Any]


class DuplicateView(msgspec.Struct):
    case_id: str
    number: str
    title: str
    reason: str
    status: str


class CaseSummary(msgspec.Struct):
    id: str
    number: str
    category: str
    category_name: str
    title: str
    level: str
    state: str
    township: Ref | None
    village: Ref | None
    grid: Ref | None
    lon: float
    lat: float
    locate_status: str | None
    owner_level: str
    owner_team: IdName | None
    mediator: IdName | None
    parties: list[PartyView]
    photo_count: int
    reported_at: datetime
    updated_at: datetime
    deadline: datetime | None
    overdue: bool
    conflict: bool
    version: int
    next_step: str | None = None  # who acts next, e.g. 等待调解队长受理
    risk: str = "green"  # 风险等级 green | yellow | red
    # The deadline's countdown while in mediation: green, yellow (7 days or less left), red (overdue).
    deadline_colour: str | None = None
    days_left: int | None = None  # local days to the deadline; negative when overdue
    risk_reason: str = ""
    leader: IdName | None = None  # 包案领导, the leader in charge


class LeaderView(msgspec.Struct):
    """A leader who may take charge of a case: a county leader (level county) or the township's."""

    id: int
    name: str
    level: str  # county | township
    area: str  # the county's or the township's name


class SupervisionOrderView(msgspec.Struct):
    """A 督办 order as the case shows it; `red` says why it is red now (unacknowledged | overdue)."""

    id: str
    issued_by: str | None
    issued_at: datetime
    instruction: str
    due_date: date
    status: str  # issued | acknowledged | reported | accepted
    acknowledged_at: datetime | None
    reported_at: datetime | None
    report: str | None
    accepted_at: datetime | None
    returned_count: int
    return_reason: str | None
    red: str | None


class CaseDetail(CaseSummary):
    description: str = ""
    occurred_at: datetime | None = None
    accuracy_m: float | None = None
    location_source: str = "gps"
    grid_generation: int | None = None
    personal_data: str = "masked"  # full | masked
    photos: list[PhotoView] = []
    missing_photos: list[str] = []
    agreement: AgreementView | None = None
    events: list[EventView] = []
    duplicates: list[DuplicateView] = []
    visits: list[dict[str, Any]] = []
    allowed_actions: list[str] = []
    reject_reason: str | None = None
    refer_target: str | None = None
    merged_into: str | None = None
    deadline_extended: bool = False
    locate: dict[str, Any] | None = None  # on create: the locate result, so the phone can ask at a boundary
    received_at: datetime | None = None  # when the server received it (reported_at may be the capture time)
    reported_at_source: str = "server"  # phone: reported_at is the phone's capture time; server: the receipt
    confidential: bool = False  # 不公开
    supervision: str | None = None  # the open 督办 order's status
    supervision_orders: list[SupervisionOrderView] = []
    source: str | None = None  # screening | application | initiative | referral (cases/fields.py)
    referred_by: str | None = None  # court | police | petition | hotline | other, for a referral
    people_involved: int | None = None
    amount_yuan: float | None = None  # 涉及金额 claimed at intake
    group_dispute: bool = False  # 群体性纠纷: 5 or more people involved
    prevented_criminal: bool = False
    prevented_group_petition: bool = False
    prevented_group_fight: bool = False
    archive_number: str | None = None  # 卷宗号, given when the case is archived


class CasePage(msgspec.Struct):
    items: list[CaseSummary]
    next_cursor: str | None


class CategoryView(msgspec.Struct):
    code: str
    name: str
    national_category: str
    active: bool


class CategoryCreate(msgspec.Struct):
    code: Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]{1,31}$")]
    name: Annotated[str, Meta(min_length=2, max_length=32)]
    national_category: Annotated[str, Meta(min_length=2, max_length=32)]


class CategoryUpdate(msgspec.Struct):
    name: Annotated[str, Meta(min_length=2, max_length=32)] | None = None
    national_category: Annotated[str, Meta(min_length=2, max_length=32)] | None = None
    active: bool | None = None


class AuditView(msgspec.Struct):
    id: int
    at: datetime
    user_id: int | None
    username: str | None
    device: str | None
    client_addr: str | None
    action: str
    case: str | None
    detail: dict[str, Any]
