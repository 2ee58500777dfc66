"""Offline sync: operations per second, pull time, bytes on the wire.

Runs a real server process (`fengqiao serve`) on a scratch database: SQLite in a temp directory and,
when FENGQIAO_BENCH_POSTGRES_URL (or FENGQIAO_TEST_POSTGRES_URL) names a server, a scratch PostgreSQL
database. One phone (leader1's) on 127.0.0.1:

1. Push: operations per second in batches of 1, 10 and 100, for `case.create` (a new case each),
   `case.note` (on accepted cases) and a resent batch (every op answered `duplicate`); then 50 phones
   pushing `case.create` at once (batches of 1 and of 10), with the PWA shell `GET /` measured with
   as many clients just before (the box is shared and noisy: the ratio is what carries).
2. Pull: mediator1's first full sync on a new device with 500 cases in scope (100 a page, and one
   page of 500), and a pull with nothing new.
3. Bytes on the wire for one case with two 1600×1200 camera-like photos (~0.4 MB each): the push of
   its create op, the two photo uploads, and the case as a later pull carries it. HTTP bytes:
   request and status lines, headers and bodies; no TLS or TCP overhead; no compression.

Prints tables; not a test.

    .venv/bin/python bench/sync.py [--ops 200] [--cases 500] [--clients 50] [--workers 1] [--push-only]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from ingest import clients_of, percentile, shell_rate  # noqa: E402
from photos import camera_like, variant  # noqa: E402

POINT = (99.614962, 24.825632)  # 田园镇, 关庙社区
KASI = (99.392591, 24.790793)  # 卡斯镇


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(env: dict[str, str]) -> None:
    """A fresh database with the migrations and the Changning demo (before anything is measured)."""
    for command in ("migrate", "demo"):
        subprocess.run(
            [sys.executable, "-m", "backend.cli", command], env=env, check=True, capture_output=True
        )


def start_server(env: dict[str, str], workers: int = 1) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **env,
        "FENGQIAO_PORT": str(port),
        "FENGQIAO_LOG_LEVEL": "WARNING",
        "FENGQIAO_SYNC_PUSH_PER_MINUTE": "1000000",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "backend.cli", "serve", "--workers", str(workers)],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("server did not start")


def case_body(i: int, photos: list[str] | None = None, point: tuple[float, float] = POINT) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "category": ("neighbour", "homestead", "forest_land", "contract_debt")[i % 4],
        "title": f"基准纠纷 {i}",
        "description": "张家翻修房屋，建材堆放在共用通道上，李家出入不便，双方发生口角。",
        "level": "small",
        "location": {
            "lon": point[0] + (i % 50) * 4e-5,
            "lat": point[1] - (i % 47) * 4e-5,
            "accuracy_m": 12.0,
        },
        "occurred_at": "2026-11-20T09:30:00+08:00",
        "parties": [
            {"name": "张建华", "phone": f"138{i:08d}"[:11], "role": "applicant"},
            {"name": "李秀英", "phone": "0875-6123456", "role": "respondent"},
        ],
        "photos": photos or [],
    }


def op(type_: str, entity: str, payload: dict, **extra) -> dict:
    return {
        "op_id": str(uuid.uuid4()),
        "type": type_,
        "entity_id": entity,
        "payload": payload,
        "client_time": datetime.now(UTC).isoformat(),
        **extra,
    }


class Wire:
    """Counts HTTP bytes both ways through httpx event hooks."""

    def __init__(self) -> None:
        self.up = 0
        self.down = 0

    async def on_request(self, request: httpx.Request) -> None:
        line = len(request.method) + len(request.url.raw_path) + len(" HTTP/1.1\r\n") + 1
        headers = sum(len(k) + len(v) + 4 for k, v in request.headers.raw) + 2
        self.up += line + headers + len(request.content)

    async def on_response(self, response: httpx.Response) -> None:
        body = await response.aread()
        headers = sum(len(k) + len(v) + 4 for k, v in response.headers.raw) + 2
        self.down += len("HTTP/1.1 200 OK\r\n") + headers + len(body)

    def reset(self) -> tuple[int, int]:
        up, down = self.up, self.down
        self.up = self.down = 0
        return up, down


async def login(http: httpx.AsyncClient, username: str) -> dict[str, str]:
    r = await http.post(
        "/api/auth/login",
        json={"username": username, "password": "demo-2026", "device_name": f"bench-{username}"},
    )
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def push(http: httpx.AsyncClient, headers: dict, ops: list[dict]) -> list[dict]:
    try:
        r = await http.post("/api/sync/push", json={"ops": ops}, headers=headers)
    except httpx.TransportError:  # sent again, as a phone would: the ops are idempotent
        r = await http.post("/api/sync/push", json={"ops": ops}, headers=headers)
    r.raise_for_status()
    results = r.json()["results"]
    bad = [x for x in results if x["status"] not in ("applied", "duplicate")]
    if bad:
        raise RuntimeError(bad[:3])
    return results


async def rate(http: httpx.AsyncClient, headers: dict, ops: list[dict], batch: int) -> float:
    started = time.perf_counter()
    for i in range(0, len(ops), batch):
        await push(http, headers, ops[i : i + batch])
    return len(ops) / (time.perf_counter() - started)


async def bench_push(http: httpx.AsyncClient, phone: dict, n: int) -> list[tuple]:
    """卡斯镇's supervisor's phone (its cases stay out of mediator1's scope, measured next)."""

    def creates() -> list[dict]:
        return [op("case.create", (b := case_body(i, point=KASI))["id"], b) for i in range(n)]

    rows = []
    await push(http, phone, creates()[:10])  # warm-up
    for batch in (1, 10, 100):
        made = creates()
        create_rate = await rate(http, phone, made, batch)
        ids = [c["entity_id"] for c in made]
        await rate(http, phone, [op("case.action", i, {"action": "accept"}) for i in ids], 100)
        notes = [
            op("case.note", i, {"text": "现场走访，双方同意再谈。", "participants": ["张建华"]}) for i in ids
        ]
        note_rate = await rate(http, phone, notes, batch)
        replay_rate = await rate(http, phone, notes, batch)
        rows.append((batch, create_rate, note_rate, replay_rate))
    return rows


async def pushing_together(base: str, phone: dict, clients: int, pushes: list[list[dict]]) -> tuple:
    """(seconds, latencies of each push) of `clients` phones sending `pushes` between them."""
    latencies: list[float] = []
    phones = clients_of(base, clients)  # a connection each, as phones have

    async def phone_loop(http: httpx.AsyncClient) -> None:
        while pushes:
            ops = pushes.pop()
            started = time.perf_counter()
            await push(http, phone, ops)
            latencies.append(time.perf_counter() - started)

    try:
        started = time.perf_counter()
        await asyncio.gather(*[phone_loop(http) for http in phones])
        return time.perf_counter() - started, latencies
    finally:
        await asyncio.gather(*[http.aclose() for http in phones])


async def bench_concurrent(base: str, phone: dict, clients: int, n: int) -> list[tuple]:
    """`clients` phones pushing `case.create` at once, `n` ops in all per row: (batch, ops/s, p50 and
    p95 ms of one push, GET / per second just before with as many clients)."""
    rows = []
    for batch in (1, 10):
        shell = await shell_rate(base, clients, max(3 * n, 600))
        pushes = [
            [op("case.create", (b := case_body(i + j, point=KASI))["id"], b) for j in range(batch)]
            for i in range(0, n, batch)
        ]
        elapsed, latencies = await pushing_together(base, phone, clients, pushes)
        rows.append(
            (batch, n / elapsed, percentile(latencies, 0.5) * 1000, percentile(latencies, 0.95) * 1000, shell)
        )
    return rows


class Feed:
    """A phone's pull state: the cursor and the reference versions it holds."""

    def __init__(self, headers: dict) -> None:
        self.headers = headers
        self.cursor: str | None = None
        self.ref: str | None = None

    async def pull_all(self, http: httpx.AsyncClient, limit: int) -> tuple[float, int, int]:
        """(seconds, cases, pages) of pulling until `more` is false."""
        started = time.perf_counter()
        cases: set[str] = set()
        pages = 0
        while True:
            params: dict = {"limit": limit}
            if self.cursor:
                params["cursor"] = self.cursor
            if self.ref:
                params["ref"] = self.ref
            r = await http.get("/api/sync/pull", params=params, headers=self.headers)
            r.raise_for_status()
            page = r.json()
            pages += 1
            cases.update(c["id"] for c in page["changes"] if c["op"] == "upsert")
            self.ref = ",".join(f"{k}:{v}" for k, v in page["reference_versions"].items())
            self.cursor = page["cursor"]
            if not page["more"]:
                return time.perf_counter() - started, len(cases), pages


async def bench_pull(http: httpx.AsyncClient, wire: Wire, leader: dict, n_cases: int) -> tuple[list, Feed]:
    # Cases of 关庙社区's team (mediator1's), made by its leader's phone, each accepted and noted.
    have = (await Feed(await login(http, "mediator1")).pull_all(http, 500))[1]
    for start in range(have, n_cases, 100):
        creates = [
            op("case.create", (b := case_body(i))["id"], b) for i in range(start, min(n_cases, start + 100))
        ]
        await push(http, leader, creates)
        await push(http, leader, [op("case.action", c["entity_id"], {"action": "accept"}) for c in creates])
        await push(http, leader, [op("case.note", c["entity_id"], {"text": "第一次调解"}) for c in creates])
    rows = []
    for limit in (100, 500):
        feed = Feed(await login(http, "mediator1"))  # a new device: a first sync, reference data included
        wire.reset()
        seconds, cases, pages = await feed.pull_all(http, limit)
        rows.append((f"first sync, {limit} a page", seconds, cases, pages, wire.reset()[1]))
    seconds, cases, pages = await feed.pull_all(http, 100)
    rows.append(("nothing new", seconds, cases, pages, wire.reset()[1]))
    return rows, feed


async def bench_bytes(http: httpx.AsyncClient, wire: Wire, leader: dict, feed: Feed) -> list[tuple]:
    """One case captured on leader1's phone, then seen by mediator1's phone (same team) in a pull."""
    base = camera_like((1600, 1200))
    photos = [variant(base, n) for n in (1, 2)]
    hashes = [hashlib.sha256(p).hexdigest() for p in photos]
    body = case_body(999_999, hashes)
    rows = []
    wire.reset()
    await push(http, leader, [op("case.create", body["id"], body)])
    rows.append(("push case.create (photos named, not sent)", *wire.reset()))
    for sha, data in zip(hashes, photos, strict=True):
        r = await http.put(f"/api/media/{sha}", content=data, headers=leader)
        r.raise_for_status()
    rows.append((f"2 photo uploads ({len(photos[0]) // 1024} + {len(photos[1]) // 1024} KB)", *wire.reset()))
    for sha in hashes:
        await http.head(f"/api/media/{sha}", headers=leader)
    rows.append(("2 HEADs (the resume check before a retry)", *wire.reset()))
    await push(http, leader, [op("case.action", body["id"], {"action": "accept"})])
    edit = {"description": "补充：通道宽约一米五。"}
    await push(http, leader, [op("case.update", body["id"], edit, base_version=2)])
    rows.append(("2 follow-ups (accept, an edit), one push each", *wire.reset()))
    await feed.pull_all(http, 100)
    rows.append(("the case in another phone's pull", *wire.reset()))
    return rows


async def bench_engine(
    name: str, env: dict[str, str], n_ops: int, n_cases: int, clients: int, workers: int, push_only: bool
) -> dict:
    prepare(env)
    process, base = start_server(env, workers)
    wire = Wire()
    try:
        async with httpx.AsyncClient(
            base_url=base,
            timeout=120,
            event_hooks={"request": [wire.on_request], "response": [wire.on_response]},
        ) as http:
            kasi = await login(http, "kasi")
            pushes = [] if push_only else await bench_push(http, kasi, n_ops)
            together = await bench_concurrent(base, kasi, clients, max(n_ops, 500))
            pulls: list = []
            wires: list = []
            if not push_only:
                leader = await login(http, "leader1")
                pulls, feed = await bench_pull(http, wire, leader, n_cases)
                wires = await bench_bytes(http, wire, leader, feed)
    finally:
        process.terminate()
        process.wait(10)
    return {"name": name, "push": pushes, "together": together, "pull": pulls, "wire": wires}


def report(results: list[dict], n_ops: int, n_cases: int, clients: int, workers: int) -> None:
    print(f"\npush: operations per second, one phone, {n_ops} ops per cell, one server process")
    print(f"{'engine':<11} {'batch':>5} {'case.create':>12} {'case.note':>10} {'resent':>8}")
    for r in results:
        for batch, create, note, replay in r["push"]:
            print(f"{r['name']:<11} {batch:>5} {create:>12.1f} {note:>10.1f} {replay:>8.1f}")
    print(
        f"\npush: case.create from {clients} phones at once, {max(n_ops, 500)} ops per row,"
        f" {workers} worker(s) on PostgreSQL, 1 on SQLite; `GET /` with {clients} clients just before"
    )
    print(
        f"{'engine':<11} {'batch':>5} {'ops/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'GET / /s':>9} {'ratio':>7}"
    )
    for r in results:
        for batch, rate_, p50, p95, shell in r["together"]:
            print(
                f"{r['name']:<11} {batch:>5} {rate_:>8.1f} {p50:>8.1f} {p95:>8.1f}"
                f" {shell:>9.1f} {rate_ / shell:>7.3f}"
            )
    print(f"\npull: mediator1 with {n_cases} cases in scope")
    print(f"{'engine':<11} {'pull':<26} {'seconds':>8} {'cases':>6} {'pages':>6} {'KB down':>8}")
    for r in results:
        for what, seconds, cases, pages, down in r["pull"]:
            print(f"{r['name']:<11} {what:<26} {seconds:>8.2f} {cases:>6} {pages:>6} {down / 1024:>8.1f}")
    print("\nbytes on the wire for one case with two 1600×1200 photos")
    print(f"{'engine':<11} {'step':<44} {'up':>9} {'down':>9}")
    for r in results:
        total_up = total_down = 0
        for what, up, down in r["wire"]:
            total_up, total_down = total_up + up, total_down + down
            print(f"{r['name']:<11} {what:<44} {up:>9,} {down:>9,}")
        print(f"{r['name']:<11} {'total':<44} {total_up:>9,} {total_down:>9,}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ops", type=int, default=200, help="operations per push measurement")
    parser.add_argument("--cases", type=int, default=500, help="cases in the mediator's scope for the pull")
    parser.add_argument("--clients", type=int, default=50, help="phones pushing at once")
    parser.add_argument("--workers", type=int, default=1, help="server processes (PostgreSQL only)")
    parser.add_argument("--push-only", action="store_true", help="only the concurrent push")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    args = parser.parse_args()
    options = (args.ops, args.cases, args.clients)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "FENGQIAO_DATA_DIR": tmp,
            "FENGQIAO_DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
        }
        if not args.no_sqlite:
            results.append(await bench_engine("sqlite", env, *options, 1, args.push_only))
        server = os.environ.get("FENGQIAO_BENCH_POSTGRES_URL") or os.environ.get("FENGQIAO_TEST_POSTGRES_URL")
        if server:
            import asyncpg

            name = f"fengqiao_bench_{uuid.uuid4().hex[:8]}"
            conn = await asyncpg.connect(server)
            await conn.execute(f'CREATE DATABASE "{name}"')
            try:
                pg_env = {**env, "FENGQIAO_DATABASE_URL": server.rsplit("/", 1)[0] + "/" + name}
                results.append(
                    await bench_engine("postgresql", pg_env, *options, args.workers, args.push_only)
                )
            finally:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await conn.close()
        else:
            print(
                "(PostgreSQL skipped: set FENGQIAO_BENCH_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/postgres)"
            )
    report(results, args.ops, args.cases, args.clients, args.workers)


if __name__ == "__main__":
    asyncio.run(main())
