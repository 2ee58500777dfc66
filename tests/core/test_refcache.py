"""Reference data kept per process (core/refcache.py): categories, risk rules and division names are
read once and kept, and a change is seen at once by the next request, in this process and, through
the bus, in the others; rows written behind the cache's back are seen within its TTL."""

from __future__ import annotations

import contextlib

import pytest

from backend import db
from backend.cases.tables import Category
from backend.core import bus, refcache
from backend.grids import divisions
from backend.settings import load_settings
from tests.factories import auth, case_body, make_case


async def _listed(client, headers, case_id: str) -> dict:
    page = (await client.get("/api/cases?limit=200", headers=headers)).json()
    return next(item for item in page["items"] if item["id"] == case_id)


async def test_a_renamed_category_shows_in_the_very_next_list(client):
    county = await auth(client, "county")
    case = await make_case(client, category="forest_land")
    assert (await _listed(client, county, case["id"]))["category_name"] == "山林土地"  # now kept
    renamed = await client.patch("/api/categories/forest_land", json={"name": "山林权属"}, headers=county)
    assert renamed.status_code == 200
    assert (await _listed(client, county, case["id"]))["category_name"] == "山林权属"


async def test_a_deactivated_category_is_refused_at_the_very_next_intake(client):
    county = await auth(client, "county")
    await make_case(client, category="agriculture")  # the categories are kept now
    off = await client.patch("/api/categories/agriculture", json={"active": False}, headers=county)
    assert off.status_code == 200
    refused = await client.post(
        "/api/cases",
        json=case_body(category="agriculture"),
        headers=await auth(client, "mediator1"),
    )
    assert refused.status_code == 400
    assert refused.json()["code"] == "case.unknown_category"


async def test_a_reimported_village_name_shows_in_the_very_next_list(client):
    county = await auth(client, "county")
    case = await make_case(client)
    village = (await _listed(client, county, case["id"]))["village"]
    assert village is not None and village["name"] != "新名字村"
    assert await divisions.names({village["code"]}) == {village["code"]: village["name"]}  # kept
    parent = case["township"]["code"]
    await divisions.upsert(
        [
            {
                "code": village["code"],
                "name": "新名字村",
                "short_name": "新名字",
                "level": "village",
                "parent_code": parent,
            }
        ]
    )
    assert (await _listed(client, county, case["id"]))["village"]["name"] == "新名字村"


async def test_rows_written_behind_its_back_are_read_again_after_the_ttl(client, monkeypatch):
    # Another process on SQLite (the command line) has no bus to tell this one: the TTL bounds it.
    county = await auth(client, "county")
    case = await make_case(client, category="damages")
    assert (await _listed(client, county, case["id"]))["category_name"] == "损害赔偿"
    await Category.update({Category.name: "人身损害赔偿"}).where(Category.code == "damages").run()
    assert (await _listed(client, county, case["id"]))["category_name"] == "损害赔偿"  # still kept
    later = refcache.time.monotonic() + refcache.TTL_SECONDS + 1
    monkeypatch.setattr(refcache.time, "monotonic", lambda: later)
    assert (await _listed(client, county, case["id"]))["category_name"] == "人身损害赔偿"


async def test_a_read_that_began_before_a_forget_keeps_nothing():
    loads = []

    async def load() -> int:
        loads.append(1)
        reference.forget_here()  # a writer forgot it while this read was under way
        return len(loads)

    reference = refcache.Reference("test-race", load)
    try:
        assert await reference.get() == 1
        assert await reference.get() == 2  # the first read was not kept
    finally:
        refcache._references.pop("test-race")


@pytest.fixture
async def heard(database):
    """The reference messages this process's listener hears (PostgreSQL, where other processes are)."""
    if db.engine_name() != "postgresql":
        pytest.skip("SQLite has one server process: its own forget is enough")
    await bus.start(load_settings())
    try:
        with bus.subscribe(refcache.TOPIC) as messages:
            yield messages
    finally:
        await bus.stop()


async def test_a_change_is_announced_to_the_other_processes_when_it_commits(client, heard):
    county = await auth(client, "county")
    renamed = await client.patch("/api/categories/other", json={"name": "其他纠纷"}, headers=county)
    assert renamed.status_code == 200
    assert await heard.wait(10)
    assert [(m.key, m.data) for m in heard.drain()] == [("categories", "categories")]


async def test_a_rolled_back_change_announces_nothing(heard):
    class Boom(Exception):
        pass

    with contextlib.suppress(Boom):
        async with db.write_transaction():
            divisions.forget_names()
            raise Boom()
    async with db.write_transaction():
        divisions.forget_names()
    assert await heard.wait(10)
    assert [m.key for m in heard.drain()] == ["division_names"]


async def test_what_another_process_announces_is_forgotten_here(client):
    county = await auth(client, "county")
    case = await make_case(client, category="labour")
    assert (await _listed(client, county, case["id"]))["category_name"] == "劳动仲裁"
    await Category.update({Category.name: "劳动争议"}).where(Category.code == "labour").run()
    bus.dispatch(bus.Message(refcache.TOPIC, "categories", "categories"))  # as the listener does
    assert (await _listed(client, county, case["id"]))["category_name"] == "劳动争议"
    await Category.update({Category.name: "劳动纠纷"}).where(Category.code == "labour").run()
    bus.dispatch(bus.Message(refcache.TOPIC, None, None))  # a resync: everything is read again
    assert (await _listed(client, county, case["id"]))["category_name"] == "劳动纠纷"
