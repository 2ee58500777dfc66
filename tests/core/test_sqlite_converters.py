"""backend/db.py replaces Piccolo's SQLite converters with quicker ones for the same types: they must
give exactly what Piccolo's give, for every kind of value SQLite hands them."""

from __future__ import annotations

import decimal

import pytest
from piccolo.engine import sqlite as piccolo_sqlite

from backend import db

SAMPLES = {
    "INTEGER": [b"0", b"42", b"-7", b"9223372036854775807", b"1.0", b"-3.0"],
    "TIMESTAMPTZ": [b"2026-12-04 08:00:00", b"2026-12-04 08:00:00.123456", b"2026-01-31T23:59:59"],
    "UUID": [b"0000afc0-dae0-4b54-af3a-7e9887b8b4fb", b"0000afc0dae04b54af3a7e9887b8b4fb"],
    "BOOLEAN": [b"1", b"0"],
}


@pytest.mark.parametrize("declared", sorted(SAMPLES))
def test_each_converter_gives_what_piccolos_gives(declared):
    ours, theirs = db.SQLITE_CONVERTERS[declared], piccolo_sqlite.CONVERTERS[declared]
    for value in SAMPLES[declared]:
        assert ours(value) == theirs(value) and type(ours(value)) is type(theirs(value)), value


def test_a_value_piccolo_refuses_is_refused_too():
    with pytest.raises(decimal.InvalidOperation):
        piccolo_sqlite.CONVERTERS["INTEGER"](b"hello")
    with pytest.raises(decimal.InvalidOperation):
        db.SQLITE_CONVERTERS["INTEGER"](b"hello")
