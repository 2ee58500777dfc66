"""Simulated phones for the fault tests: each captures cases offline (with photos and follow-up edits)
and drains its outbox the way the app must: batches sent two at a time, an op marked sent only on a
final answer, everything else sent again; photos by content hash, uploaded when the server says they
are missing; tokens refreshed on `auth.token_expired`; nothing dropped on 401, 429 or a lost answer.

No imports from `backend`: this runs beside a real server process and talks HTTP only.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.media.images import jpeg

ACKED = ("applied", "duplicate", "conflict", "deferred", "rejected")
CATEGORIES = ("neighbour", "homestead", "forest_land", "contract_debt", "agriculture")
BASE_POINT = (99.614962, 24.825632)


@dataclass
class PlannedCase:
    id: str
    title: str
    description: str  # the final one, after the follow-up edit
    photos: list[str]
    actions: list[str]  # the events the case must end with, in order
    notes: list[str] = field(default_factory=list)


@dataclass
class Phone:
    name: str
    base_url: str
    username: str
    password: str
    rng: random.Random
    batch_size: int = 20
    window: int = 2  # batches in flight at once
    photos_first: bool = True  # upload every photo from the start; else when a push says it is missing
    cases: list[PlannedCase] = field(default_factory=list)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    photo_bytes: dict[str, bytes] = field(default_factory=dict)
    photos_of_case: dict[str, list[str]] = field(default_factory=dict)
    acked: dict[str, dict[str, Any]] = field(default_factory=dict)  # op_id -> the final answer
    uploaded: set[str] = field(default_factory=set)
    stats: dict[str, int] = field(
        default_factory=lambda: {"sent": 0, "lost": 0, "refreshed": 0, "retried": 0, "limited": 0}
    )
    _photo_queue: asyncio.Queue = field(default_factory=asyncio.Queue)
    access: str = ""
    refresh_token: str = ""
    _batch_seq: int = 0

    # --- planning ----------------------------------------------------------------------------------

    def plan(self, n_cases: int, index: int) -> None:
        """Cases captured offline; each op names the previous op of the same case (prev_op_id)."""
        later: list[list[dict[str, Any]]] = []
        for i in range(n_cases):
            case_id = str(uuid.uuid4())
            photos = [jpeg((24, 16)) for _ in range(2 if i % 5 == 0 else 1)]
            hashes = [hashlib.sha256(p).hexdigest() for p in photos]
            self.photo_bytes.update(zip(hashes, photos, strict=True))
            self.photos_of_case[case_id] = hashes
            title = f"{self.name} 第{i}件 邻里纠纷"
            body = {
                "id": case_id,
                "category": self.rng.choice(CATEGORIES),
                "title": title,
                "description": "初次登记",
                "level": "small",
                "location": {
                    "lon": BASE_POINT[0] + self.rng.uniform(-0.004, 0.004),
                    "lat": BASE_POINT[1] + self.rng.uniform(-0.004, 0.004),
                    "accuracy_m": 10.0,
                },
                "parties": [
                    {"name": "张某", "phone": f"13{self.rng.randrange(10**9):09d}", "role": "applicant"},
                    {"name": "李某", "role": "respondent"},
                ],
                "photos": hashes,
            }
            create = self._op("case.create", case_id, body, prev=None)
            follow: list[dict[str, Any]] = []
            planned = PlannedCase(case_id, title, f"补充说明：{self.name}-{i}", hashes, ["create"])
            prev = create["op_id"]
            if i % 10 == 0:  # a team leader accepts on the spot and records a session
                accept = self._op("case.action", case_id, {"action": "accept"}, prev=prev)
                note = f"{self.name} 第{i}件 现场调解记录"
                noted = self._op(
                    "case.note",
                    case_id,
                    {"text": note, "participants": ["张某", "李某"]},
                    prev=accept["op_id"],
                )
                follow += [accept, noted]
                prev = noted["op_id"]
                planned.actions += ["accept", "note"]
                planned.notes.append(note)
            if i % 2 == 0:  # half the cases get a follow-up edit
                edit = {"description": planned.description}
                follow.append(self._op("case.update", case_id, edit, prev=prev, base_version=1))
                planned.actions.append("update")
            else:
                planned.description = "初次登记"
            self.cases.append(planned)
            self.outbox.append(create)
            later.append(follow)
            # Follow-ups are made a little later, between other captures (so they land in other batches).
            if len(later) > 8:
                self.outbox.extend(later.pop(0))
        for follow in later:
            self.outbox.extend(follow)

    def _op(
        self, type_: str, entity: str, payload: dict[str, Any], prev: str | None, **extra: Any
    ) -> dict[str, Any]:
        return {
            "op_id": str(uuid.uuid4()),
            "type": type_,
            "entity_id": entity,
            "payload": payload,
            "client_time": datetime.now(UTC).isoformat(),
            "prev_op_id": prev,
            **extra,
        }

    # --- HTTP -------------------------------------------------------------------------------------

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, timeout=httpx.Timeout(120.0))

    async def _pause(self, attempt: int) -> None:
        await asyncio.sleep(min(2.0, 0.05 * 2**attempt) * (0.5 + self.rng.random()))

    async def login(self, http: httpx.AsyncClient) -> None:
        for attempt in range(50):
            try:
                r = await http.post(
                    "/api/auth/login",
                    json={"username": self.username, "password": self.password, "device_name": self.name},
                )
            except httpx.TransportError:
                self.stats["lost"] += 1
                await self._pause(attempt)
                continue
            assert r.status_code == 200, r.text
            self.access, self.refresh_token = r.json()["access_token"], r.json()["refresh_token"]
            return
        raise RuntimeError(f"{self.name}: could not sign in")

    async def refresh(self, http: httpx.AsyncClient) -> None:
        """On a lost answer, the same refresh token is sent again (the server answers it again)."""
        for attempt in range(50):
            try:
                r = await http.post("/api/auth/refresh", json={"refresh_token": self.refresh_token})
            except httpx.TransportError:
                self.stats["lost"] += 1
                await self._pause(attempt)
                continue
            assert r.status_code == 200, r.text
            self.access, self.refresh_token = r.json()["access_token"], r.json()["refresh_token"]
            self.stats["refreshed"] += 1
            return
        raise RuntimeError(f"{self.name}: could not refresh")

    async def call(
        self, http: httpx.AsyncClient, method: str, url: str, **kwargs: Any
    ) -> httpx.Response | None:
        """One request; None if the answer was lost (the caller sends it again later)."""
        while True:
            token = self.access
            headers = {**kwargs.pop("headers", {}), "Authorization": f"Bearer {token}"}
            try:
                r = await http.request(method, url, headers=headers, **kwargs)
            except httpx.TransportError:
                self.stats["lost"] += 1
                return None
            # A HEAD answer has no body: a 401 to it is taken to be an expired token too.
            if r.status_code == 401 and (not r.content or r.json().get("code") == "auth.token_expired"):
                if token == self.access:  # the other batch in flight may have refreshed already
                    await self.refresh(http)
                kwargs["headers"] = {k: v for k, v in headers.items() if k != "Authorization"}
                continue
            if r.status_code == 429:
                self.stats["limited"] += 1
                await asyncio.sleep(int(r.headers.get("Retry-After", "1")))
                kwargs["headers"] = {k: v for k, v in headers.items() if k != "Authorization"}
                continue
            if r.status_code >= 500:
                return None
            return r

    # --- photos -----------------------------------------------------------------------------------

    async def upload(self, http: httpx.AsyncClient, sha: str) -> None:
        for attempt in range(100):
            if attempt:  # an earlier answer was lost: maybe it arrived after all
                head = await self.call(http, "HEAD", f"/api/media/{sha}")
                if (
                    head is not None
                    and head.status_code == 200
                    and head.headers.get("upload-complete") == "?1"
                ):
                    self.uploaded.add(sha)
                    return
            put = await self.call(http, "PUT", f"/api/media/{sha}", content=self.photo_bytes[sha])
            if put is not None and put.status_code in (200, 201):
                self.uploaded.add(sha)
                return
            assert put is None or put.status_code < 400 or put.status_code == 409, put.text
            await self._pause(min(attempt, 5))
        raise RuntimeError(f"{self.name}: photo {sha} never uploaded")

    # --- the outbox -------------------------------------------------------------------------------

    async def _send(self, http: httpx.AsyncClient, batch: list[dict[str, Any]]) -> bool:
        """Push one batch; True if the answer came (whatever it said about each op)."""
        self._batch_seq += 1
        self.stats["sent"] += len(batch)
        r = await self.call(
            http,
            "POST",
            "/api/sync/push",
            json={"ops": batch},
            headers={"X-Batch-Seq": f"{self.username}:{self._batch_seq}"},
        )
        if r is None:
            return False  # lost: every op of the batch stays in the outbox
        assert r.status_code == 200, r.text
        for result in r.json()["results"]:
            if result["status"] in ACKED:
                self.acked.setdefault(result["op_id"], result)
            else:
                self.stats["retried"] += 1
            for sha in result.get("missing_photos") or []:
                if sha not in self.uploaded:
                    self._photo_queue.put_nowait(sha)
        return True

    async def drain_outbox(self) -> None:
        """`window` senders, each taking the next ops not yet acknowledged nor in flight."""
        in_flight: set[str] = set()

        async def sender(http: httpx.AsyncClient) -> None:
            attempt = 0
            while True:
                unsent = [op for op in self.outbox if op["op_id"] not in self.acked]
                if not unsent:
                    return
                batch = [op for op in unsent if op["op_id"] not in in_flight][: self.batch_size]
                if not batch:
                    await asyncio.sleep(0.02)  # the rest is in the other sender's hands
                    continue
                ids = {op["op_id"] for op in batch}
                in_flight.update(ids)
                try:
                    answered = await self._send(http, batch)
                finally:
                    in_flight.difference_update(ids)
                attempt = 0 if answered else attempt + 1
                if attempt:
                    await self._pause(min(attempt, 5))

        async def uploader(http: httpx.AsyncClient) -> None:
            while (sha := await self._photo_queue.get()) is not None:
                if sha not in self.uploaded:
                    await self.upload(http, sha)

        self._photo_queue = asyncio.Queue()
        if self.photos_first:  # photos go up while the cases are pushed, often before them
            for case in self.cases:
                for sha in case.photos:
                    self._photo_queue.put_nowait(sha)
        async with self.client() as http:
            if not self.access:
                await self.login(http)
            uploading = asyncio.create_task(uploader(http))
            try:
                await asyncio.gather(*[sender(http) for _ in range(self.window)])
                self._photo_queue.put_nowait(None)
                await uploading
            finally:
                uploading.cancel()
            # Photos of cases whose answers never said they were missing (answers lost on the way).
            for case in self.cases:
                for sha in case.photos:
                    if sha not in self.uploaded:
                        await self.upload(http, sha)

    async def pull_everything(self) -> dict[str, dict[str, Any]]:
        """The phone's view after a full pull through the same link (lost pages asked for again)."""
        cases: dict[str, dict[str, Any]] = {}
        cursor = None
        async with self.client() as http:
            while True:
                params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
                r = await self.call(http, "GET", "/api/sync/pull", params=params)
                if r is None:
                    continue
                assert r.status_code == 200, r.text
                page = r.json()
                for change in page["changes"]:
                    if change["op"] == "upsert":
                        cases[change["id"]] = change["case"]
                    else:
                        cases.pop(change["id"], None)
                cursor = page["cursor"]
                if not page["more"]:
                    return cases
