"""The inbox (always delivered), and the notifications other than visit reminders."""

from __future__ import annotations

import uuid

from backend.cases.hooks import CaseChange, emit
from backend.cases.tables import Case
from backend.core import clock
from backend.db import write_transaction
from tests.factories import act, auth, make_case, tokens_for
from tests.notify.support import inbox_items


def kinds(items: list[dict]) -> list[tuple[str, str]]:
    """An inbox as (kind, case id), newest first."""
    return [(n["kind"], n["case_id"]) for n in items]


async def test_a_case_assigned_to_you(client):
    mediator = await tokens_for(client, "mediator1")
    team_id = mediator["user"]["team"]["id"]
    case = await make_case(client, "tianyuan", title="宅基地边界纠纷")
    assigned = await act(
        client, "tianyuan", case["id"], "assign", team_id=team_id, mediator_id=mediator["user"]["id"]
    )
    assert assigned.status_code == 200, assigned.text
    inbox = await inbox_items(client, "mediator1")
    assert kinds(inbox) == [("case_assigned", case["id"])]
    [note] = inbox
    assert case["number"] in note["title"] and note["url"] == f"/cases/{case['id']}" and note["read"] is False

    # A team without a named mediator: its leader is told, to choose one.
    other = await make_case(client, "tianyuan")
    await act(client, "tianyuan", other["id"], "assign", team_id=team_id)
    assert kinds(await inbox_items(client, "leader1")) == [("case_assigned", other["id"])]
    assert kinds(await inbox_items(client, "tianyuan")) == []  # not the actor


async def test_a_case_escalated_to_your_level(client):
    case = await make_case(client, "mediator1")
    await act(client, "leader1", case["id"], "accept")
    escalated = await act(
        client, "leader1", case["id"], "escalate", owner="township", level="hard", reason="涉及两个村民小组"
    )
    assert escalated.status_code == 200, escalated.text
    inbox = await inbox_items(client, "tianyuan")
    assert kinds(inbox) == [("case_escalated", case["id"])]
    [note] = inbox
    assert "乡镇" in note["body"] and "难事" in note["body"] and "两个村民小组" in note["body"]
    assert kinds(await inbox_items(client, "county")) == []
    await act(client, "tianyuan", case["id"], "escalate", owner="county", reason="需县级协调")
    assert kinds(await inbox_items(client, "county")) == [("case_escalated", case["id"])]


async def test_a_conflict_to_clear(client):
    """The sync domain flags overlapping offline edits; the township supervisor is told."""
    case = await make_case(client, "mediator1")
    case_id = uuid.UUID(case["id"])
    async with write_transaction():
        await (
            Case.update({Case.conflict: True, Case.version: Case.version + 1}).where(Case.id == case_id).run()
        )
        row = await Case.select().where(Case.id == case_id).first().run()
        change = CaseChange(
            case_id=case_id,
            action="update",
            actor=None,
            at=clock.now(),
            case=row,
            before={"conflict": False},
            after={"conflict": True},
        )
        await emit(change)
        await emit(change)  # told once per case version
    inbox = await inbox_items(client, "tianyuan")
    assert kinds(inbox) == [("case_conflict", case["id"])]
    [note] = inbox
    assert "冲突" in note["title"]


async def test_reading_the_inbox(client):
    mediator = await tokens_for(client, "mediator1")
    team_id = mediator["user"]["team"]["id"]
    for _ in range(3):
        case = await make_case(client, "tianyuan")
        await act(
            client, "tianyuan", case["id"], "assign", team_id=team_id, mediator_id=mediator["user"]["id"]
        )
    headers = await auth(client, "mediator1")
    first = (await client.get("/api/inbox", params={"limit": 2}, headers=headers)).json()
    assert len(first["items"]) == 2 and first["unread"] == 3 and first["next_cursor"]
    second = (
        await client.get("/api/inbox", params={"limit": 2, "cursor": first["next_cursor"]}, headers=headers)
    ).json()
    assert first["items"][-1]["id"] > second["items"][0]["id"]

    newest = first["items"][0]
    read = await client.post(f"/api/inbox/{newest['id']}/read", headers=headers)
    assert read.status_code == 200 and read.json()["read"] is True
    again = await client.post(f"/api/inbox/{newest['id']}/read", headers=headers)
    assert again.json()["read_at"] == read.json()["read_at"]
    after = (await client.get("/api/inbox", params={"limit": 1}, headers=headers)).json()
    assert after["unread"] == first["unread"] - 1
    unread_only = (
        await client.get("/api/inbox", params={"unread": "true", "limit": 200}, headers=headers)
    ).json()
    assert newest["id"] not in [n["id"] for n in unread_only["items"]]

    # Someone else's notification does not exist for you.
    theirs = await client.post(f"/api/inbox/{newest['id']}/read", headers=await auth(client, "leader1"))
    assert theirs.status_code == 404
    everything = await client.post("/api/inbox/read-all", headers=headers)
    assert everything.status_code == 200 and everything.json()["marked"] == after["unread"]
    assert (await client.get("/api/inbox", headers=headers)).json()["unread"] == 0
    bad = await client.get("/api/inbox", params={"cursor": "abc"}, headers=headers)
    assert bad.status_code == 400 and bad.json()["code"] == "request.invalid_cursor"
