"""Finding a case by what people know of it: its number, a party's name or phone (or ID number).

One search box, `GET /api/cases?q=`: a case number by its first digits, a party's name by its first
characters (a surname), a party's phone or ID number only in full: they are stored encrypted, and only
the keyed hash of a whole value can be looked up (party_data.py). Always inside the caller's scope (the
list query it joins goes through scope.visible_to). Searching by phone or ID number is itself a use of
personal data, so it is audited; the audit entry names the kind of search and how many cases it found,
never the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from piccolo.columns.combination import Combinable

from backend.cases import party_data, privacy
from backend.cases.tables import Case, Party
from backend.core import phones
from backend.core.errors import AppError, InvalidRequest

MIN_DIGITS = 4
MAX_QUERY = 40
_NUMBER = re.compile(r"^\d{1,9}-[\d-]*$")  # 530524101-2026-000123, or its start with a dash
_DIGITS = re.compile(r"^\d+[\dX]?$")  # a number's first digits, a whole phone or ID number
_NAME = re.compile(r"^[^\s%_\\]+$")


class InvalidSearch(InvalidRequest):
    code = "case.invalid_search"
    message = "请输入案件编号（至少4位）、当事人姓名，或完整的电话号码、身份证号"
    message_en = "Search by case number (at least 4 digits), party name, or a whole phone or ID number"


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
        hashes = _party_hashes(q)  # a landline with its dash: 0871-1234567
        if hashes:
            parties = Party.select(Party.case).where(_any_hash(hashes))
            return Search(Case.number.like(f"{q}%") | Case.id.is_in(parties), "digits", audited=True)
        return Search(Case.number.like(f"{q}%"), "number", audited=False)
    if _DIGITS.match(q):
        if len(q) < MIN_DIGITS:
            raise InvalidSearch()
        by_number = Case.number.like(f"{q}%")
        hashes = _party_hashes(q)
        if not hashes:
            return Search(by_number, "number", audited=False)
        parties = Party.select(Party.case).where(_any_hash(hashes))
        return Search(by_number | Case.id.is_in(parties), "digits", audited=True)
    if not _NAME.match(q):
        raise InvalidSearch()
    name = raw.strip()
    parties = Party.select(Party.case).where(Party.name.like(f"{name}%"))
    return Search(Case.id.is_in(parties), "name", audited=False)


def _party_hashes(q: str) -> list[tuple[str, str]]:
    """(kind, hash) for the text read as a whole phone number and as a whole ID number, where it is one."""
    out = []
    for kind, normalise in (("phone", phones.normalise), ("id_number", privacy.normalise_id_number)):
        try:
            value = normalise(q)
        except (ValueError, AppError):
            continue
        if value:
            out.append((kind, party_data.digest(kind, value)))
    return out


def _any_hash(hashes: list[tuple[str, str]]) -> Combinable:
    column = {"phone": Party.phone_hash, "id_number": Party.id_number_hash}
    condition: Combinable = column[hashes[0][0]] == hashes[0][1]
    for kind, value in hashes[1:]:
        condition = condition | (column[kind] == value)
    return condition
