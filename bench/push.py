"""Web Push throughput: notifications per second delivered to a local push receiver.

    .venv/bin/python bench/push.py [--deliveries 2000] [--subscriptions 20] [--concurrency 4,16,64]
                                   [--pg postgresql://postgres@127.0.0.1:5432/postgres]
                                   [--no-decrypt] [--latency-ms 50]

On a fresh database (SQLite in a temporary directory, or a temporary PostgreSQL database) it makes one
user with N subscriptions pointing at a receiver on 127.0.0.1 (its own process, like a real push
service would be), writes notifications through the outbox (`notify.service.notify`, which queues one
push delivery per subscription) and runs `notify.push.deliver_due`: claim, encrypt and sign
(`webpush`), POST with httpx, record every attempt. The receiver decrypts every message with the
subscription's private key (aes128gcm) unless --no-decrypt, and answers 201.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


# --- the receiver (its own process) ------------------------------------------------------------------


def run_receiver(keys_file: str, decrypt: bool, latency_ms: float) -> None:
    import http_ece
    from cryptography.hazmat.primitives import serialization

    keys = json.loads(Path(keys_file).read_text())
    private = {
        token: (
            serialization.load_pem_private_key(k["pem"].encode(), password=None),
            base64.b64decode(k["auth"]),
        )
        for token, k in keys.items()
    }
    stats = {"received": 0, "decrypted": 0, "errors": 0}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                method, path, _ = line.decode().split(" ", 2)
                headers = {}
                while (h := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = h.decode().partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                if method == "GET":  # /stats
                    data = json.dumps(stats).encode()
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(data) + data)
                else:
                    stats["received"] += 1
                    if decrypt:
                        key, auth = private[path.rsplit("/", 1)[-1]]
                        try:
                            json.loads(
                                http_ece.decrypt(body, private_key=key, auth_secret=auth, version="aes128gcm")
                            )
                            stats["decrypted"] += 1
                        except Exception:
                            stats["errors"] += 1
                    if latency_ms:
                        await asyncio.sleep(latency_ms / 1000)  # a push service across the internet
                    writer.write(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
        print(server.sockets[0].getsockname()[1], flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


# --- the benchmark ------------------------------------------------------------------------------------------


def make_subscriber_keys(count: int) -> dict[str, dict]:
    import os as _os

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    keys = {}
    for _ in range(count):
        private = ec.generate_private_key(ec.SECP256R1())
        public = private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        keys[uuid.uuid4().hex] = {
            "pem": private.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ).decode(),
            "auth": base64.b64encode(_os.urandom(16)).decode(),
            "p256dh": base64.urlsafe_b64encode(public).decode().rstrip("="),
        }
    return keys


async def bench(args: argparse.Namespace, keys: dict[str, dict], port: int) -> None:
    import dataclasses

    import httpx

    from backend import db
    from backend.core import clock
    from backend.notify import push
    from backend.notify.service import Message, notify
    from backend.notify.tables import PushSubscription
    from backend.people.tables import Device, User
    from backend.settings import get_settings

    await db.prepare()
    await db.migrate()
    user = (
        await User.insert(
            User(
                username="bench",
                display_name="压测",
                password_hash="x",
                role="mediator",
                scope_level="county",
                scope_code="530524000000",
            )
        ).run()
    )[0]["id"]
    base = f"http://127.0.0.1:{port}"
    for token, k in keys.items():
        device = uuid.uuid4()
        await Device.insert(
            Device(id=device, user=user, name="bench", refresh_hash="x", refresh_expires_at=clock.now())
        ).run()
        await PushSubscription.insert(
            PushSubscription(
                user=user,
                device=device,
                endpoint=f"{base}/push/{token}",
                endpoint_hash=token,
                p256dh=k["p256dh"],
                auth=base64.urlsafe_b64encode(base64.b64decode(k["auth"])).decode().rstrip("="),
            )
        ).run()
    settings = get_settings()
    print(
        f"engine: {db.engine_name()}, subscriptions: {len(keys)}, decrypting receiver: {not args.no_decrypt}"
    )

    # Encryption and signing alone (CPU), per message.
    token, k = next(iter(keys.items()))
    job = push.Job(
        delivery_id=0,
        notification_id=1,
        subscription_id=0,
        endpoint=f"{base}/push/{token}",
        p256dh=k["p256dh"],
        auth=base64.urlsafe_b64encode(base64.b64decode(k["auth"])).decode().rstrip("="),
        attempts=0,
        title="今日回访：530524101-2026-000123",
        body="邻居修房占用通道（第1/1次回访，2026-12-01到期）",
        url="/visits/0d5f3c9e-8c51-4e0c-9d1b-3f0e1c7b5a21",
        urgency="normal",
        topic="vDV88noxTgydGz8OHHtaIQ",
        created_at=clock.now(),
    )
    keys_obj = push.vapid_keys(settings)
    times = []
    for _ in range(300):
        t0 = time.perf_counter()
        push.encrypt(job, keys_obj, settings)
        times.append((time.perf_counter() - t0) * 1000)
    print(
        f"encrypt + VAPID sign: p50 {statistics.median(times):.2f} ms, "
        f"p95 {sorted(times)[int(len(times) * 0.95)]:.2f} ms per message"
    )

    per_round = max(1, args.deliveries // len(keys))
    rows = []
    async with httpx.AsyncClient() as stats_client:
        for concurrency in args.concurrency:
            s = dataclasses.replace(settings, push_concurrency=concurrency, push_extra_hosts=("127.0.0.1",))
            t0 = time.perf_counter()
            for i in range(per_round):
                await notify(
                    [user],
                    Message(
                        kind="visit_due",
                        title=job.title,
                        body=job.body,
                        url=job.url,
                        key=f"bench:{concurrency}:{i}",
                    ),
                )
            written = time.perf_counter() - t0
            before = (await stats_client.get(f"{base}/stats")).json()
            t0 = time.perf_counter()
            result = await push.deliver_due(s)
            elapsed = time.perf_counter() - t0
            after = (await stats_client.get(f"{base}/stats")).json()
            received = after["received"] - before["received"]
            assert result.delivered == per_round * len(keys) == received, (result, received)
            assert after["errors"] == 0
            rows.append((concurrency, per_round, received, written, elapsed))
    print()
    print("| concurrency | notifications | push deliveries | outbox writes/s | delivered/s |")
    print("|---|---|---|---|---|")
    for concurrency, notes, received, written, elapsed in rows:
        print(f"| {concurrency} | {notes} | {received} | {notes / written:.0f} | {received / elapsed:.0f} |")
    await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deliveries", type=int, default=2000, help="push deliveries per concurrency level")
    parser.add_argument("--subscriptions", type=int, default=20)
    parser.add_argument("--concurrency", type=lambda v: [int(x) for x in v.split(",")], default=[4, 16, 64])
    parser.add_argument(
        "--pg", default=None, help="PostgreSQL server URL; a temporary database is made on it"
    )
    parser.add_argument("--no-decrypt", action="store_true", help="the receiver answers without decrypting")
    parser.add_argument("--latency-ms", type=float, default=0, help="the receiver waits this long per answer")
    parser.add_argument("--receiver", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver:
        run_receiver(args.receiver, decrypt=not args.no_decrypt, latency_ms=args.latency_ms)
        return

    work = Path(tempfile.mkdtemp(prefix="fengqiao-bench-push-"))
    keys = make_subscriber_keys(args.subscriptions)
    keys_file = work / "keys.json"
    keys_file.write_text(json.dumps(keys))
    receiver = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--receiver",
            str(keys_file),
            "--latency-ms",
            str(args.latency_ms),
            *(["--no-decrypt"] if args.no_decrypt else []),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    port = int(receiver.stdout.readline())
    os.environ["FENGQIAO_DATA_DIR"] = str(work)
    os.environ["FENGQIAO_LOG_LEVEL"] = "WARNING"
    pg_name = None
    if args.pg:
        import asyncpg

        pg_name = f"fengqiao_bench_{uuid.uuid4().hex[:8]}"

        async def create() -> None:
            conn = await asyncpg.connect(args.pg)
            await conn.execute(f'CREATE DATABASE "{pg_name}"')
            await conn.close()

        asyncio.run(create())
        os.environ["FENGQIAO_DATABASE_URL"] = f"{args.pg.rsplit('/', 1)[0]}/{pg_name}"
    else:
        os.environ["FENGQIAO_DATABASE_URL"] = f"sqlite:///{work / 'bench.sqlite3'}"
    try:
        asyncio.run(bench(args, keys, port))
    finally:
        receiver.terminate()
        receiver.wait()
        if pg_name:
            import asyncpg

            async def drop() -> None:
                conn = await asyncpg.connect(args.pg)
                await conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
                await conn.close()

            asyncio.run(drop())


if __name__ == "__main__":
    main()
