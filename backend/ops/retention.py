"""Retention: the parties of cases archived longer ago than settings.retention_years are anonymised
(个人信息保护法 art. 19, 47), by `fengqiao retention run` (from cron, e.g. monthly).

What goes, per case: each party's name becomes 当事人甲, 当事人乙, … (by position, so an agreement
still reads as between two people), phone and ID number (ciphertext, hash and key) are cleared; the
free text written about the people is replaced: the case's title and description, the agreement's
facts, matters, terms and performance, return-visit notes, and the same texts (and reasons) copied
into the case's history. Titles and descriptions routinely name the parties ("张家与李家宅基地纠纷").

What stays, so every report and rate is the same before and after: category, level, states and
times, places (township, village, grid, coordinates), owners, visit outcomes, the history's actions
and times, the audit log (which never held personal data). Photos stay too (see README: not done).

A case anonymised is not picked again unless it is reopened and archived again later; each one is
its own transaction, with an `anonymise` event in its history, a change-log entry (phones holding it
receive the anonymised copy) and an audit entry.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from piccolo.querystring import QueryString

from backend.cases import hooks
from backend.cases.tables import Agreement, Case, CaseEvent, Party
from backend.core import clock
from backend.db import DB, write_transaction
from backend.people.audit import record as record_audit
from backend.visits.tables import Visit

ACTION = "anonymise"
REDACTED = "（已匿名化）"
_STEMS = "甲乙丙丁戊己庚辛壬癸"
# Keys of history entries (before/after/data) that hold text typed about the people.
TEXT_KEYS = frozenset({"title", "description", "reason", "notes", "facts", "matters", "terms"})


def party_name(position: int) -> str:
    return f"当事人{_STEMS[position]}" if position < len(_STEMS) else f"当事人{position + 1}"


def cutoff(now: datetime, years: int) -> datetime:
    """The same day and time `years` years before `now` (29 February → 28 February)."""
    try:
        return now.replace(year=now.year - years)
    except ValueError:
        return now.replace(year=now.year - years, day=28)


@dataclass(frozen=True)
class Outcome:
    years: int
    cutoff: datetime | None
    cases: list[uuid.UUID]
    dry_run: bool


async def due_cases(before: datetime) -> list[uuid.UUID]:
    """Archived cases whose archiving (the latest `archive` event, else closing) is before `before`,
    not anonymised since."""
    archived = (
        "COALESCE((SELECT MAX(e.at) FROM case_event e WHERE e.\"case\" = c.id AND e.action = 'archive'), "
        "c.closed_at)"
    )
    sql = (
        f"SELECT c.id AS id FROM dispute_case c WHERE c.state = 'archived' AND {archived} < {{}} "
        f"AND NOT EXISTS (SELECT 1 FROM case_event a WHERE a.\"case\" = c.id AND a.action = '{ACTION}' "
        f"AND a.at >= {archived}) ORDER BY c.reported_at, c.id"
    )
    rows = await DB.run_querystring(QueryString(sql, before))
    return [r["id"] if isinstance(r["id"], uuid.UUID) else uuid.UUID(str(r["id"])) for r in rows]


def _scrubbed(entry: Any) -> Any:
    if not isinstance(entry, dict):
        return entry
    return {k: (REDACTED if k in TEXT_KEYS and isinstance(v, str) and v else v) for k, v in entry.items()}


async def anonymise_case(case_id: uuid.UUID, years: int, now: datetime) -> None:
    async with write_transaction():
        parties = (
            await Party.select(Party.id, Party.position)
            .where(Party.case == case_id)
            .order_by(Party.position)
            .run()
        )
        for index, party in enumerate(parties):
            await (
                Party.update(
                    {
                        Party.name: party_name(index),
                        Party.key_id: None,
                        Party.phone_cipher: None,
                        Party.id_number_cipher: None,
                        Party.phone_hash: None,
                        Party.id_number_hash: None,
                    }
                )
                .where(Party.id == party["id"])
                .run()
            )
        await (
            Agreement.update(
                {
                    Agreement.facts: REDACTED,
                    Agreement.matters: REDACTED,
                    Agreement.terms: REDACTED,
                    Agreement.performance: REDACTED,
                }
            )
            .where(Agreement.case == case_id)
            .run()
        )
        await Visit.update({Visit.notes: ""}).where((Visit.case == case_id) & (Visit.notes != "")).run()
        events = (
            await CaseEvent.select(CaseEvent.id, CaseEvent.before, CaseEvent.after, CaseEvent.data)
            .where(CaseEvent.case == case_id)
            .run()
        )
        for event in events:
            before, after, data = (_decoded(event[k]) for k in ("before", "after", "data"))
            if (before, after, data) != (_scrubbed(before), _scrubbed(after), _scrubbed(data)):
                await (
                    CaseEvent.update(
                        {
                            CaseEvent.before: _scrubbed(before),
                            CaseEvent.after: _scrubbed(after),
                            CaseEvent.data: _scrubbed(data),
                        }
                    )
                    .where(CaseEvent.id == event["id"])
                    .run()
                )
        case = await Case.select(Case.version).where(Case.id == case_id).first().run()
        assert case is not None
        version = case["version"] + 1
        await (
            Case.update(
                {Case.title: REDACTED, Case.description: "", Case.version: version, Case.updated_at: now}
            )
            .where(Case.id == case_id)
            .run()
        )
        data = {"parties": len(parties), "years": years}
        await CaseEvent.insert(
            CaseEvent(case=case_id, at=now, actor=None, action=ACTION, data=data, version=version)
        ).run()
        await record_audit(None, "case.anonymise", case_id, **data)
        row = await Case.select().where(Case.id == case_id).first().run()
        assert row is not None
        await hooks.emit(
            hooks.CaseChange(case_id=case_id, action=ACTION, actor=None, at=now, case=row, data=data)
        )


def _decoded(value: Any) -> Any:
    if isinstance(value, str):
        import json

        return json.loads(value or "{}")
    return value


async def run(
    years: int,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    progress: Callable[[int], Any] | None = None,
) -> Outcome:
    """Anonymise every case due (or, with dry_run, only say which). `years` 0: retention is off."""
    if years <= 0:
        return Outcome(years=years, cutoff=None, cases=[], dry_run=dry_run)
    now = (now or clock.now()).astimezone(UTC)
    before = cutoff(now, years)
    due = await due_cases(before)
    if not dry_run:
        for case_id in due:
            await anonymise_case(case_id, years, now)
            if progress is not None:
                progress(1)
        if due:
            async with write_transaction():
                await record_audit(None, "retention.run", None, cases=len(due), years=years)
    return Outcome(years=years, cutoff=before, cases=due, dry_run=dry_run)
