"""Backup and restore of a deployment: the database, the photos and the secrets, with a manifest.

A backup directory (mode 0700, its files 0600: it holds every party's personal data):

    manifest.json        written last (a directory without it is an unfinished backup): the engine, the
                         migrations applied, when, and every file's size and SHA-256
    database.sqlite3     SQLite: a consistent copy by SQLite's online backup API (the server may keep
                         running; writes that land meanwhile make it copy again from the start)
    database.pgdump      PostgreSQL: `pg_dump --format=custom`, one consistent snapshot
    media/...            the photos' derivatives, as under the data directory (unfinished uploads are
                         left out: a phone asks for its offset and starts that photo again)
    secrets/...          the JWT key and the VAPID key pair: without them every signed-in phone is
                         signed out and every push subscription dies on restore

Restore checks the whole backup against its manifest before it touches anything, refuses to replace
data that is there unless forced, and replaces the photos and the secrets by renaming a complete copy
into place. The server must be stopped while restoring. A backup restores into the engine it came from
(SQLite to SQLite, PostgreSQL to PostgreSQL); `fengqiao migrate` afterwards brings an older one up to
this version's schema.

Synchronous: it runs in the command line, with progress bars on a terminal (tqdm).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tqdm import tqdm

from backend.settings import Settings

FORMAT = "fengqiao-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
PGDUMP_FILE = "database.pgdump"
# Left out of a backup: request bodies being received and unfinished uploads.
MEDIA_SKIP = frozenset({"tmp", "partial"})
SQLITE_PAGES_PER_STEP = 1024
_BUFFER = 1024 * 1024


class BackupError(Exception):
    """A problem the operator must fix, said in Chinese and English (the CLI prints it)."""

    def __init__(self, message: str, message_en: str, problems: list[str] | None = None) -> None:
        self.message, self.message_en, self.problems = message, message_en, problems or []
        super().__init__(f"{message} / {message_en}")


@dataclass
class Report:
    directory: Path
    engine: str
    files: int = 0
    bytes: int = 0
    media_files: int = 0
    migrations: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# --- private files ----------------------------------------------------------------------------------


def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)


def _private_open(path: Path) -> Any:
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb")


def _sha256(path: Path, bar: tqdm | None = None) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_BUFFER):
            digest.update(block)
            if bar is not None:
                bar.update(len(block))
    return digest.hexdigest()


def _copy(src: Path, dst: Path, bar: tqdm | None = None) -> str:
    """Copy one file (0600, fsynced), returning the SHA-256 of what was written."""
    _private_dir(dst.parent)
    digest = hashlib.sha256()
    with open(src, "rb") as fin, _private_open(dst) as fout:
        while block := fin.read(_BUFFER):
            fout.write(block)
            digest.update(block)
            if bar is not None:
                bar.update(len(block))
        fout.flush()
        os.fsync(fout.fileno())
    return digest.hexdigest()


def _tree(root: Path, skip: frozenset[str] = frozenset()) -> Iterator[Path]:
    """Regular files under `root`, sorted, leaving out the top-level directories in `skip`."""
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if rel.parts[0] in skip or not path.is_file() or path.name.startswith("."):
            continue  # dot files: atomic writes in progress (storage.write_files_atomically)
        yield path


def _bar(total: int, desc: str, unit: str = "B") -> tqdm:
    # disable=None: a bar on a terminal, nothing in a log or a pipe.
    return tqdm(total=total, desc=desc, unit=unit, unit_scale=unit == "B", disable=None, leave=False)


# --- PostgreSQL tools ---------------------------------------------------------------------------------


def pg_env(url: str) -> dict[str, str]:
    """libpq's variables for a postgresql:// URL, so the password never shows in the process list."""
    parts = urlsplit(url)
    env = dict(os.environ)
    values = {
        "PGHOST": parts.hostname or "",
        "PGPORT": str(parts.port or ""),
        "PGUSER": unquote(parts.username or ""),
        "PGPASSWORD": unquote(parts.password or ""),
        "PGDATABASE": unquote(parts.path.lstrip("/")),
    }
    for key, value in parse_qs(parts.query).items():
        if key == "sslmode":
            values["PGSSLMODE"] = value[-1]
    env.update({k: v for k, v in values.items() if v})
    return env


def _pg_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"找不到 {name}：请安装 PostgreSQL 客户端（Debian: apt-get install postgresql-client）",
            f"{name} not found: install the PostgreSQL client (Debian: apt-get install postgresql-client)",
        )
    return path


def _run_pg(args: list[str], url: str) -> None:
    done = subprocess.run(args, env=pg_env(url), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(
            f"{Path(args[0]).name} 失败", f"{Path(args[0]).name} failed", [done.stderr.strip()[-2000:]]
        )


# --- backup ---------------------------------------------------------------------------------------------


def _sqlite_copy(src_path: Path, dst_path: Path, desc: str, journal_mode: str) -> None:
    """SQLite's online backup API: a consistent copy while other connections read and write. The copy
    in a backup is in rollback-journal mode, one self-contained file; a restored database in WAL."""
    if not src_path.is_file():
        raise BackupError(f"数据库文件不存在：{src_path}", f"No database file at {src_path}")
    _private_open(dst_path).close()
    src = sqlite3.connect(f"file:{src_path}?mode=ro", uri=True)
    dst = sqlite3.connect(dst_path)
    try:
        with _bar(0, desc, unit="页") as bar:

            def progress(status: int, remaining: int, total: int) -> None:
                bar.total = total
                bar.n = total - remaining
                bar.refresh()

            src.backup(dst, pages=SQLITE_PAGES_PER_STEP, progress=progress)
        dst.execute(f"PRAGMA journal_mode={journal_mode}")
    finally:
        dst.close()
        src.close()
    os.chmod(dst_path, 0o600)


def backup(settings: Settings, dest: Path, migrations: list[str], app_version: str) -> Report:
    """Write a backup of this deployment into `dest` (new, or an empty directory)."""
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(
            f"备份目录已存在且不为空：{dest}", f"The backup directory exists and is not empty: {dest}"
        )
    if not _non_empty(settings.secrets_dir):
        raise BackupError(
            f"密钥目录为空：{settings.secrets_dir}（没有密钥的备份恢复后所有登录都会失效；先启动一次服务生成密钥）",
            f"No secrets in {settings.secrets_dir} (without them a restore signs everyone out)",
        )
    _private_dir(dest)
    files: dict[str, dict[str, Any]] = {}
    if settings.engine == "sqlite":
        _sqlite_copy(settings.sqlite_path, dest / SQLITE_FILE, "复制数据库", "DELETE")
        files[SQLITE_FILE] = {}
    else:
        _private_open(dest / PGDUMP_FILE).close()
        _run_pg(
            [
                _pg_tool("pg_dump"),
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--file={dest / PGDUMP_FILE}",
            ],
            settings.database_url,
        )
        os.chmod(dest / PGDUMP_FILE, 0o600)
        files[PGDUMP_FILE] = {}
    for name in files:
        path = dest / name
        files[name] = {"bytes": path.stat().st_size, "sha256": _sha256(path)}

    media = list(_tree(settings.media_dir, MEDIA_SKIP))
    secret_files = list(_tree(settings.secrets_dir))
    total = sum(p.stat().st_size for p in media + secret_files)
    with _bar(total, "复制照片和密钥") as bar:
        for root, paths, prefix in (
            (settings.media_dir, media, "media"),
            (settings.secrets_dir, secret_files, "secrets"),
        ):
            for path in paths:
                rel = f"{prefix}/{path.relative_to(root).as_posix()}"
                digest = _copy(path, dest / rel, bar)
                files[rel] = {"bytes": (dest / rel).stat().st_size, "sha256": digest}
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "app_version": app_version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "engine": settings.engine,
        "database": SQLITE_FILE if settings.engine == "sqlite" else PGDUMP_FILE,
        "migrations": migrations,
        "counts": {"media_files": len(media), "secret_files": len(secret_files)},
        "files": files,
    }
    tmp = dest / f".{MANIFEST}.tmp"
    with _private_open(tmp) as f:
        f.write(json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True).encode())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, dest / MANIFEST)
    return Report(
        directory=dest,
        engine=settings.engine,
        files=len(files),
        bytes=sum(f["bytes"] for f in files.values()),
        media_files=len(media),
        migrations=migrations,
    )


# --- verify ---------------------------------------------------------------------------------------------


def read_manifest(src: Path) -> dict[str, Any]:
    path = src / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(
            f"不是完整的备份（缺少 {MANIFEST}）：{src}", f"Not a complete backup (no {MANIFEST}): {src}"
        ) from None
    except (OSError, ValueError) as exc:
        raise BackupError(f"{MANIFEST} 无法读取", f"{MANIFEST} is unreadable", [str(exc)]) from None
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError("不认识的备份格式", "Unknown backup format", [str(manifest.get("format"))])
    return manifest


def verify(src: Path) -> Report:
    """Check a backup against its manifest: every file there, the same size and SHA-256, nothing else,
    and the database readable (SQLite's integrity check; pg_restore reads the dump's table of contents)."""
    manifest = read_manifest(src)
    files: dict[str, dict[str, Any]] = manifest["files"]
    problems: list[str] = []
    total = sum(int(f["bytes"]) for f in files.values())
    with _bar(total, "校验备份") as bar:
        for rel, expected in sorted(files.items()):
            path = src / rel
            if not path.is_file():
                problems.append(f"missing: {rel}")
            elif path.stat().st_size != expected["bytes"]:
                problems.append(f"size differs: {rel}")
            elif _sha256(path, bar) != expected["sha256"]:
                problems.append(f"checksum differs: {rel}")
    listed = set(files) | {MANIFEST}
    extra = [p.relative_to(src).as_posix() for p in _tree(src)]
    problems += [f"not in the manifest: {rel}" for rel in extra if rel not in listed]
    database = src / manifest["database"]
    if not problems:
        if manifest["engine"] == "sqlite":
            conn = sqlite3.connect(f"file:{database}?mode=ro&immutable=1", uri=True)
            try:
                result = conn.execute("PRAGMA integrity_check").fetchone()[0]
            except sqlite3.DatabaseError as exc:
                result = str(exc)
            finally:
                conn.close()
            if result != "ok":
                problems.append(f"database integrity: {result}")
        else:
            done = subprocess.run(
                [_pg_tool("pg_restore"), "--list", str(database)], capture_output=True, text=True, check=False
            )
            if done.returncode != 0:
                problems.append(f"pg_restore --list: {done.stderr.strip()[-500:]}")
    if problems:
        raise BackupError("备份校验失败", "The backup failed verification", problems)
    return Report(
        directory=src,
        engine=manifest["engine"],
        files=len(files),
        bytes=total,
        media_files=manifest["counts"]["media_files"],
        migrations=manifest["migrations"],
    )


# --- restore --------------------------------------------------------------------------------------------


def _sqlite_has_data(path: Path) -> bool:
    if not path.is_file() or path.stat().st_size == 0:
        return False
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return bool(conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' LIMIT 1").fetchone())
    finally:
        conn.close()


def _pg_has_data(url: str) -> bool:
    done = subprocess.run(
        [
            _pg_tool("psql"),
            "--no-psqlrc",
            "-At",
            "-c",
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
        ],
        env=pg_env(url),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BackupError(
            "无法连接目标数据库（若不存在请先创建：createdb）",
            "Cannot connect to the target database (create it first if it does not exist: createdb)",
            [done.stderr.strip()[-1000:]],
        )
    return int(done.stdout.strip() or 0) > 0


def _non_empty(path: Path, skip: frozenset[str] = frozenset()) -> bool:
    return any(True for _ in _tree(path, skip))


def _swap_in(src: Path, target: Path, bar: tqdm) -> None:
    """Copy `src` beside `target`, then rename it into place: the old tree or the new, never half."""
    token = secrets.token_hex(4)
    staging = target.parent / f".{target.name}.restore-{token}"
    old = target.parent / f".{target.name}.old-{token}"
    _private_dir(staging)
    for path in _tree(src):
        _copy(path, staging / path.relative_to(src), bar)
    if target.exists():
        os.replace(target, old)
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)


def restore(settings: Settings, src: Path, *, force: bool, known_migrations: list[str]) -> Report:
    """Restore the backup in `src` into this deployment's database, media and secrets."""
    report = verify(src)
    manifest = read_manifest(src)
    if manifest["engine"] != settings.engine:
        raise BackupError(
            f"此备份来自 {manifest['engine']}，不能恢复到 {settings.engine}",
            f"This backup is of {manifest['engine']} and cannot be restored into {settings.engine}",
        )
    unknown = [m for m in manifest["migrations"] if m not in known_migrations]
    if unknown:
        raise BackupError(
            "此备份来自更新的版本（有本版本不认识的数据库迁移），请先升级程序",
            "This backup is from a newer version (migrations this version does not know): upgrade first",
            unknown,
        )
    has_data = (
        _sqlite_has_data(settings.sqlite_path)
        if settings.engine == "sqlite"
        else _pg_has_data(settings.database_url)
    )
    occupied = [
        name
        for name, present in (
            ("database", has_data),
            ("media", _non_empty(settings.media_dir, MEDIA_SKIP)),
            ("secrets", _non_empty(settings.secrets_dir)),
        )
        if present
    ]
    if occupied and not force:
        raise BackupError(
            "目标已有数据，恢复会覆盖它们；确认后加 --force 重试（请先停止服务）",
            "The target holds data a restore replaces; add --force to go ahead (stop the server first)",
            occupied,
        )

    if settings.engine == "sqlite":
        target = settings.sqlite_path
        _private_dir(target.parent)
        staging = target.with_name(f".{target.name}.restore-{secrets.token_hex(4)}")
        _sqlite_copy(src / SQLITE_FILE, staging, "恢复数据库", "WAL")
        for suffix in ("-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        os.replace(staging, target)
    else:
        args = [
            _pg_tool("pg_restore"),
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
        ]
        if has_data:
            args += ["--clean", "--if-exists"]
        _run_pg(
            [*args, f"--dbname={pg_env(settings.database_url)['PGDATABASE']}", str(src / PGDUMP_FILE)],
            settings.database_url,
        )
        # pg_restore carries no planner statistics: without them the report and map queries run on
        # guesses until autovacuum's next pass.
        _run_pg([_pg_tool("psql"), "--no-psqlrc", "-q", "-c", "ANALYZE"], settings.database_url)

    files: dict[str, dict[str, Any]] = manifest["files"]
    total = sum(int(f["bytes"]) for rel, f in files.items() if rel.startswith(("media/", "secrets/")))
    with _bar(total, "恢复照片和密钥") as bar:
        _private_dir(settings.data_dir)
        _swap_in(src / "media", settings.media_dir, bar)
        _swap_in(src / "secrets", settings.secrets_dir, bar)
    pending = [m for m in known_migrations if m not in manifest["migrations"]]
    if pending:
        report.notes.append(
            f"备份的数据库比本版本旧 {len(pending)} 个迁移：请运行 fengqiao migrate / "
            f"the backup is {len(pending)} migrations behind this version: run fengqiao migrate"
        )
    return report
