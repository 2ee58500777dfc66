"""`fengqiao visits ...`: the reminder job from cron or by hand."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

import click


def _parse_now(raw: str | None) -> datetime | None:
    if not raw:
        return None
    from backend.core import clock

    try:
        at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            "应为 ISO 8601 时间，例如 2026-12-01T08:30:00+08:00", param_hint="--now"
        ) from None
    return at if at.tzinfo else at.replace(tzinfo=clock.LOCAL_TZ)


@click.group()
def visits() -> None:
    """Return visits (回访)."""


@visits.command("remind")
@click.option(
    "--now",
    "now_iso",
    default=None,
    help="Run as of this time (ISO 8601; without an offset, Asia/Shanghai). Default: now.",
)
def remind(now_iso: str | None) -> None:
    """Create due visit reminders (once per visit and stage) and deliver them: inbox, Web Push, SMS."""
    from backend import db
    from backend.core import clock
    from backend.notify import push, sms
    from backend.screenings.reminders import screening_reminders
    from backend.visits import jobs

    at = _parse_now(now_iso)

    async def run():
        await db.prepare()
        try:
            with clock.frozen(at) if at else contextlib.nullcontext():
                result = await jobs.remind()
                screening = await screening_reminders()
                pushed = await push.deliver_due()
                texted = await sms.escalate_unread()
        finally:
            await db.close()
        return result, screening, pushed, texted

    result, screening, pushed, texted = asyncio.run(run())
    click.echo(
        f"回访提醒：处理 {result.visits} 个回访，新建 {len(result.notifications)} 条提醒，"
        f"{len(result.deadlines)} 条调解期限提醒，{len(result.confirmations)} 条司法确认提醒，"
        f"{len(screening)} 条月排查提醒"
    )
    click.echo(
        f"推送：送达 {pushed.delivered}，待重试 {pushed.retried}，订阅失效 {pushed.gone}，"
        f"失败 {pushed.failed + pushed.given_up}；短信：发送 {texted.sent}，待重试 {texted.retried}"
    )
