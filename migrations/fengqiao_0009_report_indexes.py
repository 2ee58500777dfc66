"""Reports: an index on dispute_case.reported_at, the column every report's period is taken on.

An `alter_column` (what `piccolo migrations new --auto` writes for `index=True`), so Piccolo's
migration snapshot knows the column is indexed and a later auto migration finds nothing to do.
Piccolo names the index `dispute_case_reported_at` and creates it with `IF NOT EXISTS` on both
engines, so a database that already has it is left as it is; undoing drops it with `IF EXISTS`.

No live table is imported: a migration must not change when the models do."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz

ID = "2026-11-27T04:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Reports: index on dispute_case.reported_at"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="fengqiao", description=DESCRIPTION)

    manager.alter_column(
        table_class_name="Case",
        tablename="dispute_case",
        column_name="reported_at",
        db_column_name="reported_at",
        params={"index": True},
        old_params={"index": False},
        column_class=Timestamptz,
        old_column_class=Timestamptz,
        schema=None,
    )

    return manager
