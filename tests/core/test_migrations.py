"""The migration stream: forward, all the way back and forward again on an empty database of the engine
under test; nothing left for an auto migration to find; files numbered in the order Piccolo runs them.

Piccolo applies migrations in the order of their `ID`, never of their file name, and deployed databases
recorded the IDs they applied: a file may be renamed, its ID never changed.

The round trip runs `fengqiao migrate` and `piccolo migrations backwards` in processes of their own, on
a database made for it, so the test session's engine (bound at import) and database are not touched.
Nothing from backend is imported at module level: tests/conftest.py chooses the database first.
"""

from __future__ import annotations

import ast
import asyncio
import os
import re
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = REPO_ROOT / "migrations"
APP_NAME = "fengqiao"
FILE_NAME = re.compile(rf"^{APP_NAME}_(\d{{4}})_[a-z0-9_]+\.py$")
PG_URL_VAR = "FENGQIAO_TEST_POSTGRES_URL"
# Indexes the stream must leave, as (table, columns); dispute_case_reported_at comes from the
# report-index migration, case_event_version from the sync one (the index that once blocked its undo).
EXPECTED_INDEXES = {
    "dispute_case_reported_at": ("dispute_case", ("reported_at",)),
    "case_event_version": ("case_event", ("version",)),
}


# --- the files ----------------------------------------------------------------------------------------


def _migration_files() -> list[Path]:
    return sorted(p for p in MIGRATIONS.glob("*.py") if p.name != "__init__.py")


def _migration_id(tree: ast.Module, path: Path) -> str:
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and [getattr(t, "id", None) for t in node.targets] == ["ID"]
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            return node.value.value
    raise AssertionError(f"{path.name} has no module-level ID = '...'")


def _parsed() -> list[tuple[Path, ast.Module, str]]:
    out = []
    for path in _migration_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        out.append((path, tree, _migration_id(tree, path)))
    return out


def _ids_in_order() -> list[str]:
    """The migration IDs in migrations/, in the order Piccolo applies them."""
    return sorted(migration_id for _, _, migration_id in _parsed())


def test_migration_files_are_numbered_in_the_order_they_run():
    parsed = _parsed()
    assert parsed, f"no migrations in {MIGRATIONS}"

    badly_named = [p.name for p, _, _ in parsed if not FILE_NAME.match(p.name)]
    assert not badly_named, f"migration files not named {APP_NAME}_NNNN_<what>.py: {badly_named}"

    ids = [migration_id for _, _, migration_id in parsed]
    assert len(set(ids)) == len(ids), f"duplicate migration IDs: {sorted(ids)}"

    by_id = sorted(parsed, key=lambda item: item[2])
    numbers = [int(FILE_NAME.match(p.name).group(1)) for p, _, _ in by_id]
    assert numbers == list(range(1, len(by_id) + 1)), (
        "file numbers must be 1, 2, 3, … in the order of the IDs (the order Piccolo runs them): "
        + ", ".join(f"{p.name} ({migration_id})" for p, _, migration_id in by_id)
    )

    imports_backend = []
    for path, tree, _ in parsed:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""] if node.level == 0 else []
            else:
                continue
            imports_backend += [
                f"{path.name}:{node.lineno} {name}"
                for name in names
                if name == "backend" or name.startswith("backend.")
            ]
    assert not imports_backend, (
        f"migrations must not import live code (it changes, history must not): {imports_backend}"
    )


# --- nothing left for an auto migration -----------------------------------------------------------


async def test_auto_migration_finds_nothing_to_do():
    """The snapshot the migrations describe is the models: `piccolo migrations new fengqiao --auto`
    would write an empty migration."""
    from piccolo.apps.migrations.commands.new import AutoMigrationManager

    from backend.piccolo_app import APP_CONFIG

    alter_statements = await AutoMigrationManager().get_alter_statements(app_config=APP_CONFIG)
    statements = [statement for group in alter_statements for statement in group.statements]
    assert statements == [], "the models differ from the migrations:\n" + "\n".join(statements)


# --- forward, back, forward again ---------------------------------------------------------------------


def _sqlite_schema(path: Path) -> dict:
    conn = sqlite3.connect(path)
    try:
        tables = sorted(
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        )
        columns = {
            t: sorted((r[1], r[2].lower(), bool(r[3])) for r in conn.execute(f'PRAGMA table_info("{t}")'))
            for t in tables
        }
        indexes = {}
        for name, table in conn.execute("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index'"):
            cols = tuple(r[2] for r in sorted(conn.execute(f'PRAGMA index_info("{name}")')))
            indexes[name] = (table, cols)
        applied = []
        if "migration" in tables:
            applied = [
                r[0]
                for r in conn.execute(
                    "SELECT name FROM migration WHERE app_name = ? ORDER BY id", (APP_NAME,)
                )
            ]
        categories = []
        if "case_category" in tables:
            categories = [r[0] for r in conn.execute("SELECT code FROM case_category ORDER BY sort_order")]
    finally:
        conn.close()
    return {
        "tables": tables,
        "columns": columns,
        "indexes": indexes,
        "applied": applied,
        "categories": categories,
    }


async def _pg_schema(url: str) -> dict:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        tables = sorted(
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        )
        columns: dict[str, list] = {t: [] for t in tables}
        for r in await conn.fetch(
            "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns "
            "WHERE table_schema = 'public'"
        ):
            columns[r["table_name"]].append((r["column_name"], r["data_type"], r["is_nullable"] == "NO"))
        columns = {t: sorted(cols) for t, cols in columns.items()}
        rows = await conn.fetch(
            "SELECT i.relname AS name, t.relname AS tablename, "
            "  array_agg(a.attname ORDER BY k.ord) FILTER (WHERE a.attname IS NOT NULL) AS cols "
            "FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid "
            "JOIN pg_class t ON t.oid = x.indrelid "
            "JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = 'public' "
            "CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, ord) "
            "LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum "
            "GROUP BY i.relname, t.relname"
        )
        indexes = {r["name"]: (r["tablename"], tuple(r["cols"] or ())) for r in rows}
        applied = []
        if "migration" in tables:
            applied = [
                r["name"]
                for r in await conn.fetch(
                    "SELECT name FROM migration WHERE app_name = $1 ORDER BY id", APP_NAME
                )
            ]
        categories = []
        if "case_category" in tables:
            categories = [
                r["code"] for r in await conn.fetch("SELECT code FROM case_category ORDER BY sort_order")
            ]
    finally:
        await conn.close()
    return {
        "tables": tables,
        "columns": columns,
        "indexes": indexes,
        "applied": applied,
        "categories": categories,
    }


async def _pg_admin(server_url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _run(args: list[str], env: dict[str, str], step: str) -> str:
    process = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
    )
    output = process.stdout + process.stderr
    assert process.returncode == 0, f"{step} failed (exit {process.returncode}):\n{output[-4000:]}"
    return output


@pytest.mark.slow  # three processes of its own: about 6 s on SQLite, 9 s on PostgreSQL
@pytest.mark.server
async def test_the_stream_goes_forward_back_and_forward_again(request, tmp_path):
    engine = request.config.getoption("--engine")
    if engine == "postgresql":
        server_url = os.environ.get(PG_URL_VAR)
        if not server_url:
            pytest.skip(
                f"{PG_URL_VAR} is not set (e.g. postgresql://postgres@127.0.0.1:5432/postgres): "
                "no PostgreSQL server to make an empty database on"
            )
        name = f"fq_mig_test_{uuid.uuid4().hex[:12]}"
        database_url = urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
        await _pg_admin(server_url, f'CREATE DATABASE "{name}"')

        async def schema() -> dict:
            return await _pg_schema(database_url)

    else:
        server_url = name = None
        database_url = f"sqlite:///{tmp_path / 'migrations.sqlite3'}"

        async def schema() -> dict:
            return _sqlite_schema(tmp_path / "migrations.sqlite3")

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    env = {
        **os.environ,
        "FENGQIAO_DATABASE_URL": database_url,
        "FENGQIAO_DATA_DIR": str(data_dir),
        "PICCOLO_CONF": "backend.piccolo_conf",
        "PYTHONIOENCODING": "utf-8",
    }
    forward = ["-m", "backend.cli", "migrate"]
    backward = [
        "-m",
        "piccolo.main",
        "migrations",
        "backwards",
        APP_NAME,
        "--migration_id=all",
        "--auto_agree",
    ]

    from backend.piccolo_app import APP_CONFIG

    ids = _ids_in_order()
    model_tables = sorted(t._meta.tablename for t in APP_CONFIG.table_classes)

    try:
        # Forward, on an empty database: every migration, in ID order; exactly the models' tables.
        await _run(forward, env, "forward")
        first = await schema()
        assert first["applied"] == ids
        assert first["tables"] == sorted([*model_tables, "migration"])
        for index, where in EXPECTED_INDEXES.items():
            assert first["indexes"].get(index) == where, (index, first["indexes"].get(index))
        assert len(first["categories"]) == 11, first["categories"]

        # All the way back: every migration undone, newest first; nothing of fengqiao is left.
        output = await _run(backward, env, "backward")
        undone = re.findall(r"- (\S+) \[backwards\]\.\.\. ok!", output)
        assert undone == list(reversed(ids)), output
        emptied = await schema()
        assert emptied["tables"] == ["migration"], emptied["tables"]
        assert emptied["applied"] == []
        assert {table for table, _ in emptied["indexes"].values()} <= {"migration"}, emptied["indexes"]

        # Forward again: the same schema, the same seeded rows, every migration applied again.
        await _run(forward, env, "forward again")
        again = await schema()
        assert again == first
    finally:
        if name is not None:
            await _pg_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
