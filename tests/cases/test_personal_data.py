"""Names, phones and ID numbers: masked in lists and for roles that don't need them, full only for
those who work the case, and every full read in the audit log."""

from __future__ import annotations

from tests.factories import auth, bearer, login, make_case, make_user, tokens_for


async def test_lists_mask_personal_data(client):
    case = await make_case(client, "mediator1")
    items = (
        await client.get("/api/cases", params={"limit": 200}, headers=await auth(client, "tianyuan"))
    ).json()["items"]
    listed = next(c for c in items if c["id"] == case["id"])
    applicant = listed["parties"][0]
    assert applicant["name"] == "张**"
    assert applicant["phone"] == "138****5678"
    assert applicant["id_number"] == "110105********002X"
    assert listed["parties"][1]["phone"] == "087****3456"


async def test_detail_is_full_for_the_team_township_and_county_and_each_read_is_audited(client):
    case = await make_case(client, "mediator1")
    for username in ("mediator1", "leader1", "tianyuan", "county"):
        detail = (await client.get(f"/api/cases/{case['id']}", headers=await auth(client, username))).json()
        assert detail["personal_data"] == "full"
        assert detail["parties"][0]["id_number"] == "11010519491231002X"
    audit = (
        await client.get("/api/audit", params={"case": case["id"]}, headers=await auth(client, "county"))
    ).json()
    reads = [a for a in audit if a["action"] == "case.read_personal"]
    assert {a["username"] for a in reads} == {"mediator1", "leader1", "tianyuan", "county"}
    assert all("id_number" in a["detail"]["fields"] for a in reads)
    # The audit log names what was read, never the values.
    assert "11010519491231002X" not in str(audit) and "13812345678" not in str(audit)


async def test_a_grid_worker_of_the_village_sees_the_case_masked(client):
    worker = await make_user(
        client, await tokens_for(client, "county"), role="grid_worker", scope_code="530524101001"
    )
    tokens = await login(client, worker["username"], worker["password"])
    case = await make_case(client, "mediator1")
    detail = (await client.get(f"/api/cases/{case['id']}", headers=bearer(tokens))).json()
    assert detail["personal_data"] == "masked"
    assert detail["parties"][0]["phone"] == "138****5678"
    printed = await client.get(f"/api/cases/{case['id']}/agreement", headers=bearer(tokens))
    assert printed.status_code == 403


async def test_only_the_county_reads_the_audit_log(client):
    for username in ("tianyuan", "mediator1"):
        assert (await client.get("/api/audit", headers=await auth(client, username))).status_code == 403


async def test_audit_filters_by_user_and_time(client):
    await make_case(client, "mediator2", point=(99.392591, 24.790793))
    me = (await client.get("/api/me", headers=await auth(client, "mediator2"))).json()
    rows = (
        await client.get("/api/audit", params={"user": me["id"]}, headers=await auth(client, "county"))
    ).json()
    assert rows and all(r["user_id"] == me["id"] for r in rows)
    assert any(r["action"] == "case.create" for r in rows)
    future = (
        await client.get(
            "/api/audit", params={"since": "2999-01-01T00:00:00Z"}, headers=await auth(client, "county")
        )
    ).json()
    assert future == []


def test_masking_never_shows_most_of_a_short_id_number():
    from backend.cases.privacy import mask_id_number

    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert mask_id_number("5305241234") == "**********"
    assert mask_id_number(None) is None
