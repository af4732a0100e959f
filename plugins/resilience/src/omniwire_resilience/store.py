"""Where the guards keep their state, behind two small interfaces.

The in-memory stores here are per process (and per stack: each stack builds its own).
A shared store (Redis, issue 11) implements the same few async methods so that several
gateway processes enforce one limit and see one breaker: a token bucket's ``take`` maps
onto one Lua script, slots onto INCR/DECR with a TTL, a circuit onto one hash. The
guards never read state except through these methods, and unless a store says it is
``local`` (its methods never suspend) they shield their store calls from cancellation,
so a store may await the network without a cancelled call leaving half an update.

Times are the guards' clock (``time.monotonic`` by default); a shared store would use
wall-clock time on every host instead.
"""

from __future__ import annotations

import math
import time
from typing import Callable, Protocol

import anyio
import attrs

__all__ = [
    "CLOSED",
    "HALF_OPEN",
    "OPEN",
    "BreakerStore",
    "Circuit",
    "LimitStore",
    "MemoryBreakerStore",
    "MemoryLimitStore",
]

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


@attrs.frozen
class Circuit:
    """One breaker (a provider's, or a key's): immutable, so a store swaps whole
    records and a reader never sees half an update. Key breakers also carry ``dead``
    (why the upstream refused the key) and ``resting_until`` (the end of a 429 rest).
    The outcomes the failure rate is computed from are tallied separately."""

    state: str = CLOSED
    consecutive: int = 0
    opened_at: float = 0.0
    cooldown: float = 0.0
    probing: bool = False
    dead: str | None = None
    resting_until: float = 0.0


class BreakerStore(Protocol):
    local: bool
    """True when no method ever suspends (nothing to shield from cancellation)."""

    async def get(self, name: str) -> Circuit:
        """The circuit called ``name`` (a fresh closed one when unknown)."""
        ...

    async def put(self, name: str, circuit: Circuit) -> None: ...

    async def tally(self, name: str, slot: int, failed: bool, slots: int) -> tuple[int, int]:
        """Count one outcome in time slot ``slot``; return (attempts, failures) over the
        last ``slots`` slots, this one included."""
        ...

    async def forget(self, name: str) -> None:
        """Drop the tally of ``name`` (its circuit opened or closed)."""
        ...


class LimitStore(Protocol):
    """Token buckets (requests and tokens per minute) and counted slots (concurrency)."""

    local: bool
    """True when no method ever suspends (nothing to shield from cancellation)."""

    async def take(self, name: str, amount: float, capacity: float, rate: float) -> float:
        """Take ``amount`` from bucket ``name`` (full at first, refilled at ``rate`` per
        second up to ``capacity``). Returns 0.0 when taken, else the seconds until it
        could be, taking nothing."""
        ...

    async def give(self, name: str, amount: float, capacity: float, rate: float) -> None:
        """Put ``amount`` back (a negative amount charges more; the level may go below
        zero, a debt later takes must wait out)."""
        ...

    async def level(self, name: str, capacity: float, rate: float) -> float: ...

    async def acquire(self, name: str, limit: int) -> bool:
        """Take one of ``limit`` slots; False when all are held."""
        ...

    async def release(self, name: str) -> None: ...

    async def held(self, name: str) -> int: ...

    async def released(self, name: str, timeout: float) -> None:
        """Return when a slot of ``name`` may have been released, or after ``timeout``."""
        ...


_CLOSED = Circuit()


class MemoryBreakerStore:
    """Circuits and tallies in this process; no method suspends."""

    local = True

    def __init__(self) -> None:
        self._circuits: dict[str, Circuit] = {}
        self._tallies: dict[str, list[list[int]]] = {}

    async def get(self, name: str) -> Circuit:
        return self._circuits.get(name, _CLOSED)

    async def put(self, name: str, circuit: Circuit) -> None:
        self._circuits[name] = circuit

    async def tally(self, name: str, slot: int, failed: bool, slots: int) -> tuple[int, int]:
        rows = self._tallies.get(name)
        if rows is None:
            rows = self._tallies[name] = []
        while rows and rows[0][0] <= slot - slots:
            del rows[0]
        if rows and rows[-1][0] == slot:
            row = rows[-1]
            row[1] += 1
            row[2] += failed
        else:
            rows.append([slot, 1, int(failed)])
        attempts = failures = 0
        for _, n, f in rows:
            attempts += n
            failures += f
        return attempts, failures

    async def forget(self, name: str) -> None:
        self._tallies.pop(name, None)


@attrs.define(slots=True)
class _Bucket:
    level: float
    stamp: float


class MemoryLimitStore:
    """Buckets and slots in this process. No method suspends (except ``released``,
    which only waits), so each is atomic with respect to other tasks on the loop."""

    local = True

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._slots: dict[str, int] = {}
        self._freed: dict[str, anyio.Event] = {}

    def _bucket(self, name: str, capacity: float, rate: float) -> _Bucket:
        now = self._clock()
        bucket = self._buckets.get(name)
        if bucket is None:
            bucket = self._buckets[name] = _Bucket(capacity, now)
        elif now > bucket.stamp:
            bucket.level = min(capacity, bucket.level + (now - bucket.stamp) * rate)
            bucket.stamp = now
        return bucket

    async def take(self, name: str, amount: float, capacity: float, rate: float) -> float:
        bucket = self._bucket(name, capacity, rate)
        if bucket.level >= amount:
            bucket.level -= amount
            return 0.0
        return (amount - bucket.level) / rate if rate > 0 else math.inf

    async def give(self, name: str, amount: float, capacity: float, rate: float) -> None:
        bucket = self._bucket(name, capacity, rate)
        bucket.level = min(capacity, bucket.level + amount)

    async def level(self, name: str, capacity: float, rate: float) -> float:
        return self._bucket(name, capacity, rate).level

    async def acquire(self, name: str, limit: int) -> bool:
        held = self._slots.get(name, 0)
        if held >= limit:
            return False
        self._slots[name] = held + 1
        return True

    async def release(self, name: str) -> None:
        held = self._slots.get(name, 0) - 1
        if held > 0:
            self._slots[name] = held
        else:
            self._slots.pop(name, None)
        event = self._freed.pop(name, None)
        if event is not None:
            event.set()

    async def held(self, name: str) -> int:
        return self._slots.get(name, 0)

    async def released(self, name: str, timeout: float) -> None:
        event = self._freed.get(name)
        if event is None:
            event = self._freed[name] = anyio.Event()
        with anyio.move_on_after(timeout):
            await event.wait()
