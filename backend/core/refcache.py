"""Reference data kept in each process: the small tables every request reads and few ever write
(the case categories, the risk rules, the names of divisions).

A case list read the category table, the division names and the risk rules on every request, and an
intake read two of them: a query each, a few hundred times a second, for rows that change a few times
a year. Each `Reference` keeps what its loader read and hands it out until:

- its writer calls `forget()` (in the writing transaction): forgotten at once, again when that
  transaction ends (a request that read between the change and its commit saw the old rows), and
  every other process is told through the bus (topic `reference`, key the reference's name), which
  on PostgreSQL sends the message only if the write commits;
- TTL_SECONDS have passed: what another process wrote on SQLite (the command line; there is no
  listener there) is seen within that time;
- the bus resyncs (its listening connection was lost: messages may have been missed).

A read that started before a `forget` does not store what it read (`_generation`), as in
people/session_cache.py. Nothing here queries by itself: the loaders do, inside whatever transaction
the caller is in.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Generic, TypeVar

from backend import db
from backend.core import bus

T = TypeVar("T")
TOPIC = "reference"
TTL_SECONDS = 60.0
MAX_KEYS = 100_000  # names kept by a KeyedReference: a province's villages, with room to spare

_references: dict[str, _Cache] = {}


class _Cache:
    def __init__(self, name: str, ttl: float) -> None:
        if name in _references:
            raise ValueError(f"reference {name!r} is defined twice")
        self.name, self.ttl = name, ttl
        self._generation = 0
        _references[name] = self

    def forget(self) -> None:
        """Drop what is kept, in this process now and when the caller's transaction ends, and in the
        others when it commits. Call it in the transaction that writes the rows."""
        self.forget_here()
        db.after_commit(self.forget_here)
        bus.publish_soon(TOPIC, self.name, key=self.name)

    def forget_here(self) -> None:
        self._generation += 1
        self._clear()

    def _clear(self) -> None:
        raise NotImplementedError


class Reference(_Cache, Generic[T]):
    """A whole small table (or what is made of it), read by `load`."""

    def __init__(self, name: str, load: Callable[[], Awaitable[T]], ttl: float = TTL_SECONDS) -> None:
        super().__init__(name, ttl)
        self._load = load
        self._value: tuple[float, T] | None = None

    async def get(self) -> T:
        kept = self._value
        if kept is not None and time.monotonic() - kept[0] <= self.ttl:
            return kept[1]
        generation = self._generation
        value = await self._load()
        if generation == self._generation:
            self._value = (time.monotonic(), value)
        return value

    def _clear(self) -> None:
        self._value = None


class KeyedReference(_Cache, Generic[T]):
    """Values by key from a table too large to read whole (division names): `load` is given the keys
    not kept and returns what it found for them; keys it did not find are asked again next time."""

    def __init__(
        self,
        name: str,
        load: Callable[[set[str]], Awaitable[dict[str, T]]],
        ttl: float = TTL_SECONDS,
    ) -> None:
        super().__init__(name, ttl)
        self._load = load
        self._values: dict[str, T] = {}
        self._loaded_at = time.monotonic()

    async def get_many(self, keys: Iterable[str]) -> dict[str, T]:
        if time.monotonic() - self._loaded_at > self.ttl:
            self._values.clear()
            self._loaded_at = time.monotonic()
        wanted = {k for k in keys if k}
        found = {k: self._values[k] for k in wanted if k in self._values}
        missing = wanted - found.keys()
        if missing:
            generation = self._generation
            loaded = await self._load(missing)
            found.update(loaded)
            if generation == self._generation:
                if len(self._values) + len(loaded) > MAX_KEYS:
                    self._values.clear()
                self._values.update(loaded)
        return found

    def _clear(self) -> None:
        self._values.clear()
        self._loaded_at = time.monotonic()


def forget_all() -> None:
    """Drop every reference in this process (tests, between databases)."""
    for reference in _references.values():
        reference.forget_here()


def _heard(message: bus.Message) -> None:
    if message.resync:
        forget_all()
    elif (reference := _references.get(str(message.key))) is not None:
        reference.forget_here()


bus.on(TOPIC, _heard)
