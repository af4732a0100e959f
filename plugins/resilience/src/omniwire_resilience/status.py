"""The state of a stack's pool, for a gateway's status page or an operator's CLI:
per provider and per key, the breaker state, how long until it is tried again, requests
in flight, and what was used of the RPM/TPM limits; per provider, what the kill switch
switched off and the adaptive concurrency limit.

``await pool_status(stack)`` reads the resilience guards the stack planted; without them
every circuit reads ``"off"`` and usage ``None``. ``.to_dict()`` is JSON-ready.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from ._scope import endpoint_scope, key_scope
from .adaptive import AdaptiveGuard
from .breaker import BreakerGuard
from .killswitch import KillSwitchGuard
from .limits import RateLimitGuard
from .store import CLOSED, HALF_OPEN, OPEN, Circuit

if TYPE_CHECKING:
    from omniwire.stack import Stack

__all__ = ["EndpointStatus", "KeyStatus", "PoolStatus", "pool_status"]


@attrs.frozen
class KeyStatus:
    alias: str | None
    breaker: str
    """``closed``, ``open``, ``half_open`` (ready for, or running, its probe), ``dead``
    (refused by the upstream), or ``off``."""
    retry_in: float
    """Seconds until this key is tried again (429 rest or open circuit); 0: usable."""
    failures: int
    """Consecutive upstream failures counted against the key."""
    in_flight: int
    dead: str | None = None
    rpm: int | None = None
    rpm_used: float | None = None
    tpm: int | None = None
    tpm_used: float | None = None
    max_concurrency: int | None = None
    waiting: int = 0
    """Attempts of this process queued for room under the key's limits (wait mode)."""


@attrs.frozen
class EndpointStatus:
    name: str
    breaker: str
    retry_in: float
    failures: int
    keys: tuple[KeyStatus, ...]
    killed: bool = False
    """The whole provider is switched off by the kill switch."""
    killed_models: tuple[str, ...] = ()
    """Models switched off on this provider (its own and those killed everywhere)."""
    concurrency_limit: int | None = None
    """The adaptive concurrency limit now (None: adaptive concurrency is off)."""
    concurrency_in_flight: int | None = None
    """Attempts holding one of those slots."""
    concurrency_waiting: int | None = None
    """Attempts queued for a slot (wait mode)."""

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in attrs.fields(EndpointStatus)}
        out["keys"] = [attrs.asdict(k) for k in self.keys]
        out["killed_models"] = list(self.killed_models)
        return out


@attrs.frozen
class PoolStatus:
    endpoints: tuple[EndpointStatus, ...]
    killed: tuple[str, ...] = ()
    """Everything the kill switch has switched off, as config patterns."""

    def endpoint(self, name: str) -> EndpointStatus:
        for found in self.endpoints:
            if found.name == name:
                return found
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {"endpoints": [e.to_dict() for e in self.endpoints], "killed": list(self.killed)}


def _view(circuit: Circuit, now: float) -> tuple[str, float]:
    if circuit.state == OPEN:
        left = circuit.opened_at + circuit.cooldown - now
        return (OPEN, round(left, 3)) if left > 0 else (HALF_OPEN, 0.0)
    return (circuit.state, 0.0) if circuit.state in (CLOSED, HALF_OPEN) else ("off", 0.0)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


async def pool_status(stack: Stack) -> PoolStatus:
    breaker = next((g for g in stack.guards if isinstance(g, BreakerGuard)), None)
    limiter = next((g for g in stack.guards if isinstance(g, RateLimitGuard)), None)
    switch = next((g for g in stack.guards if isinstance(g, KillSwitchGuard)), None)
    adaptive = next((g for g in stack.guards if isinstance(g, AdaptiveGuard)), None)
    endpoints = []
    for endpoint in stack.endpoints.values():
        watched = breaker is not None and breaker.settings_for(endpoint).enabled
        now = breaker.clock() if breaker is not None else 0.0
        state, retry_in, failures = "off", 0.0, 0
        if breaker is not None and watched:
            circuit = await breaker.circuit(endpoint_scope(endpoint.name))
            (state, retry_in), failures = _view(circuit, now), circuit.consecutive
        limits = limiter.limits_for(endpoint) if limiter is not None else None
        keys = []
        aliases: list[str | None] = [k.alias for k in endpoint.keys] or [None]
        for alias in aliases:
            k_state, k_retry, k_failures, dead, in_flight = "off", 0.0, 0, None, 0
            if breaker is not None and watched:
                c = await breaker.circuit(key_scope(endpoint.name, alias))
                (k_state, k_retry), k_failures = _view(c, now), c.consecutive
                dead = c.dead
                if dead is not None:
                    k_state = "dead"
                k_retry = round(max(k_retry, c.resting_until - now, 0.0), 3)
                in_flight = breaker.in_flight(endpoint.name, alias)
            used: dict[str, float | None] = {}
            if limiter is not None and limits is not None and limits.active:
                used = await limiter.used(endpoint, alias)
                if breaker is None and used.get("concurrency") is not None:
                    in_flight = int(used["concurrency"] or 0)
            waiting = limiter.waiting(endpoint.name, alias) if limiter is not None else 0
            keys.append(
                KeyStatus(
                    alias=alias,
                    breaker=k_state,
                    retry_in=k_retry,
                    failures=k_failures,
                    in_flight=in_flight,
                    dead=dead,
                    rpm=limits.rpm if limits is not None else None,
                    rpm_used=_round(used.get("rpm")),
                    tpm=limits.tpm if limits is not None else None,
                    tpm_used=_round(used.get("tpm")),
                    max_concurrency=limits.max_concurrency if limits is not None else None,
                    waiting=waiting,
                )
            )
        pool = adaptive.state(endpoint) if adaptive is not None else None
        endpoints.append(
            EndpointStatus(
                endpoint.name,
                state,
                retry_in,
                failures,
                tuple(keys),
                killed=switch is not None and endpoint.name in switch.killed,
                killed_models=switch.killed_models(endpoint.name) if switch is not None else (),
                concurrency_limit=pool["limit"] if pool is not None else None,
                concurrency_in_flight=pool["in_flight"] if pool is not None else None,
                concurrency_waiting=pool["waiting"] if pool is not None else None,
            )
        )
    return PoolStatus(tuple(endpoints), switch.killed if switch is not None else ())
