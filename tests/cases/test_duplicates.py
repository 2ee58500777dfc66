"""Possible duplicates are linked, and a supervisor merges or dismisses them."""

from __future__ import annotations

from backend.cases import duplicates
from tests.factories import TIANYUAN_POINT, act, auth, make_case


async def test_same_category_within_100m_is_linked(client):
    first = await make_case(client, "mediator1", category="homestead", parties=[])
    near = (TIANYUAN_POINT[0] + 0.0004, TIANYUAN_POINT[1])  # about 40 m east
    second = await make_case(client, "mediator1", category="homestead", parties=[], point=near)
    links = {d["case_id"]: d["reason"] for d in second["duplicates"]}
    assert links[first["id"]] == "nearby"
    far = (TIANYUAN_POINT[0] + 0.003, TIANYUAN_POINT[1])  # about 300 m
    third = await make_case(client, "mediator1", category="homestead", parties=[], point=far)
    assert first["id"] not in [d["case_id"] for d in third["duplicates"]]


async def test_same_party_phone_is_linked(client):
    party = [{"name": "罗光荣", "phone": "13987654321"}]
    first = await make_case(
        client, "mediator1", category="contract_debt", parties=party, point=(99.60, 24.83)
    )
    second = await make_case(
        client, "mediator1", category="damages", parties=[{"name": "罗光荣", "phone": "139 8765 4321"}]
    )
    # The phone was typed with spaces the second time; it still matches.
    assert {d["case_id"]: d["reason"] for d in second["duplicates"]}[first["id"]] == "same_party"


async def test_merge_and_dismiss(client):
    a = await make_case(client, "mediator1", category="forest_land", parties=[])
    b = await make_case(client, "mediator1", category="forest_land", parties=[])
    c = await make_case(client, "mediator1", category="forest_land", parties=[])
    dismissed = await act(client, "tianyuan", c["id"], "dismiss_duplicate", other=a["id"])
    assert dismissed.status_code == 200, dismissed.text
    assert {d["case_id"]: d["status"] for d in dismissed.json()["duplicates"]}[a["id"]] == "dismissed"
    merged = await act(client, "tianyuan", b["id"], "merge", into=a["id"])
    assert merged.json()["state"] == "merged" and merged.json()["merged_into"] == a["id"]
    target = (await client.get(f"/api/cases/{a['id']}", headers=await auth(client, "tianyuan"))).json()
    assert target["events"][-1]["action"] == "merged_in"
    listed = [
        x["id"]
        for x in (
            await client.get("/api/cases", params={"limit": 200}, headers=await auth(client, "tianyuan"))
        ).json()["items"]
    ]
    assert b["id"] not in listed and a["id"] in listed
    # Merged cases keep their history.
    assert [e["action"] for e in merged.json()["events"]] == ["create", "merge"]
    # A mediator may not merge.
    assert (await act(client, "mediator1", c["id"], "merge", into=a["id"])).status_code == 403


async def test_a_number_on_many_cases_links_the_latest_recorded(client, monkeypatch):
    # A village committee's landline may be on hundreds of cases: the search reads the latest few
    # recorded under it (duplicates.PARTY_RECENT), not all of them.
    monkeypatch.setattr(duplicates, "PARTY_RECENT", 3)
    landline = [{"name": "村委会", "phone": "0875-6123456"}]
    categories = ("neighbour", "homestead", "forest_land", "contract_debt", "damages")
    made = [
        await make_case(
            client,
            "mediator1",
            category=category,
            parties=landline,
            point=(TIANYUAN_POINT[0] + 0.003 * i, TIANYUAN_POINT[1]),  # 300 m apart: never "nearby"
        )
        for i, category in enumerate(categories)
    ]
    # Also an ID number, seen on the first case only: both numbers are searched.
    made[0] = await make_case(
        client,
        "mediator1",
        category="marriage_family",
        parties=[{"name": "罗光荣", "id_number": "11010519491231002X"}],
        point=(TIANYUAN_POINT[0] - 0.01, TIANYUAN_POINT[1]),
    )
    new = await make_case(
        client,
        "mediator1",
        category="other",
        parties=[*landline, {"name": "罗光荣", "id_number": "11010519491231002X"}],
        point=(TIANYUAN_POINT[0] - 0.02, TIANYUAN_POINT[1]),
    )
    links = {d["case_id"]: d["reason"] for d in new["duplicates"]}
    assert links == {made[i]["id"]: "same_party" for i in (0, 2, 3, 4)}
