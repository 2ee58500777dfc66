"""Issue 19: the same-party duplicate search reads the latest parties recorded under a phone or ID
number (backend/cases/duplicates.py), each a walk down an index on (hash, id) that stops after a few
dozen rows, whatever the number's count.

PostgreSQL needs the composite indexes for that walk. On SQLite the id is the rowid, which every index
already ends with, so the indexes on phone_hash and id_number_hash serve as they are and nothing is made
there. Plain DDL (Piccolo cannot declare a composite index on a model); undoing drops them. No live table
is imported: a migration must not change when the models do."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-05T02:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = (
    "Duplicate search: indexes on case_party (phone_hash, id) and (id_number_hash, id) on PostgreSQL"
)

INDEXES = {
    "case_party_phone_hash_id": "case_party (phone_hash, id)",
    "case_party_id_number_hash_id": "case_party (id_number_hash, id)",
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="fengqiao", description=DESCRIPTION)

    async def create_indexes():
        from piccolo.engine import engine_finder

        engine = engine_finder()
        if engine.engine_type != "postgres":
            return
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
