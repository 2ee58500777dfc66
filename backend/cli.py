"""The `fengqiao` command: serve, migrate, demo, users."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from backend.settings import get_settings

SQLITE_ONE_WORKER = (
    "SQLite 只能用一个服务进程（--workers 1）：SQLite 同一时刻只有一个写入者，本程序在进程内排队写入，"
    "缓存（登录设备、网格索引）也只在本进程内；多个进程会互相等待锁、读到过期的缓存。"
    "要用多个进程，请改用 PostgreSQL（FENGQIAO_DATABASE_URL=postgresql://…）。\n"
    "SQLite allows one server process (--workers 1): it has one writer at a time, writes are queued "
    "fairly inside the process, and the caches (signed-in devices, the grid index) live in the process. "
    "For several processes use PostgreSQL."
)
ROLE_NAMES = ("mediator", "grid_worker", "team_leader", "township_supervisor", "county_admin", "leader")


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


@main.command()
@click.option("--host", default=None, help="Default: FENGQIAO_HOST or 127.0.0.1")
@click.option("--port", default=None, type=int, help="Default: FENGQIAO_PORT or 8000")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Server processes; more than 1 only on PostgreSQL",
)
def serve(host: str | None, port: int | None, workers: int) -> None:
    """Serve the API and the PWA."""
    import uvicorn

    from backend import db
    from backend.ops.cli import check_keys_or_exit, database_state_or_exit

    settings = get_settings()
    if workers > 1 and settings.engine != "postgresql":
        # Before anything else: this is a configuration mistake, not a database problem.
        raise click.UsageError(SQLITE_ONE_WORKER)
    db.private_data_dir(settings)
    state = database_state_or_exit()
    if state["pending"]:
        click.echo(f"数据库有 {len(state['pending'])} 个未执行的迁移，请先运行 fengqiao migrate", err=True)
        sys.exit(2)
    check_keys_or_exit()  # a missing or wrong personal-data key stops here, not at the first case page
    # Only now the app (two seconds of imports): a misconfigured server says so at once.
    from backend.app import server_options

    uvicorn.run(
        "backend.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level=settings.log_level.lower(),
        access_log=False,  # our request log leaves out query values and tokens
        **server_options(settings),
    )


@main.command()
def migrate() -> None:
    """Apply the migrations in migrations/ (SQLite or PostgreSQL)."""
    from backend import db
    from backend.ops.cli import check_keys_or_exit, database_state_or_exit

    database_state_or_exit()
    applied = _run(db.migrate())
    state = _run(db.migration_state())
    check_keys_or_exit()
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

    counts = _or_fail(demo_data.load_demo())
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
            f"  {account.username:<16} {account.role:<20} {account.display_name}  {account.scope_code}"
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


@main.command()
@click.option(
    "--county-code", required=True, help="6-digit county code (the start of its 12-digit 统计用区划代码)"
)
@click.option("--county-name", required=True, help="The county's name as printed on reports, e.g. XX县")
@click.option(
    "--outline",
    "outline_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The county outline: GeoJSON, Shapefile, GeoPackage (any file `grids import` reads)",
)
@click.option("--crs", default=None, help="The outline's CRS when the file does not say: EPSG:4490, gcj02 …")
@click.option(
    "--divisions",
    "divisions_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="CSV of townships and villages: code,name,level,parent_code (12-digit 统计用区划代码)",
)
@click.option("--admin-username", default="admin", show_default=True)
@click.option("--case-prefix", default="", help="Text before every case number (default none)")
@click.option("--json", "as_json", is_flag=True, help="Print {admin_username, one_time_password} as JSON")
def init(
    county_code: str,
    county_name: str,
    outline_path: Path,
    crs: str | None,
    divisions_path: Path | None,
    admin_username: str,
    case_prefix: str,
    as_json: bool,
) -> None:
    """Set up a real deployment for a county (no demo): the county and its outline, its townships and
    villages, and the first county admin with a one-time password. Safe to run again."""
    import json

    from backend.people import deployment

    result = _or_fail(
        deployment.initialise(
            county_code=county_code,
            county_name=county_name,
            outline_path=outline_path,
            crs=crs,
            divisions_path=divisions_path,
            admin_username=admin_username,
            case_prefix=case_prefix,
        )
    )
    if as_json:
        click.echo(
            json.dumps(
                {"admin_username": result.admin_username, "one_time_password": result.one_time_password},
                ensure_ascii=False,
            )
        )
        return
    click.echo(
        f"{result.county_name}（{result.county_code[:6]}）：{result.townships} 个乡镇，"
        f"{result.villages} 个村（社区）（新增 {result.divisions_created}，更新 {result.divisions_updated}）"
    )
    if result.one_time_password:
        click.echo(f"县级管理员账号：{result.admin_username}")
        click.echo(f"一次性密码（只显示这一次，首次登录须修改）：{result.one_time_password}")
    else:
        click.echo("县级管理员已存在，未新建账号（忘记密码请用 fengqiao users reset-password）")


@main.group()
def users() -> None:
    """Manage accounts."""


@users.command("create")
@click.option("--username", required=True)
@click.option("--display-name", required=True)
@click.option("--role", required=True, type=click.Choice(list(ROLE_NAMES)))
@click.option("--scope", "scope_code", required=True, help="12-digit division code of the user's area")
@click.option("--team-id", type=int, default=None)
@click.option("--phone", default=None)
@click.option(
    "--one-time-password",
    is_flag=True,
    help="Make a one-time password (printed once, changed at first sign-in) instead of asking for one",
)
def users_create(
    username: str,
    display_name: str,
    role: str,
    scope_code: str,
    team_id: int | None,
    phone: str | None,
    one_time_password: bool,
) -> None:
    """Create an account (the password is asked for, never taken from history, and must pass the
    same policy as the app's: 8+ characters, not the username, not a common password)."""
    from backend.people import accounts, schemas

    password = (
        None if one_time_password else click.prompt("Password", hide_input=True, confirmation_prompt=True)
    )
    view = _or_fail(
        accounts.create(
            None,
            schemas.CreateUserRequest(
                username=username,
                display_name=display_name,
                password=password,
                role=role,  # type: ignore[arg-type]
                scope_code=scope_code,
                team_id=team_id,
                phone=phone,
            ),
        )
    )
    click.echo(f"已创建用户 {view.username}（{view.role_label}，{view.scope.name}）")
    if view.one_time_password:
        click.echo(f"一次性密码（只显示这一次，首次登录须修改）：{view.one_time_password}")


@users.command("reset-password")
@click.argument("username")
def users_reset_password(username: str) -> None:
    """Give USERNAME a one-time password (printed once); their devices are signed out."""
    from backend.people import accounts

    user_id = _user_id(username)
    one_time = _or_fail(accounts.reset_password(None, user_id))
    click.echo(f"{username} 的一次性密码（只显示这一次，首次登录须修改）：{one_time}")


@users.command("disable")
@click.argument("username")
def users_disable(username: str) -> None:
    """Disable USERNAME: every device is signed out at once, sign-in is refused."""
    _set_active(username, False)
    click.echo(f"已停用 {username}，其所有设备已退出登录")


@users.command("enable")
@click.argument("username")
def users_enable(username: str) -> None:
    """Enable USERNAME again."""
    _set_active(username, True)
    click.echo(f"已启用 {username}")


def _or_fail(coro):
    from backend.core.errors import AppError

    try:
        return _run(coro)
    except AppError as exc:
        raise click.ClickException(exc.message) from None


def _user_id(username: str) -> int:
    from backend.people.tables import User

    row = _run(User.select(User.id).where(User.username == username.strip().lower()).first().run())
    if row is None:
        raise click.ClickException(f"用户 {username} 不存在")
    return row["id"]


def _set_active(username: str, active: bool) -> None:
    from backend.people import accounts

    _or_fail(accounts.set_active(None, _user_id(username), active))


def _register_domain_commands() -> None:
    from backend.grids.cli import grids
    from backend.ops.cli import backup, keys, restore, retention
    from backend.people.cli import people
    from backend.sync.cli import sync
    from backend.visits.cli import visits

    main.add_command(backup)
    main.add_command(restore)
    main.add_command(keys)
    main.add_command(retention)
    main.add_command(grids)
    main.add_command(people)
    main.add_command(sync)
    main.add_command(visits)


_register_domain_commands()

if __name__ == "__main__":
    main()
