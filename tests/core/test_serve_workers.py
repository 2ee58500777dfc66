"""`fengqiao serve --workers N`: refused on SQLite with the reason, before anything starts."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from backend import db


def test_several_workers_on_sqlite_are_refused_with_the_reason(database):
    if db.engine_name() != "sqlite":
        pytest.skip("PostgreSQL serves with several workers (tests/ops/test_processes.py)")
    from backend.cli import main

    umask = os.umask(0o022)  # the command sets its own; give the test process its own back
    os.umask(umask)
    try:
        result = CliRunner().invoke(main, ["serve", "--workers", "2"])
    finally:
        os.umask(umask)
    assert result.exit_code == 2
    assert "SQLite 只能用一个服务进程" in result.output
    assert "one writer" in result.output and "PostgreSQL" in result.output

    zero = CliRunner().invoke(main, ["serve", "--workers", "0"])
    os.umask(umask)
    assert zero.exit_code == 2 and "--workers" in zero.output
