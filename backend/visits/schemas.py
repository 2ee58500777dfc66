"""API shapes of the visits domain (msgspec)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

Level = Literal["small", "hard", "big"]
Method = Literal["in_person", "phone"]  # 上门 | 电话
Satisfaction = Literal["satisfied", "basically_satisfied", "unsatisfied"]  # 满意 | 基本满意 | 不满意
Sha256 = Annotated[str, Meta(pattern=r"^[0-9a-fA-F]{64}$")]

METHOD_LABELS = {"in_person": "上门", "phone": "电话"}
SATISFACTION_LABELS = {"satisfied": "满意", "basically_satisfied": "基本满意", "unsatisfied": "不满意"}
Performance = Literal["performed", "partly", "not_performed"]  # 已履行 | 部分履行 | 未履行
PERFORMANCE_LABELS = {"performed": "已履行", "partly": "部分履行", "not_performed": "未履行"}
STATUS_LABELS = {
    "scheduled": "未到期",
    "due": "今日到期",
    "overdue": "已逾期",
    "done": "已回访",
    "cancelled": "已取消",
}


class VisitLocation(msgspec.Struct):
    lon: Annotated[float, Meta(ge=-180, le=180)]
    lat: Annotated[float, Meta(ge=-90, le=90)]
    accuracy_m: Annotated[float, Meta(ge=0)] | None = None
    crs: Literal["wgs84", "gcj02"] = "wgs84"


class ObligationPerformance(msgspec.Struct, forbid_unknown_fields=True):
    """Whether one obligation of the written agreement was performed (its index in the agreement)."""

    obligation: Annotated[int, Meta(ge=0, le=49)]
    performance: Performance


class VisitRecord(msgspec.Struct, forbid_unknown_fields=True):
    """The record of a return visit, from the form or from the phone's sync outbox."""

    method: Method
    satisfaction: Satisfaction
    recurred: bool = False
    # Whether the parties did what the agreement says (人民调解法 art. 31: the committee supervises
    # performance); None when the case has no agreement or it was not asked.
    performance: Performance | None = None
    # Per obligation of a written agreement (each at most once); `performance` is then derived from
    # them when not given.
    obligations: Annotated[list[ObligationPerformance], Meta(max_length=50)] = []
    notes: Annotated[str, Meta(max_length=5000)] = ""
    photos: list[Sha256] = []
    location: VisitLocation | None = None
    visited_at: Annotated[datetime, Meta(tz=True)] | None = (
        None  # when it took place (the phone's clock); default: now
    )


class Person(msgspec.Struct):
    id: int
    name: str


class VisitView(msgspec.Struct):
    id: str
    case_id: str
    case_number: str
    case_title: str
    case_state: str
    village_code: str | None
    case_lon: float
    case_lat: float
    round: int
    seq: int
    of_total: int
    offset_days: int
    due_date: date  # local date, Asia/Shanghai
    due_from: datetime  # 00:00 Asia/Shanghai on the due date
    status: str  # scheduled | due | overdue | done | cancelled
    status_label: str
    assignee: Person | None
    reminder_stage: int
    done_at: datetime | None = None
    recorded_at: datetime | None = None
    recorded_by: Person | None = None
    method: str | None = None
    method_label: str | None = None
    satisfaction: str | None = None
    satisfaction_label: str | None = None
    recurred: bool | None = None
    performance: str | None = None
    performance_label: str | None = None
    obligations: list[dict[str, Any]] = []  # [{obligation, performance, performance_label}]
    notes: str = ""
    photos: list[str] = []
    missing_photos: list[str] = []
    lon: float | None = None
    lat: float | None = None
    accuracy_m: float | None = None
    location_source: str | None = None
    distance_m: float | None = None
    face_to_face: bool | None = None
    on_time: bool | None = None
    updated_at: datetime | None = None


class VisitPage(msgspec.Struct):
    items: list[VisitView]
    next_cursor: str | None


class PolicyView(msgspec.Struct):
    level: str
    category: str | None
    offsets_days: list[int]
    source: str  # default | custom


class PolicyIn(msgspec.Struct):
    level: Level
    offsets_days: Annotated[list[Annotated[int, Meta(ge=1, le=365)]], Meta(min_length=1, max_length=6)]
    category: Annotated[str, Meta(max_length=32)] | None = None


class PolicyDelete(msgspec.Struct):
    level: Level
    category: Annotated[str, Meta(max_length=32)] | None = None
