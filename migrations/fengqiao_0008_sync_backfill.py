"""Existing cases get one change-log row each (so a first pull sends them) and their events a version.

A separate migration because a migration's raw steps run before its tables are made."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-27T00:22:15:000000"
VERSION = "1.38.0"
DESCRIPTION = "Sync: change-log rows for existing cases, versions for existing case events"


async def forwards():
    from piccolo.table import Table

    manager = MigrationManager(migration_id=ID, app_name="fengqiao", description=DESCRIPTION)

    async def backfill():
        class RawChange(Table, tablename="sync_change"):
            pass

        await RawChange.raw(
            "INSERT INTO sync_change (entity, entity_id, version, action, at) "
            "SELECT 'case', id, version, 'snapshot', updated_at FROM dispute_case ORDER BY updated_at, id"
        ).run()
        # An event's version is the number of version-bumping events up to it (merged_in, written on
        # the target of a merge, does not bump the target's version).
        await RawChange.raw(
            'UPDATE case_event SET version = (SELECT COUNT(*) FROM case_event e2 WHERE e2."case" = '
            "case_event.\"case\" AND e2.id <= case_event.id AND e2.action <> 'merged_in') "
            "WHERE version IS NULL AND action <> 'merged_in'"
        ).run()

    manager.add_raw(backfill)
    return manager
