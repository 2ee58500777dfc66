"""The report fixture (see fixture.py), written once per run into a template of its own that every
report test gets a copy of. Nothing from backend at module level: this conftest may be loaded before
tests/conftest.py has chosen the database."""

from __future__ import annotations

import pytest

PASSWORD = "report-fixture-9"


@pytest.fixture(scope="session")
async def template(databases, template):
    """The demo plus the report fixture: its team, its mediator and its cases."""
    from backend.core.auth import hash_password
    from backend.people.tables import Team, User
    from tests.reports import fixture

    async def seed(url: str) -> dict:
        # Inactive, so the demo's team lists (/api/teams) stay as the demo made them.
        team = Team(name=f"报表测试红色调解队{fixture.TAG}", township_code=fixture.TIANYUAN, active=False)
        team_id = (await Team.insert(team).run())[0]["id"]
        username = f"rpt{fixture.TAG}"
        user_id = (
            await User.insert(
                User(
                    username=username,
                    display_name="报表调解员",
                    password_hash=hash_password(PASSWORD),
                    role="mediator",
                    scope_level="village",
                    scope_code=fixture.TIANYUAN_VILLAGE,
                    team=team_id,
                )
            ).run()
        )[0]["id"]
        inserted = await fixture.insert(team_id, user_id)
        return {
            "team_id": team_id,
            "user_id": user_id,
            "username": username,
            "password": PASSWORD,
            **inserted,
        }

    return await databases.derive(template, "reports", seed)


@pytest.fixture
def report_data(template, database) -> dict:
    """What the fixture made (ids), in this test's copy of the reports template."""
    return template.data
