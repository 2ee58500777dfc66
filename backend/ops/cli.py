"""`fengqiao backup DIR` and `fengqiao restore DIR` (see backend/ops/backup.py), `fengqiao keys` (the
personal-data keys: backend/cases/party_data.py), `fengqiao retention run` (backend/ops/retention.py),
and the database check every command that needs the database starts with."""

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


def _key_problem(exc: Exception) -> None:
    from backend.core.crypto import KeyProblem

    if not isinstance(exc, KeyProblem):
        raise exc
    click.echo(f"错误：{exc.message}\nError: {exc.message_en}", err=True)
    sys.exit(2)


def check_keys_or_exit() -> None:
    """Stop with the operator's message when a personal-data key is missing or wrong (serve, migrate)."""
    from backend.cases import party_data
    from backend.core.crypto import KeyProblem

    try:
        asyncio.run(party_data.check_keys())
    except KeyProblem as exc:
        _key_problem(exc)


@click.group("keys")
def keys() -> None:
    """The keys that encrypt parties' phone and ID numbers (secrets/pii-*.key)."""


@keys.command("check")
def keys_check() -> None:
    """Check that every key the stored data needs is present and right."""
    database_state_or_exit()
    check_keys_or_exit()
    click.echo("个人信息密钥正常 / personal-data keys OK")


@keys.command("rotate")
def keys_rotate() -> None:
    """Make a new key and re-encrypt every party under it (the server may keep running); the old key
    stays readable until every row has moved, then its file is deleted. Back up afterwards: older
    backups hold the old key, newer ones the new."""
    from backend.cases import party_data
    from backend.core.crypto import KeyProblem

    database_state_or_exit()

    async def rotate() -> dict:
        total = await party_data.rows_to_rotate(-1)
        with click.progressbar(length=total, label="重新加密当事人信息", show_pos=True) as bar:
            return await party_data.rotate(progress=bar.update)

    try:
        result = asyncio.run(rotate())
    except KeyProblem as exc:
        _key_problem(exc)
        return
    click.echo(f"已用新密钥 pii-{result['key_id']}.key 重新加密 {result['rows']} 位当事人的信息")
    if result["removed"]:
        click.echo("已删除旧密钥：" + "、".join(f"pii-{k}.key" for k in result["removed"]))
    if result["kept"]:
        click.echo(
            "仍有数据使用旧密钥（运行中的服务写入），已保留："
            + "、".join(f"pii-{k}.key" for k in result["kept"])
            + "；请再次运行 fengqiao keys rotate"
        )


@click.group("retention")
def retention() -> None:
    """Retention of parties' personal data (settings: FENGQIAO_RETENTION_YEARS)."""


@retention.command("run")
@click.option("--dry-run", is_flag=True, help="Only count the cases that would be anonymised")
def retention_run(dry_run: bool) -> None:
    """Anonymise the parties (and the free text about them) of cases archived more than
    FENGQIAO_RETENTION_YEARS years ago; statistics stay as they are. Safe to run again (cron)."""
    from backend.ops import retention as policy
    from backend.settings import get_settings

    database_state_or_exit()
    years = get_settings().retention_years
    if years <= 0:
        click.echo("保存期限未设置（FENGQIAO_RETENTION_YEARS=0），不做匿名化 / retention is off")
        return

    async def go() -> policy.Outcome:
        planned = await policy.run(years, dry_run=True)
        if dry_run or not planned.cases:
            return planned
        with click.progressbar(length=len(planned.cases), label="匿名化", show_pos=True) as bar:
            return await policy.run(years, progress=bar.update)

    outcome = asyncio.run(go())
    assert outcome.cutoff is not None
    since = outcome.cutoff.astimezone().strftime("%Y-%m-%d")
    if dry_run:
        click.echo(f"将匿名化 {len(outcome.cases)} 件（{since} 前归档，保存期限 {years} 年）；未做任何修改")
    else:
        click.echo(f"已匿名化 {len(outcome.cases)} 件（{since} 前归档，保存期限 {years} 年）")
