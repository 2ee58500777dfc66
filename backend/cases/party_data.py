"""Parties' phone numbers and ID numbers at rest: sealed (encrypted, plus a keyed hash) on the way
into case_party and opened on the way out; the start-up key check; key rotation.

Only the hashes are compared in SQL: the duplicate search, the repeated-party report and the search
box match equal phone numbers and ID numbers by hash, never by prefix (a prefix of a ciphertext means
nothing). Names stay in clear text: they are searched by prefix, and without a phone or ID number a
name alone rarely identifies a person in a county.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from backend.cases.tables import Party
from backend.core.crypto import KeyProblem, Keyring, keyring
from backend.db import write_transaction

FIELDS = ("phone", "id_number")
ROTATE_BATCH = 500


def _canonical(kind: str, value: str) -> str:
    # A landline may be typed with or without the dash after its area code: one person, one hash.
    return value.replace("-", "") if kind == "phone" else value.upper()


def digest(kind: str, value: str, ring: Keyring | None = None) -> str:
    """The stored hash of a normalised phone (kind "phone") or ID number (kind "id_number")."""
    return (ring or keyring()).digest(kind, _canonical(kind, value))


def sealed(phone: str | None, id_number: str | None, ring: Keyring | None = None) -> dict[str, Any]:
    """The columns of case_party for a party's phone and ID number (already normalised)."""
    ring = ring or keyring()
    values = {"phone": phone, "id_number": id_number}
    if not phone and not id_number:
        return {"key_id": None} | {f"{f}_cipher": None for f in FIELDS} | {f"{f}_hash": None for f in FIELDS}
    key_id = ring.current_id()
    out: dict[str, Any] = {"key_id": key_id}
    for field in FIELDS:
        value = values[field]
        out[f"{field}_cipher"] = ring.encrypt(key_id, f"case_party.{field}", value) if value else None
        out[f"{field}_hash"] = digest(field, value, ring) if value else None
    return out


def seal_party(party: dict[str, Any]) -> dict[str, Any]:
    """A party as fields.parties makes it (clear phone and ID number) → a case_party row's values."""
    rest = {k: v for k, v in party.items() if k not in FIELDS}
    return rest | sealed(party.get("phone"), party.get("id_number"))


def opened(rows: Iterable[dict[str, Any]], ring: Keyring | None = None) -> list[dict[str, Any]]:
    """case_party rows with `phone` and `id_number` in clear text added (None when absent)."""
    ring = ring or keyring()
    out = []
    for row in rows:
        row = dict(row)
        for field in FIELDS:
            token = row.get(f"{field}_cipher")
            row[field] = ring.decrypt(row["key_id"], f"case_party.{field}", token) if token else None
        out.append(row)
    return out


async def masked_by_hash(kind: str, hashes: Iterable[str]) -> dict[str, str]:
    """hash → the masked value it stands for (138****5678), for lists that group parties by hash."""
    from backend.cases import privacy

    column = Party.phone_hash if kind == "phone" else Party.id_number_hash
    wanted = list(set(hashes))
    if not wanted:
        return {}
    rows = (
        await Party.select(Party.key_id, Party.phone_cipher, Party.id_number_cipher, column)
        .where(column.is_in(wanted))
        .run()
    )
    mask = privacy.mask_phone if kind == "phone" else privacy.mask_id_number
    return {row[f"{kind}_hash"]: mask(row[kind]) or "" for row in opened(rows)}


# --- start-up -------------------------------------------------------------------------------------


async def check_keys(ring: Keyring | None = None) -> None:
    """Every key the stored parties need is on disk and is the key that sealed them (one row per key
    decrypted, and its hash recomputed); the first keys are made when nothing is sealed yet.

    Raises KeyProblem with a message for the operator: a server that started with a wrong key would
    show garbage or fail on every case page."""
    ring = ring or keyring()
    used = [
        r["key_id"]
        for r in await Party.select(Party.key_id).where(Party.key_id.is_not_null()).distinct().run()
    ]
    if not used:
        ring.create_first_keys()
        return
    for key_id in sorted(used):
        sample = await (
            Party.select(
                Party.key_id,
                Party.phone_cipher,
                Party.id_number_cipher,
                Party.phone_hash,
                Party.id_number_hash,
            )
            .where(Party.key_id == key_id)
            .first()
            .run()
        )
        assert sample is not None
        row = opened([sample], ring)[0]
        for field in FIELDS:
            if row[field] and digest(field, row[field], ring) != sample[f"{field}_hash"]:
                raise KeyProblem(
                    f"个人信息哈希密钥 pii-hash.key（{ring.directory}）与数据库不符："
                    "按电话、身份证号的查重和搜索会失效。请恢复与数据库同一备份中的 secrets 目录",
                    f"The personal-data hash key in {ring.directory} does not match the database "
                    "(duplicate checks and searches by phone would fail): restore the secrets directory "
                    "from the same backup as the database",
                )
    # Sealing uses the newest key: it must exist even if no row uses it yet.
    ring.current_id()


# --- rotation -------------------------------------------------------------------------------------


async def rows_to_rotate(key_id: int) -> int:
    return await Party.count().where(Party.key_id.is_not_null() & (Party.key_id != key_id)).run()


async def rotate(ring: Keyring | None = None, progress: Callable[[int], Any] | None = None) -> dict[str, Any]:
    """A new key; every sealed party re-encrypted under it in batches (each its own transaction, so
    the server keeps running and an interruption loses nothing: run it again); then the old keys,
    no longer used by any row, are deleted. Until then they stay on disk and readable."""
    ring = ring or keyring()
    await check_keys(ring)
    old_ids = ring.key_ids()
    new_id = ring.add_key()
    done = 0
    while True:
        async with write_transaction():
            rows = await (
                Party.select(Party.id, Party.key_id, Party.phone_cipher, Party.id_number_cipher)
                .where(Party.key_id.is_not_null() & (Party.key_id != new_id))
                .order_by(Party.id)
                .limit(ROTATE_BATCH)
                .run()
            )
            for row in opened(rows, ring):
                values = {}
                for field in FIELDS:
                    clear = row[field]
                    values[f"{field}_cipher"] = (
                        ring.encrypt(new_id, f"case_party.{field}", clear) if clear else None
                    )
                await (
                    Party.update({Party.key_id: new_id, **{getattr(Party, k): v for k, v in values.items()}})
                    .where(Party.id == row["id"])
                    .run()
                )
        done += len(rows)
        if progress is not None and rows:
            progress(len(rows))
        if len(rows) < ROTATE_BATCH:
            break
    removed = []
    for key_id in old_ids:
        # A server still holding an older key in memory may have sealed a row with it meanwhile.
        if not await Party.exists().where(Party.key_id == key_id).run():
            ring.remove_key(key_id)
            removed.append(key_id)
    return {
        "key_id": new_id,
        "rows": done,
        "removed": removed,
        "kept": [k for k in old_ids if k not in removed],
    }
