"""Sign-ins arriving together: every one succeeds, while at most CONCURRENT_HASHES Argon2 hashes run at
once in a process (each standard hash takes 64 MiB; unbounded, 13 at once took a server to 935 MB)."""

from __future__ import annotations

import asyncio
import threading
import time

from backend.core import auth
from backend.demo.loader import DEMO_PASSWORD


async def test_ten_sign_ins_at_once_all_succeed_with_two_hashes_at_a_time(client, monkeypatch):
    hasher, dummy = auth._hasher()
    lock = threading.Lock()
    running, most = 0, 0

    class CountingHasher:
        def verify(self, password_hash: str, password: str) -> bool:
            nonlocal running, most
            with lock:
                running += 1
                most = max(most, running)
            try:
                time.sleep(0.02)  # long enough for others to pile up behind the bound
                return hasher.verify(password_hash, password)
            finally:
                with lock:
                    running -= 1

    monkeypatch.setattr(auth, "_hasher", lambda: (CountingHasher(), dummy))
    answers = await asyncio.gather(
        *(
            client.post(
                "/api/auth/login",
                json={"username": "mediator1", "password": DEMO_PASSWORD, "device_name": f"手机{i}"},
            )
            for i in range(10)
        )
    )
    assert [a.status_code for a in answers] == [200] * 10
    assert len({a.json()["device_id"] for a in answers}) == 10
    assert 1 <= most <= auth.CONCURRENT_HASHES
