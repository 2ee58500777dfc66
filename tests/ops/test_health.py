"""/api/health tells a monitor whether the server can serve; a dead database or disk is 503, not 500."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import auth, make_case
from tests.media.images import jpeg, sha

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def media_dir():
    from backend.settings import load_settings

    return load_settings().media_dir


async def test_health_is_ok_with_a_database_and_a_writable_media_directory(client):
    r = await client.get("/api/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["checks"] == {"database": "ok", "media": "ok"}
    assert body["migrations"]["pending"] == []


async def test_a_database_missing_migrations_is_not_ready(client):
    from piccolo.apps.migrations.tables import Migration

    newest = (await Migration.select(Migration.name).order_by(Migration.name, ascending=False).first().run())[
        "name"
    ]
    await Migration.delete().where(Migration.name == newest).run()
    r = await client.get("/api/health")
    assert r.status_code == 503
    assert r.json()["status"] == "migrations_pending" and r.json()["migrations"]["pending"] == [newest]
    assert r.json()["checks"] == {"database": "ok", "media": "ok"}


async def test_a_media_directory_that_takes_no_writes_is_503_on_health_and_on_upload(client, media_dir):
    # The photos' directory is missing and a file sits in its place (a mount that did not come up).
    shutil.rmtree(media_dir, ignore_errors=True)
    media_dir.parent.mkdir(parents=True, exist_ok=True)
    media_dir.write_bytes(b"")
    try:
        r = await client.get("/api/health")
        assert r.status_code == 503
        assert r.json()["status"] == "unavailable" and r.json()["checks"] == {
            "database": "ok",
            "media": "unwritable",
        }
        data = jpeg()
        up = await client.put(
            f"/api/media/{sha(data)}", content=data, headers=await auth(client, "mediator1")
        )
        assert up.status_code == 503 and up.json()["code"] == "media.storage_unavailable"
        assert up.headers["retry-after"] == "60" and "稍后" in up.json()["message"]
    finally:
        media_dir.unlink()


async def test_a_read_only_media_directory_is_503(client, monkeypatch):
    # Root ignores file modes, so the read-only file system is what the kernel would answer.
    from backend.media import storage

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(storage, "_makedirs_durable", read_only)
    monkeypatch.setattr(storage, "spool", read_only)
    r = await client.get("/api/health")
    assert r.status_code == 503 and r.json()["checks"]["media"] == "unwritable"
    data = jpeg()
    up = await client.put(f"/api/media/{sha(data)}", content=data, headers=await auth(client, "mediator1"))
    assert up.status_code == 503 and up.json()["code"] == "media.storage_unavailable"


async def test_a_lost_database_is_503_with_a_stable_code(client, database_url):
    from backend import db

    headers = await auth(client, "mediator1")
    case = await make_case(client, "mediator1")
    await db.close()
    saved = dict(db.DB.config) if db.engine_name() == "postgresql" else db.DB.path
    try:
        if db.engine_name() == "postgresql":
            db.DB.config["dsn"] = database_url.rsplit("/", 1)[0] + "/fengqiao_no_such_database"
        else:
            db.DB.path = "/proc/fengqiao-no-such-dir/fengqiao.sqlite3"
        health = await client.get("/api/health")
        assert health.status_code == 503
        assert health.json()["checks"]["database"] == "unavailable" and health.json()["migrations"] is None
        r = await client.get(f"/api/cases/{case['id']}", headers=headers)
        assert r.status_code == 503
        assert (
            r.json()["code"] == "server.database_unavailable"
            and r.json()["message"] == "数据库暂时无法访问，请稍后再试"
        )
        assert r.headers["retry-after"] == "30"
    finally:
        if isinstance(saved, dict):
            db.DB.config.update(saved)
        else:
            db.DB.path = saved
    assert (await client.get("/api/health")).status_code == 200


@pytest.mark.server
def test_a_database_down_at_start_is_a_clear_message_not_a_traceback(tmp_path):
    env = {
        **os.environ,
        "FENGQIAO_DATA_DIR": str(tmp_path),
        "FENGQIAO_DATABASE_URL": "postgresql://postgres:secret-pw@127.0.0.1:1/fengqiao",
    }
    done = subprocess.run(
        [sys.executable, "-m", "backend.cli", "serve"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "无法连接数据库" in done.stderr and "FENGQIAO_DATABASE_URL" in done.stderr
    assert "Traceback" not in done.stderr and "secret-pw" not in done.stderr


async def test_photos_and_the_database_are_private_to_the_server_account(client, media_dir):
    from backend.settings import load_settings

    data = jpeg()
    r = await client.put(f"/api/media/{sha(data)}", content=data, headers=await auth(client, "mediator1"))
    assert r.status_code == 201
    photo_dir = media_dir / sha(data)[:2] / sha(data)
    modes = {
        p.relative_to(media_dir).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in media_dir.rglob("*")
    }
    assert modes[f"{sha(data)[:2]}/{sha(data)}/medium.jpg"] == 0o600
    assert modes[f"{sha(data)[:2]}/{sha(data)}"] == 0o700 and modes[sha(data)[:2]] == 0o700
    assert stat.S_IMODE(media_dir.stat().st_mode) == 0o700 and photo_dir.is_dir()
    settings = load_settings()
    assert stat.S_IMODE(settings.secrets_dir.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in settings.secrets_dir.iterdir())


def test_a_new_sqlite_database_file_is_0600(tmp_path):
    from backend.db import private_data_dir, private_file
    from backend.settings import Settings

    path = tmp_path / "data" / "fengqiao.sqlite3"
    private_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    # One made by an older version (0644, in a 0755 directory) is closed at start.
    os.chmod(path, 0o644)
    os.chmod(path.parent, 0o755)
    private_data_dir(Settings(data_dir=path.parent, database_url=f"sqlite:///{path}"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
