"""Roles and member kinds, with their Chinese labels (the glossary's fixed renderings)."""

from enum import StrEnum


class Role(StrEnum):
    mediator = "mediator"
    grid_worker = "grid_worker"
    team_leader = "team_leader"
    township_supervisor = "township_supervisor"
    county_admin = "county_admin"


ROLE_LABELS: dict[str, str] = {
    Role.mediator: "调解员",
    Role.grid_worker: "网格员",
    Role.team_leader: "调解队长",
    Role.township_supervisor: "乡镇综治中心",
    Role.county_admin: "县信联办",
}

# The scope level each role works at; field roles may also be scoped to a whole township.
ROLE_SCOPE_LEVELS: dict[str, tuple[str, ...]] = {
    Role.mediator: ("village", "township"),
    Role.grid_worker: ("village", "township"),
    Role.team_leader: ("village", "township"),
    Role.township_supervisor: ("township",),
    Role.county_admin: ("county",),
}

ROLES_NEEDING_TEAM = frozenset({Role.mediator, Role.team_leader})

SUPERVISOR_ROLES = frozenset({Role.township_supervisor, Role.county_admin})

MEMBER_KINDS = ("老干部", "老党员", "老模范", "律师", "网格员")
