"""Finding a case by what people know of it: its number, a party's name or phone (or ID number).

One search box, `GET /api/cases?q=`: the text is matched exactly or as a prefix (a number's first
digits, a phone's first digits, a surname), always inside the caller's scope (the list query it joins
goes through scope.visible_to). Searching by phone or ID number is itself a use of personal data, so it
is audited; the audit entry names the kind of search and how many cases it found, never the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from piccolo.columns.combination import Combinable

from backend.cases.tables import Case, Party
from backend.core.errors import InvalidRequest

MIN_DIGITS = 4
MAX_QUERY = 40
_NUMBER = re.compile(r"^\d{1,9}-[\d-]*$")  # 530524101-2026-000123, or its start with a dash
_DIGITS = re.compile(r"^\d+[\dX]?$")  # a number's, a phone's or an ID number's first characters
_NAME = re.compile(r"^[^\s%_\\]+$")


class InvalidSearch(InvalidRequest):
    code = "case.invalid_search"
    message = "请输入案件编号、当事人姓名或电话（编号和电话至少4位）"
    message_en = "Search by case number, party name or phone (at least 4 digits)"


@dataclass(frozen=True)
class Search:
    condition: Combinable
    kind: str  # number | digits (number, phone or ID number) | name
    audited: bool  # whether it reads personal data (phone or ID number)


def parse(raw: str) -> Search:
    """The condition on Case for a search text; 400 case.invalid_search for one too short or odd."""
    q = re.sub(r"[\s]", "", raw).upper()
    if not q or len(q) > MAX_QUERY:
        raise InvalidSearch()
    if _NUMBER.match(q):
        return Search(Case.number.like(f"{q}%"), "number", audited=False)
    if _DIGITS.match(q):
        if len(q) < MIN_DIGITS:
            raise InvalidSearch()
        parties = Party.select(Party.case).where(Party.phone.like(f"{q}%") | Party.id_number.like(f"{q}%"))
        return Search(Case.number.like(f"{q}%") | Case.id.is_in(parties), "digits", audited=True)
    if not _NAME.match(q):
        raise InvalidSearch()
    name = raw.strip()
    parties = Party.select(Party.case).where(Party.name.like(f"{name}%"))
    return Search(Case.id.is_in(parties), "name", audited=False)
