"""Reports: how long each report takes with a year of 50,000 demo cases, on SQLite and PostgreSQL.

For each engine, a fresh data dir / database (`fengqiao_bench_reports` on the PostgreSQL server named by
FENGQIAO_BENCH_POSTGRES_URL or FENGQIAO_TEST_POSTGRES_URL, dropped and made anew): `fengqiao migrate`,
`fengqiao demo`, then `fengqiao demo --cases N` (the demo history, backend/demo/history.py).

Then, in a child process bound to that database, every report (daily, weekly, monthly, quarterly; JSON
and XLSX) and the dashboard are requested through the app (in-process ASGI, so HTTP routing, auth,
the SQL, rendering and encoding, but no socket) as the county office and as 田园镇's supervisor, for
the period containing today. Each is run once to warm up, then `--runs` times; the median is printed.

    .venv/bin/python bench/reports.py [--cases 50000] [--runs 5] [--no-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PG_NAME = "fengqiao_bench_reports"
TARGET_MS = 1000
KINDS = ("daily", "weekly", "monthly", "quarterly")
USERS = (("county", "county"), ("tianyuan", "tianyuan"))


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "backend.cli", *args], env=env, cwd=REPO, capture_output=True, text=True
    )


def prepare(env: dict[str, str], cases: int) -> str:
    """Migrations, the Changning demo and a year of history; returns how the history was made."""
    for command in (("migrate",), ("demo",)):
        done = cli(env, *command)
        if done.returncode:
            raise SystemExit(f"fengqiao {' '.join(command)} failed:\n{done.stderr[-2000:]}")
    started = time.perf_counter()
    history = cli(env, "demo", "--cases", str(cases))
    if history.returncode:
        raise SystemExit(f"fengqiao demo --cases failed:\n{history.stderr[-2000:]}")
    return f"fengqiao demo --cases {cases} ({time.perf_counter() - started:.0f} s)"


# --- measuring (in the child bound to one database) -----------------------------------------------


async def measure(runs: int) -> dict:
    import httpx

    from backend import db
    from backend.app import create_app
    from backend.demo.loader import DEMO_PASSWORD
    from backend.settings import load_settings

    await db.prepare()
    if db.engine_name() == "postgresql":
        # A database in service has its statistics kept by autovacuum; one loaded seconds ago has none,
        # and the planner then guesses 58 cases per township instead of ~4,000 (and picks nested loops).
        await db.DB.run_ddl("ANALYZE")
    app = create_app(load_settings(), manage_database=False)
    from backend.grids import service as grids

    await grids.load_index()  # the server warms it at start-up
    transport = httpx.ASGITransport(app=app)
    out: dict = {"rows": []}
    async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=120) as http:
        from backend.cases.tables import Case

        out["cases"] = await Case.count().run()
        for user, label in USERS:
            login = await http.post(
                "/api/auth/login", json={"username": user, "password": DEMO_PASSWORD, "device_name": "bench"}
            )
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            targets = [(kind, fmt) for kind in KINDS for fmt in ("json", "xlsx")] + [("dashboard", "json")]
            for kind, fmt in targets:
                params = {} if kind == "dashboard" else {"format": fmt}
                times, size = [], 0
                for i in range(runs + 1):
                    started = time.perf_counter()
                    response = await http.get(f"/api/reports/{kind}", params=params, headers=headers)
                    elapsed = (time.perf_counter() - started) * 1000
                    if response.status_code != 200:
                        raise SystemExit(
                            f"{kind} {fmt} as {user}: {response.status_code} {response.text[:300]}"
                        )
                    if i:
                        times.append(elapsed)
                    size = len(response.content)
                    if kind != "dashboard" and fmt == "json":
                        body = response.json()
                        out.setdefault("period", {})[kind] = body["period"]["label"]
                out["rows"].append(
                    {
                        "user": label,
                        "kind": kind,
                        "format": fmt,
                        "median": statistics.median(times),
                        "max": max(times),
                        "bytes": size,
                    }
                )
    await db.close()
    return out


def run_engine(name: str, env: dict[str, str], cases: int, runs: int) -> dict:
    made = prepare(env, cases)
    child = subprocess.run(
        [sys.executable, __file__, "--measure", "--runs", str(runs)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    if child.returncode:
        raise SystemExit(f"measuring on {name} failed:\n{child.stderr[-3000:]}")
    result = json.loads(child.stdout.strip().splitlines()[-1])
    return {"engine": name, "history": made, **result}


async def _pg(server: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(server)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def print_table(results: list[dict]) -> None:
    for r in results:
        print(f"\n{r['engine']}: {r['cases']:,} cases ({r['history']})")
        print(", ".join(f"{k} {v}" for k, v in r.get("period", {}).items()))
    print(
        f"\n{'report':<10} {'format':<6} {'as':<10}" + "".join(f" {r['engine'] + ' ms':>16}" for r in results)
    )
    keys = [(row["kind"], row["format"], row["user"]) for row in results[0]["rows"]]
    worst = 0.0
    for key in keys:
        cells = []
        for r in results:
            row = next(x for x in r["rows"] if (x["kind"], x["format"], x["user"]) == key)
            worst = max(worst, row["median"])
            cells.append(f"{row['median']:>9.0f} ({row['max']:>4.0f})")
        print(f"{key[0]:<10} {key[1]:<6} {key[2]:<10}" + "".join(f" {c:>16}" for c in cells))
    print(f"\nmedian (max) of the runs; slowest median {worst:.0f} ms; target under {TARGET_MS} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(asyncio.run(measure(args.runs))))
        return
    results = []
    with tempfile.TemporaryDirectory(prefix="fengqiao-bench-reports-") as tmp:
        env = {
            **os.environ,
            "FENGQIAO_DATA_DIR": tmp,
            "FENGQIAO_DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
            "FENGQIAO_LOG_LEVEL": "WARNING",
        }
        results.append(run_engine("sqlite", env, args.cases, args.runs))
        server = os.environ.get("FENGQIAO_BENCH_POSTGRES_URL") or os.environ.get("FENGQIAO_TEST_POSTGRES_URL")
        if server and not args.no_postgres:
            asyncio.run(_pg(server, f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)'))
            asyncio.run(_pg(server, f'CREATE DATABASE "{PG_NAME}"'))
            try:
                pg_env = {**env, "FENGQIAO_DATABASE_URL": server.rsplit("/", 1)[0] + "/" + PG_NAME}
                results.append(run_engine("postgresql", pg_env, args.cases, args.runs))
            finally:
                asyncio.run(_pg(server, f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)'))
        elif not args.no_postgres:
            print(
                "(PostgreSQL skipped: set FENGQIAO_BENCH_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/postgres)"
            )
    print_table(results)


if __name__ == "__main__":
    main()
