"""The bus: short messages from whichever process wrote something to every process that serves it.

Topics carry what other processes must hear at once: a notification for a user's open inbox stream
(`notify`), a case changed in a township for the open maps (`cases`), a grid set activated (`grids`,
so each locate index reloads), a device signed out or an account changed (`sessions`, so each
process forgets what it cached about them). A message is a hint to re-read the database, never the
truth itself: the rows stay the record, and a process that may have missed messages is told so
(a *resync*: `Message.data is None`), and re-reads.

PostgreSQL: `publish` runs `pg_notify` on the caller's connection, so inside a transaction the message
leaves when it commits, and never if it rolls back. Each process keeps ONE listening connection
(`start`/`stop` with the app), separate from the pool, and fans what arrives out to its subscribers
and handlers. When that connection is lost it reconnects with a growing pause, then resyncs everyone.
All topics share one PostgreSQL channel, so the listener LISTENs once.

SQLite (one server process): delivery is in-process, after the publishing transaction has committed.
What another process writes (the CLI) is found by the subscribers' own slow re-reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
from piccolo.querystring import QueryString

from backend import db
from backend.settings import Settings

log = logging.getLogger("fengqiao.bus")

CHANNEL = "fengqiao_bus"
# PostgreSQL refuses a NOTIFY payload of 8000 bytes or more; messages are ids and codes, far less.
MAX_PAYLOAD = 7900
BACKLOG = 500  # messages a slow subscriber may hold; the oldest go first (a re-read finds them)
HEALTH_SECONDS = 30.0  # how often the quiet listening connection is asked whether it still answers
CONNECT_SECONDS = 10.0
MAX_PAUSE_SECONDS = 30.0


@dataclass(frozen=True)
class Message:
    topic: str
    key: str | None  # who it is for within the topic (a user id, a township code), None: everyone
    data: Any  # None: a resync, "you may have missed messages; re-read"

    @property
    def resync(self) -> bool:
        return self.data is None


Handler = Callable[[Message], None]


class Subscription:
    """The messages of one topic (and key) for one listener, e.g. an open event stream."""

    def __init__(self, topic: str, key: str | None) -> None:
        self.topic, self.key = topic, key
        self._messages: deque[Message] = deque(maxlen=BACKLOG)
        self._arrived = asyncio.Event()

    def put(self, message: Message) -> None:
        self._messages.append(message)
        self._arrived.set()

    async def wait(self, seconds: float) -> bool:
        """Whether messages are waiting, waiting up to that many seconds for the first."""
        if not self._messages:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), seconds)
        return bool(self._messages)

    def drain(self) -> list[Message]:
        out = list(self._messages)
        self._messages.clear()
        self._arrived.clear()
        return out

    async def get(self, seconds: float) -> list[Message]:
        """What arrived, waiting up to that many seconds for something; [] when nothing did."""
        await self.wait(seconds)
        return self.drain()

    async def __aiter__(self) -> AsyncIterator[Message]:
        while True:
            await self._arrived.wait()
            for message in self.drain():
                yield message


_subscriptions: dict[tuple[str, str | None], set[Subscription]] = {}
_handlers: dict[str, list[Handler]] = {}


def on(topic: str, handler: Handler) -> None:
    """Call `handler` in every process for each message of `topic` (and its resyncs). Registered at
    import; keep it quick and synchronous (it forgets a cache, it does not query)."""
    handlers = _handlers.setdefault(topic, [])
    if handler not in handlers:
        handlers.append(handler)


@contextlib.contextmanager
def subscribe(topic: str, key: str | None = None) -> Iterator[Subscription]:
    """Messages of `topic` for `key` (None: all of the topic's), while the block runs."""
    subscription = Subscription(topic, key)
    subscribers = _subscriptions.setdefault((topic, key), set())
    subscribers.add(subscription)
    try:
        yield subscription
    finally:
        subscribers.discard(subscription)
        if not subscribers:
            _subscriptions.pop((topic, key), None)


def dispatch(message: Message) -> None:
    """Hand a message to this process's handlers and subscribers."""
    for handler in list(_handlers.get(message.topic, ())):
        try:
            handler(message)
        except Exception:
            log.exception("bus handler for %s failed", message.topic)
    if message.resync:
        targets = [s for (topic, _), subs in _subscriptions.items() if topic == message.topic for s in subs]
    else:
        targets = [*_subscriptions.get((message.topic, message.key), ())]
        if message.key is not None:
            targets += _subscriptions.get((message.topic, None), ())
    for subscription in targets:
        subscription.put(message)


def resync_all() -> None:
    for topic in {t for t, _ in _subscriptions} | set(_handlers):
        dispatch(Message(topic, None, None))


async def publish(topic: str, data: Any, key: str | None = None) -> None:
    """Send one message; inside a transaction it leaves on commit. `data` must be JSON and not None."""
    await publish_many(topic, [(key, data)])


async def publish_many(topic: str, items: list[tuple[str | None, Any]]) -> None:
    """Send (key, data) messages of one topic, in one statement."""
    if not items:
        return
    messages = [Message(topic, key, data) for key, data in items]
    if db.engine_name() != "postgresql":
        _after_commit(messages)
        return
    payloads = [encode(m) for m in messages]
    await db.DB.run_querystring(
        QueryString("SELECT pg_notify({}, p) FROM unnest({}::text[]) AS t(p)", CHANNEL, payloads)
    )


def publish_soon(topic: str, data: Any, key: str | None = None) -> None:
    """`publish` for synchronous code (a cache's forget): the message leaves once the caller's
    transaction is over (committed; nothing on a rollback), or now when there is none."""
    message = Message(topic, key, data)
    encode(message)  # refuse a message NOTIFY would refuse, here rather than in a task
    if db.engine_name() != "postgresql":
        _after_commit([message])
        return
    transaction = db.DB.current_transaction.get()
    task = asyncio.get_running_loop().create_task(_notify_when_settled(transaction, message))
    _sending.add(task)
    task.add_done_callback(_sending.discard)


_sending: set[asyncio.Task] = set()


async def _notify_when_settled(transaction: Any, message: Message) -> None:
    db.DB.current_transaction.set(None)  # this task's copy of the context: not in that transaction
    if transaction is not None and not await _settled(transaction):
        return
    try:
        await publish(message.topic, message.data, message.key)
    except Exception:
        log.exception("bus: could not send a %s message", message.topic)


def encode(message: Message) -> str:
    if message.data is None:
        raise ValueError("a message needs data (None means resync)")
    payload = json.dumps({"t": message.topic, "k": message.key, "d": message.data}, ensure_ascii=False)
    if len(payload.encode()) > MAX_PAYLOAD:
        raise ValueError(f"bus message too large for NOTIFY: {len(payload.encode())} bytes")
    return payload


def decode(payload: str) -> Message:
    raw = json.loads(payload)
    return Message(raw["t"], raw["k"], raw["d"])


# --- SQLite: in-process, after commit ----------------------------------------------------------------

_tail: asyncio.Future | None = None  # the last delivery still waiting: later ones go after it
SETTLE_POLL_SECONDS = 0.005
SETTLE_GIVE_UP_SECONDS = 120.0


def _after_commit(messages: list[Message]) -> None:
    """Deliver in publishing order (SQLite's one writer: commit order), each once its transaction is
    over; a message published outside a transaction goes at once unless earlier ones still wait."""
    global _tail
    transaction = db.DB.current_transaction.get()
    if transaction is None and (_tail is None or _tail.done()):
        for message in messages:
            dispatch(message)
        return
    _tail = asyncio.get_running_loop().create_task(_when_settled(transaction, messages, _tail))


async def _when_settled(transaction: Any, messages: list[Message], before: asyncio.Future | None) -> None:
    if before is not None and before.get_loop() is asyncio.get_running_loop():
        with contextlib.suppress(Exception):
            await before
    if transaction is not None and not await _settled(transaction):
        return
    for message in messages:
        dispatch(message)


async def _settled(transaction: Any) -> bool:
    """Wait for a transaction to end: whether it committed. Piccolo's transactions have no commit
    hook, but say whether they committed or rolled back. (A subscriber told before the commit would
    re-read too early and miss the change.)"""
    waited = 0.0
    while waited < SETTLE_GIVE_UP_SECONDS:
        if getattr(transaction, "_rolled_back", False):
            return False
        if getattr(transaction, "_committed", True):
            return True
        await asyncio.sleep(SETTLE_POLL_SECONDS)
        waited += SETTLE_POLL_SECONDS
    return True


# --- PostgreSQL: one listening connection per process ------------------------------------------------


class _Listener:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.connection: asyncpg.Connection | None = None
        self.listening = asyncio.Event()
        self.task: asyncio.Task | None = None

    def _notified(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        try:
            message = decode(payload)
        except (ValueError, KeyError, TypeError):
            log.warning("bus: unreadable message ignored")
            return
        dispatch(message)

    async def run(self) -> None:
        pause, connected_before = 0.5, False
        while True:
            lost = asyncio.Event()
            try:
                self.connection = await asyncpg.connect(self.dsn, timeout=CONNECT_SECONDS)
                self.connection.add_termination_listener(lambda _c, lost=lost: lost.set())
                await self.connection.add_listener(CHANNEL, self._notified)
                self.listening.set()
                if connected_before:
                    log.info("bus: listening again; everyone re-reads")
                    resync_all()  # what was sent while the connection was down is lost
                connected_before, pause = True, 0.5
                while not lost.is_set():
                    try:
                        await asyncio.wait_for(lost.wait(), HEALTH_SECONDS)
                    except TimeoutError:
                        await asyncio.wait_for(self.connection.fetchval("SELECT 1"), CONNECT_SECONDS)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("bus: listening connection lost (%s); reconnecting in %.1f s", exc, pause)
            finally:
                self.listening.clear()
                await self._close()
            await asyncio.sleep(pause)
            pause = min(pause * 2, MAX_PAUSE_SECONDS)

    async def _close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None and not connection.is_closed():
            try:
                await asyncio.wait_for(connection.close(), 5)
            except (Exception, asyncio.CancelledError):
                connection.terminate()


_listener: _Listener | None = None
_users = 0


async def start(settings: Settings) -> None:
    """Start listening (PostgreSQL); several apps in one process share the one listener. Waits a few
    seconds for the first LISTEN, so the server's first requests are heard; a database that is down
    now is retried in the background."""
    global _listener, _users
    _users += 1
    if settings.engine != "postgresql" or _listener is not None:
        return
    _listener = _Listener(settings.database_url)
    _listener.task = asyncio.create_task(_listener.run(), name="bus-listener")
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(_listener.listening.wait(), CONNECT_SECONDS)


async def stop() -> None:
    global _listener, _users
    _users = max(0, _users - 1)
    if _users or _listener is None:
        return
    listener, _listener = _listener, None
    if listener.task is not None:
        listener.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener.task


def is_listening() -> bool:
    """Whether this process hears other processes' messages right now (PostgreSQL, listener up)."""
    return _listener is not None and _listener.listening.is_set()


def listening_pid() -> int | None:
    """The server pid of this process's listening connection (for tests and diagnostics)."""
    if _listener is None or _listener.connection is None or not is_listening():
        return None
    return _listener.connection.get_server_pid()
