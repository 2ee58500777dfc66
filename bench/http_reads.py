"""HTTP read path: requests/s of the PWA shell and the common authenticated reads, on one server process.

    .venv/bin/python bench/http_reads.py [--cases 50000] [--clients 30] [--seconds 10] [--rounds 2]
                                   [--data-dir DIR] [--keep]

A real `fengqiao serve` (one process, SQLite) on a scratch data directory: `fengqiao migrate`,
`fengqiao demo`, then `fengqiao demo --cases N` (the demo history; ~100 s for 50,000). With
`--data-dir DIR` the prepared directory is kept in DIR and copied for later runs (then migrated, so a
branch with new migrations measures the same data), which is how a before/after pair is measured.

The county office (`county`, a county admin: every case in scope) signs in once; then, for each
route in turn, `--clients` keep-alive clients (one httpx connection each) send requests back to back
for `--seconds` after a 2 s warm-up:

    GET /                        the PWA shell (static, no auth): the yardstick
    GET /api/me                  auth (token + device check) and one small read
    GET /api/categories          auth and a cached list
    GET /api/locate?lat=&lon=    auth and the in-memory locate index
    GET /api/cases?limit=50      auth and the first page of the case list (every case in scope)

It prints requests/s, p50 / p95 ms and the ratio of each route's requests/s to the shell's in the same
round; with several rounds, each figure is the median over the rounds. The clients run on the same
machine as the server, so on a small box they take CPU from it: the ratios are what to compare.
(Not bench/http.py: a script of that name would shadow the standard library's `http` package.)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
TIANYUAN = (24.825632, 99.614962)  # lat, lng: a point in 田园镇
ROUTES = (
    ("GET /", "/", False),
    ("GET /api/me", "/api/me", True),
    ("GET /api/categories", "/api/categories", True),
    ("GET /api/locate", f"/api/locate?lat={TIANYUAN[0]}&lon={TIANYUAN[1]}", True),
    ("GET /api/cases?limit=50", "/api/cases?limit=50", True),
)


def cli(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "backend.cli", *args], cwd=REPO, env=env, capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(f"fengqiao {' '.join(args)} failed:\n{done.stderr[-2000:]}")


def prepare(env: dict[str, str], cases: int) -> None:
    cli(env, "migrate")
    cli(env, "demo")
    if cases:
        started = time.perf_counter()
        cli(env, "demo", "--cases", str(cases))
        print(f"demo history of {cases} cases: {time.perf_counter() - started:.0f} s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")


async def hammer(base: str, path: str, headers: dict[str, str], clients: int, seconds: float) -> dict:
    """`clients` connections sending `path` back to back; 2 s of warm-up, then `seconds` measured."""
    latencies: list[float] = []
    errors = 0
    recording = False
    stop = False

    async def one() -> None:
        nonlocal errors
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=60) as client:
            while not stop:
                started = time.perf_counter()
                try:
                    response = await client.get(path)
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                took = (time.perf_counter() - started) * 1000
                if recording:
                    latencies.append(took)
                    errors += not ok

    tasks = [asyncio.create_task(one()) for _ in range(clients)]
    await asyncio.sleep(2)
    recording = True
    started = time.perf_counter()
    await asyncio.sleep(seconds)
    recording = False
    elapsed = time.perf_counter() - started
    stop = True
    await asyncio.gather(*tasks)
    return {
        "rps": len(latencies) / elapsed,
        "p50": pct(latencies, 0.5),
        "p95": pct(latencies, 0.95),
        "errors": errors,
    }


async def run(base: str, args: argparse.Namespace) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        r = await client.post(
            "/api/auth/login", json={"username": "county", "password": "demo-2026", "device_name": "bench"}
        )
        r.raise_for_status()
        auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
        for _, path, needs_auth in ROUTES:
            check = await client.get(path, headers=auth if needs_auth else {})
            if check.status_code != 200:
                raise SystemExit(f"GET {path}: {check.status_code} {check.text[:300]}")
        total = (await client.get("/api/cases?limit=1", headers=auth)).json()
        print(f"signed in as county; first case page answered ({len(total['items'])} item)")
    rounds: dict[str, list[dict]] = {name: [] for name, _, _ in ROUTES}
    for number in range(args.rounds):
        for name, path, needs_auth in ROUTES:
            result = await hammer(base, path, auth if needs_auth else {}, args.clients, args.seconds)
            rounds[name].append(result)
            print(
                f"  round {number + 1} {name:<26} {result['rps']:8.1f}/s  p50 {result['p50']:6.1f} ms"
                f"  p95 {result['p95']:6.1f} ms  errors {result['errors']}",
                flush=True,
            )
    shell = [r["rps"] for r in rounds["GET /"]]
    print(f"\n{args.clients} clients, {args.seconds:.0f} s a route, median of {args.rounds} round(s)")
    print(f"{'route':<26} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'ratio to GET /':>15} {'errors':>7}")
    for name, _, _ in ROUTES:
        results = rounds[name]
        ratio = statistics.median(r["rps"] / s for r, s in zip(results, shell, strict=True))
        print(
            f"{name:<26} {statistics.median(r['rps'] for r in results):8.1f} "
            f"{statistics.median(r['p50'] for r in results):8.1f} "
            f"{statistics.median(r['p95'] for r in results):8.1f} {ratio:15.3f} "
            f"{sum(r['errors'] for r in results):7d}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=50000)
    parser.add_argument("--clients", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--data-dir", type=Path, default=None, help="prepared data kept and reused")
    parser.add_argument("--keep", action="store_true", help="leave the scratch dir and log")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="fengqiao-bench-http-"))
    data = work / "data"
    base_env = {**os.environ, "FENGQIAO_LOG_LEVEL": "WARNING", "FENGQIAO_PASSWORD_HASHING": "fast-insecure"}
    base_env.pop("FENGQIAO_DATABASE_URL", None)  # the data directory's fengqiao.sqlite3
    if args.data_dir is not None and (args.data_dir / "ready").exists():
        shutil.copytree(args.data_dir, data)
    else:
        prepare({**base_env, "FENGQIAO_DATA_DIR": str(data)}, args.cases)
        if args.data_dir is not None:
            shutil.copytree(data, args.data_dir, dirs_exist_ok=True)
            (args.data_dir / "ready").write_text(f"{args.cases} cases\n")
    env = {**base_env, "FENGQIAO_DATA_DIR": str(data)}
    cli(env, "migrate")  # this branch's migrations on a copy made by another
    port = free_port()
    server = None
    try:
        log = open(work / "server.log", "wb")  # noqa: SIM115 - closed with the process
        server = subprocess.Popen(
            [sys.executable, "-m", "backend.cli", "serve", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        for _ in range(120):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                    break
            time.sleep(0.5)
        else:
            raise SystemExit(f"the server did not come up; see {work / 'server.log'}")
        asyncio.run(run(base, args))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"scratch directory kept: {work}")


if __name__ == "__main__":
    main()
