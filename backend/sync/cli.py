"""`fengqiao sync ...`: jobs of the sync domain."""

from __future__ import annotations

import asyncio
from datetime import datetime

import click


@click.group()
def sync() -> None:
    """Offline sync jobs."""


@sync.command("expire")
@click.option("--now", "now", default=None, help="ISO time to run as (tests, catching up); default: now")
def expire(now: str | None) -> None:
    """Apply, flagged, the operations that have waited a week for one that never came."""
    from backend import db
    from backend.core import clock
    from backend.sync import service

    async def run():
        await db.prepare()
        try:
            if now:
                with clock.frozen(datetime.fromisoformat(now)):
                    return await service.expire_deferred()
            return await service.expire_deferred()
        finally:
            await db.close()

    report = asyncio.run(run())
    click.echo(f"applied {report.applied}, rejected {report.rejected} (flagged for review)")
    for op_id in report.op_ids:
        click.echo(f"  {op_id}")
