"""A county upgrading with live data: migration 0013 encrypts the parties' phone and ID numbers already
stored, in its own transaction, and drops the clear-text columns; afterwards they read, match and search
as new ones do."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.ops.test_backup import REPO_ROOT, empty_database

BEFORE_ENCRYPTION = "2026-12-03T00:14:00:000000"  # migration 0012


def run(args: list[str], data_dir: Path, url: str) -> str:
    env = {
        **os.environ,
        "FENGQIAO_DATA_DIR": str(data_dir),
        "FENGQIAO_DATABASE_URL": url,
        "PICCOLO_CONF": "backend.piccolo_conf",
    }
    done = subprocess.run(
        [sys.executable, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.server
async def test_clear_phone_and_id_numbers_are_encrypted_by_the_upgrade(
    databases, database_url, tmp_path, monkeypatch
):
    from backend.cases import party_data, search
    from backend.cases.tables import Case, Party
    from backend.core import crypto
    from backend.settings import get_settings

    url = await empty_database(databases, tmp_path)
    data_dir = tmp_path / "county"
    (tmp_path / "restored").mkdir(exist_ok=True)
    run(
        ["-m", "piccolo.main", "migrations", "forwards", "fengqiao", f"--migration_id={BEFORE_ENCRYPTION}"],
        data_dir,
        url,
    )
    case_id = uuid.uuid4()
    try:
        await databases.bind(url)
        await Case.raw(
            "INSERT INTO dispute_case (id, number, category, title, level, state, lon, lat, location_source, "
            "owner_level, create_hash) VALUES ({}, 'X-2025-000001', 'neighbour', '旧案', 'small', 'closed', "
            "99.6, 24.8, 'gps', 'team', 'h')",
            case_id,
        ).run()
        for position, (name, phone, id_number) in enumerate(
            [
                ("张建华", "13812345678", "11010519491231002X"),
                ("李秀英", "0875-6123456", None),
                ("王五", None, None),
            ]
        ):
            await Party.raw(
                'INSERT INTO case_party ("case", position, name, phone, id_number, role) '
                "VALUES ({}, {}, {}, {}, {}, 'party')",
                case_id,
                position,
                name,
                phone,
                id_number,
            ).run()

        output = run(["-m", "backend.cli", "migrate"], data_dir, url)
        assert "encrypted 2 parties" in output

        rows = await Party.raw('SELECT * FROM case_party WHERE "case" = {} ORDER BY position', case_id).run()
        assert "phone" not in rows[0] and "id_number" not in rows[0]
        assert "13812345678" not in str(rows) and "6123456" not in str(rows)
        ring = crypto.Keyring(data_dir / "secrets")
        opened = party_data.opened(rows, ring)
        assert [(r["name"], r["phone"], r["id_number"]) for r in opened] == [
            ("张建华", "13812345678", "11010519491231002X"),
            ("李秀英", "0875-6123456", None),
            ("王五", None, None),
        ]
        assert rows[2]["key_id"] is None
        # Searchable like a case filed after the upgrade.
        monkeypatch.setitem(crypto._keyrings, get_settings().secrets_dir, ring)
        for q in ("13812345678", "11010519491231002x", "08756123456"):
            found = await Case.select(Case.id).where(search.parse(q).condition).run()
            assert [r["id"] for r in found] == [case_id], q
        await party_data.check_keys(ring)
    finally:
        await databases.bind(database_url)
        if databases.engine == "postgresql":
            await databases.drop(url)
            await databases.bind(database_url)
