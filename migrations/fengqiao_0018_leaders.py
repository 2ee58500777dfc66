"""领导包案 (issue 16, part 2): the leader in charge of a case (Case.leader, a user of role leader)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete
from piccolo.columns.base import OnUpdate
from piccolo.columns.column_types import ForeignKey
from piccolo.columns.column_types import Serial
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table


class User(Table, tablename="app_user", schema=None):
    id = Serial(
        null=False,
        primary_key=True,
        unique=False,
        index=False,
        index_method=IndexMethod.btree,
        choices=None,
        db_column_name="id",
        secret=False,
    )


ID = "2026-12-04T10:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "The leader in charge of a case (包案领导)"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="fengqiao", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="Case",
        tablename="dispute_case",
        column_name="leader",
        db_column_name="leader",
        column_class_name="ForeignKey",
        column_class=ForeignKey,
        params={
            "references": User,
            "on_delete": OnDelete.set_null,
            "on_update": OnUpdate.cascade,
            "target_column": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": True,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    # SQLite cannot drop an indexed column: stepping back, its index goes first (raw steps run before
    # the column changes).
    async def drop_index() -> None:
        class RawCase(Table, tablename="dispute_case"):
            pass

        await RawCase.raw("DROP INDEX IF EXISTS dispute_case_leader").run()

    manager.add_raw_backwards(drop_index)

    return manager
