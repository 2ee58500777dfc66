"""Case intake throughput: cases per second and latency with 1, 10, 30 and 50 concurrent clients.

Runs a real server process (`fengqiao serve`) on a scratch database — SQLite in a temp directory and,
when FENGQIAO_BENCH_POSTGRES_URL (or FENGQIAO_TEST_POSTGRES_URL) names a server, a scratch PostgreSQL
database — and posts cases over HTTP on 127.0.0.1 like phones syncing. Before each row the PWA shell
`GET /` is measured with the same number of clients on the same server: the box is shared and noisy,
so the ratio of the two (measured a few seconds apart) is the figure that carries from run to run.
Prints a table; not a test.

    .venv/bin/python bench/ingest.py [--cases 300] [--clients 1,10,30,50] [--workers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
POINTS = [(99.614962, 24.825632), (99.6120, 24.8300), (99.6200, 24.8200), (99.6050, 24.8350)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd: list[str], env: dict[str, str]) -> None:
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def body(i: int) -> dict:
    lon, lat = POINTS[i % len(POINTS)]
    return {
        "id": str(uuid.uuid4()),
        "category": ["neighbour", "homestead", "forest_land", "contract_debt"][i % 4],
        "title": f"压测纠纷 {i}",
        "description": "基准测试生成的纠纷描述。" * 5,
        "level": "small",
        "location": {"lon": lon + (i % 50) * 1e-4, "lat": lat, "accuracy_m": 10},
        "parties": [{"name": "测试甲", "phone": f"138{i:08d}"[:11]}, {"name": "测试乙"}],
    }


def clients_of(base: str, concurrency: int, headers: dict[str, str] | None = None) -> list[httpx.AsyncClient]:
    """One client and keep-alive connection per simulated phone, as bench/http_reads.py: one client
    sharing a pool of 30 connections spends more time in its pool's locks than the shell in the server
    (`GET /` measured 400/s that way against 1,200/s on the same quiet box)."""
    return [
        httpx.AsyncClient(
            base_url=base, headers=headers or {}, limits=httpx.Limits(max_connections=1), timeout=60
        )
        for _ in range(concurrency)
    ]


async def shell_rate(base: str, concurrency: int, total: int) -> float:
    """Requests per second of the PWA shell `GET /` (no database, no auth): the box's yardstick."""
    queue = list(range(total))
    clients = clients_of(base, concurrency)

    async def worker(client: httpx.AsyncClient) -> None:
        while queue:
            queue.pop()
            try:
                response = await client.get("/")
            except httpx.TransportError:  # a keep-alive connection the loaded server closed
                response = await client.get("/")
            if response.status_code != 200:
                raise RuntimeError(f"GET / {response.status_code}")

    try:
        started = time.perf_counter()
        await asyncio.gather(*[worker(c) for c in clients])
        return total / (time.perf_counter() - started)
    finally:
        await asyncio.gather(*[c.aclose() for c in clients])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * share) - 1)]


async def measure(base: str, token: str, concurrency: int, total: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    queue = list(range(total))
    clients = clients_of(base, concurrency, {"Authorization": f"Bearer {token}"})

    async def worker(client: httpx.AsyncClient) -> None:
        while queue:
            i = queue.pop()
            started = time.perf_counter()
            response = await client.post("/api/cases", json=body(i))
            latencies.append(time.perf_counter() - started)
            if response.status_code != 201:
                log = (
                    Path(os.environ.get("FENGQIAO_BENCH_LOG", ""))
                    if os.environ.get("FENGQIAO_BENCH_LOG")
                    else None
                )
                raise RuntimeError(f"{response.status_code} {response.text} {log or ''}")

    try:
        started = time.perf_counter()
        await asyncio.gather(*[worker(c) for c in clients])
        elapsed = time.perf_counter() - started
    finally:
        await asyncio.gather(*[c.aclose() for c in clients])
    return total / elapsed, latencies


def start_server(env: dict[str, str], workers: int = 1) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**env, "FENGQIAO_PORT": str(port), "FENGQIAO_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(
        [sys.executable, "-m", "backend.cli", "serve", "--workers", str(workers)],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("server did not start")


async def bench_engine(
    name: str, env: dict[str, str], total: int, clients: list[int], workers: int
) -> list[tuple]:
    run([sys.executable, "-m", "backend.cli", "migrate"], env)
    run([sys.executable, "-m", "backend.cli", "demo"], env)
    process, base = start_server(env, workers)
    rows = []
    try:
        login = httpx.post(  # noqa: ASYNC210 (once, before measuring)
            f"{base}/api/auth/login",
            json={"username": "mediator1", "password": "demo-2026", "device_name": "bench"},
        )
        token = login.json()["access_token"]
        await measure(base, token, 4, 40)  # warm-up
        await shell_rate(base, 10, 200)  # warm-up
        for concurrency in clients:
            shell = await shell_rate(base, concurrency, max(total * 3, 600))
            rate, lat = await measure(base, token, concurrency, total)
            rows.append(
                (name, concurrency, rate, statistics.median(lat) * 1000, percentile(lat, 0.95) * 1000, shell)
            )
    finally:
        process.terminate()
        process.wait(10)
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=300, help="cases per concurrency level")
    parser.add_argument("--clients", default="1,10,30,50", help="concurrency levels, comma-separated")
    parser.add_argument("--workers", type=int, default=1, help="server processes (PostgreSQL only)")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    args = parser.parse_args()
    clients = [int(c) for c in args.clients.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "FENGQIAO_DATA_DIR": tmp,
            "FENGQIAO_DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
        }
        if not args.no_sqlite:
            rows += await bench_engine("sqlite", env, args.cases, clients, 1)
        server = os.environ.get("FENGQIAO_BENCH_POSTGRES_URL") or os.environ.get("FENGQIAO_TEST_POSTGRES_URL")
        if server:
            import asyncpg

            name = f"fengqiao_bench_{uuid.uuid4().hex[:8]}"
            conn = await asyncpg.connect(server)
            await conn.execute(f'CREATE DATABASE "{name}"')
            try:
                pg_env = {**env, "FENGQIAO_DATABASE_URL": server.rsplit("/", 1)[0] + "/" + name}
                rows += await bench_engine("postgresql", pg_env, args.cases, clients, args.workers)
            finally:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await conn.close()
        else:
            print(
                "(PostgreSQL skipped: set FENGQIAO_BENCH_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/postgres)"
            )
    print(
        f"\ncase intake over HTTP, {args.cases} cases per row, uvicorn with {args.workers} worker(s) on"
        " PostgreSQL and 1 on SQLite, 2 cores; `GET /` with the same clients just before each row"
    )
    print(
        f"{'engine':<11} {'clients':>7} {'cases/s':>9} {'p50 ms':>8} {'p95 ms':>8}"
        f" {'GET / /s':>9} {'ratio':>7}"
    )
    for name, concurrency, rate, p50, p95, shell in rows:
        print(
            f"{name:<11} {concurrency:>7} {rate:>9.1f} {p50:>8.1f} {p95:>8.1f}"
            f" {shell:>9.1f} {rate / shell:>7.3f}"
        )
    print("\nPhotos (ms per 4000×3000 and 1600×1200 JPEG): see bench/photos.py")


if __name__ == "__main__":
    asyncio.run(main())
