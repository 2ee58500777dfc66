"""月排查's reminder: from the 25th of a month, the leaders of a team with villages it serves still not
screened this month are told which (once per team and month: the notification's key), so the round
is finished before the month's report. Runs with the other periodic jobs (notify.worker) and in
`fengqiao visits remind`."""

from __future__ import annotations

from backend import db
from backend.core import clock
from backend.grids.tables import Division
from backend.notify import recipients, worker
from backend.notify.service import Message, notify
from backend.people.tables import TeamVillage
from backend.screenings.tables import Screening

# The day of the month from which the teams still short of a full round are reminded.
REMIND_FROM_DAY = 25
NAMES_IN_BODY = 10


async def screening_reminders() -> list[int]:
    """Remind the team leaders of teams with unscreened villages this month (from REMIND_FROM_DAY on);
    the notification ids written. Idempotent: a team is told once a month, however often this runs."""
    today = clock.local_now().date()
    if today.day < REMIND_FROM_DAY:
        return []
    month = f"{today.year:04d}-{today.month:02d}"
    written: list[int] = []
    async with db.write_transaction():
        served = (
            await TeamVillage.select(TeamVillage.team, TeamVillage.village_code, TeamVillage.team.name)
            .where(TeamVillage.team.active == True)  # noqa: E712
            .run()
        )
        screened = {
            (r["team"], r["village_code"])
            for r in await Screening.select(Screening.team, Screening.village_code)
            .where(Screening.month == month)
            .run()
        }
        missing: dict[int, list[str]] = {}
        team_names: dict[int, str] = {}
        for r in served:
            team_names[r["team"]] = r["team.name"]
            if (r["team"], r["village_code"]) not in screened:
                missing.setdefault(r["team"], []).append(r["village_code"])
        if not missing:
            return []
        codes = {c for villages in missing.values() for c in villages}
        names = {
            r["code"]: r["name"]
            for r in await Division.select(Division.code, Division.name)
            .where(Division.code.is_in(list(codes)))
            .run()
        }
        for team_id, villages in sorted(missing.items()):
            listed = "、".join(names.get(c, c) for c in sorted(villages)[:NAMES_IN_BODY])
            more = f"等 {len(villages)} 个村（社区）" if len(villages) > NAMES_IN_BODY else ""
            written += await notify(
                await recipients.team_leaders(team_id),
                Message(
                    kind="screening_missing",
                    title=f"本月排查未完成：{team_names[team_id]}"[:100],
                    body=f"{month} 还有 {len(villages)} 个村（社区）未上报排查：{listed}{more}。"
                    "请在月底前完成排查（未发现矛盾纠纷也请上报）。"[:1000],
                    url="/screenings",
                    key=f"screening:{team_id}:{month}",
                ),
            )
    return written


worker.every("screenings.remind", lambda settings: settings.reminder_interval_seconds, screening_reminders)
