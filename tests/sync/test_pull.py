"""Pull: a cursor over the change log, scoped to the user, with tombstones and versioned reference data."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from backend.people.tables import Team
from tests.factories import KASI_POINT, act, auth, bearer, login, make_user, tokens_for
from tests.sync.helpers import action_op, create_op, note_op, pull_all, push


async def test_pages_follow_the_cursor_and_a_change_comes_once(client):
    phone = bearer(await login(client, "leader1"))
    ops = [create_op() for _ in range(5)]
    await push(client, phone, *ops)
    first = await pull_all(client, phone, limit=2)
    assert first["pages"] == 3 and not first["reset"]  # five changes, two a page
    assert set(first["cases"]) == {o["entity_id"] for o in ops}
    assert all(c["version"] == 1 for c in first["cases"].values())
    nothing = await pull_all(client, phone, cursor=first["cursor"])
    assert nothing["cases"] == {} and nothing["gone"] == [] and nothing["pages"] == 1
    assert nothing["cursor"] == first["cursor"]

    cid = ops[0]["entity_id"]
    await push(client, phone, action_op(cid, "accept"), note_op(cid, "走访"))
    changed = await pull_all(client, phone, cursor=first["cursor"])
    assert list(changed["cases"]) == [cid]  # two changes, one upsert: the case as it is now
    case = changed["cases"][cid]
    assert case["version"] == 3 and case["state"] == "mediating"
    assert [e["action"] for e in case["events"]] == ["create", "accept", "note"]
    assert case["personal_data"] == "full" and case["parties"][0]["phone"] == "13812345678"


async def test_the_pulled_case_is_the_detail_the_api_shows(client):
    phone = bearer(await login(client, "leader1"))
    create = create_op()
    await push(client, phone, create, action_op(create["entity_id"], "accept"))
    pulled = (await pull_all(client, phone))["cases"][create["entity_id"]]
    detail = (await client.get(f"/api/cases/{create['entity_id']}", headers=phone)).json()
    for key in (
        "number",
        "state",
        "version",
        "events",
        "photos",
        "parties",
        "allowed_actions",
        "grid",
        "township",
    ):
        assert pulled[key] == detail[key], key
    assert "update" in pulled["allowed_actions"]


async def test_reference_data_is_sent_again_only_when_it_changed(client):
    phone = bearer(await login(client, "mediator1"))
    first = await client.get("/api/sync/pull", params={"limit": 1}, headers=phone)
    body = first.json()
    ref = body["reference"]
    assert set(ref) == {"categories", "teams", "divisions", "grids", "screenings"}
    assert {c["code"] for c in ref["categories"]["data"]} >= {"neighbour", "labour"}
    assert {d["code"] for d in ref["divisions"]["data"]} >= {"530524101000", "530524101001"}
    assert all(d["code"][:9] == "530524101" for d in ref["divisions"]["data"])
    assert ref["grids"]["data"]["type"] == "FeatureCollection" and ref["grids"]["data"]["features"]
    assert {f["properties"]["township"] for f in ref["grids"]["data"]["features"]} == {"530524101000"}
    assert all(t["township"]["code"] == "530524101000" for t in ref["teams"]["data"])
    known = ",".join(f"{k}:{v}" for k, v in body["reference_versions"].items())
    again = await client.get("/api/sync/pull", params={"limit": 1, "ref": known}, headers=phone)
    assert again.json()["reference"] is None
    # A category renamed by the county: only that part comes again.
    admin = await auth(client, "county")
    renamed = await client.patch("/api/categories/other", json={"name": "其他纠纷类"}, headers=admin)
    assert renamed.status_code == 200
    third = await client.get("/api/sync/pull", params={"limit": 1, "ref": known}, headers=phone)
    assert set(third.json()["reference"]) == {"categories"}


async def _other_team(leader_headers: dict) -> int:
    return (
        await Team.select(Team.id)
        .where((Team.township_code == "530524101000") & (Team.name != "关庙社区红色调解队"))
        .first()
        .run()
    )["id"]


async def test_a_case_reassigned_elsewhere_is_dropped_from_the_phone(client):
    mediator = bearer(await login(client, "mediator1"))
    stranger = bearer(await login(client, "mediator2"))  # 卡斯镇: never saw the case
    create = create_op()
    cid = create["entity_id"]
    await push(client, mediator, create)
    had = await pull_all(client, mediator)
    assert cid in had["cases"]
    stranger_before = await pull_all(client, stranger)

    other_team = await _other_team(mediator)
    moved = await act(client, "tianyuan", cid, "assign", team_id=other_team)
    assert moved.status_code == 200, moved.text
    after = await pull_all(client, mediator, cursor=had["cursor"])
    assert after["gone"] == [cid] and cid not in after["cases"]
    # The answer was lost on the way: asking again with the same cursor says it again.
    again = await pull_all(client, mediator, cursor=had["cursor"])
    assert again["gone"] == [cid]
    # Later changes of the case, now outside the scope, are not reported.
    await act(client, "tianyuan", cid, "accept")
    later = await pull_all(client, mediator, cursor=after["cursor"])
    assert later["gone"] == [] and later["cases"] == {}
    # Someone who never had it is not even told it exists.
    stranger_after = await pull_all(client, stranger, cursor=stranger_before["cursor"])
    assert cid not in stranger_after["gone"] and cid not in stranger_after["cases"]
    # Moved back: it comes back.
    back = await act(
        client,
        "tianyuan",
        cid,
        "assign",
        team_id=(await client.get("/api/me", headers=mediator)).json()["team"]["id"],
    )
    assert back.status_code == 200
    returned = await pull_all(client, mediator, cursor=later["cursor"])
    assert cid in returned["cases"]


async def test_a_supervisor_pulls_reference_data_and_no_case(client):
    """A county admin's or township supervisor's browser keeps no copy of the area (a county has
    tens of thousands of cases): the feed sends them none, however many there are, and the cursor
    stands at the head of the log."""
    phone = bearer(await login(client, "leader1"))
    for _ in range(3):
        await push(client, phone, create_op())
    for account in ("county", "tianyuan"):
        desk = bearer(await login(client, account))
        listed = (await client.get("/api/cases", params={"limit": 200}, headers=desk)).json()["items"]
        assert len(listed) >= 3  # they may see the cases, through the API
        page = (await client.get("/api/sync/pull", params={"limit": 500}, headers=desk)).json()
        assert page["changes"] == [] and page["more"] is False
        assert page["reference"]["categories"]["data"]  # still what a capture form needs
        again = await client.get("/api/sync/pull", params={"cursor": page["cursor"]}, headers=desk)
        assert again.json()["changes"] == [] and again.json()["reset"] is False


async def test_a_leader_keeps_only_the_cases_in_its_charge(client):
    """A county leader may read the whole county, but its phone keeps only its 包案 cases (what 我的包案
    shows offline); a case it is no longer in charge of leaves the phone with a tombstone."""
    phone = bearer(await login(client, "leader1"))
    first, second, other = create_op(), create_op(), create_op()
    await push(client, phone, first, second, other)
    leader = bearer(await login(client, "county_leader"))
    leader_id = (await client.get("/api/me", headers=leader)).json()["id"]
    for op in (first, second):
        attached = await act(client, "county", op["entity_id"], "assign_leader", user_id=leader_id)
        assert attached.status_code == 200
    listed = (await client.get("/api/cases", params={"limit": 200}, headers=leader)).json()["items"]
    assert other["entity_id"] in {c["id"] for c in listed}  # it may read the rest, through the API
    held = await pull_all(client, leader)
    assert set(held["cases"]) == {first["entity_id"], second["entity_id"]}

    cleared = await act(client, "county", second["entity_id"], "assign_leader", user_id=None)
    assert cleared.status_code == 200
    after = await pull_all(client, leader, cursor=held["cursor"])
    assert after["cases"] == {} and after["gone"] == [second["entity_id"]]


async def test_a_cursor_of_another_device_or_scope_starts_over(client):
    phone_a = bearer(await login(client, "mediator1"))
    phone_b = bearer(await login(client, "mediator1"))
    cursor = (await pull_all(client, phone_a))["cursor"]
    response = await client.get("/api/sync/pull", params={"cursor": cursor}, headers=phone_b)
    assert response.status_code == 200 and response.json()["reset"] is True
    bad = await client.get("/api/sync/pull", params={"cursor": "abc"}, headers=phone_a)
    assert bad.status_code == 400 and bad.json()["code"] == "sync.invalid_cursor"


# Three cases: 田园镇's and 卡斯镇's, and one of 关庙社区's team that 田园镇 then moves to another team.
# Who is sent which (first pull), what changes after the move (second pull), and who reads the parties
# in full. The grid worker (of 关庙社区, made in the test) sees the cases of the village, masked.
ACCOUNTS = ["county", "tianyuan", "kasi", "mediator1", "mediator2", "leader1", "grid_worker"]
# Supervisors keep no offline copy (feed.keeps_offline_copy): their pull brings reference data only.
FIRST = {
    "county": set(),
    "tianyuan": set(),
    "kasi": set(),
    "mediator1": {"tianyuan", "moved"},
    "mediator2": {"kasi"},
    "leader1": {"tianyuan", "moved"},
    "grid_worker": {"tianyuan", "moved"},
}
SECOND = {  # (upserts, tombstones)
    "county": (set(), []),
    "tianyuan": (set(), []),
    "kasi": (set(), []),
    "mediator1": (set(), ["moved"]),
    "mediator2": (set(), []),
    "leader1": (set(), ["moved"]),
    "grid_worker": ({"moved"}, []),
}
FULL_PERSONAL_DATA = {
    "county": {"tianyuan", "kasi", "moved"},
    "tianyuan": {"tianyuan", "moved"},
    "kasi": {"kasi"},
    "mediator1": {"tianyuan", "moved"},
    "mediator2": {"kasi"},
    "leader1": {"tianyuan", "moved"},
    "grid_worker": set(),
}
REFERENCE_TOWNSHIP = {  # the first nine digits of the township whose reference data is sent
    "county": None,  # the whole county
    "tianyuan": "530524101",
    "kasi": "530524104",
    "mediator1": "530524101",
    "mediator2": "530524104",
    "leader1": "530524101",
    "grid_worker": "530524101",
}


@pytest.mark.parametrize("account", ACCOUNTS)
async def test_a_pull_never_holds_a_record_outside_the_scope(client, account):
    tianyuan_phone = await auth(client, "leader1")
    kasi_phone = await auth(client, "mediator2")
    made = {
        "tianyuan": create_op(title="田园镇的纠纷"),
        "kasi": create_op(point=KASI_POINT, title="卡斯镇的纠纷"),
        "moved": create_op(title="改派出去的纠纷"),
    }
    await push(client, tianyuan_phone, made["tianyuan"])
    await push(client, kasi_phone, made["kasi"])
    await push(client, tianyuan_phone, made["moved"])
    name_of = {op["entity_id"]: name for name, op in made.items()}

    if account == "grid_worker":
        worker = await make_user(
            client, await tokens_for(client, "county"), role="grid_worker", scope_code="530524101001"
        )
        phone = bearer(await login(client, worker["username"], worker["password"]))
    else:
        phone = bearer(await login(client, account))

    first = await pull_all(client, phone, limit=50)
    await act(client, "tianyuan", made["moved"]["entity_id"], "assign", team_id=await _other_team(phone))
    second = await pull_all(client, phone, cursor=first["cursor"], limit=50)
    # Exactly the cases in scope reached the phone; tombstones only name cases it was sent.
    assert {name_of[cid] for cid in first["cases"]} == FIRST[account]
    assert first["gone"] == []
    upserts, tombstones = SECOND[account]
    assert {name_of[cid] for cid in second["cases"]} == upserts
    assert [name_of[cid] for cid in second["gone"]] == tombstones
    # Reference data: the user's township only (the county office gets the county).
    ref = first["reference"]
    township = REFERENCE_TOWNSHIP[account]
    if township:
        assert all(d["code"][:9] == township for d in ref["divisions"]["data"])
        assert all(t["township"]["code"][:9] == township for t in ref["teams"]["data"])
        assert {f["properties"]["township"][:9] for f in ref["grids"]["data"]["features"]} == {township}
    else:
        assert len({f["properties"]["township"] for f in ref["grids"]["data"]["features"]}) == 13
    # Parties in full only to those who work the case, masked otherwise.
    for cid, case in first["cases"].items():
        full = name_of[cid] in FULL_PERSONAL_DATA[account]
        assert case["personal_data"] == ("full" if full else "masked"), (account, name_of[cid])
        if full:
            assert case["parties"][0]["name"] == "张建华"
        else:
            assert all("*" in p["name"] for p in case["parties"])


async def test_a_pull_never_passes_a_change_still_to_commit(client):
    """PostgreSQL: id 11 can commit before id 10. The pull waits for 10 instead of skipping it."""
    from backend.cases.hooks import CaseChange
    from backend.core import clock
    from backend.db import engine_name, write_transaction
    from backend.sync import feed

    if engine_name() != "postgresql":
        pytest.skip("SQLite has a single writer: ids commit in order")
    phone = bearer(await login(client, "leader1"))
    slow, fast = create_op(), create_op()
    await push(client, phone, slow, fast)
    cursor = (await pull_all(client, phone))["cursor"]

    holding, release = asyncio.Event(), asyncio.Event()

    async def slow_writer():
        async with write_transaction():
            case = {"version": 1}
            await feed.append(CaseChange(uuid.UUID(slow["entity_id"]), "touch", None, clock.now(), case))
            holding.set()
            await release.wait()

    writer = asyncio.create_task(slow_writer())
    await holding.wait()
    # A later change commits first: its id is higher than the one still in flight.
    await push(client, phone, action_op(fast["entity_id"], "accept"))
    pulling = asyncio.create_task(pull_all(client, phone, cursor=cursor))
    await asyncio.sleep(0.5)
    assert not pulling.done(), "the pull must wait for the change in flight"
    release.set()
    await writer
    page = await asyncio.wait_for(pulling, 10)
    assert set(page["cases"]) == {slow["entity_id"], fast["entity_id"]}


async def test_a_closed_case_comes_with_its_return_visits(client):
    """The phone's case page shows the visits offline: the pull carries them as the detail does."""
    phone = bearer(await login(client, "mediator1"))
    create = create_op()
    agreement = {"facts": "占道", "matters": "通道", "terms": "清走建材", "performance": "当场"}
    await push(
        client,
        phone,
        create,
        action_op(create["entity_id"], "resolve", agreement=agreement),
        action_op(create["entity_id"], "close"),
    )
    pulled = (await pull_all(client, phone))["cases"][create["entity_id"]]
    detail = (await client.get(f"/api/cases/{create['entity_id']}", headers=phone)).json()
    assert pulled["state"] == "closed"
    assert [v["status_label"] for v in pulled["visits"]] == ["未到期"]
    assert pulled["visits"] == detail["visits"]
