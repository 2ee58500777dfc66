"""Parties' phone and ID numbers encrypted at rest (个人信息保护法 art. 51): ciphertext and keyed-hash
columns replace the clear-text ones, and existing rows are converted in the same transaction.

Piccolo runs a migration's raw steps before its column changes; this one needs them in between (the
new columns must exist to be filled, the old ones must still exist to be read), so its manager runs
add columns → convert → drop columns, all in one transaction: an upgrade interrupted half-way leaves the
database as it was, never half clear and half encrypted.

Converting needs the keys: they are made in the secrets directory of FENGQIAO_DATA_DIR (as the server
does on its first start), so run `fengqiao migrate` with the server's settings. Going backwards
decrypts into the clear-text columns again.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Integer, Text, Varchar
from piccolo.columns.indexes import IndexMethod
from piccolo.engine import engine_finder

ID = "2026-12-03T00:16:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Parties: phone and ID number encrypted (AES-GCM) with keyed hashes; clear columns dropped"

BATCH = 1000


class _ConvertBetween(MigrationManager):
    """Column changes with the raw step between adding and dropping (see the module's docstring)."""

    async def run(self, backwards: bool = False):
        print(f"  - {self.migration_id} [{'backwards' if backwards else 'forwards'}]... ", end="")
        engine = engine_finder()
        assert engine is not None
        async with engine.transaction():
            if backwards:
                await self._run_drop_columns(backwards=True)  # the clear columns come back
                for step in self.raw_backwards:
                    await step()
                await self._run_add_columns(backwards=True)
            else:
                await self._run_add_columns()
                for step in self.raw:
                    await step()
                await self._run_drop_columns()


async def _sql(query: str, *args):
    from piccolo.table import Table

    class RawParty(Table, tablename="case_party"):
        pass

    return await RawParty.raw(query, *args).run()


async def encrypt_existing() -> None:
    from backend.cases.party_data import sealed

    total = 0
    last = 0
    while True:
        rows = await _sql(
            "SELECT id, phone, id_number FROM case_party WHERE id > {} "
            "AND (phone IS NOT NULL OR id_number IS NOT NULL) ORDER BY id LIMIT {}",
            last,
            BATCH,
        )
        for row in rows:
            columns = sealed(row["phone"] or None, row["id_number"] or None)
            await _sql(
                "UPDATE case_party SET key_id = {}, phone_cipher = {}, id_number_cipher = {}, "
                "phone_hash = {}, id_number_hash = {} WHERE id = {}",
                columns["key_id"],
                columns["phone_cipher"],
                columns["id_number_cipher"],
                columns["phone_hash"],
                columns["id_number_hash"],
                row["id"],
            )
        total += len(rows)
        if len(rows) < BATCH:
            break
        last = rows[-1]["id"]
    # SQLite will not drop an indexed column; PostgreSQL drops the index with it.
    await _sql("DROP INDEX IF EXISTS case_party_phone")
    await _sql("DROP INDEX IF EXISTS case_party_id_number")
    if total:
        print(f"encrypted {total} parties... ", end="")


async def decrypt_existing() -> None:
    from backend.cases.party_data import opened

    rows = await _sql(
        "SELECT id, key_id, phone_cipher, id_number_cipher FROM case_party WHERE key_id IS NOT NULL"
    )
    for row in opened(rows):
        await _sql(
            "UPDATE case_party SET phone = {}, id_number = {} WHERE id = {}",
            row["phone"],
            row["id_number"],
            row["id"],
        )
    for index in ("case_party_key_id", "case_party_phone_hash", "case_party_id_number_hash"):
        await _sql(f"DROP INDEX IF EXISTS {index}")


async def forwards():
    manager = _ConvertBetween(migration_id=ID, app_name="fengqiao", description=DESCRIPTION)

    manager.drop_column(
        table_class_name="Party",
        tablename="case_party",
        column_name="id_number",
        db_column_name="id_number",
        schema=None,
    )

    manager.drop_column(
        table_class_name="Party",
        tablename="case_party",
        column_name="phone",
        db_column_name="phone",
        schema=None,
    )

    manager.add_column(
        table_class_name="Party",
        tablename="case_party",
        column_name="id_number_cipher",
        db_column_name="id_number_cipher",
        column_class_name="Text",
        column_class=Text,
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
        table_class_name="Party",
        tablename="case_party",
        column_name="id_number_hash",
        db_column_name="id_number_hash",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 64,
            "default": None,
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
        table_class_name="Party",
        tablename="case_party",
        column_name="key_id",
        db_column_name="key_id",
        column_class_name="Integer",
        column_class=Integer,
        params={
            "default": None,
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
        table_class_name="Party",
        tablename="case_party",
        column_name="phone_cipher",
        db_column_name="phone_cipher",
        column_class_name="Text",
        column_class=Text,
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
        table_class_name="Party",
        tablename="case_party",
        column_name="phone_hash",
        db_column_name="phone_hash",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 64,
            "default": None,
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

    manager.add_raw(encrypt_existing)
    manager.add_raw_backwards(decrypt_existing)
    return manager
