"""A misbehaving link between phones and the server: an HTTP proxy on 127.0.0.1 that drops responses
after the server has handled the request, sends some requests twice, delays some, and holds some of
a phone's pushes back until its next push has gone through first. One request per connection (it
answers `Connection: close`)."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field


@dataclass
class Faults:
    drop: float = 0.20  # the server handles the request; the phone never hears back
    duplicate: float = 0.10  # the request reaches the server twice
    delay: float = 0.20  # held back for up to max_delay s
    max_delay: float = 0.25
    # A phone's push held until its next push has reached the server first (up to max_hold s).
    reorder: float = 0.5
    max_hold: float = 3.0


@dataclass
class Counts:
    requests: int = 0
    dropped: int = 0
    duplicated: int = 0
    delayed: int = 0
    reordered: int = 0  # push batches that reached the server after a later batch of the same phone
    failed: int = 0  # the server could not be reached (e.g. killed)
    last_seq: dict[str, int] = field(default_factory=dict)


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = 0
    kept = [lines[0]]
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
        if name.strip().lower() in ("connection", "keep-alive"):
            continue
        kept.append(line)
    kept.append("Connection: close")
    body = await reader.readexactly(length) if length else b""
    return ("\r\n".join(kept) + "\r\n\r\n").encode("latin-1") + body


def _header(request: bytes, name: str) -> str | None:
    head = request.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    for line in head.split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name:
            return value.strip()
    return None


class FaultyProxy:
    def __init__(self, upstream_port: int, faults: Faults | None = None, seed: int = 530524) -> None:
        self.upstream_port = upstream_port
        self.faults = faults or Faults()
        self.rng = random.Random(seed)
        self.counts = Counts()
        self._server: asyncio.AbstractServer | None = None
        self._background: set[asyncio.Task] = set()
        self._held: dict[str, asyncio.Event] = {}  # per phone: a push waiting to be overtaken

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        tasks = list(self._background)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _forward(self, request: bytes) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        try:
            writer.write(request)
            await writer.drain()
            return await reader.read()  # the server closes after its answer
        finally:
            writer.close()

    async def _forward_quietly(self, request: bytes, after: float) -> None:
        await asyncio.sleep(after)
        try:
            await self._forward(request)
        except OSError:
            pass

    def _note_order(self, phone: str, n: int) -> None:
        if n < self.counts.last_seq.get(phone, -1):
            self.counts.reordered += 1
        self.counts.last_seq[phone] = max(n, self.counts.last_seq.get(phone, -1))

    async def _hold(self, phone: str) -> None:
        """Wait until another push of this phone has been answered by the server (or max_hold)."""
        event = self._held[phone] = asyncio.Event()
        try:
            await asyncio.wait_for(event.wait(), self.faults.max_hold)
        except TimeoutError:
            pass
        finally:
            if self._held.get(phone) is event:
                del self._held[phone]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        try:
            try:
                request = await _read_request(reader)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                return
            self.counts.requests += 1
            f, rng = self.faults, self.rng
            if rng.random() < f.delay:
                self.counts.delayed += 1
                await asyncio.sleep(rng.random() * f.max_delay)
            if rng.random() < f.duplicate:
                self.counts.duplicated += 1
                task = asyncio.create_task(self._forward_quietly(request, rng.random() * f.max_delay))
                self._background.add(task)
                task.add_done_callback(self._background.discard)
            seq = _header(request, "x-batch-seq")  # "<phone>:<n>", set by the test phones on pushes
            overtaken = None
            if seq is not None:
                phone, _, n = seq.rpartition(":")
                overtaken = self._held.get(phone)
                if overtaken is None and rng.random() < f.reorder:
                    await self._hold(phone)
                self._note_order(phone, int(n))
            try:
                response = await self._forward(request)
            except OSError:
                self.counts.failed += 1
                return
            finally:
                if overtaken is not None:
                    overtaken.set()
            if not response or rng.random() < f.drop:
                self.counts.dropped += 1
                return
            writer.write(response)
            await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
