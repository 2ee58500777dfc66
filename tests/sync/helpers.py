"""Building sync operations and pushing them, for the sync tests and the fault tests' phones."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from tests.factories import case_body


def op(type_: str, entity_id: str, payload: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    body = {
        "op_id": str(uuid.uuid4()),
        "type": type_,
        "entity_id": entity_id,
        "payload": payload or {},
        "client_time": datetime.now(UTC).isoformat(),
    }
    body.update(fields)
    return body


def create_op(**overrides: Any) -> dict[str, Any]:
    body = case_body(**overrides)
    return op("case.create", body["id"], body)


def note_op(case_id: str, text: str, **fields: Any) -> dict[str, Any]:
    return op("case.note", case_id, {"text": text}, **fields)


def update_op(case_id: str, base_version: int, **changes: Any) -> dict[str, Any]:
    return op("case.update", case_id, changes, base_version=base_version)


def action_op(case_id: str, action: str, **body: Any) -> dict[str, Any]:
    return op("case.action", case_id, {"action": action, **body})


async def push(client, headers: dict[str, str], *ops: dict[str, Any]) -> list[dict[str, Any]]:
    response = await client.post("/api/sync/push", json={"ops": list(ops)}, headers=headers)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["op_id"] for r in results] == [o["op_id"] for o in ops]
    return results


async def pull_all(client, headers: dict[str, str], cursor: str | None = None, limit: int = 100) -> dict:
    """Every page from `cursor`: {cases: {id: case}, gone: [ids], cursor, pages, reset, reference}."""
    cases: dict[str, Any] = {}
    gone: list[str] = []
    pages = 0
    reset = False
    reference: dict[str, Any] = {}
    while True:
        params = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = await client.get("/api/sync/pull", params=params, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        pages += 1
        reset = reset or page["reset"]
        reference.update(page["reference"] or {})
        for change in page["changes"]:
            if change["op"] == "upsert":
                cases[change["id"]] = change["case"]
            else:
                gone.append(change["id"])
                cases.pop(change["id"], None)
        cursor = page["cursor"]
        if not page["more"]:
            return {
                "cases": cases,
                "gone": gone,
                "cursor": cursor,
                "pages": pages,
                "reset": reset,
                "reference": reference,
            }
