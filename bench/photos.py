"""Photo processing cost: milliseconds per photo for a 4000×3000 and a 1600×1200 JPEG.

1. Service level: `backend.media.imaging.process` (type check, header check, verify, decode, EXIF,
   orientation, three resizes, three JPEG encodes) plus the atomic writes of the derivatives.
2. End to end: a real server process (`fengqiao serve`, SQLite in a temp directory) receiving
   PUT /api/media/{sha256} on 127.0.0.1 from mediator1: one at a time, then 4 at once while a
   fifth client polls /api/health to show the event loop stays responsive; and the same photo sent
   in 256 KB Content-Range chunks as a phone on 2G would.

The photos are synthetic but camera-like (smooth light, texture, noise; EXIF orientation 6 and
GPS), ~3 MB and ~0.6 MB at quality 90; a third is the 1600×1200 one as the PWA sends it (upright,
no EXIF, at the quality set in pwa/src/core/image.ts), whose bytes the server keeps as "full".
Milliseconds are wall time (p50/p95) and, since the box is shared, CPU time of the process (p50).
Prints a table; not a test.

    .venv/bin/python bench/photos.py [--runs 10] [--no-server]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from PIL import Image, ImageDraw, ImageFilter

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SIZES = [(4000, 3000), (1600, 1200)]
CHUNK = 256 * 1024


def pwa_quality() -> int:
    """The JPEG quality the PWA encodes photos at (`const QUALITY = 0.xx` in pwa/src/core/image.ts)."""
    text = (REPO / "pwa/src/core/image.ts").read_text()
    return round(float(re.search(r"const QUALITY = ([0-9.]+)", text)[1]) * 100)  # type: ignore[index]


def camera_like(size: tuple[int, int], seed: int = 530524, *, phone: bool = False) -> bytes:
    """A JPEG shaped like a phone photo: gradients, shapes, fine noise, EXIF orientation and GPS;
    with `phone`, as the PWA sends it: upright, no metadata, the PWA's quality."""
    w, h = size
    small = (max(8, w // 8), max(8, h // 8))
    r = Image.linear_gradient("L").resize(small)
    g = Image.radial_gradient("L").resize(small)
    b = Image.linear_gradient("L").rotate(90).resize(small)
    im = Image.merge("RGB", (r, g, b))
    draw = ImageDraw.Draw(im)
    rnd = __import__("random").Random(seed)
    for _ in range(60):
        x, y = rnd.randrange(small[0]), rnd.randrange(small[1])
        draw.ellipse(
            (x, y, x + rnd.randrange(5, 60), y + rnd.randrange(5, 60)),
            fill=tuple(rnd.randrange(256) for _ in range(3)),
        )
    im = im.resize(size, Image.Resampling.BICUBIC).filter(ImageFilter.GaussianBlur(2))
    noise = Image.effect_noise(size, 24).convert("RGB")
    im = Image.blend(im, noise, 0.18)
    if phone:
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=pwa_quality())
        return buf.getvalue()
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x8825] = {1: "N", 2: (24.0, 49.0, 32.3), 3: "E", 4: (99.0, 36.0, 53.9)}
    exif.get_ifd(0x8769)[0x9003] = "2026:11:20 10:30:00"
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90, exif=exif)
    return buf.getvalue()


def variant(jpeg: bytes, n: int) -> bytes:
    """The same photo with a different hash: a JPEG comment segment after SOI."""
    text = f"bench {n}".encode()
    return jpeg[:2] + b"\xff\xfe" + (len(text) + 2).to_bytes(2, "big") + text + jpeg[2:]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stats(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[max(0, int(len(ordered) * 0.95 + 0.5) - 1)] * 1000


def bench_service(photos: dict[str, bytes], runs: int) -> list[tuple]:
    from backend.media import imaging, storage

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size, data in photos.items():
            imaging.process(io.BytesIO(data))  # warm-up
            process_t, write_t, cpu_t = [], [], []
            for i in range(runs):
                started, cpu = time.perf_counter(), time.process_time()
                out = imaging.process(io.BytesIO(data))
                mid = time.perf_counter()
                cpu_t.append(time.process_time() - cpu)
                digest = sha(variant(data, i))
                storage.write_files_atomically(
                    [(storage.media_path(Path(tmp), digest, d.name), d.data) for d in out.derivatives]
                )
                process_t.append(mid - started)
                write_t.append(time.perf_counter() - mid)
            kb = {d.name: len(d.data) // 1024 for d in out.derivatives}
            rows.append(
                (
                    size,
                    len(data) // 1024,
                    *stats(process_t),
                    statistics.median(cpu_t) * 1000,
                    statistics.median(write_t) * 1000,
                    kb,
                )
            )
    return rows


# --- end to end -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    for step in ("migrate", "demo"):
        subprocess.run(
            [sys.executable, "-m", "backend.cli", step],
            env=env,
            cwd=REPO,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    port = free_port()
    env = {**env, "FENGQIAO_PORT": str(port), "FENGQIAO_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(
        [sys.executable, "-m", "backend.cli", "serve"],
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


async def put_whole(client: httpx.AsyncClient, data: bytes) -> float:
    started = time.perf_counter()
    r = await client.put(f"/api/media/{sha(data)}", content=data)
    if r.status_code != 201:
        raise RuntimeError(f"{r.status_code} {r.text}")
    return time.perf_counter() - started


async def put_chunked(client: httpx.AsyncClient, data: bytes) -> float:
    started = time.perf_counter()
    digest = sha(data)
    for start in range(0, len(data), CHUNK):
        end = min(len(data), start + CHUNK)
        r = await client.put(
            f"/api/media/{digest}",
            content=data[start:end],
            headers={"Content-Range": f"bytes {start}-{end - 1}/{len(data)}"},
        )
        if r.status_code not in (201, 202):
            raise RuntimeError(f"{r.status_code} {r.text}")
    return time.perf_counter() - started


async def four_phones(client: httpx.AsyncClient, batch: list[bytes]) -> tuple[float, list[float]]:
    """Photos per second with 4 phones uploading at once, and /api/health latencies meanwhile."""
    health: list[float] = []
    stop = asyncio.Event()

    async def poll() -> None:
        while not stop.is_set():
            t = time.perf_counter()
            await client.get("/api/health")
            health.append(time.perf_counter() - t)
            await asyncio.sleep(0.05)

    async def phone(items: list[bytes]) -> None:
        for item in items:
            await put_whole(client, item)

    poller = asyncio.create_task(poll())
    started = time.perf_counter()
    await asyncio.gather(*[phone(batch[i::4]) for i in range(4)])
    elapsed = time.perf_counter() - started
    stop.set()
    await poller
    return len(batch) / elapsed, health


async def bench_http(photos: dict[str, bytes], runs: int) -> list[tuple]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "FENGQIAO_DATA_DIR": tmp,
            "FENGQIAO_DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
        }
        process, base = start_server(env)
        try:
            async with httpx.AsyncClient(base_url=base, timeout=120) as client:
                login = await client.post(
                    "/api/auth/login",
                    json={"username": "mediator1", "password": "demo-2026", "device_name": "bench"},
                )
                client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
                n = 0
                for size, data in photos.items():
                    await put_whole(client, variant(data, 10_000 + n))  # warm-up
                    n += 1
                    sequential = []
                    for _ in range(runs):
                        sequential.append(await put_whole(client, variant(data, n)))
                        n += 1
                    batch = [variant(data, n + i) for i in range(4 * max(1, runs // 2))]
                    n += len(batch)
                    rate, health = await four_phones(client, batch)
                    chunked = []
                    for _ in range(max(1, runs // 2)):
                        chunked.append(await put_chunked(client, variant(data, n)))
                        n += 1
                    rows.append(
                        (
                            size,
                            *stats(sequential),
                            rate,
                            *stats(health),
                            statistics.median(chunked) * 1000,
                            -(-len(data) // CHUNK),
                        )
                    )
        finally:
            process.terminate()
            process.wait(10)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10, help="photos per size and measurement")
    parser.add_argument("--no-server", action="store_true", help="service level only")
    args = parser.parse_args()
    photos = {f"{w}×{h}": camera_like((w, h)) for w, h in SIZES}
    photos[f"{SIZES[-1][0]}×{SIZES[-1][1]} PWA"] = camera_like(SIZES[-1], phone=True)
    print(f"cores: {os.cpu_count()}, Pillow {Image.__version__}, runs per row: {args.runs}")

    print("\nservice level: imaging.process (verify, decode, EXIF, orientation, 3 resizes + encodes)")
    print(
        f"{'photo':<14} {'KB in':>6} {'p50 ms':>7} {'p95 ms':>7} {'CPU ms':>7} {'write ms':>8}"
        "   KB thumb/medium/full"
    )
    for size, kb_in, p50, p95, cpu_ms, write_ms, kb in bench_service(photos, args.runs):
        print(
            f"{size:<14} {kb_in:>6} {p50:>7.0f} {p95:>7.0f} {cpu_ms:>7.0f} {write_ms:>8.1f}   "
            f"{kb['thumb']}/{kb['medium']}/{kb['full']}"
        )
    if args.no_server:
        return

    rows = asyncio.run(bench_http(photos, args.runs))
    print("\nend to end: PUT over HTTP to `fengqiao serve` on 127.0.0.1 (SQLite), 201 each")
    print(
        f"{'photo':<14} {'p50 ms':>7} {'p95 ms':>7} {'4 phones/s':>10} {'health p50':>10} {'health p95':>10}"
        f" {'256K chunks ms':>15}"
    )
    for size, p50, p95, rate, h50, h95, chunk_ms, chunks in rows:
        print(
            f"{size:<14} {p50:>7.0f} {p95:>7.0f} {rate:>10.1f} {h50:>10.1f} {h95:>10.1f}"
            f" {chunk_ms:>9.0f} ({chunks})"
        )


if __name__ == "__main__":
    main()
