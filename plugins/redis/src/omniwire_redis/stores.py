"""Redis implementations of the resilience guards' two state interfaces, written against
their documented shape (docs/routing.md, "State and sharing"), not imported:

* a *limit store* — ``take``/``give``/``level`` on token buckets, ``acquire``/
  ``release``/``held``/``released`` on concurrency slots;
* a *breaker store* — ``get``/``put`` a circuit, ``tally``/``forget`` outcomes.

Both say ``local = False``, so the guards shield every call to them from cancellation.

Key layout (``P`` is ``[redis] prefix``; names are the guards' own, e.g.
``key:openai:openai#0|rpm``)::

    P limit:<name>       HASH  level, stamp      a token bucket (expires once full again)
    P slots:<name>       HASH  process -> slots  concurrency slots held, per process
    P slots:<name>:alive ZSET  process by lease  a process's slots die with its lease
    P circuit:<name>     HASH  the circuit's fields (expires breaker_ttl after a change)
    P tally:<name>       HASH  <slot> / <slot>f  attempts and failures per time slot

Buckets and leases run on Redis's clock (``TIME`` inside the scripts), so hosts with
skewed clocks still share one bucket exactly. Circuits hold the breaker guard's
timestamps, which must then be wall-clock time on every host: the guard installer
(:mod:`omniwire_redis.guards`) sets the breaker guard's clock to ``time.time``.

When Redis does not answer: reads of circuits give a closed circuit and writes are
dropped (a breaker is advice; the installer guard refuses calls itself in ``closed``
mode); ``take``/``acquire`` admit (``open``) or raise StoreUnavailable (``closed``);
a slot given back is queued and replayed once Redis answers again.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
import socket
import uuid
from typing import Any

import anyio
import attrs

from .link import RedisLink, StoreUnavailable
from .scripts import BREAKER_PUT, BREAKER_TALLY, BUCKET, SLOTS

__all__ = ["RedisBreakerStore", "RedisLimitStore", "SharedCircuit"]

_FIELDS = ("state", "consecutive", "opened_at", "cooldown", "probing", "dead", "resting_until")


@attrs.frozen(slots=True)
class SharedCircuit:
    """A circuit as read back from Redis: the same fields (and defaults) as the breaker
    guard's own record, which only ever reads them and ``attrs.evolve``s them."""

    state: str = "closed"
    consecutive: int = 0
    opened_at: float = 0.0
    cooldown: float = 0.0
    probing: bool = False
    dead: str | None = None
    resting_until: float = 0.0


_CLOSED = SharedCircuit()

# the slot a task acquired last and has not released: the rate-limit guard takes a
# slot, then bucket tokens; when Redis fails in between, the slot is given back here
_acquired: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "omniwire_redis_acquired", default=None
)


def _process_token() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class RedisLimitStore:
    """Token buckets and concurrency slots in Redis, shared by every process.

    ``on_error``: ``open`` admits while Redis is down, ``closed`` refuses
    (StoreUnavailable). ``slot_lease``: seconds a process's slots outlive its last slot
    operation; ``poll``: how often a waiter looks for a freed slot.
    """

    local = False

    def __init__(
        self,
        link: RedisLink,
        *,
        prefix: str = "omniwire:",
        on_error: str = "open",
        slot_lease: float = 900.0,
        poll: float = 0.05,
    ) -> None:
        self.link = link
        self.prefix = prefix
        self.on_error = on_error
        self.slot_lease = slot_lease
        self.poll = poll
        self.token = _process_token()

    def __repr__(self) -> str:
        return f"<RedisLimitStore {self.link.name} prefix={self.prefix!r}>"

    async def _bucket(
        self, mode: str, name: str, amount: float, capacity: float, rate: float
    ) -> tuple[float, float]:
        wait, level = await self.link.run(
            BUCKET,
            [f"{self.prefix}limit:{name}"],
            [mode, repr(float(amount)), repr(float(capacity)), repr(float(rate))],
            what=f"rate limit {name!r} cannot be checked, call refused",
        )
        seconds = float(wait)
        return (math.inf if seconds < 0 else seconds), float(level)

    async def take(self, name: str, amount: float, capacity: float, rate: float) -> float:
        try:
            wait, _ = await self._bucket("take", name, amount, capacity, rate)
        except StoreUnavailable:
            if self.on_error == "open":
                return 0.0
            await self._give_back_slot(name)
            raise
        return wait

    async def give(self, name: str, amount: float, capacity: float, rate: float) -> None:
        with contextlib.suppress(StoreUnavailable):  # a bucket refills by itself
            await self._bucket("give", name, amount, capacity, rate)

    async def level(self, name: str, capacity: float, rate: float) -> float:
        try:
            _, level = await self._bucket("level", name, 0.0, capacity, rate)
        except StoreUnavailable:
            return capacity
        return level

    async def _slots(self, mode: str, name: str, limit: int = 0, *, replay: bool = False) -> int:
        result = await self.link.run(
            SLOTS,
            [f"{self.prefix}slots:{name}", f"{self.prefix}slots:{name}:alive"],
            [mode, self.token, str(limit), repr(self.slot_lease)],
            what=f"concurrency limit {name!r} cannot be checked, call refused",
            replay=replay,
        )
        return int(result)

    async def acquire(self, name: str, limit: int) -> bool:
        try:
            taken = await self._slots("acquire", name, limit) == 1
        except StoreUnavailable:
            if self.on_error == "open":
                return True
            raise
        if taken:
            _acquired.set(name)
        return taken

    async def release(self, name: str) -> None:
        if _acquired.get() == name:
            _acquired.set(None)
        with contextlib.suppress(StoreUnavailable):  # queued, replayed once Redis answers
            await self._slots("release", name, replay=True)

    async def _give_back_slot(self, bucket: str) -> None:
        """Redis failed between the guard's slot and its tokens: give the slot back,
        the guard will not (it only expects ``take`` to refuse, not to raise)."""
        slot = _acquired.get()
        if slot is not None and slot.rsplit("|", 1)[0] == bucket.rsplit("|", 1)[0]:
            with anyio.CancelScope(shield=True):
                await self.release(slot)

    async def held(self, name: str) -> int:
        try:
            return await self._slots("held", name)
        except StoreUnavailable:
            return 0

    async def released(self, name: str, timeout: float) -> None:
        """Slots are freed by other processes too, with no event to wait on: poll."""
        await anyio.sleep(max(0.0, min(timeout, self.poll)))


class RedisBreakerStore:
    """Circuits and failure tallies in Redis, shared by every process: one process's
    429 rests the key everywhere, one dead key is dead for all.

    Changes are last-writer-wins whole circuits (the breaker store interface has no
    compare-and-set), so two processes may both let a half-open circuit's probe
    through at the same moment.
    """

    local = False

    def __init__(self, link: RedisLink, *, prefix: str = "omniwire:", ttl: float = 3600.0) -> None:
        self.link = link
        self.prefix = prefix
        self.ttl = ttl

    def __repr__(self) -> str:
        return f"<RedisBreakerStore {self.link.name} prefix={self.prefix!r}>"

    async def get(self, name: str) -> Any:
        try:
            found = await self.link.command(
                "HGETALL", f"{self.prefix}circuit:{name}", what="circuit state cannot be read"
            )
        except StoreUnavailable:
            return _CLOSED
        if not found:
            return _CLOSED
        fields = {k.decode(): v.decode() for k, v in found.items()}
        return SharedCircuit(
            state=fields.get("state", "closed"),
            consecutive=int(fields.get("consecutive", 0)),
            opened_at=float(fields.get("opened_at", 0.0)),
            cooldown=float(fields.get("cooldown", 0.0)),
            probing=fields.get("probing") == "1",
            dead=fields.get("dead"),
            resting_until=float(fields.get("resting_until", 0.0)),
        )

    async def put(self, name: str, circuit: Any) -> None:
        args: list[str] = [str(max(1, math.ceil(self.ttl)))]
        for field in _FIELDS:
            value = getattr(circuit, field)
            if value is None:
                continue
            if isinstance(value, bool):
                value = int(value)
            args += [field, repr(value) if isinstance(value, float) else str(value)]
        with contextlib.suppress(StoreUnavailable):  # a breaker is advice: drop the write
            await self.link.run(
                BREAKER_PUT,
                [f"{self.prefix}circuit:{name}"],
                args,
                what="circuit state cannot be written",
            )

    async def tally(self, name: str, slot: int, failed: bool, slots: int) -> tuple[int, int]:
        try:
            attempts, failures = await self.link.run(
                BREAKER_TALLY,
                [f"{self.prefix}tally:{name}"],
                [str(slot), "1" if failed else "0", str(slots), str(max(1, math.ceil(self.ttl)))],
                what="failure counts cannot be written",
            )
        except StoreUnavailable:
            return 1, int(failed)
        return int(attempts), int(failures)

    async def forget(self, name: str) -> None:
        with contextlib.suppress(StoreUnavailable):
            await self.link.command("DEL", f"{self.prefix}tally:{name}", what="tally")
