"""Adaptive concurrency per provider (AIMD), as a guard (order 15: after the breaker,
before the rate limits, so a request's RPM/TPM tokens are taken right before it is sent
rather than while it queues for a slot).

Each provider with ``[adaptive_concurrency]`` (or ``options.adaptive_concurrency``)
has a limit on its requests at once, over all its keys, starting at ``initial_limit``:

* **additive increase** — after as many successes as the limit (one "window"), the
  limit grows by ``increase``, up to ``max_limit``. Only attempts that found the
  provider at least half busy count, so a lightly used provider does not inflate a
  limit it never tried;
* **multiplicative decrease** — on an overload signal the limit is multiplied by
  ``backoff`` (rounded down, never below ``min_limit``). Signals: an upstream 429, 503,
  504 or 529, a timeout, and a success slower than ``latency_threshold``. One decrease
  per round: a signal from an attempt admitted before the last decrease is ignored (the
  burst of failures from one overload halves the limit once, not once per failure).

Attempts over the limit follow ``[limits] mode``: ``reject`` refuses at once with
RateLimited (retryable, the call moves on to its next candidate); ``wait`` moves on
while other candidates remain and makes the last one queue, first come first served,
up to ``max_wait`` seconds. The state is per process.
"""

from __future__ import annotations

import collections
import time
from typing import TYPE_CHECKING, Callable

import anyio
import attrs
from omniwire.errors import RateLimited, Timeout, UpstreamError

from ._scope import candidates_left
from .settings import AdaptiveSettings, LimitSettings, parse_table

if TYPE_CHECKING:
    from omniwire.call import Call
    from omniwire.endpoint import Endpoint
    from omniwire.errors import OmniwireError
    from omniwire.routing import Candidate
    from omniwire.stack import Stack

    from .status import PoolStatus

__all__ = ["OVERLOAD_STATUSES", "AdaptiveGuard", "Change", "overload_of"]

OVERLOAD_STATUSES = frozenset({429, 503, 504, 529})
"""Upstream statuses that say "send less" (529: Anthropic's overloaded_error)."""

TABLE = "adaptive_concurrency"


def overload_of(error: OmniwireError | None) -> str | None:
    """Why an attempt's failure is an overload signal ("upstream 503", "timeout"), or
    None. Local refusals never reach here: the kernel aborts them without an error."""
    if error is None:
        return None
    if isinstance(error, RateLimited):
        return "upstream 429"
    if isinstance(error, UpstreamError):
        return f"upstream {error.status}" if error.status in OVERLOAD_STATUSES else None
    if isinstance(error, Timeout):
        return "timeout"
    return None


@attrs.frozen
class Change:
    """One change of a provider's limit (``guard.changes`` keeps the last 1,000)."""

    at: float
    endpoint: str
    old: int
    new: int
    reason: str


class _Waiter:
    __slots__ = ("event", "granted")

    def __init__(self) -> None:
        self.event = anyio.Event()
        self.granted = False


class _Pool:
    """One provider's limit, requests in flight and queue."""

    __slots__ = ("name", "settings", "limit", "in_flight", "successes", "epoch", "queue", "why")

    def __init__(self, name: str, settings: AdaptiveSettings) -> None:
        self.name = name
        self.settings = settings
        self.limit = settings.initial_limit
        self.in_flight = 0
        self.successes = 0
        self.epoch = 0
        self.queue: collections.deque[_Waiter] = collections.deque()
        self.why = "initial_limit"


@attrs.frozen
class _Ticket:
    pool: _Pool
    epoch: int
    started: float
    counts: bool
    """The provider was at least half busy at admission: a success may grow the limit."""


class AdaptiveGuard:
    """The adaptive concurrency guard of one stack. ``settings`` is the stack's
    ``[adaptive_concurrency]`` (None: off unless a provider switches it on); ``limits``
    the ``[limits]`` table whose ``mode`` and ``max_wait`` apply; ``clock`` stamps
    :attr:`changes` and measures waits."""

    def __init__(
        self,
        settings: AdaptiveSettings | None = None,
        limits: LimitSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings if settings is not None else AdaptiveSettings(enabled=False)
        self.limits = limits if limits is not None else LimitSettings()
        self.clock = clock
        self._per_endpoint: dict[str, AdaptiveSettings] = {}
        self._pools: dict[str, _Pool] = {}
        self._tickets: dict[int, _Ticket] = {}
        self.changes: collections.deque[Change] = collections.deque(maxlen=1000)
        """The latest limit changes, oldest first."""

    def settings_for(self, endpoint: Endpoint) -> AdaptiveSettings:
        """The stack's table with the provider's ``options.adaptive_concurrency`` over
        it (a provider table switches it on unless it says ``enabled = false``)."""
        found = self._per_endpoint.get(endpoint.name)
        if found is None:
            where = f"provider {endpoint.name!r} options.{TABLE}"
            own = endpoint.options.get(TABLE)
            base = self.settings if own is None else attrs.evolve(self.settings, enabled=True)
            found = parse_table(AdaptiveSettings, own, where, base)
            found.check(where if own is not None else TABLE)
            self._per_endpoint[endpoint.name] = found
        return found

    def _pool(self, endpoint: Endpoint) -> _Pool | None:
        pool = self._pools.get(endpoint.name)
        if pool is None:
            settings = self.settings_for(endpoint)
            if not settings.enabled:
                return None
            pool = self._pools[endpoint.name] = _Pool(endpoint.name, settings)
        return pool

    def state(self, endpoint: Endpoint) -> dict[str, int] | None:
        """``{"limit", "in_flight", "waiting"}`` of a provider; None when it is off."""
        pool = self._pool(endpoint)
        if pool is None:
            return None
        return {"limit": pool.limit, "in_flight": pool.in_flight, "waiting": len(pool.queue)}

    def limit(self, endpoint: str) -> int | None:
        """A provider's current limit (None: off, or not used yet)."""
        pool = self._pools.get(endpoint)
        return pool.limit if pool is not None else None

    @property
    def reservations(self) -> int:
        """Attempts holding a slot now (0 once every call has ended)."""
        return len(self._tickets)

    async def pool_status(self, stack: Stack) -> PoolStatus:
        """The stack's pool status (the same from every resilience guard)."""
        from .status import pool_status

        return await pool_status(stack)

    # -- the guard --------------------------------------------------------------------

    async def admit(self, call: Call, candidate: Candidate) -> None:
        pool = self._pool(candidate.endpoint)
        if pool is None:
            return
        if pool.in_flight < pool.limit and not pool.queue:
            pool.in_flight += 1
        elif self.limits.mode != "wait" or candidates_left(call) > 0:
            raise self._refusal(pool)
        else:
            await self._queue(pool)
        self._tickets[id(call)] = _Ticket(
            pool, pool.epoch, time.perf_counter(), pool.in_flight * 2 >= pool.limit
        )

    async def _queue(self, pool: _Pool) -> None:
        """Wait for a slot, first come first served; a slot is handed over by the
        attempt that frees it (or by the limit growing)."""
        waiter = _Waiter()
        pool.queue.append(waiter)
        got = False
        try:
            with anyio.move_on_after(self.limits.max_wait):
                await waiter.event.wait()
            got = waiter.granted
        finally:
            if not got:
                if waiter.granted:  # handed a slot, but cancelled before taking it
                    self._release(pool)
                else:
                    pool.queue.remove(waiter)
        if not got:
            raise self._refusal(pool, waited=True)

    def _refusal(self, pool: _Pool, waited: bool = False) -> RateLimited:
        why = "" if pool.why == "initial_limit" else f", last changed on {pool.why}"
        wait = f", no slot within max_wait = {self.limits.max_wait:g}s" if waited else ""
        return RateLimited(
            f"provider {pool.name!r} is at its adaptive concurrency limit "
            f"({pool.limit} requests at once{why}){wait}",
            endpoint=pool.name,
        )

    def _release(self, pool: _Pool) -> None:
        pool.in_flight -= 1
        self._wake(pool)

    @staticmethod
    def _wake(pool: _Pool) -> None:
        queue = pool.queue
        while queue and pool.in_flight < pool.limit:
            waiter = queue.popleft()
            pool.in_flight += 1
            waiter.granted = True
            waiter.event.set()

    def _change(self, pool: _Pool, new: int, reason: str) -> None:
        self.changes.append(Change(self.clock(), pool.name, pool.limit, new, reason))
        pool.limit = new
        pool.successes = 0
        pool.why = reason

    async def complete(self, call: Call) -> None:
        ticket = self._tickets.pop(id(call), None)
        if ticket is None:
            return
        pool, s = ticket.pool, ticket.pool.settings
        threshold = s.latency_threshold
        slow = None
        if threshold:
            end = call.first_chunk_at if call.stream and call.first_chunk_at else None
            latency = (end if end is not None else time.perf_counter()) - ticket.started
            if latency > threshold:
                slow = f"latency {latency:.3g}s > {threshold:g}s"
        if slow is not None:
            self._decrease(pool, ticket, slow)
        elif ticket.counts and ticket.epoch == pool.epoch:
            pool.successes += 1
            if pool.successes >= pool.limit and pool.limit < s.max_limit:
                new = min(s.max_limit, pool.limit + s.increase)
                self._change(pool, new, f"{pool.successes} successes")
        self._release(pool)

    async def abort(self, call: Call, error: OmniwireError | None) -> None:
        ticket = self._tickets.pop(id(call), None)
        if ticket is None:
            return
        reason = overload_of(error)
        if reason is not None:
            self._decrease(ticket.pool, ticket, reason)
        self._release(ticket.pool)

    def _decrease(self, pool: _Pool, ticket: _Ticket, reason: str) -> None:
        if ticket.epoch != pool.epoch:
            return  # admitted before the last decrease: that round was already counted
        s = pool.settings
        new = max(s.min_limit, int(pool.limit * s.backoff))
        pool.epoch += 1
        if new < pool.limit:
            self._change(pool, new, reason)
        else:
            pool.successes = 0
