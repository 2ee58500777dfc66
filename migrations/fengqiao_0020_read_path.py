"""Issue 19: indexes for the case list's order (last changed first, GET /api/cases and its cursor).

The list is `ORDER BY updated_at DESC, id DESC` after the cursor's (updated_at, id). With an index on
updated_at alone, SQLite still sorted the rows of each updated_at value by id in a temporary B-tree and a
township supervisor's list sorted all the township's cases (~4,000 a year) before taking 50. Two composite
indexes make both a walk along an index that stops after 51 rows:

- (updated_at, id): the county office's list (every case);
- (township_code, updated_at, id): a township supervisor's (the scope is the township).

Piccolo cannot declare a composite index on a model, so they are plain DDL here (IF NOT EXISTS, the same on
SQLite and PostgreSQL); undoing drops them. No live table is imported: a migration must not change when the
models do."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-04T13:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Case list: indexes on (updated_at, id) and (township_code, updated_at, id)"

INDEXES = {
    "dispute_case_updated_at_id": "dispute_case (updated_at, id)",
    "dispute_case_township_updated_at_id": "dispute_case (township_code, updated_at, id)",
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="fengqiao", description=DESCRIPTION)

    async def create_indexes():
        from piccolo.engine import engine_finder

        engine = engine_finder()
        for name, target in INDEXES.items():
            await engine.run_ddl(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")

    async def drop_indexes():
        from piccolo.engine import engine_finder

        engine = engine_finder()
        for name in INDEXES:
            await engine.run_ddl(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(create_indexes)
    manager.add_raw_backwards(drop_indexes)
    return manager
