"""The change log and the pull that reads it.

Every change of a case (create, action, edit) appends a row to `sync_change` inside the change's own
transaction (listeners.py). The row's integer id is the pull cursor. A cursor must never pass an id
that is still to commit, or the phone would miss that change for good:

- SQLite has one writer at a time: ids are handed out under the write lock and commit in that order.
  A reader (WAL) sees a prefix of the log, so the highest id it sees is a safe horizon.
- PostgreSQL hands out sequence values at insert time, and transactions commit in any order: a reader
  can see id 11 while id 10 is still in flight. So a writer takes a *shared* transaction-level advisory
  lock just before it inserts its change row, and holds it to its commit. The pull takes the same lock
  *exclusively*, for an instant, and reads max(id) as its horizon: getting the lock means every writer
  that had taken an id has committed or rolled back, and writers arriving later get larger ids. Only
  ids up to the horizon are served; later ones come with the next pull. Writers never wait for each
  other (shared), only for a pull's instant; a pull waits at most for the writes in flight. (A
  commit-time counter under an exclusive lock would serialise every write's tail instead.)

The pull is scoped with cases.scope.visible_to (a leader: the cases in its charge, offline_scope): a
page carries the cases changed after the cursor that the user may see now, as they are now. It also
remembers which cases it sent to which device (`sync_delivery`), so when such a case is no longer
visible (reassigned to another team, moved to another township) the device gets a `left_scope`
tombstone, and nobody gets a tombstone for a case they were never sent. The page is a function of
the cursor: an answer lost on the way is answered
again the same way, tombstones included (`gone_at` is the change id that produced the tombstone).

The cursor is "<change id>.<scope>": scope is a hash of the device and of the user's role, area and
team. When it no longer matches (the user moved to another team, or a cursor from another device),
the pull starts over from 0 and says `reset`, and the phone drops what it holds.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from piccolo.columns.combination import Combinable
from piccolo.query import OrderByRaw
from piccolo.query.functions.aggregate import Max
from piccolo.querystring import QueryString

from backend.cases import hooks, privacy, views
from backend.cases.scope import visible_rows, visible_to
from backend.cases.tables import Case
from backend.core.errors import InvalidRequest
from backend.core.identity import SUPERVISOR_ROLES, CurrentUser, Role
from backend.db import (
    DB,
    engine_name,
    fetch,
    insert_parts,
    insert_rows,
    new_row,
    placeholders,
    read_transaction,
    write_transaction,
)
from backend.sync import reference
from backend.sync.schemas import CaseChange, PullOut
from backend.sync.tables import SyncChange, SyncDelivery
from backend.visits import service as visits

# Advisory lock keys (PostgreSQL's two-int4 form): the change log's horizon lock. The namespace is
# this application's, the same in every county ("FQ" in ASCII), so other software sharing the
# server picks other keys.
LOCK_NAMESPACE = 0x4651
CHANGE_LOG_LOCK = 1
MAX_PULL = 500


async def append(change: hooks.CaseChange) -> None:
    """Record one case change in the log; runs inside the change's transaction."""
    row = new_row(
        SyncChange,
        entity="case",
        entity_id=change.case_id,
        version=change.case["version"],
        action=change.action,
        at=change.at,
    )
    if engine_name() != "postgresql":
        await insert_rows(SyncChange, [row])
        return
    # The shared lock is taken before the row gets its id (the subquery runs first), as the horizon
    # needs; one statement, as the intake's case-number lock may be held while it runs.
    target, values = insert_parts(SyncChange, row)
    await fetch(
        f"INSERT INTO {target} SELECT {placeholders(values)}"
        " FROM (SELECT pg_advisory_xact_lock_shared({}, {})) AS locked",
        *values,
        LOCK_NAMESPACE,
        CHANGE_LOG_LOCK,
    )


async def horizon() -> int:
    """The highest change id below which nothing can still commit (see the module notes)."""
    if engine_name() == "postgresql":
        async with DB.transaction():
            await DB.run_querystring(
                QueryString("SELECT pg_advisory_xact_lock({}, {})", LOCK_NAMESPACE, CHANGE_LOG_LOCK)
            )
            rows = await DB.run_querystring(QueryString("SELECT COALESCE(MAX(id), 0) AS h FROM sync_change"))
    else:
        rows = await DB.run_querystring(QueryString("SELECT COALESCE(MAX(id), 0) AS h FROM sync_change"))
    return int(rows[0]["h"])


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def scope_key(user: CurrentUser) -> str:
    raw = f"{user.device_id}|{user.id}|{user.role}|{user.scope_level}|{user.scope_code}|{user.team_id}"
    return hashlib.sha256(raw.encode()).hexdigest()[:10]


class InvalidCursor(InvalidRequest):
    code = "sync.invalid_cursor"
    message = "同步游标无效"
    message_en = "Invalid sync cursor"


def parse_cursor(cursor: str | None, user: CurrentUser) -> tuple[int, bool]:
    """(position, reset): an empty cursor is the start; one minted for another scope starts over."""
    if not cursor:
        return 0, False
    position, _, scope = cursor.partition(".")
    try:
        value = int(position)
    except ValueError:
        raise InvalidCursor() from None
    if value < 0:
        raise InvalidCursor()
    if scope != scope_key(user):
        return 0, True
    return value, False


def make_cursor(position: int, user: CurrentUser) -> str:
    return f"{position}.{scope_key(user)}"


async def _page(user: CurrentUser, position: int, upto: int, limit: int) -> list[dict[str, Any]]:
    """The cases changed after `position` (up to the horizon) that the user may see now or was sent,
    each once with its latest change id (`last`), in that order. Any change up to the `last` of the
    page's final case is covered: a case whose latest change is later comes on a later page, as it
    is then."""
    query = (
        SyncChange.select(SyncChange.entity_id, Max(SyncChange.id, alias="last"))
        .where((SyncChange.id > position) & (SyncChange.id <= upto) & (SyncChange.entity == "case"))
        .group_by(SyncChange.entity_id)
        .order_by(OrderByRaw("last"))
    )
    condition = offline_scope(user)
    if condition is not None:
        sent = SyncDelivery.select(SyncDelivery.case_id).where(
            (SyncDelivery.device == user.device_id)
            & (SyncDelivery.gone_at.is_null() | (SyncDelivery.gone_at > position))
        )
        query = query.where(
            SyncChange.entity_id.is_in(Case.select(Case.id).where(condition))
            | SyncChange.entity_id.is_in(sent)
        )
    return await query.limit(limit + 1).run()


def offline_scope(user: CurrentUser) -> Combinable | None:
    """The cases a device keeps: what the user may see, except that a leader (a whole township or
    county to read) keeps only the cases in its charge, what its phone's 我的包案 shows offline."""
    if user.role == Role.leader:
        return Case.leader == user.id
    return visible_to(user)


def _kept(user: CurrentUser, row: dict[str, Any]) -> bool:
    return user.role != Role.leader or row["leader"] == user.id


def keeps_offline_copy(user: CurrentUser) -> bool:
    """Field roles keep their cases on the phone; a township supervisor or the county office works at
    a desk over thousands of cases and fetches what a screen shows (the PWA's sync/offline.ts)."""
    return user.role not in SUPERVISOR_ROLES


async def pull(user: CurrentUser, cursor: str | None, limit: int, known_ref: str | None) -> PullOut:
    """One page of the user's change feed, and the reference data that changed (module notes)."""
    limit = max(1, min(limit, MAX_PULL))
    position, reset = parse_cursor(cursor, user)
    if not keeps_offline_copy(user):
        return await _reference_only(user, position, reset, known_ref)
    scoped = offline_scope(user) is not None
    if reset and scoped:
        async with write_transaction():
            await SyncDelivery.delete().where(SyncDelivery.device == user.device_id).run()
    # PostgreSQL's horizon takes a lock in a transaction of its own; SQLite's is read in the snapshot.
    upto = await horizon() if engine_name() == "postgresql" else None
    async with read_transaction():  # one connection for the page's dozen reads
        if upto is None:
            upto = await horizon()
        rows = await _page(user, position, upto, limit)
        more = len(rows) > limit
        rows = rows[:limit]
        last_change = {_uuid(r["entity_id"]): r["last"] for r in rows}
        ids = list(last_change)
        visible = {
            i: r
            for i, r in (await visible_rows(user, ids, *views.detail_columns())).items()
            if _kept(user, r)
        }
        details = {
            uuid.UUID(d.id): d
            for d in await views.case_details(user, [visible[i] for i in ids if i in visible])
        }
        # The case page on the phone shows its return visits (offline too), as the detail route does.
        for case_id, case_visits in (await visits.visits_for_cases(list(details))).items():
            details[case_id].visits = case_visits
        ref, versions = await reference.reference_for(user, reference.parse_known(known_ref))
    changes = [
        CaseChange(kind="case", op="upsert", id=str(i), version=details[i].version, case=details[i])
        if i in visible
        else CaseChange(kind="case", op="left_scope", id=str(i))
        for i in ids
    ]
    full = [c.id for c in changes if c.case is not None and c.case.personal_data == "full" and c.case.parties]
    sent = [i for i in ids if i in visible] if scoped else []
    gone = {i: last_change[i] for i in ids if i not in visible}
    if sent or gone or full:
        # Written after the reads: on SQLite a read transaction cannot wait for the write lock.
        async with write_transaction():
            await _remember(user, sent, gone)
            if full:
                await privacy.audit(user, "sync.pull_personal", None, cases=full)
    return PullOut(
        changes=changes,
        cursor=make_cursor(rows[-1]["last"] if more else max(upto, position), user),
        more=more,
        reset=reset,
        reference=ref,
        reference_versions=versions,
    )


async def _reference_only(user: CurrentUser, position: int, reset: bool, known_ref: str | None) -> PullOut:
    """A supervisor's pull: no cases, the cursor at the head of the log, and the reference data."""
    upto = await horizon()
    async with read_transaction():
        ref, versions = await reference.reference_for(user, reference.parse_known(known_ref))
    return PullOut(
        changes=[],
        cursor=make_cursor(max(upto, position), user),
        more=False,
        reset=reset,
        reference=ref,
        reference_versions=versions,
    )


async def _remember(user: CurrentUser, sent: list[uuid.UUID], gone: dict[uuid.UUID, int]) -> None:
    """Record what this device now holds: cases sent (gone_at cleared) and tombstones given.
    Inside the caller's write transaction."""
    device = user.device_id
    for start in range(0, len(sent), 200):
        chunk = sent[start : start + 200]
        args: list[Any] = []
        for case_id in chunk:
            args += [f"{device}:{case_id}", device, case_id]
        await DB.run_querystring(
            QueryString(
                "INSERT INTO sync_delivery (key, device, case_id, gone_at) VALUES "
                + ", ".join(["({}, {}, {}, NULL)"] * len(chunk))
                + " ON CONFLICT (key) DO UPDATE SET gone_at = NULL",
                *args,
            )
        )
    for case_id, change_id in gone.items():
        await (
            SyncDelivery.update({SyncDelivery.gone_at: change_id})
            .where(SyncDelivery.key == f"{device}:{case_id}")
            .run()
        )
