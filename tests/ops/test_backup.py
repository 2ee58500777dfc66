"""`fengqiao backup` and `fengqiao restore`: a deployment comes back whole on a new machine (cases,
photos, case numbers that continue, phones still signed in), and a damaged backup is caught before
anything is overwritten."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.factories import auth, bearer, case_body, make_case, tokens_for
from tests.media.images import jpeg, sha

REPO_ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, data_dir: Path, database_url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "FENGQIAO_DATA_DIR": str(data_dir), "FENGQIAO_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "backend.cli", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def serial(number: str) -> int:
    return int(number.rsplit("-", 1)[1])


async def empty_database(databases, tmp_path: Path) -> str:
    """A new, empty database of the engine under test: the machine a backup is restored onto."""
    if databases.engine == "postgresql":
        url = databases.url_of(f"{databases.prefix}_restored_{uuid.uuid4().hex[:6]}")
        await databases.create_empty(url)
        return url
    return f"sqlite:///{tmp_path / 'restored' / 'fengqiao.sqlite3'}"


@pytest.mark.server
async def test_round_trip_onto_a_new_machine(client, databases, database_url, tmp_path, monkeypatch):
    import httpx

    from backend.app import create_app
    from backend.cases import party_data
    from backend.core import crypto
    from backend.settings import get_settings, load_settings

    source = get_settings()
    photo = jpeg((800, 600))
    tokens = await tokens_for(client, "mediator1")
    headers = bearer(tokens)
    assert (await client.put(f"/api/media/{sha(photo)}", content=photo, headers=headers)).status_code == 201
    case = await make_case(client, "mediator1", photos=[sha(photo)])
    medium = (await client.get(f"/api/media/{sha(photo)}?size=medium", headers=headers)).content

    backup_dir = tmp_path / "backup"
    made = cli("backup", str(backup_dir), "--verify", data_dir=source.data_dir, database_url=database_url)
    assert made.returncode == 0, made.stderr
    assert "备份完成" in made.stdout
    manifest = json.loads((backup_dir / "manifest.json").read_text())
    assert manifest["engine"] == databases.engine and manifest["counts"]["media_files"] == 3
    assert stat.S_IMODE(backup_dir.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in backup_dir.rglob("*") if p.is_file()} == {0o600}

    target_dir = tmp_path / "restored"
    target_url = await empty_database(databases, tmp_path)
    try:
        done = cli("restore", str(backup_dir), data_dir=target_dir, database_url=target_url)
        assert done.returncode == 0, done.stderr
        assert "恢复完成" in done.stdout
        assert stat.S_IMODE((target_dir / "media").stat().st_mode) == 0o700
        assert stat.S_IMODE((target_dir / "secrets" / "jwt.key").stat().st_mode) == 0o600

        # The new machine's server: the restored database, photos and keys (the personal-data ones
        # read from the restored secrets/, not this process's).
        await databases.bind(target_url)
        monkeypatch.setenv("FENGQIAO_DATA_DIR", str(target_dir))
        monkeypatch.setitem(crypto._keyrings, source.secrets_dir, crypto.Keyring(target_dir / "secrets"))
        await party_data.check_keys()
        app = create_app(load_settings(), manage_database=False)
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as restored:
            # The phone signed in before the backup is still signed in: same key, same device.
            r = await restored.get(f"/api/cases/{case['id']}", headers=headers)
            assert r.status_code == 200 and r.json()["number"] == case["number"]
            assert r.json()["parties"][0]["phone"] == "13812345678"
            found = await restored.get("/api/cases", params={"q": "13812345678"}, headers=headers)
            assert [c["id"] for c in found.json()["items"]] == [case["id"]]
            photo_r = await restored.get(f"/api/media/{sha(photo)}?size=medium", headers=headers)
            assert photo_r.status_code == 200 and photo_r.content == medium
            refreshed = await restored.post(
                "/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
            )
            assert refreshed.status_code == 200, refreshed.text
            # Case numbers continue after the restored ones.
            new = await restored.post(
                "/api/cases",
                json=case_body(),
                headers=bearer(refreshed.json()),
            )
            assert new.status_code == 201, new.text
            assert serial(new.json()["number"]) == serial(case["number"]) + 1
            assert (await restored.get("/api/health")).json()["status"] == "ok"
    finally:
        await databases.bind(database_url)
        if databases.engine == "postgresql":
            await databases.drop(target_url)
            await databases.bind(database_url)


async def test_a_damaged_backup_is_refused_before_anything_is_replaced(client, database_url, tmp_path):
    from backend import db
    from backend.app import VERSION
    from backend.ops import backup as backups
    from backend.settings import get_settings

    settings = get_settings()
    photo = jpeg()
    headers = await auth(client, "mediator1")
    assert (await client.put(f"/api/media/{sha(photo)}", content=photo, headers=headers)).status_code == 201
    applied = (await db.migration_state())["applied_ids"]
    backup_dir = tmp_path / "backup"
    backups.backup(settings, backup_dir, applied, VERSION)
    assert backups.verify(backup_dir).media_files == 3

    thumb = next(backup_dir.glob("media/*/*/thumb.jpg"))
    thumb.write_bytes(thumb.read_bytes()[:-1] + b"\x00")
    (backup_dir / "stray.txt").write_text("?")
    with pytest.raises(backups.BackupError) as caught:
        backups.restore(settings, backup_dir, force=True, known_migrations=db.migration_ids())
    rel = thumb.relative_to(backup_dir).as_posix()
    assert caught.value.problems == [f"checksum differs: {rel}", "not in the manifest: stray.txt"]
    # Nothing was touched: the photo is still served from the live media directory.
    assert (await client.get(f"/api/media/{sha(photo)}?size=thumb", headers=headers)).status_code == 200

    # From the command line: a clear message, exit status 1.
    done = cli("restore", "--verify", str(backup_dir), data_dir=settings.data_dir, database_url=database_url)
    assert done.returncode == 1 and "备份校验失败" in done.stderr and "Traceback" not in done.stderr


async def test_restore_will_not_overwrite_data_unless_forced(client, tmp_path):
    from backend import db
    from backend.app import VERSION
    from backend.ops import backup as backups
    from backend.settings import get_settings

    settings = get_settings()
    await make_case(client, "mediator1")
    backup_dir = tmp_path / "backup"
    backups.backup(settings, backup_dir, (await db.migration_state())["applied_ids"], VERSION)
    with pytest.raises(backups.BackupError) as caught:
        backups.restore(settings, backup_dir, force=False, known_migrations=db.migration_ids())
    assert caught.value.problems == ["database", "secrets"]
    assert "--force" in caught.value.message


async def test_a_backup_goes_only_into_a_new_or_empty_directory(client, tmp_path):
    from backend.app import VERSION
    from backend.ops import backup as backups
    from backend.settings import get_settings

    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "something").write_text("keep me")
    with pytest.raises(backups.BackupError) as caught:
        backups.backup(get_settings(), tmp_path / "old", [], VERSION)
    assert "不为空" in caught.value.message
    assert (tmp_path / "old" / "something").read_text() == "keep me"


async def test_a_backup_from_another_engine_is_refused(client, tmp_path):
    from dataclasses import replace

    from backend import db
    from backend.app import VERSION
    from backend.ops import backup as backups
    from backend.settings import get_settings

    settings = get_settings()
    backup_dir = tmp_path / "backup"
    backups.backup(settings, backup_dir, (await db.migration_state())["applied_ids"], VERSION)
    other = (
        "sqlite:///" + str(tmp_path / "x.sqlite3")
        if settings.engine == "postgresql"
        else "postgresql://postgres@127.0.0.1:1/x"
    )
    with pytest.raises(backups.BackupError) as caught:
        backups.restore(
            replace(settings, database_url=other, data_dir=tmp_path / "t"),
            backup_dir,
            force=False,
            known_migrations=db.migration_ids(),
        )
    assert "不能恢复到" in caught.value.message


async def test_a_forced_restore_returns_the_deployment_to_the_backup(
    client, databases, database_url, tmp_path
):
    from backend import db
    from backend.app import VERSION
    from backend.ops import backup as backups
    from backend.settings import get_settings

    settings = get_settings()
    headers = await auth(client, "mediator1")
    kept = await make_case(client, "mediator1")
    backup_dir = tmp_path / "backup"
    backups.backup(settings, backup_dir, (await db.migration_state())["applied_ids"], VERSION)
    later = await make_case(client, "mediator1")
    photo = jpeg()
    assert (await client.put(f"/api/media/{sha(photo)}", content=photo, headers=headers)).status_code == 201

    await db.close()  # the server is stopped while restoring
    backups.restore(settings, backup_dir, force=True, known_migrations=db.migration_ids())
    await databases.bind(database_url)

    assert (await client.get(f"/api/cases/{kept['id']}", headers=headers)).status_code == 200
    assert (await client.get(f"/api/cases/{later['id']}", headers=headers)).status_code == 404
    assert (await client.get(f"/api/media/{sha(photo)}?size=thumb", headers=headers)).status_code == 404
    again = await make_case(client, "mediator1")
    assert serial(again["number"]) == serial(kept["number"]) + 1  # the number `later` had, given again
    assert sorted(p.name for p in settings.data_dir.iterdir() if p.name.startswith(".")) == []
