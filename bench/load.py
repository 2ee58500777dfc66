"""Load: simulated mediators and supervisors against a real `fengqiao serve`, on SQLite or PostgreSQL.

    .venv/bin/python bench/load.py [--mediators 300] [--supervisors 20] [--seconds 300] [--think 20]
                                   [--pg postgresql://postgres@127.0.0.1:5432/postgres] [--workers 2]

A scratch data directory and database (SQLite, or a new PostgreSQL database dropped afterwards) get the
migrations and the Changning demo; the county office creates the accounts over the API (mediators in
the villages' red mediation teams, township supervisors, a few county admins). Then, after a ramp-up in
which everyone signs in:

- a mediator, every `--think` seconds on average (exponential), either captures a case with a photo
  (HEAD + PUT /api/media, then a `case.create` push), edits one of their cases (a `case.update` push),
  pulls their sync feed to the end, or lists their due visits and records one;
- a supervisor keeps an event stream (GET /api/events) open and, twice as rarely, loads the map's
  markers, the dashboard or a daily or weekly report.

It prints, per route: requests, server errors (5xx or no answer), client errors (4xx), p50 / p95 / p99
milliseconds; the throughput; the server's resident memory at the start, at its peak and at the end;
and how many live events the supervisors received. The load generator runs on the same machine as the
server (and the database): on a 2-core box they compete for the CPU, so the figures are a floor.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import httpx
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "load-test-2026"
TIANYUAN = (99.614962, 24.825632)


class Stats:
    def __init__(self) -> None:
        self.ms: dict[str, list[float]] = defaultdict(list)
        self.server_errors: dict[str, int] = defaultdict(int)
        self.client_errors: dict[str, int] = defaultdict(int)
        self.examples: dict[str, str] = {}
        self.events = 0
        self.recording = False

    def add(self, route: str, ms: float, status: int | None, detail: str = "") -> None:
        if not self.recording:
            return
        self.ms[route].append(ms)
        if status is None or status >= 500:
            self.server_errors[route] += 1
            self.examples.setdefault(route, detail)
        elif status >= 400:
            self.client_errors[route] += 1
            self.examples.setdefault(f"{route} (4xx)", detail)


async def call(
    client: httpx.AsyncClient,
    stats: Stats,
    route: str,
    method: str,
    url: str,
    expected: tuple[int, ...] = (),
    **kwargs,
) -> httpx.Response | None:
    """One request, timed; a status in `expected` (HEAD's 404: not uploaded yet) is not an error."""
    start = time.perf_counter()
    try:
        r = await client.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        stats.add(route, (time.perf_counter() - start) * 1000, None, type(exc).__name__)
        return None
    status = 200 if r.status_code in expected else r.status_code
    stats.add(route, (time.perf_counter() - start) * 1000, status, r.text[:200] if status >= 400 else "")
    return r


def photo(rng: random.Random) -> bytes:
    """A small camera-like JPEG, unique per call (noise on a gradient): ~20 KB."""
    im = Image.new("RGB", (240, 180), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    noise = Image.frombytes("RGB", (60, 45), rng.randbytes(60 * 45 * 3)).resize((240, 180))
    buf = io.BytesIO()
    Image.blend(im, noise, 0.5).save(buf, "JPEG", quality=85)
    return buf.getvalue()


def sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


async def login(client: httpx.AsyncClient, stats: Stats, username: str) -> dict[str, str]:
    for _ in range(5):
        r = await call(
            client,
            stats,
            "POST /api/auth/login",
            "POST",
            "/api/auth/login",
            json={"username": username, "password": PASSWORD, "device_name": "压测手机"},
        )
        if r is not None and r.status_code == 200:
            return {"Authorization": f"Bearer {r.json()['access_token']}"}
        await asyncio.sleep(2)
    raise RuntimeError(f"{username} could not sign in")


def op(type_: str, entity: str, payload: dict, **extra) -> dict:
    return {
        "op_id": str(uuid.uuid4()),
        "type": type_,
        "entity_id": entity,
        "payload": payload,
        "client_time": datetime.now(UTC).isoformat(),
        **extra,
    }


async def mediator(base: str, username: str, village_point: tuple[float, float], args, stats, stop, rng):
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        await asyncio.sleep(rng.uniform(0, args.ramp))
        headers = await login(client, stats, username)
        cases: dict[str, int] = {}
        cursor = ""
        while not stop.is_set():
            await asyncio.sleep(rng.expovariate(1 / args.think))
            if stop.is_set():
                return
            roll = rng.random()
            if roll < 0.35 or not cases:
                data = photo(rng)
                h = sha(data)
                await call(
                    client, stats, "HEAD /api/media/{sha}", "HEAD", f"/api/media/{h}", (404,), headers=headers
                )
                await call(
                    client,
                    stats,
                    "PUT /api/media/{sha}",
                    "PUT",
                    f"/api/media/{h}",
                    content=data,
                    headers=headers,
                )
                case_id = str(uuid.uuid4())
                lon = village_point[0] + rng.uniform(-0.004, 0.004)
                lat = village_point[1] + rng.uniform(-0.004, 0.004)
                body = {
                    "id": case_id,
                    "category": rng.choice(["neighbour", "homestead", "forest_land", "contract_debt"]),
                    "title": f"压测纠纷{rng.randrange(10_000)}",
                    "description": "邻里因通道占用发生口角，调解员现场了解情况。",
                    "level": "small",
                    "location": {"lon": lon, "lat": lat, "accuracy_m": 10.0, "crs": "wgs84", "source": "gps"},
                    "occurred_at": datetime.now(UTC).isoformat(),
                    "parties": [{"name": "张三", "phone": "13812345678", "role": "applicant"}],
                    "photos": [h],
                }
                r = await call(
                    client,
                    stats,
                    "POST /api/sync/push (create)",
                    "POST",
                    "/api/sync/push",
                    json={"ops": [op("case.create", case_id, body)]},
                    headers=headers,
                )
                if r is not None and r.status_code == 200 and r.json()["results"][0]["status"] == "applied":
                    cases[case_id] = r.json()["results"][0]["server_version"]
            elif roll < 0.55:
                case_id = rng.choice(list(cases))
                r = await call(
                    client,
                    stats,
                    "POST /api/sync/push (update)",
                    "POST",
                    "/api/sync/push",
                    json={
                        "ops": [
                            op(
                                "case.update",
                                case_id,
                                {"title": f"压测纠纷（更正{rng.randrange(100)}）"},
                                base_version=cases[case_id],
                            )
                        ]
                    },
                    headers=headers,
                )
                if r is not None and r.status_code == 200 and r.json()["results"][0]["server_version"]:
                    cases[case_id] = r.json()["results"][0]["server_version"]
            elif roll < 0.9:
                more = True
                while more and not stop.is_set():
                    params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
                    r = await call(
                        client,
                        stats,
                        "GET /api/sync/pull",
                        "GET",
                        "/api/sync/pull",
                        params=params,
                        headers=headers,
                    )
                    if r is None or r.status_code != 200:
                        break
                    cursor, more = r.json()["cursor"], r.json()["more"]
            else:
                r = await call(
                    client,
                    stats,
                    "GET /api/visits",
                    "GET",
                    "/api/visits",
                    params={"mine": 1},
                    headers=headers,
                )
                due = [
                    v
                    for v in (r.json() if r is not None and r.status_code == 200 else [])
                    if v.get("status") == "scheduled"
                ]
                if due:
                    await call(
                        client,
                        stats,
                        "POST /api/visits/{id}/record",
                        "POST",
                        f"/api/visits/{due[0]['id']}/record",
                        json={
                            "method": "phone",
                            "satisfaction": "satisfied",
                            "recurred": False,
                            "notes": "电话回访",
                        },
                        headers=headers,
                    )


async def supervisor(base: str, username: str, township: str | None, args, stats, stop, rng):
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        await asyncio.sleep(rng.uniform(0, args.ramp))
        headers = await login(client, stats, username)

        async def listen() -> None:
            with contextlib.suppress(httpx.HTTPError, asyncio.CancelledError):
                async with client.stream("GET", "/api/events", headers=headers, timeout=None) as r:
                    async for line in r.aiter_lines():
                        if line.startswith("data:"):
                            stats.events += 1

        stream = asyncio.create_task(listen())
        today = datetime.now(UTC).date().isoformat()
        area = {"township": township} if township else {}
        try:
            while not stop.is_set():
                await asyncio.sleep(rng.expovariate(1 / (2 * args.think)))
                if stop.is_set():
                    break
                roll = rng.random()
                if roll < 0.4:
                    await call(client, stats, "GET /api/map/cases", "GET", "/api/map/cases", headers=headers)
                elif roll < 0.7:
                    await call(
                        client,
                        stats,
                        "GET /api/reports/dashboard",
                        "GET",
                        "/api/reports/dashboard",
                        params=area,
                        headers=headers,
                    )
                elif roll < 0.9:
                    await call(
                        client,
                        stats,
                        "GET /api/reports/daily",
                        "GET",
                        "/api/reports/daily",
                        params={"date": today, **area},
                        headers=headers,
                    )
                else:
                    await call(
                        client,
                        stats,
                        "GET /api/reports/weekly",
                        "GET",
                        "/api/reports/weekly",
                        params={"date": today, **area},
                        headers=headers,
                    )
        finally:
            stream.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stream


def rss_mb(pid: int) -> float:
    """Resident memory of the server process and its children (uvicorn's workers), in MB."""
    return sum(rss_each(pid).values())


def rss_each(pid: int) -> dict[int, float]:
    """Resident memory of the server process and of each of its children, in MB."""
    out = {}
    for p in [pid, *_children(pid)]:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out[p] = int(line.split()[1]) / 1024
    return out


def process_role(pid: int, server_pid: int) -> str:
    if pid == server_pid:
        return "supervisor" if _children(pid) else "server"
    with contextlib.suppress(OSError):
        if b"resource_tracker" in Path(f"/proc/{pid}/cmdline").read_bytes():
            return "resource tracker"
    return "worker"


def _children(pid: int) -> list[int]:
    with contextlib.suppress(FileNotFoundError):
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return []


async def setup_accounts(
    base: str, args, rng
) -> tuple[list[tuple[str, tuple[float, float]]], list[tuple[str, str | None]]]:
    """The county office creates the mediators (in village teams) and the supervisors."""
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        r = await client.post(
            "/api/auth/login", json={"username": "county", "password": "demo-2026", "device_name": "setup"}
        )
        admin = {"Authorization": f"Bearer {r.json()['access_token']}"}
        teams = [t for t in (await client.get("/api/teams", headers=admin)).json() if t["villages"]]
        grids = (await client.get("/api/grids", params={"level": "village"}, headers=admin)).json()
        points = {}
        for f in grids["features"]:
            ring = (
                f["geometry"]["coordinates"][0]
                if f["geometry"]["type"] == "Polygon"
                else f["geometry"]["coordinates"][0][0]
            )
            xs, ys = [p[0] for p in ring], [p[1] for p in ring]
            points[f["properties"]["code"]] = ((min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2)
        tag = uuid.uuid4().hex[:4]
        sem = asyncio.Semaphore(4)

        async def create(body: dict) -> None:
            async with sem:
                r = await client.post("/api/admin/users", json={**body, "password": PASSWORD}, headers=admin)
                if r.status_code != 201:
                    raise RuntimeError(f"creating {body['username']}: {r.status_code} {r.text[:200]}")

        mediators, supervisors, work = [], [], []
        for i in range(args.mediators):
            team = teams[i % len(teams)]
            village = team["villages"][0]["code"]
            name = f"m{tag}{i:04d}"
            work.append(
                create(
                    {
                        "username": name,
                        "display_name": f"调解员{i}",
                        "role": "mediator",
                        "scope_code": village,
                        "team_id": team["id"],
                    }
                )
            )
            mediators.append((name, points.get(village, TIANYUAN)))
        townships = sorted({t["township"]["code"] for t in teams if t["township"]})
        for i in range(args.supervisors):
            name = f"s{tag}{i:03d}"
            if i % 5 == 4:  # one in five is the county office
                work.append(
                    create(
                        {
                            "username": name,
                            "display_name": f"县级{i}",
                            "role": "county_admin",
                            "scope_code": "530524000000",
                        }
                    )
                )
                supervisors.append((name, None))
            else:
                code = townships[i % len(townships)]
                work.append(
                    create(
                        {
                            "username": name,
                            "display_name": f"综治{i}",
                            "role": "township_supervisor",
                            "scope_code": code,
                        }
                    )
                )
                supervisors.append((name, code))
        await asyncio.gather(*work)
    return mediators, supervisors


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")


async def run(args, base: str, server: subprocess.Popen) -> None:
    rng = random.Random(args.seed)
    t0 = time.perf_counter()
    mediators, supervisors = await setup_accounts(base, args, rng)
    took = time.perf_counter() - t0
    print(f"accounts: {len(mediators)} mediators, {len(supervisors)} supervisors ({took:.0f} s)")
    stats = Stats()
    stop = asyncio.Event()
    rss_start = rss_mb(server.pid)
    tasks = [
        asyncio.create_task(mediator(base, name, point, args, stats, stop, random.Random(rng.random())))
        for name, point in mediators
    ] + [
        asyncio.create_task(supervisor(base, name, code, args, stats, stop, random.Random(rng.random())))
        for name, code in supervisors
    ]
    await asyncio.sleep(args.ramp)
    stats.recording = True
    peak = rss_start
    peaks: dict[int, float] = {}
    measured = time.perf_counter()
    while time.perf_counter() - measured < args.seconds:
        await asyncio.sleep(1)
        each = rss_each(server.pid)
        peak = max(peak, sum(each.values()))
        for p, mb in each.items():
            peaks[p] = max(peaks.get(p, 0.0), mb)
        if server.poll() is not None:
            print("the server died")
            break
    elapsed = time.perf_counter() - measured
    stats.recording = False
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    rss_end = rss_mb(server.pid)

    total = sum(len(v) for v in stats.ms.values())
    print(
        f"\n{args.engine}, {args.workers} worker(s): {args.mediators} mediators, "
        f"{args.supervisors} supervisors, {elapsed:.0f} s measured (after {args.ramp:.0f} s ramp-up), "
        f"think {args.think:.0f} s"
    )
    print(
        f"{'route':<34} {'requests':>8} {'5xx/none':>8} {'4xx':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
    )
    for route in sorted(stats.ms):
        v = stats.ms[route]
        print(
            f"{route:<34} {len(v):>8} {stats.server_errors[route]:>8} {stats.client_errors[route]:>5} "
            f"{pct(v, 0.5):>8.0f} {pct(v, 0.95):>8.0f} {pct(v, 0.99):>8.0f}"
        )
    errors = sum(stats.server_errors.values())
    client_errors = sum(stats.client_errors.values())
    print(f"total {total} requests, {total / elapsed:.1f}/s, server errors {errors}, 4xx {client_errors}")
    print(
        f"server memory (RSS): start {rss_start:.0f} MB, peak {peak:.0f} MB, end {rss_end:.0f} MB; "
        f"live events received {stats.events}"
    )
    ends = rss_each(server.pid)
    print(
        "per process (peak / end MB): "
        + ", ".join(
            f"{process_role(p, server.pid)} {p} {peaks[p]:.0f} / {ends.get(p, 0.0):.0f}"
            for p in sorted(peaks)
        )
    )
    for route, detail in list(stats.examples.items())[:8]:
        print(f"  e.g. {route}: {detail}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mediators", type=int, default=300)
    parser.add_argument("--supervisors", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--ramp", type=float, default=30, help="seconds over which everyone signs in")
    parser.add_argument("--think", type=float, default=20, help="mean seconds between a mediator's actions")
    parser.add_argument("--pg", default=None, help="PostgreSQL server to create a scratch database on")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--real-hashing", action="store_true", help="standard Argon2 for sign-ins")
    parser.add_argument("--workers", type=int, default=1, help="server processes (more than 1: PostgreSQL)")
    args = parser.parse_args()
    args.engine = "postgresql" if args.pg else "sqlite"

    work = Path(tempfile.mkdtemp(prefix="fengqiao-bench-load-"))
    env = {**os.environ, "FENGQIAO_DATA_DIR": str(work), "FENGQIAO_LOG_LEVEL": "WARNING"}
    if not args.real_hashing:
        # Standard Argon2 takes 64 MiB and ~0.3 s of a core per sign-in: 300 phones signing in within
        # the ramp-up would measure (and exhaust) memory, not the steady day. --real-hashing keeps it.
        env["FENGQIAO_PASSWORD_HASHING"] = "fast-insecure"
    pg_name = None
    if args.pg:
        pg_name = f"fengqiao_load_{uuid.uuid4().hex[:8]}"
        subprocess.run(["psql", args.pg, "-qc", f'CREATE DATABASE "{pg_name}"'], check=True)
        env["FENGQIAO_DATABASE_URL"] = f"{args.pg.rsplit('/', 1)[0]}/{pg_name}"
    else:
        env["FENGQIAO_DATABASE_URL"] = f"sqlite:///{work / 'load.sqlite3'}"
    cli = [sys.executable, "-m", "backend.cli"]
    server = None
    try:
        for step in (["migrate"], ["demo"]):
            subprocess.run([*cli, *step], cwd=REPO, env=env, check=True, capture_output=True)
        port = free_port()
        log = open(work / "server.log", "wb")  # noqa: SIM115 - closed with the work directory
        server = subprocess.Popen(
            [*cli, "serve", "--port", str(port), "--workers", str(args.workers)],
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
        asyncio.run(run(args, base, server))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
            errors = [
                line
                for line in (work / "server.log").read_text(errors="replace").splitlines()
                if "ERROR" in line
            ]
            print(f"server log: {len(errors)} ERROR lines" + "".join(f"\n  {e[:300]}" for e in errors[:5]))
        if pg_name:
            subprocess.run(
                ["psql", args.pg, "-qc", f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'], check=False
            )
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
