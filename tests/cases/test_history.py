"""`fengqiao demo --cases N`: a plausible year of demo cases that the map, the lists and the visits
see like any other, replaced (not doubled) by a second run, and leaving real cases alone."""

from __future__ import annotations

import asyncio
import os
import sys
from collections import Counter, defaultdict
from datetime import timedelta

import pytest
import shapely

from backend.cases.tables import Case, CaseEvent
from backend.core import clock
from backend.demo import history
from backend.grids.service import active_generations
from backend.grids.tables import GridRegion
from backend.settings import get_settings
from backend.visits.tables import Visit
from tests.factories import auth, make_case

# The module's template is made by `fengqiao demo --cases 400` in a process of its own.
pytestmark = [pytest.mark.slow, pytest.mark.server]


async def demo_cases(database_url: str, count: int, seed: int) -> str:
    env = {**os.environ, "FENGQIAO_DATABASE_URL": database_url}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "backend.cli", "demo", "--cases", str(count), "--seed", str(seed),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()[-2000:]
    return out.decode()


@pytest.fixture(scope="module")
async def template(databases, template):
    """The demo with a year of 400 demo cases, made once for this module's tests."""

    async def seed(url: str) -> dict:
        return {"output": await demo_cases(url, 400, seed=7)}

    derived = await databases.derive(template, "history", seed)
    yield derived
    await databases.drop(derived.url)


@pytest.fixture
def demo_history(template, database) -> str:
    """What `fengqiao demo --cases 400` printed; this test's database holds its cases."""
    return template.data["output"]


async def test_a_demo_year_is_plausible_and_consistent(client, demo_history):
    assert "已生成 400 件演示案件" in demo_history
    rows = await Case.select().where(Case.created_device == history.DEMO_DEVICE).run()
    assert len(rows) == 400
    now = clock.now()
    assert all(now - timedelta(days=366) <= r["reported_at"] <= now for r in rows)

    states = Counter(r["state"] for r in rows)
    # Most of a year's work is finished; some is still open, a little was rejected or referred.
    assert states["closed"] + states["archived"] > 250
    assert 0 < states["mediating"] + states["reported"] + states["resolved"] < 100
    assert states["rejected"] + states["referred"] > 0
    assert len({r["category"] for r in rows}) >= 8 and set(Counter(r["level"] for r in rows)) == {
        "small",
        "hard",
        "big",
    }

    # Every case lies inside the grid cell it names, in that cell's village and township.
    primary = next(v["generation"] for v in (await active_generations()).values() if v["kind"] == "primary")
    cells = {
        r["code"]: (shapely.from_wkb(bytes.fromhex(r["geometry_wkb"])), r["parent_code"])
        for r in await GridRegion.select()
        .where((GridRegion.generation == primary) & (GridRegion.level == "grid"))
        .run()
    }
    for r in rows:
        polygon, village = cells[r["grid_code"]]
        assert polygon.covers(shapely.Point(r["lon"], r["lat"])), r["number"]
        assert r["village_code"] == village and r["township_code"] == village[:9] + "000"

    # Case numbers are unique and run with the reporting time within each township and year.
    by_key = defaultdict(list)
    for r in rows:
        by_key[r["number"].rsplit("-", 1)[0]].append(r)
    for group in by_key.values():
        ordered = sorted(group, key=lambda r: r["number"])
        assert [r["reported_at"] for r in ordered] == sorted(r["reported_at"] for r in group)

    # Timelines end in the case's state; visits exist exactly for closed cases; archived means all
    # visits done and none unsatisfied.
    ids = [r["id"] for r in rows]
    events = await CaseEvent.select().where(CaseEvent.case.is_in(ids)).order_by(CaseEvent.id).run()
    last = {}
    for e in events:
        last[e["case"]] = e
    assert all(r["version"] == last[r["id"]]["version"] for r in rows)
    visits = await Visit.select().where(Visit.case.is_in(ids)).run()
    closed_once = {e["case"] for e in events if e["action"] == "close"}
    assert {v["case"] for v in visits} == closed_once
    radius = get_settings().visit_radius_m
    for r in rows:
        own = sorted((v for v in visits if v["case"] == r["id"]), key=lambda v: v["seq"])
        if r["state"] == "archived":
            assert all(v["state"] == "done" and v["satisfaction"] != "unsatisfied" for v in own)
        if any(v["satisfaction"] == "unsatisfied" for v in own):
            # An unsatisfied visit reopened the case; the visits after it are void.
            assert r["state"] in ("mediating", "reopened") and r["closed_at"] is None, r["number"]
            first = next(i for i, v in enumerate(own) if v["satisfaction"] == "unsatisfied")
            assert all(v["state"] == "cancelled" for v in own[first + 1 :])
        for v in own:
            if v["state"] == "done":
                assert v["done_at"] <= now  # nobody visits in the future
                assert v["face_to_face"] == (v["method"] == "in_person" and v["distance_m"] <= radius)
                assert v["on_time"] == (v["done_at"].astimezone(clock.LOCAL_TZ).date() <= v["due_date"])
    assert any(v["satisfaction"] == "unsatisfied" for v in visits) or len(visits) < 100


async def test_demo_cases_show_on_the_map_and_a_rerun_replaces_them(client, demo_history, database_url):
    real = await make_case(client, "mediator1", title="演示生成前的真实案件")
    headers = await auth(client, "county")
    page = (await client.get("/api/map/cases", params={"limit": 50000}, headers=headers)).json()
    ids = {row[0] for row in page["rows"]}
    demo_ids = {
        str(r["id"])
        for r in await Case.select(Case.id).where(Case.created_device == history.DEMO_DEVICE).run()
    }
    assert demo_ids <= ids and real["id"] in ids

    out = await demo_cases(database_url, 150, seed=8)
    assert "替换了此前的 400 件" in out
    assert await Case.count().where(Case.created_device == history.DEMO_DEVICE).run() == 150
    assert (await client.get(f"/api/cases/{real['id']}", headers=headers)).status_code == 200
