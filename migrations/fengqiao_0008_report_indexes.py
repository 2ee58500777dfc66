"""Reports: an index on dispute_case.reported_at, the column every report's period is taken on.

Raw SQL that both engines accept; `IF NOT EXISTS` so a database whose tables were made from the models
(where `Case.reported_at` has `index=True`, and Piccolo names the index the same way) is left as it is."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-27T04:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Reports: index on dispute_case.reported_at"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="fengqiao", description=DESCRIPTION)

    async def create_index():
        from backend.cases.tables import Case

        await Case.raw(
            "CREATE INDEX IF NOT EXISTS dispute_case_reported_at ON dispute_case (reported_at)"
        ).run()

    async def drop_index():
        from backend.cases.tables import Case

        await Case.raw("DROP INDEX IF EXISTS dispute_case_reported_at").run()

    manager.add_raw(create_index)
    manager.add_raw_backwards(drop_index)
    return manager
