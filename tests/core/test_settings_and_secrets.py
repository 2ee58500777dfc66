"""Settings come from FENGQIAO_* variables; secrets are made once, private, and never logged."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor

from backend.core import secrets
from backend.settings import load_settings


def test_defaults_put_everything_in_the_data_directory(monkeypatch, tmp_path):
    for name in ("DATA_DIR", "DATABASE_URL", "HOST", "PORT"):
        monkeypatch.delenv(f"FENGQIAO_{name}", raising=False)
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.data_dir == tmp_path / "var"
    assert settings.database_url == f"sqlite:///{tmp_path / 'var' / 'fengqiao.sqlite3'}"
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.engine == "sqlite"


def test_two_instances_can_differ_in_every_setting(monkeypatch, tmp_path):
    monkeypatch.setenv("FENGQIAO_DATA_DIR", str(tmp_path / "second"))
    monkeypatch.setenv("FENGQIAO_HOST", "127.0.0.2")
    monkeypatch.setenv("FENGQIAO_PORT", "8001")
    monkeypatch.setenv("FENGQIAO_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/other")
    settings = load_settings()
    assert settings.data_dir == tmp_path / "second"
    assert (settings.host, settings.port) == ("127.0.0.2", 8001)
    assert settings.engine == "postgresql"


def test_jwt_secret_is_created_once_with_mode_0600(tmp_path):
    directory = tmp_path / "secrets"
    first = secrets.jwt_secret(directory)
    assert len(first) >= 64
    mode = stat.S_IMODE((directory / "jwt.key").stat().st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert secrets.jwt_secret(directory) == first


def test_processes_starting_together_agree_on_one_secret(tmp_path):
    directory = tmp_path / "race"
    with ThreadPoolExecutor(max_workers=8) as pool:
        values = set(pool.map(lambda _: secrets.jwt_secret(directory), range(16)))
    assert len(values) == 1


def test_secrets_are_not_in_the_repository():
    import subprocess

    from backend.settings import REPO_ROOT

    ignored = (REPO_ROOT / ".gitignore").read_text()
    assert "var/" in ignored
    listed = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True)
    tracked = listed.stdout.split()
    assert tracked, "not a git checkout?"
    assert not [path for path in tracked if path.endswith((".key", ".pem")) or "/secrets/" in path]
