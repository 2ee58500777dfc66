"""Issue 15 §3–4: the case fields the 司法局's statistics count (source, who referred it, people involved,
what closing it prevented), the 卷宗 archive number, and the teams' zero reports (零上报), one per team
and month. Two unique indexes Piccolo cannot declare are made after the tables exist, on both engines."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete
from piccolo.columns.base import OnUpdate
from piccolo.columns.column_types import Boolean
from piccolo.columns.column_types import ForeignKey
from piccolo.columns.column_types import Integer
from piccolo.columns.column_types import Serial
from piccolo.columns.column_types import Timestamptz
from piccolo.columns.column_types import Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table


class Team(Table, tablename="team", schema=None):
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


ID = "2026-12-03T00:22:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Cases: source, referrer, people involved, prevention flags, archive number; team zero reports"


_EXTRA_DDL = (
    # A zero report is filed once per team and month: a second one is the same report (idempotent).
    "CREATE UNIQUE INDEX team_zero_report_team_month ON team_zero_report (team, month)",
    # SQLite cannot add a UNIQUE column to an existing table; a unique index does the same on both
    # engines (several NULLs, the cases not archived, are allowed by both).
    "CREATE UNIQUE INDEX dispute_case_archive_number ON dispute_case (archive_number)",
)


class _ZeroReportMigrationManager(MigrationManager):
    """Runs the extra DDL after the tables exist (see fengqiao_0003_grids)."""

    async def _run_add_constraints(self, backwards: bool = False):
        await super()._run_add_constraints(backwards=backwards)
        if not backwards and not self.preview:
            from piccolo.engine import engine_finder

            engine = engine_finder()
            for sql in _EXTRA_DDL:
                await engine.run_ddl(sql)


async def forwards():
    manager = _ZeroReportMigrationManager(migration_id=ID, app_name="fengqiao", description=DESCRIPTION)

    async def drop_extra_indexes():
        # Undoing: SQLite cannot drop dispute_case.archive_number while its index exists, so the
        # indexes go first (raw backward steps run before the columns and tables are dropped).
        from piccolo.engine import engine_finder

        engine = engine_finder()
        for name in ("dispute_case_archive_number", "team_zero_report_team_month"):
            await engine.run_ddl(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw_backwards(drop_extra_indexes)

    manager.add_table(
        class_name="ZeroReport",
        tablename="team_zero_report",
        schema=None,
        columns=None,
    )

    manager.add_column(
        table_class_name="ZeroReport",
        tablename="team_zero_report",
        column_name="team",
        db_column_name="team",
        column_class_name="ForeignKey",
        column_class=ForeignKey,
        params={
            "references": Team,
            "on_delete": OnDelete.cascade,
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

    manager.add_column(
        table_class_name="ZeroReport",
        tablename="team_zero_report",
        column_name="month",
        db_column_name="month",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 7,
            "default": "",
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="ZeroReport",
        tablename="team_zero_report",
        column_name="filed_by",
        db_column_name="filed_by",
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
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="ZeroReport",
        tablename="team_zero_report",
        column_name="filed_at",
        db_column_name="filed_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
            "default": TimestamptzNow(),
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="Case",
        tablename="dispute_case",
        column_name="archive_number",
        db_column_name="archive_number",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 24,
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="Case",
        tablename="dispute_case",
        column_name="people_involved",
        db_column_name="people_involved",
        column_class_name="Integer",
        column_class=Integer,
        params={
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="Case",
        tablename="dispute_case",
        column_name="prevented_criminal",
        db_column_name="prevented_criminal",
        column_class_name="Boolean",
        column_class=Boolean,
        params={
            "default": False,
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="Case",
        tablename="dispute_case",
        column_name="prevented_group_fight",
        db_column_name="prevented_group_fight",
        column_class_name="Boolean",
        column_class=Boolean,
        params={
            "default": False,
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="Case",
        tablename="dispute_case",
        column_name="prevented_group_petition",
        db_column_name="prevented_group_petition",
        column_class_name="Boolean",
        column_class=Boolean,
        params={
            "default": False,
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="Case",
        tablename="dispute_case",
        column_name="referred_by",
        db_column_name="referred_by",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 16,
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="Case",
        tablename="dispute_case",
        column_name="source",
        db_column_name="source",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 16,
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    return manager
