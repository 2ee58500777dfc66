"""The deadline's countdown on the supervisors' map: each marker carries the local days left and the
colour the case shows (green, yellow with 7 days or less, red overdue), none out of mediation."""

from __future__ import annotations

from datetime import datetime, timedelta

from backend.core import clock
from tests.factories import act, auth, make_case

SHANGHAI = clock.LOCAL_TZ
ACCEPTED = datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)  # the 30 days run to 23 Dec 09:00


async def _markers(client, username: str, **params) -> dict[str, dict]:
    response = await client.get("/api/map/cases", params=params, headers=await auth(client, username))
    assert response.status_code == 200, response.text
    page = response.json()
    return {row[0]: dict(zip(page["fields"], row, strict=True)) for row in page["rows"]}


async def test_markers_count_the_deadline_down(client):
    with clock.frozen(ACCEPTED):
        case = await make_case(client, "mediator1", title="倒计时")
        assert (await act(client, "leader1", case["id"], "accept")).status_code == 200
        waiting = await make_case(client, "mediator1", title="未受理")  # no deadline running
    expected = [
        (ACCEPTED + timedelta(days=1), 29, "green"),
        (datetime(2026, 12, 16, 10, 0, tzinfo=SHANGHAI), 7, "yellow"),
        (datetime(2026, 12, 23, 8, 0, tzinfo=SHANGHAI), 0, "yellow"),
        (datetime(2026, 12, 23, 9, 1, tzinfo=SHANGHAI), 0, "red"),
        (datetime(2026, 12, 26, 9, 0, tzinfo=SHANGHAI), -3, "red"),
    ]
    for at, days, colour in expected:
        with clock.frozen(at):
            markers = await _markers(client, "tianyuan")
        row = markers[case["id"]]
        assert (row["days_left"], row["deadline_colour"]) == (days, colour), at
        assert row["overdue"] == (1 if colour == "red" else 0)
        assert (markers[waiting["id"]]["days_left"], markers[waiting["id"]]["deadline_colour"]) == (
            None,
            None,
        )
    # The team leader's map counts down too; another township's supervisor has no such marker.
    with clock.frozen(expected[-1][0]):
        assert (await _markers(client, "leader1"))[case["id"]]["deadline_colour"] == "red"
        assert case["id"] not in await _markers(client, "kasi")
        # Filtered to the overdue ones, the same figures.
        [only] = (await _markers(client, "tianyuan", overdue=1)).values()
    assert (only["id"], only["days_left"]) == (case["id"], -3)
