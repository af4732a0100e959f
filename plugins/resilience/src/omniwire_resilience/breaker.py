"""Circuit breakers per provider and per key, key cooldowns after an upstream 429, and
dead keys after a 401/403, as one guard (order 10: before the rate limits, so a call
does not spend a local rate-limit token on a candidate the breaker would refuse).

Each provider and each key has a circuit. *Closed*: attempts pass, outcomes are
counted. It *opens* after ``failures`` consecutive upstream failures, or when at least
``min_calls`` attempts in the last ``window`` seconds failed at ``failure_rate`` or
more. *Open*: attempts are refused with CircuitOpen (retryable, so the call moves on to
the next candidate) for ``cooldown`` seconds. Then it is *half-open*: exactly one
attempt (the probe) is let through; its success closes the circuit, its failure opens it
again for twice as long (up to ``max_cooldown``).

What counts: 5xx, 408, timeouts, connection failures and broken 2xx bodies are upstream
failures. Other 4xx (400, 404, 422...) are the caller's mistakes and count as a healthy
answer. A 429 rests the key for exactly what the upstream asked (the error's
``retry_after``, else the ``retry-after-ms``/``retry-after``/``x-ratelimit-reset-*``
headers, else ``rate_limit_cooldown``): the key refuses with RateLimited(retry_after)
until then. A 401/403 marks the key dead until the stack is rebuilt from a corrected
configuration or :func:`revive_key` is called (the key was fixed upstream); when all
keys of a provider are dead its candidates refuse with NoAvailableKey. Cancellations count for nothing (a held probe is released).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable

import anyio
import attrs
from omniwire.errors import (
    CircuitOpen,
    ConfigError,
    NoAvailableKey,
    ProtocolError,
    RateLimited,
    Timeout,
    UpstreamError,
)

from ._scope import candidates_left, endpoint_scope, key_scope, who
from .headers import error_headers, retry_after_from_headers
from .settings import BreakerSettings, parse_table
from .store import CLOSED, HALF_OPEN, OPEN, BreakerStore, Circuit, MemoryBreakerStore

if TYPE_CHECKING:
    from omniwire.call import Call
    from omniwire.endpoint import Endpoint
    from omniwire.errors import OmniwireError
    from omniwire.routing import Candidate
    from omniwire.stack import Stack

    from .status import PoolStatus

__all__ = ["BreakerGuard", "Outcome", "classify"]

_SLOTS = 10  # the failure-rate window is tallied in this many time slots


class Outcome:
    """How an attempt ended, as far as the breaker cares."""

    HEALTHY = "healthy"  # the upstream answered (success or the caller's 4xx)
    FAILED = "failed"  # the upstream failed
    LIMITED = "limited"  # 429: rest the key
    REFUSED_KEY = "refused_key"  # 401/403: the key is dead
    NOTHING = "nothing"  # cancelled, or failed before reaching the upstream


def classify(error: OmniwireError | None, call: Call) -> str:
    if error is None:
        return Outcome.NOTHING
    if isinstance(error, RateLimited):
        return Outcome.LIMITED
    if isinstance(error, UpstreamError):
        status = error.status
        if status == 429:
            return Outcome.LIMITED
        if status in (401, 403):
            return Outcome.REFUSED_KEY
        if status >= 500 or status == 408:
            return Outcome.FAILED
        return Outcome.HEALTHY
    if isinstance(error, Timeout):
        return Outcome.FAILED
    if isinstance(error, ProtocolError):
        # after a 2xx the upstream sent something broken (or cut a stream); before any
        # answer it was the request that could not be encoded: not the upstream's fault
        answered = call.status
        if answered is not None and 200 <= answered < 300:
            return Outcome.FAILED
        return Outcome.NOTHING
    return Outcome.NOTHING


@attrs.frozen
class _Ticket:
    endpoint: str
    key: str
    probe_endpoint: bool
    probe_key: bool
    settings: BreakerSettings


def _gate(circuit: Circuit, now: float, what: str, endpoint: str) -> bool:
    """Refuse while open or while a probe is out; True when this attempt is the probe."""
    if circuit.state == CLOSED:
        return False
    if circuit.state == OPEN:
        left = circuit.opened_at + circuit.cooldown - now
        if left > 0:
            raise CircuitOpen(
                f"circuit of {what} is open after upstream failures; next probe in {left:.3g}s",
                endpoint=endpoint,
            )
        return True
    if circuit.probing:
        raise CircuitOpen(
            f"circuit of {what} is half-open and its probe is in flight", endpoint=endpoint
        )
    return True


def _reopened(c: Circuit, now: float, s: BreakerSettings) -> Circuit:
    """A failed probe: open again, for twice as long as last time."""
    cooldown = max(s.cooldown, min(s.max_cooldown, c.cooldown * 2))
    return attrs.evolve(c, state=OPEN, opened_at=now, cooldown=cooldown, probing=False)


def _released(c: Circuit, probe: bool) -> Circuit:
    return attrs.evolve(c, probing=False) if probe and c.probing else c


class BreakerGuard:
    """The breaker guard of one stack. ``store`` holds the circuits (default: in this
    process); ``clock`` is what cooldowns are measured with."""

    def __init__(
        self,
        settings: BreakerSettings | None = None,
        *,
        store: BreakerStore | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings if settings is not None else BreakerSettings()
        self.store: BreakerStore = store if store is not None else MemoryBreakerStore()
        self.clock = clock
        self._per_endpoint: dict[str, BreakerSettings] = {}
        self._tickets: dict[int, _Ticket] = {}
        self._in_flight: dict[str, int] = {}

    def settings_for(self, endpoint: Endpoint) -> BreakerSettings:
        """The stack's ``[breaker]`` with the provider's ``options.breaker`` over it."""
        found = self._per_endpoint.get(endpoint.name)
        if found is None:
            found = parse_table(
                BreakerSettings,
                endpoint.options.get("breaker"),
                f"provider {endpoint.name!r} options.breaker",
                self.settings,
            )
            self._per_endpoint[endpoint.name] = found
        return found

    def in_flight(self, endpoint: str, alias: str | None) -> int:
        return self._in_flight.get(key_scope(endpoint, alias), 0)

    async def circuit(self, scope: str) -> Circuit:
        return await self.store.get(scope)

    async def revive_key(self, endpoint: str, alias: str | None) -> bool:
        """Give a key marked dead (401/403) another chance, without a rebuild: its
        circuit starts closed again (a key that is still refused dies at its next
        call). True when the key was dead."""
        scope = key_scope(endpoint, alias)
        if (await self.store.get(scope)).dead is None:
            return False
        await self.store.put(scope, Circuit())
        await self.store.forget(scope)
        return True

    async def pool_status(self, stack: Stack) -> PoolStatus:
        """The stack's pool status (the same from either resilience guard), so a
        gateway can find it among ``stack.guards`` without importing this plugin."""
        from .status import pool_status

        return await pool_status(stack)

    # -- the guard --------------------------------------------------------------------

    async def admit(self, call: Call, candidate: Candidate) -> None:
        endpoint = candidate.endpoint
        settings = self.settings_for(endpoint)
        if not settings.enabled:
            return
        alias = candidate.key.alias if candidate.key is not None else None
        kname, ename = key_scope(endpoint.name, alias), endpoint_scope(endpoint.name)
        if self.store.local:
            probes = await self._check(endpoint, alias, kname, ename)
        else:
            with anyio.CancelScope(shield=True):  # a taken probe must end up in a ticket
                probes = await self._check(endpoint, alias, kname, ename)
        self._tickets[id(call)] = _Ticket(ename, kname, *probes, settings)
        self._in_flight[kname] = self._in_flight.get(kname, 0) + 1

    async def _check(
        self, endpoint: Endpoint, alias: str | None, kname: str, ename: str
    ) -> tuple[bool, bool]:
        """Refuse, or admit and say which circuits this attempt probes (provider, key)."""
        store = self.store
        key = await store.get(kname)
        now = self.clock()
        if key.dead is not None:
            raise await self._no_key(endpoint, alias, key.dead)
        if key.resting_until > now:
            left = key.resting_until - now
            raise RateLimited(
                f"{who(endpoint.name, alias)} is resting for {left:.3g}s "
                "as the upstream asked (429)",
                retry_after=left,
                endpoint=endpoint.name,
            )
        probe_key = _gate(key, now, who(endpoint.name, alias), endpoint.name)
        circuit = await store.get(ename)
        probe_endpoint = _gate(circuit, now, f"provider {endpoint.name!r}", endpoint.name)
        if probe_key:
            await store.put(kname, attrs.evolve(key, state=HALF_OPEN, probing=True))
        if probe_endpoint:
            await store.put(ename, attrs.evolve(circuit, state=HALF_OPEN, probing=True))
        return probe_endpoint, probe_key

    async def complete(self, call: Call) -> None:
        await self._settle(call, None, Outcome.HEALTHY)

    async def abort(self, call: Call, error: OmniwireError | None) -> None:
        await self._settle(call, error, classify(error, call))

    async def _settle(self, call: Call, error: OmniwireError | None, outcome: str) -> None:
        ticket = self._tickets.pop(id(call), None)
        if ticket is None:
            return
        left = self._in_flight[ticket.key] - 1
        if left:
            self._in_flight[ticket.key] = left
        else:
            del self._in_flight[ticket.key]
        if self.store.local:
            await self._apply(call, error, outcome, ticket)
        else:
            with anyio.CancelScope(shield=True):
                await self._apply(call, error, outcome, ticket)

    async def _apply(
        self, call: Call, error: OmniwireError | None, outcome: str, ticket: _Ticket
    ) -> None:
        store, s = self.store, ticket.settings
        key = await store.get(ticket.key)
        circuit = await store.get(ticket.endpoint)
        now = self.clock()
        if outcome == Outcome.NOTHING:
            new_key = _released(key, ticket.probe_key)
            new_circuit = _released(circuit, ticket.probe_endpoint)
        elif outcome == Outcome.FAILED:
            new_key = await self._record(ticket.key, key, True, ticket.probe_key, now, s)
            new_circuit = await self._record(
                ticket.endpoint, circuit, True, ticket.probe_endpoint, now, s
            )
        else:  # the upstream answered: the provider is healthy
            new_circuit = await self._record(
                ticket.endpoint, circuit, False, ticket.probe_endpoint, now, s
            )
            if outcome == Outcome.HEALTHY:
                new_key = await self._record(ticket.key, key, False, ticket.probe_key, now, s)
            elif outcome == Outcome.LIMITED:
                rest = now + self._asked(call, error, s)
                new_key = attrs.evolve(
                    _released(key, ticket.probe_key), resting_until=max(key.resting_until, rest)
                )
            else:  # REFUSED_KEY
                status = error.status if error is not None else None
                new_key = attrs.evolve(_released(key, ticket.probe_key), dead=f"HTTP {status}")
                if error is not None and s.auth_failover and candidates_left(call) > 0:
                    error.retryable = True  # another key may well be accepted
        if new_key is not key:
            await store.put(ticket.key, new_key)
        if new_circuit is not circuit:
            await store.put(ticket.endpoint, new_circuit)

    async def _record(
        self, name: str, c: Circuit, failed: bool, probe: bool, now: float, s: BreakerSettings
    ) -> Circuit:
        """One outcome of an attempt on circuit ``name``; returns ``c`` when unchanged."""
        if probe:
            if failed:
                return _reopened(c, now, s)
            await self.store.forget(name)
            return Circuit(dead=c.dead, resting_until=c.resting_until)
        if c.state != CLOSED:
            return c  # an attempt from before the circuit opened: only a probe decides
        attempts = failures = 0
        if s.failure_rate > 0:
            slot = int(now // (s.window / _SLOTS))
            attempts, failures = await self.store.tally(name, slot, failed, _SLOTS)
        if not failed:
            return attrs.evolve(c, consecutive=0) if c.consecutive else c
        consecutive = c.consecutive + 1
        tripped = bool(s.failures) and consecutive >= s.failures
        if not tripped and s.failure_rate > 0:
            tripped = attempts >= s.min_calls and failures >= s.failure_rate * attempts
        if tripped:
            await self.store.forget(name)
            return attrs.evolve(
                c,
                state=OPEN,
                opened_at=now,
                cooldown=s.cooldown,
                probing=False,
                consecutive=consecutive,
            )
        return attrs.evolve(c, consecutive=consecutive)

    @staticmethod
    def _asked(call: Call, error: OmniwireError | None, s: BreakerSettings) -> float:
        asked = getattr(error, "retry_after", None)
        if asked is None:
            headers = error_headers(call)
            if headers is not None:
                asked = retry_after_from_headers(headers)
        return s.rate_limit_cooldown if asked is None else max(0.0, float(asked))

    async def _no_key(self, endpoint: Endpoint, alias: str | None, reason: str) -> NoAvailableKey:
        aliases: list[str | None] = [k.alias for k in endpoint.keys] or [None]
        dead = 0
        for other in aliases:
            if (await self.store.get(key_scope(endpoint.name, other))).dead is not None:
                dead += 1
        if dead == len(aliases):
            message = (
                f"every key of provider {endpoint.name!r} was refused by the upstream "
                f"({reason}); fix them and reload the configuration"
            )
        else:
            message = f"{who(endpoint.name, alias)} was refused by the upstream ({reason})"
        return NoAvailableKey(message, endpoint=endpoint.name)


async def revive_key(stack: Stack, provider: str, alias: str | None = None) -> bool:
    """Revive a key of ``provider`` that a 401/403 marked dead (``alias`` as in pool
    status, e.g. ``"openai#0"``; None for a provider without keys). True when it was
    dead; ConfigError when the stack has no breaker."""
    for guard in stack.guards:
        if isinstance(guard, BreakerGuard):
            if provider not in stack.endpoints:
                raise ConfigError(f"unknown provider {provider!r}")
            return await guard.revive_key(provider, alias)
    raise ConfigError("this stack has no breaker (omniwire-resilience's breaker is off)")
