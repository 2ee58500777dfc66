"""The `fengqiao` command: serve, migrate, demo, users."""

from __future__ import annotations

import asyncio
import sys

import click

from backend.settings import get_settings


def _run(coro):
    return asyncio.run(coro)


@click.group()
def main() -> None:
    """枫桥网格通 server and tools."""
    import os

    from backend import wiring

    # Everything this process creates (database, photos, secrets, backups) is for its account only.
    os.umask(0o077)
    wiring.connect()


def _database_state_or_exit() -> dict:
    """The migration state, or a clear message (not a traceback) when the database is down."""
    from backend import db
    from backend.ops.health import database_down_message

    try:
        return _run(db.migration_state())
    except Exception as exc:
        message = database_down_message(exc)
        if message is None:
            raise
        click.echo(message, err=True)
        sys.exit(2)


@main.command()
@click.option("--host", default=None, help="Default: FENGQIAO_HOST or 127.0.0.1")
@click.option("--port", default=None, type=int, help="Default: FENGQIAO_PORT or 8000")
@click.option("--workers", default=1, show_default=True, type=int)
def serve(host: str | None, port: int | None, workers: int) -> None:
    """Serve the API and the PWA."""
    import uvicorn

    from backend import db

    settings = get_settings()
    db.private_data_dir(settings)
    state = _database_state_or_exit()
    if state["pending"]:
        click.echo(f"数据库有 {len(state['pending'])} 个未执行的迁移，请先运行 fengqiao migrate", err=True)
        sys.exit(2)
    uvicorn.run(
        "backend.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level=settings.log_level.lower(),
        access_log=False,  # our request log leaves out query values and tokens
    )


@main.command()
def migrate() -> None:
    """Apply the migrations in migrations/ (SQLite or PostgreSQL)."""
    from backend import db

    _database_state_or_exit()
    applied = _run(db.migrate())
    state = _run(db.migration_state())
    click.echo(
        f"{db.engine_name()}: applied {len(applied)} now, {state['applied']} in total, "
        f"{len(state['pending'])} pending"
    )


@main.command()
@click.option(
    "--cases",
    "case_count",
    type=click.IntRange(min=0),
    default=0,
    help="Also generate a year of N demo cases with outcomes and visits (replaces an earlier one)",
)
@click.option("--seed", type=int, default=2026, show_default=True, help="Seed of the demo history")
def demo(case_count: int, seed: int) -> None:
    """Load the Changning demo (divisions, 125 teams, demo accounts). Idempotent."""
    from backend.demo import loader as demo_data

    counts = _run(demo_data.load_demo())
    click.echo(
        f"已载入：{counts['townships']} 个乡镇，{counts['villages']} 个村（社区），"
        f"{counts['teams']} 支红色调解队"
    )
    click.echo(
        f"网格（示意边界）：{counts.get('grid_townships', 0)} 个乡镇面，"
        f"{counts.get('grid_villages', 0)} 个村面，{counts.get('grid_cells', 0)} 个网格，"
        f"{counts.get('party_grids', 0)} 个党建网格"
    )
    click.echo(f"演示账号（仅用于演示，密码均为 {demo_data.DEMO_PASSWORD}）：")
    for account in demo_data.DEMO_ACCOUNTS:
        click.echo(
            f"  {account.username:<10} {account.role:<20} {account.display_name}  {account.scope_code}"
        )
    if case_count:
        _demo_history(case_count, seed)


def _demo_history(case_count: int, seed: int) -> None:
    from backend.demo import history

    async def run() -> dict[str, int]:
        with click.progressbar(length=case_count, label="生成演示案件", show_pos=True) as bar:
            return await history.generate(case_count, seed=seed, progress=bar.update)

    result = _run(run())
    removed = f"（替换了此前的 {result['removed']} 件）" if result["removed"] else ""
    click.echo(f"已生成 {result['cases']} 件演示案件，覆盖近一年{removed}")


@main.group()
def users() -> None:
    """Manage accounts."""


@users.command("create")
@click.option("--username", required=True)
@click.option("--display-name", required=True)
@click.option(
    "--role",
    required=True,
    type=click.Choice(["mediator", "grid_worker", "team_leader", "township_supervisor", "county_admin"]),
)
@click.option("--scope", "scope_code", required=True, help="12-digit division code of the user's area")
@click.option("--team-id", type=int, default=None)
@click.password_option()
def users_create(
    username: str, display_name: str, role: str, scope_code: str, team_id: int | None, password: str
) -> None:
    """Create an account (the password is asked for, never taken from history)."""
    from backend.core.errors import AppError
    from backend.people import schemas, service

    try:
        view = _run(
            service.create_user(
                schemas.CreateUserRequest(
                    username=username,
                    display_name=display_name,
                    password=password,
                    role=role,  # type: ignore[arg-type]
                    scope_code=scope_code,
                    team_id=team_id,
                )
            )
        )
    except AppError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"已创建用户 {view.username}（{view.role_label}，{view.scope.name}）")


def _register_domain_commands() -> None:
    from backend.grids.cli import grids
    from backend.ops.cli import backup, restore
    from backend.sync.cli import sync
    from backend.visits.cli import visits

    main.add_command(backup)
    main.add_command(restore)
    main.add_command(grids)
    main.add_command(sync)
    main.add_command(visits)


_register_domain_commands()

if __name__ == "__main__":
    main()
