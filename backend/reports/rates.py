"""The five headline rates (办结率、化解率、回访率、满意率、见面率): their definitions, written once.

The README, the HTML and XLSX reports and the PWA's hover text all show these same sentences. A report's
cohort C is the cases *reported* in its period, less rejected and merged ones; its visits V are the visits
*due* in the period, less cancelled ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from backend.reports.schemas import Rate

# Cases in these states count as 办结 (closed): archived is a closed case whose last visit was satisfied.
CLOSED_STATES = ("closed", "archived")
# Not part of any cohort: a rejected report was never a dispute to mediate, a merged one is a duplicate.
EXCLUDED_STATES = ("rejected", "merged")
SATISFIED = ("satisfied", "basically_satisfied")

# key → (name, definition). Order is the order every report shows them in.
DEFINITIONS: dict[str, tuple[str, str]] = {
    "closure": ("办结率", "期内登记的纠纷（不含不予受理、已合并）中，现已办结或归档的件数 ÷ 期内登记件数"),
    "resolution": ("化解率", "期内登记的纠纷中，已达成调解协议（有化解时间）的件数 ÷ 期内登记件数"),
    "visit": (
        "回访率",
        "期内应回访（未取消）且截至昨日已到期或今日到期已完成的回访中，按期完成的次数 ÷ 这些回访的次数",
    ),
    "satisfaction": (
        "满意率",
        "期内应回访且已完成的回访中，评价为满意或基本满意的次数 ÷ 有满意度评价的已完成回访次数",
    ),
    "face_to_face": ("见面率", "期内应回访且已完成的回访中，经定位确认当面回访的次数 ÷ 已完成回访次数"),
}


def percent(numerator: int, denominator: int) -> float | None:
    """Truncated, never rounded, to two decimals, so a rate is never overstated (227/238 → 95.37);
    None when there is nothing to measure (shown as "—")."""
    if denominator <= 0:
        return None
    return (numerator * 10000 // denominator) / 100


@dataclass
class RateCounts:
    """The numerators and denominators of the five rates for one set of cases and visits."""

    cases: int = 0
    closed: int = 0
    resolved: int = 0
    visits_due: int = 0  # V, due before today, or due today and done
    visits_on_time: int = 0
    visits_rated: int = 0  # done visits in V with a satisfaction
    visits_satisfied: int = 0
    visits_done: int = 0
    visits_face_to_face: int = 0

    def pairs(self) -> dict[str, tuple[int, int]]:
        return {
            "closure": (self.closed, self.cases),
            "resolution": (self.resolved, self.cases),
            "visit": (self.visits_on_time, self.visits_due),
            "satisfaction": (self.visits_satisfied, self.visits_rated),
            "face_to_face": (self.visits_face_to_face, self.visits_done),
        }

    def rates(self) -> list[Rate]:
        return [
            Rate(
                key=key,
                name=DEFINITIONS[key][0],
                value=percent(num, den),
                numerator=num,
                denominator=den,
                definition=DEFINITIONS[key][1],
            )
            for key, (num, den) in self.pairs().items()
        ]

    def values(self) -> dict[str, float | None]:
        return {key: percent(num, den) for key, (num, den) in self.pairs().items()}
