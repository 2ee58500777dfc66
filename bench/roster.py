"""Roster import: seconds for a 600-member roster (60 teams) — the dry run, the import, a re-import.

Builds a scratch database (SQLite in a temp dir, or PostgreSQL with --pg URL: a scratch database on
that server) with the migrations and the demo, writes a roster XLSX like a county office would, and
runs the same import the API and `fengqiao people import` run. Prints a table; not a test.

    .venv/bin/python bench/roster.py [--members 600] [--pg postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FAMILY = "王李张刘杨赵段字陈周黄罗苏施何董茶鲁邓余"
GIVEN = ["德明", "正发", "春华", "国强", "丽芬", "建华", "光荣", "文忠", "秀英", "玉兰", "学文", "家顺"]
KINDS = ["老干部", "老党员", "老模范", "律师", "网格员"]


def roster(members: int, villages: list[tuple[str, str]]) -> bytes:
    from openpyxl import Workbook

    per_team = 10
    book = Workbook()
    teams = book.active
    teams.title = "队伍"
    teams.append(["队伍名称", "所属乡镇代码", "服务村（社区）代码", "队长用户名"])
    people = book.create_sheet("队员")
    people.append(["姓名", "手机号", "用户名", "角色", "所属队伍", "队员类别", "村（社区）代码"])
    for t in range(members // per_team):
        village, township = villages[t % len(villages)]
        team = f"压测第{t + 1}调解队"
        teams.append([team, township, village, f"bench{t:03d}00"])
        for m in range(per_team):
            n = t * per_team + m
            role = "调解队长" if m == 0 else ("网格员" if m == per_team - 1 else "调解员")
            name = FAMILY[n % len(FAMILY)] + GIVEN[n % len(GIVEN)]
            people.append([name, f"139{n:08d}", f"bench{t:03d}{m:02d}", role, team, KINDS[m % 5], village])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def measure(members: int) -> list[tuple[str, float, str]]:
    from backend import db, wiring
    from backend.grids.tables import Division
    from backend.people import roster as roster_import

    wiring.connect()
    await db.prepare()
    villages = [
        (r["code"], r["parent_code"])
        for r in await Division.select(Division.code, Division.parent_code)
        .where(Division.level == "village")
        .run()
    ]
    content = roster(members, villages)
    rows = []
    for label, dry in (
        ("dry run (check every row)", True),
        ("import (one transaction)", False),
        ("re-import (no change)", False),
    ):
        started = time.perf_counter()
        report = await roster_import.run_import(None, content, dry_run=dry)
        seconds = time.perf_counter() - started
        assert not report.errors, report.errors[:3]
        rows.append(
            (
                label,
                seconds,
                f"teams +{report.teams_created}/~{report.teams_updated}, "
                f"users +{report.users_created}/~{report.users_updated}",
            )
        )
    await db.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=600)
    parser.add_argument("--pg", default=None, help="PostgreSQL server URL (a scratch database is made there)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        for label, seconds, what in asyncio.run(measure(args.members)):
            print(f"| {label} | {seconds:.2f} | {what} |")
        return
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "FENGQIAO_DATA_DIR": tmp}
        name = None
        if args.pg:
            name = f"bench_roster_{uuid.uuid4().hex[:8]}"
            subprocess.run(["psql", args.pg, "-qc", f'CREATE DATABASE "{name}"'], check=True)
            env["FENGQIAO_DATABASE_URL"] = args.pg.rsplit("/", 1)[0] + "/" + name
        else:
            env["FENGQIAO_DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
        try:
            for step in (["migrate"], ["demo"]):
                subprocess.run(
                    [sys.executable, "-m", "backend.cli", *step],
                    env=env,
                    check=True,
                    stdout=subprocess.DEVNULL,
                )
            engine = "PostgreSQL" if args.pg else "SQLite"
            print(f"Roster of {args.members} members ({args.members // 10} teams), {engine}:\n")
            print("| step | seconds | changes |\n|---|---|---|", flush=True)
            subprocess.run(
                [sys.executable, __file__, "--child", "--members", str(args.members)],
                env=env,
                check=True,
                cwd=REPO,
            )
        finally:
            if name:
                subprocess.run(["psql", args.pg, "-qc", f'DROP DATABASE IF EXISTS "{name}"'], check=False)


if __name__ == "__main__":
    main()
