"""Parties' phone and ID numbers encrypted at rest (个人信息保护法 art. 51): ciphertext and keyed-hash
columns replace the clear-text ones, and existing rows are converted in the same transaction.

Piccolo runs a migration's raw steps before its column changes; this one needs them in between (the
new columns must exist to be filled, the old ones must still exist to be read), so its manager runs
add columns → convert → drop columns, all in one transaction: an upgrade interrupted half-way leaves the
database as it was, never half clear and half encrypted.

Converting needs the keys: they are made in the secrets directory of FENGQIAO_DATA_DIR (as the server
does on its first start), so run `fengqiao migrate` with the server's settings (a wrong directory is
caught afterwards: `fengqiao migrate` and `serve` check the keys against the data and stop). Going backwards
decrypts into the clear-text columns again.
"""

import base64
import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

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


# The sealing below is a frozen copy of backend/cases/party_data.py and backend/core/crypto.py as they
# were when this migration was written (a migration must not import live code); the stored format is a
# contract both keep: base64(nonce ‖ AES-GCM ciphertext) with "case_party.<field>:<key id>" as associated
# data, and hex HMAC-SHA256 of "<field>:<value>" (a phone without its dash, an ID number in capitals).


def _secrets_dir() -> Path:
    # As backend/settings.py finds it: FENGQIAO_DATA_DIR (default ./var) / secrets.
    return Path(os.environ.get("FENGQIAO_DATA_DIR", "./var")).resolve() / "secrets"


def _key_file(directory: Path, name: str) -> bytes:
    """Read a key, or make it (0600, atomically) when absent."""
    path = directory / name
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, 0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(base64.b64encode(secrets.token_bytes(32)))
                handle.flush()
                os.fsync(handle.fileno())
    key = base64.b64decode(path.read_bytes().strip())
    if len(key) != 32:
        raise RuntimeError(f"personal-data key file {path} is damaged")
    return key


class _Keys:
    def __init__(self) -> None:
        self.directory = _secrets_dir()
        ids = sorted(
            int(m.group(1))
            for p in (self.directory.iterdir() if self.directory.is_dir() else [])
            if (m := re.match(r"^pii-(\d+)\.key$", p.name))
        )
        if ids and not (self.directory / "pii-hash.key").exists():
            raise RuntimeError(f"pii-hash.key is missing from {self.directory} while data keys are there")
        self.key_id = ids[-1] if ids else 1

    def seal(self, field: str, value: str) -> str:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        aead = AESGCM(_key_file(self.directory, f"pii-{self.key_id}.key"))
        nonce = os.urandom(12)
        sealed = aead.encrypt(nonce, value.encode(), f"case_party.{field}:{self.key_id}".encode())
        return base64.b64encode(nonce + sealed).decode()

    def open(self, key_id: int, field: str, token: str) -> str:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        path = self.directory / f"pii-{key_id}.key"
        if not path.exists():
            raise RuntimeError(f"personal-data key {path} is missing: cannot decrypt the parties")
        raw = base64.b64decode(token)
        aead = AESGCM(_key_file(self.directory, path.name))
        return aead.decrypt(raw[:12], raw[12:], f"case_party.{field}:{key_id}".encode()).decode()

    def digest(self, field: str, value: str) -> str:
        canonical = value.replace("-", "") if field == "phone" else value.upper()
        key = _key_file(self.directory, "pii-hash.key")
        return hmac.new(key, f"{field}:{canonical}".encode(), hashlib.sha256).hexdigest()


async def encrypt_existing() -> None:
    keys = _Keys()
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
            phone, id_number = row["phone"] or None, row["id_number"] or None
            if not phone and not id_number:
                continue  # empty strings: nothing to protect
            await _sql(
                "UPDATE case_party SET key_id = {}, phone_cipher = {}, id_number_cipher = {}, "
                "phone_hash = {}, id_number_hash = {} WHERE id = {}",
                keys.key_id,
                keys.seal("phone", phone) if phone else None,
                keys.seal("id_number", id_number) if id_number else None,
                keys.digest("phone", phone) if phone else None,
                keys.digest("id_number", id_number) if id_number else None,
                row["id"],
            )
            total += 1
        if len(rows) < BATCH:
            break
        last = rows[-1]["id"]
    # SQLite will not drop an indexed column; PostgreSQL drops the index with it.
    await _sql("DROP INDEX IF EXISTS case_party_phone")
    await _sql("DROP INDEX IF EXISTS case_party_id_number")
    if total:
        print(f"encrypted {total} parties... ", end="")


async def decrypt_existing() -> None:
    keys = _Keys()
    rows = await _sql(
        "SELECT id, key_id, phone_cipher, id_number_cipher FROM case_party WHERE key_id IS NOT NULL"
    )
    for row in rows:
        await _sql(
            "UPDATE case_party SET phone = {}, id_number = {} WHERE id = {}",
            keys.open(row["key_id"], "phone", row["phone_cipher"]) if row["phone_cipher"] else None,
            keys.open(row["key_id"], "id_number", row["id_number_cipher"])
            if row["id_number_cipher"]
            else None,
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
