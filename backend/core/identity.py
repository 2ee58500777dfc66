"""Who is calling: the roles, the signed-in user, and the one rule of which areas a user works in.

Every domain asks these questions, so they live here rather than in `people` (which stores users and
signs them in). Area codes are the national statistics codes (统计用区划代码), which nest: a village's
12-digit code starts with its township's first nine digits, and a grid's 15-digit code starts with
its village's code.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    mediator = "mediator"
    grid_worker = "grid_worker"
    team_leader = "team_leader"
    township_supervisor = "township_supervisor"
    county_admin = "county_admin"
    # 包案领导: a county or township leader who takes personal charge of hard cases (领导包案). Reads
    # the area like its supervisor, notes and issues 督办, and hears of the cases in its charge.
    leader = "leader"


# Those who supervise an area: the township's 综治中心 and the county office.
SUPERVISOR_ROLES = frozenset({Role.township_supervisor, Role.county_admin})
# Those who read a whole area (its cases, map and reports): the supervisors and the area's leaders.
AREA_READERS = SUPERVISOR_ROLES | {Role.leader}
# Those who work as a red mediation team; they need a team.
TEAM_ROLES = frozenset({Role.mediator, Role.team_leader})


def township_of(code: str) -> str:
    """The township code of a township, village or grid code."""
    return code[:9] + "000"


@dataclass(frozen=True)
class CurrentUser:
    """The authenticated caller: who, in which role and area, from which device."""

    id: int
    username: str
    display_name: str
    role: str
    scope_level: str  # county | township | village
    scope_code: str
    team_id: int | None
    device_id: str
    client_addr: str | None = None  # "from where", for the audit log
    # Signed in with a one-time password: only the password change is open to them.
    must_change_password: bool = False
    # An administrator asked this device to wipe itself (every answer tells the phone so).
    wipe_requested: bool = False

    @property
    def township_code(self) -> str | None:
        """The township the user works in; None for the county office (all of them)."""
        if self.scope_level == "county":
            return None
        return township_of(self.scope_code)

    def in_area(self, code: str) -> bool:
        """Whether a township, village or grid code is in this user's area: all of them for the county;
        the township's own for a township; for a village, the village, its grids and the township it
        lies in (the enclosing cell its people are shown in)."""
        if self.scope_level == "county":
            return True
        if self.scope_level == "township":
            return township_of(code) == self.scope_code
        return code.startswith(self.scope_code) or code == self.township_code
