"""`fengqiao backup DIR` and `fengqiao restore DIR` (see backend/ops/backup.py), and the database check
every command that needs the database starts with."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import click

from backend.ops import backup as backups


def _fail(exc: backups.BackupError) -> None:
    click.echo(f"错误：{exc.message}\nError: {exc.message_en}", err=True)
    for problem in exc.problems:
        click.echo(f"  {problem}", err=True)
    sys.exit(1)


def _summary(report: backups.Report, verb: str) -> None:
    click.echo(
        f"{verb} {report.directory}: {report.engine}, {report.files} files, "
        f"{report.bytes / 1e6:.1f} MB, {report.media_files} photo files, {len(report.migrations)} migrations"
    )
    for note in report.notes:
        click.echo(note)


def database_state_or_exit() -> dict[str, Any]:
    """The migration state (db.migration_state), or a clear message and exit status 2, not a
    traceback, when the database cannot be reached (every command that needs it starts here)."""
    from backend import db
    from backend.ops.health import database_down_message

    async def state() -> dict[str, Any]:
        await db.prepare()
        try:
            return await db.migration_state()
        finally:
            await db.close()

    try:
        return asyncio.run(state())
    except Exception as exc:
        message = database_down_message(exc)
        if message is None:
            raise
        click.echo(message, err=True)
        sys.exit(2)


@click.command("backup")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--verify", "verify_after", is_flag=True, help="Read the backup back and check it afterwards")
def backup(directory: Path, verify_after: bool) -> None:
    """Back up the database, the photos and the secrets into DIRECTORY (new or empty).

    Safe while the server runs. The directory holds personal data: keep it as safe as the server."""
    from backend.app import VERSION
    from backend.settings import get_settings

    migrations = database_state_or_exit()["applied_ids"]
    try:
        report = backups.backup(get_settings(), directory, migrations, VERSION)
        if verify_after:
            report = backups.verify(directory)
    except backups.BackupError as exc:
        _fail(exc)
    _summary(report, "备份完成 / backed up to")


@click.command("restore")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--verify", "verify_only", is_flag=True, help="Only check the backup; restore nothing")
@click.option("--force", is_flag=True, help="Replace a database, photos and secrets that hold data")
def restore(directory: Path, verify_only: bool, force: bool) -> None:
    """Restore a backup made by `fengqiao backup` into this deployment (stop the server first).

    Checks every file against the manifest before touching anything; the same engine only."""
    from backend import db
    from backend.settings import get_settings

    try:
        if verify_only:
            _summary(backups.verify(directory), "校验通过 / verified")
            return
        settings = get_settings()
        if settings.engine == "postgresql":
            database_state_or_exit()
        report = backups.restore(settings, directory, force=force, known_migrations=db.migration_ids())
    except backups.BackupError as exc:
        _fail(exc)
    _summary(report, "恢复完成 / restored from")
