"""How people's roles are administered: their Chinese labels (the glossary's fixed renderings), the
level of area each may be given, and which need a team. The roles themselves: core.identity."""

from backend.core.identity import Role

ROLE_LABELS: dict[str, str] = {
    Role.mediator: "调解员",
    Role.grid_worker: "网格员",
    Role.team_leader: "调解队长",
    Role.township_supervisor: "乡镇综治中心",
    Role.county_admin: "县信联办",
    Role.leader: "包案领导",
}

# The scope level each role works at; field roles may also be scoped to a whole township.
ROLE_SCOPE_LEVELS: dict[str, tuple[str, ...]] = {
    Role.mediator: ("village", "township"),
    Role.grid_worker: ("village", "township"),
    Role.team_leader: ("village", "township"),
    Role.township_supervisor: ("township",),
    Role.county_admin: ("county",),
    # A county leader (县领导) or a township's (乡镇领导); no team.
    Role.leader: ("county", "township"),
}
