"""`fengqiao people`: the roster from Excel, as the admin console's import does it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click


@click.group()
def people() -> None:
    """People: import the roster (花名册) of teams and members."""


@people.command("template")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def template(out: Path) -> None:
    """Write the roster template (sheets 队伍 and 队员) to OUT."""
    from backend.people import roster

    out.write_bytes(asyncio.run(roster.template()))
    click.echo(f"已写出模板：{out}")


@people.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Only check every row; write nothing")
@click.option(
    "--passwords-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the new accounts' one-time passwords (default 初始密码-<time>.xlsx here)",
)
def import_(file: Path, dry_run: bool, passwords_out: Path | None) -> None:
    """Import FILE (the roster template filled in). Nothing is written while any row has an error."""
    from backend.core.errors import AppError
    from backend.people import roster

    try:
        report = asyncio.run(roster.run_import(None, file.read_bytes(), dry_run=dry_run))
    except AppError as exc:
        raise click.ClickException(exc.message) from None
    for e in report.errors:
        click.echo(f"{e.sheet} 第 {e.row} 行 {e.field}：{e.message}", err=True)
    verb = "将" if dry_run or report.errors else "已"
    click.echo(
        f"{verb}新建 {report.teams_created} 支队伍、更新 {report.teams_updated} 支；"
        f"{verb}新建 {report.users_created} 个账号、更新 {report.users_updated} 个"
    )
    if report.errors:
        raise click.ClickException(f"有 {len(report.errors)} 处错误，未导入任何数据")
    if report.new_accounts:
        target = passwords_out or Path(roster.filename())
        target.write_bytes(roster.passwords_file(report.new_accounts))
        target.chmod(0o600)
        click.echo(f"新账号的一次性密码在 {target}（只此一份，分发后请删除）")
