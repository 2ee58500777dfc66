"""The Changning demo: real townships and villages, 125 red mediation teams, eight demo accounts.

Idempotent: running it again updates rows in place. Demo-only accounts; never load into production.
"""

from __future__ import annotations

import csv
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely
from piccolo.columns import Column

from backend.core.auth import hash_password
from backend.core.errors import AppError
from backend.db import write_transaction
from backend.demo.grids import load_demo_grids
from backend.grids import county
from backend.grids.divisions import upsert as upsert_divisions
from backend.grids.outline import read_outline
from backend.grids.tables import Division
from backend.people.tables import Team, TeamMember, TeamVillage, User
from backend.settings import REPO_ROOT

SOURCE_DIR = REPO_ROOT / "grids" / "changning" / "source"
COUNTY_CODE = "530524000000"
COUNTY_NAME = "昌宁县"
DEMO_PASSWORD = "demo-2026"
LEGAL_TEAM_NAME = "昌宁县法律服务红色调解队"


@dataclass(frozen=True)
class DemoAccount:
    username: str
    display_name: str
    role: str
    scope_code: str
    team_village: str | None = None  # the village whose team the user belongs to


DEMO_ACCOUNTS = (
    DemoAccount("county", "段志明", "county_admin", COUNTY_CODE),
    DemoAccount("tianyuan", "李春华", "township_supervisor", "530524101000"),
    DemoAccount("kasi", "张国强", "township_supervisor", "530524104000"),
    DemoAccount("mediator1", "王德明", "mediator", "530524101001", team_village="530524101001"),
    DemoAccount("mediator2", "赵丽芬", "mediator", "530524104201", team_village="530524104201"),
    DemoAccount("leader1", "杨正发", "team_leader", "530524101001", team_village="530524101001"),
    # 包案领导: a county leader and 田园镇's (they take charge of cases; `--cases` gives them a few).
    DemoAccount("county_leader", "刘建国", "leader", COUNTY_CODE),
    DemoAccount("tianyuan_leader", "周光荣", "leader", "530524101000"),
)

_SURNAMES = "王李张刘杨赵段字陈周黄罗苏施何董茶鲁邓余"
_GIVEN = [
    "德明",
    "正发",
    "春华",
    "国强",
    "丽芬",
    "建华",
    "光荣",
    "文忠",
    "秀英",
    "玉兰",
    "学文",
    "家顺",
    "永福",
    "开云",
    "兴国",
    "绍先",
]
_KINDS = ("老干部", "老党员", "老模范", "网格员")


def read_divisions(source: Path = SOURCE_DIR) -> list[dict[str, str | None]]:
    rows: list[dict[str, str | None]] = [
        {
            "code": COUNTY_CODE,
            "name": COUNTY_NAME,
            "short_name": COUNTY_NAME,
            "level": "county",
            "parent_code": None,
        }
    ]
    with open(source / "townships.csv", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            rows.append(
                {
                    "code": r["code12"],
                    "name": r["name"],
                    "short_name": r["name"],
                    "level": "township",
                    "parent_code": COUNTY_CODE,
                }
            )
    with open(source / "villages.csv", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            rows.append(
                {
                    "code": r["code12"],
                    "name": r["name"],
                    "short_name": r["short_name"],
                    "level": "village",
                    "parent_code": r["town_code12"],
                }
            )
    return rows


def _member_names(rng: random.Random, n: int) -> list[str]:
    return [rng.choice(_SURNAMES) + rng.choice(_GIVEN) for _ in range(n)]


async def _ensure_team(
    name: str, township_code: str | None, villages: list[str], members: list[tuple[str, str, bool]]
) -> int:
    team = await Team.objects().get(Team.name == name)
    if team is None:
        team_id = (await Team.insert(Team(name=name, township_code=township_code)).run())[0]["id"]
    else:
        team_id = team.id
        await Team.update({Team.township_code: township_code}).where(Team.id == team_id).run()
    await TeamVillage.delete().where(TeamVillage.team == team_id).run()
    if villages:
        await TeamVillage.insert(*[TeamVillage(team=team_id, village_code=v) for v in villages]).run()
    # Members without an account are regenerated; members linked to a user are kept.
    await TeamMember.delete().where((TeamMember.team == team_id) & TeamMember.user.is_null()).run()
    await TeamMember.insert(
        *[TeamMember(team=team_id, name=n, kind=k, is_leader=lead) for n, k, lead in members]
    ).run()
    return team_id


def team_names(divisions: list[dict[str, str | None]]) -> dict[str, str]:
    """'<village>红色调解队' by village code; two villages are both called 小街子, so a name shared
    by several villages is prefixed with the township."""
    townships = {d["code"]: d["name"] for d in divisions if d["level"] == "township"}
    villages = [d for d in divisions if d["level"] == "village"]
    counts = Counter(v["short_name"] for v in villages)
    return {
        str(v["code"]): (
            f"{townships[v['parent_code']]}{v['short_name']}"
            if counts[v["short_name"]] > 1
            else str(v["short_name"])
        )
        + "红色调解队"
        for v in villages
    }


async def load_teams(divisions: list[dict[str, str | None]]) -> dict[str, int]:
    """One team per village plus the county legal-service team; returns team id by village code."""
    rng = random.Random(530524)
    names_by_village = team_names(divisions)
    villages = [d for d in divisions if d["level"] == "village"]
    by_village: dict[str, int] = {}
    async with write_transaction():
        for v in villages:
            names = _member_names(rng, rng.randint(3, 5))
            members = [(n, _KINDS[i % len(_KINDS)], i == 0) for i, n in enumerate(names)]
            by_village[str(v["code"])] = await _ensure_team(
                names_by_village[str(v["code"])], v["parent_code"], [str(v["code"])], members
            )
        lawyers = [(n, "律师", i == 0) for i, n in enumerate(_member_names(rng, 4))]
        await _ensure_team(LEGAL_TEAM_NAME, None, [], lawyers)
    return by_village


async def load_accounts(team_by_village: dict[str, int], password: str = DEMO_PASSWORD) -> list[DemoAccount]:
    password_hash = hash_password(password)
    async with write_transaction():
        for account in DEMO_ACCOUNTS:
            division = await Division.objects().get(Division.code == account.scope_code)
            assert division is not None, account.scope_code  # upsert_divisions() ran first
            level = division.level
            team_id = team_by_village.get(account.team_village) if account.team_village else None
            values: dict[Column, Any] = {
                User.display_name: account.display_name,
                User.password_hash: password_hash,
                User.role: account.role,
                User.scope_level: level,
                User.scope_code: account.scope_code,
                User.team: team_id,
                User.active: True,
            }
            user = await User.objects().get(User.username == account.username)
            if user is None:
                user_id = (
                    await User.insert(
                        User(username=account.username, **{c._meta.name: v for c, v in values.items()})
                    ).run()
                )[0]["id"]
            else:
                user_id = user.id
                # As above: Piccolo's dict[Column | str, Any] takes no dict[Column, Any] (invariance).
                await User.update(values).where(User.id == user_id).run()  # type: ignore[arg-type]
            if team_id is not None:
                await (
                    TeamMember.delete()
                    .where((TeamMember.team == team_id) & (TeamMember.user == user_id))
                    .run()
                )
                await TeamMember.insert(
                    TeamMember(
                        team=team_id,
                        user=user_id,
                        name=account.display_name,
                        kind="老党员",
                        is_leader=account.role == "team_leader",
                    )
                ).run()
                if account.role == "team_leader":
                    # The account holder leads the team, not the generated member.
                    await (
                        TeamMember.update({TeamMember.is_leader: False})
                        .where((TeamMember.team == team_id) & (TeamMember.user != user_id))
                        .run()
                    )
    return list(DEMO_ACCOUNTS)


class RealDeployment(AppError):
    status_code = 409
    code = "demo.real_deployment"
    message = "该数据库由 fengqiao init 初始化，是正式部署：演示数据不能载入正式数据库"
    message_en = "This database was set up by `fengqiao init` (a real deployment): the demo must not touch it"


async def load_county() -> None:
    """The demo county with its real outline (origin "demo", so `fengqiao init` refuses this database)."""
    existing = await county.current()
    if existing is not None and existing.origin != "demo":
        raise RealDeployment()
    outline = read_outline(SOURCE_DIR / "county.geojson")
    await county.save(
        code=COUNTY_CODE, name=COUNTY_NAME, origin="demo", outline_wkb=shapely.to_wkb(outline, hex=True)
    )


async def load_demo() -> dict[str, int]:
    await load_county()
    divisions = read_divisions()
    await upsert_divisions(divisions)
    villages = [d for d in divisions if d["level"] == "village"]
    team_by_village = await load_teams(divisions)
    accounts = await load_accounts(team_by_village)
    grid_counts = await load_demo_grids()
    return {
        **grid_counts,
        "townships": sum(1 for d in divisions if d["level"] == "township"),
        "villages": len(villages),
        "teams": len(team_by_village) + 1,
        "accounts": len(accounts),
    }
