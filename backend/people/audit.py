"""The audit log's writer: who did what, when and from where. Rows hold ids and codes, never personal
data (a phone read is logged as "read the phone of user 17", not the number)."""

from __future__ import annotations

import uuid
from typing import Any

from backend.core import clock
from backend.core.identity import CurrentUser
from backend.db import insert_rows, new_row
from backend.people.tables import AuditEntry


async def record(
    actor: CurrentUser | None, action: str, case_id: uuid.UUID | str | None = None, **detail: Any
) -> None:
    # Every case intake and every full read writes one: the quick insert (backend/db.py).
    await insert_rows(
        AuditEntry,
        [
            new_row(
                AuditEntry,
                at=clock.now(),
                user=actor.id if actor else None,
                device=actor.device_id if actor else None,
                client_addr=actor.client_addr if actor else None,
                action=action,
                case=uuid.UUID(str(case_id)) if case_id else None,
                detail=detail,
            )
        ],
    )
