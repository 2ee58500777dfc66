"""Two phones edit the same case offline: different fields merge; the same field is flagged for a
supervisor, and both values stay in the events."""

from __future__ import annotations

from tests.factories import act, auth, bearer, login
from tests.sync.helpers import action_op, create_op, note_op, push, update_op


async def _two_phones_on_one_case(client) -> tuple[dict, dict, str, int]:
    """leader1's and mediator1's phones (same team), both holding the case at the same version."""
    phone_a = bearer(await login(client, "leader1", device_name="队长的手机"))
    phone_b = bearer(await login(client, "mediator1", device_name="调解员的手机"))
    create = create_op()
    results = await push(client, phone_a, create, action_op(create["entity_id"], "accept"))
    return phone_a, phone_b, create["entity_id"], results[-1]["server_version"]


async def _case(client, case_id: str, username: str = "tianyuan") -> dict:
    response = await client.get(f"/api/cases/{case_id}", headers=await auth(client, username))
    assert response.status_code == 200
    return response.json()


async def test_edits_of_different_fields_merge(client):
    phone_a, phone_b, cid, base = await _two_phones_on_one_case(client)
    a = await push(client, phone_a, update_op(cid, base, title="通道纠纷（张李两家）"))
    b = await push(client, phone_b, update_op(cid, base, description="双方同意三日内清理建材。"))
    assert (a[0]["status"], b[0]["status"]) == ("applied", "applied")
    assert b[0]["server_version"] == base + 2
    case = await _case(client, cid)
    assert case["title"] == "通道纠纷（张李两家）" and case["description"] == "双方同意三日内清理建材。"
    assert case["conflict"] is False
    assert (
        case["events"][-1]["data"]["merged"] == ["description"]
        and case["events"][-1]["data"]["conflicts"] == []
    )


async def test_the_same_field_is_flagged_and_a_supervisor_clears_it(client):
    phone_a, phone_b, cid, base = await _two_phones_on_one_case(client)
    a = await push(client, phone_a, update_op(cid, base, title="甲手机的标题", description="甲的描述"))
    b = await push(client, phone_b, update_op(cid, base, title="乙手机的标题", category="homestead"))
    assert a[0]["status"] == "applied"
    assert b[0]["status"] == "conflict" and b[0]["code"] == "case.conflict"
    case = await _case(client, cid)
    # The later write wins the field; the rest merges; the case waits for a supervisor.
    assert case["title"] == "乙手机的标题" and case["description"] == "甲的描述"
    assert case["category"] == "homestead" and case["conflict"] is True
    edit_a, edit_b = case["events"][-2], case["events"][-1]
    assert edit_a["after"]["title"] == "甲手机的标题"
    assert edit_b["before"]["title"] == "甲手机的标题" and edit_b["after"]["title"] == "乙手机的标题"
    assert edit_b["data"]["conflicts"] == [
        {"field": "title", "kept": "乙手机的标题", "replaced": "甲手机的标题", "replaced_version": base + 1}
    ]
    assert edit_b["data"]["merged"] == ["category"]

    supervisor = await auth(client, "tianyuan")
    listed = await client.get("/api/cases", params={"conflict": "1"}, headers=supervisor)
    assert cid in [c["id"] for c in listed.json()["items"]]
    # Not the mediator's call; the township's.
    assert (await act(client, "mediator1", cid, "clear_conflict")).status_code == 403
    cleared = await act(client, "tianyuan", cid, "clear_conflict")
    assert cleared.status_code == 200 and cleared.json()["conflict"] is False
    listed = await client.get("/api/cases", params={"conflict": "1"}, headers=supervisor)
    assert cid not in [c["id"] for c in listed.json()["items"]]


async def test_notes_never_conflict_and_an_identical_value_is_no_conflict(client):
    phone_a, phone_b, cid, base = await _two_phones_on_one_case(client)
    await push(client, phone_a, update_op(cid, base, title="双方都改成这个"), note_op(cid, "甲的调解记录"))
    results = await push(
        client, phone_b, note_op(cid, "乙的调解记录"), update_op(cid, base, title="双方都改成这个")
    )
    assert [(r["status"], r["code"]) for r in results] == [
        ("applied", "case.noted"),
        ("applied", "case.unchanged"),
    ]
    case = await _case(client, cid)
    assert case["conflict"] is False
    assert [e["action"] for e in case["events"]][-3:] == ["update", "note", "note"]


async def test_a_supervisors_workflow_change_of_a_field_counts_as_a_change(client):
    phone_a, _, cid, _ = await _two_phones_on_one_case(client)
    create = create_op()
    reported = create["entity_id"]
    await push(client, phone_a, create)
    # The township accepts it and re-categorises it while the phone edits the category offline.
    accepted = await act(client, "tianyuan", reported, "accept", category="contract_debt")
    assert accepted.status_code == 200
    results = await push(client, phone_a, update_op(reported, 1, category="damages"))
    assert results[0]["status"] == "conflict"
    case = await _case(client, reported)
    assert case["category"] == "damages" and case["events"][-1]["before"]["category"] == "contract_debt"
