"""backend/db.py's new_row and insert_rows, the write path's inserts: a row made by new_row is the row
Table() makes, and what insert_rows stores reads back exactly as what Piccolo's insert stores."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from piccolo.columns import Serial

from backend import db
from backend.cases.tables import Case, CaseEvent
from backend.core import clock
from backend.piccolo_app import APP_CONFIG

TABLES = sorted(APP_CONFIG.table_classes, key=lambda t: t._meta.tablename)


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t._meta.tablename)
def test_a_new_row_is_the_row_table_makes(table):
    # Every column of every table has a default (Piccolo's own when none is written): none is needed.
    expected = {
        k: v
        for k, v in table().to_dict().items()
        if not isinstance(table._meta.get_column_by_name(k), Serial)  # the database numbers those
    }
    made = db.new_row(table)
    assert made.keys() == expected.keys()
    for name, value in expected.items():
        if isinstance(value, datetime):  # a "now" default, taken a moment apart
            assert abs(made[name] - value) < timedelta(seconds=5), name
        elif isinstance(value, uuid.UUID):  # a new uuid4 each time
            assert isinstance(made[name], uuid.UUID) and made[name] != value, name
        else:
            assert made[name] == value and type(made[name]) is type(value), name


def test_an_unknown_column_is_refused_as_table_refuses_it():
    with pytest.raises(ValueError, match="Unrecognized columns"):
        CaseEvent(case=uuid.uuid4(), version=1, colour="red")
    with pytest.raises(ValueError, match="Unrecognized columns"):
        db.new_row(CaseEvent, case=uuid.uuid4(), version=1, colour="red")


def _json(value: str | dict) -> dict:
    return json.loads(value) if isinstance(value, str) else value


NOW = clock.now()


def _case(**values) -> dict:
    now = NOW
    return {
        "id": uuid.uuid4(),
        "number": uuid.uuid4().hex,
        "category": "neighbour",
        "title": "测试",
        "description": "含'引号'与\\反斜杠",
        "level": "hard",
        "state": "reported",
        "lon": 99.614962,
        "lat": 24.825632,
        "location_source": "gps",
        "owner_level": "township",
        "township_code": "530524101000",
        "create_hash": "h" * 64,
        "reported_at": now - timedelta(days=3),
        "updated_at": now,
        "amount_yuan": Decimal("123456.78"),
        "people_involved": 12,
        "conflict": True,
        "merged_into": uuid.uuid4(),
        **values,
    }


async def test_what_insert_rows_stores_reads_back_as_what_piccolo_stores(database):
    theirs, ours = _case(), _case()
    await Case.insert(Case(**theirs)).run()
    await db.insert_rows(Case, [db.new_row(Case, **ours)])
    rows = {r["id"]: r for r in await Case.select().where(Case.id.is_in([theirs["id"], ours["id"]])).run()}
    differ = ("id", "number", "merged_into")
    assert {k: v for k, v in rows[ours["id"]].items() if k not in differ} == {
        k: v for k, v in rows[theirs["id"]].items() if k not in differ
    }
    assert rows[ours["id"]]["amount_yuan"] == Decimal("123456.78")


async def test_json_columns_and_several_rows_in_one_statement(database):
    case = _case()
    await db.insert_rows(Case, [db.new_row(Case, **case)])
    events = [
        db.new_row(
            CaseEvent, case=case["id"], action="create", after={"state": "reported", "n": 1}, version=1
        ),
        db.new_row(CaseEvent, case=case["id"], action="note", data={"text": "第二条"}, version=2),
    ]
    await db.insert_rows(CaseEvent, events)
    stored = await CaseEvent.select().where(CaseEvent.case == case["id"]).order_by(CaseEvent.id).run()
    assert [(e["action"], e["version"]) for e in stored] == [("create", 1), ("note", 2)]
    decoded = [{k: _json(e[k]) for k in ("after", "data")} for e in stored]
    assert decoded == [
        {"after": {"state": "reported", "n": 1}, "data": {}},
        {"after": {}, "data": {"text": "第二条"}},
    ]
