"""omniwire-resilience: circuit breakers, key cooldowns and dead keys, per-key rate
limits (RPM, TPM, concurrency), adaptive concurrency per provider (AIMD), a kill switch
per provider and model, and configured retries, as omniwire guards.

Installing it switches the breaker and the kill switch on for every stack
(``[breaker] enabled = false`` / ``[kill_switch] enabled = false`` turn them off); rate
limits apply to providers that set ``rpm``/``tpm``/``max_concurrency``;
``[adaptive_concurrency]`` adapts requests at once per provider; ``[kill_switch]
killed``, :func:`kill` and :func:`revive` switch providers and models off and on;
``[retry]`` configures backoff between attempts. See ``docs/routing.md``.
``await pool_status(stack)`` reports the state of the pool.

Importing the package is cheap; the guards load when a stack is built.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Generator

from omniwire.plugins import hookimpl

from .headers import KILL_SWITCH, watch_transport

if TYPE_CHECKING:
    from omniwire.call import Call
    from omniwire.wire import WireRequest, WireResponse

    from .adaptive import AdaptiveGuard, overload_of
    from .breaker import BreakerGuard, classify
    from .factories import (
        AdaptiveFactory,
        BreakerFactory,
        KillSwitchFactory,
        RateLimitFactory,
        RetryFactory,
    )
    from .headers import parse_duration, retry_after_from_headers
    from .killswitch import KillSwitchGuard, kill, kill_switch_of, revive
    from .limits import RateLimitGuard, estimate_tokens
    from .retry import KeyAwareBackoff, retry_policy
    from .settings import (
        AdaptiveSettings,
        BreakerSettings,
        EndpointLimits,
        KillSwitchSettings,
        LimitSettings,
        RetrySettings,
    )
    from .status import EndpointStatus, KeyStatus, PoolStatus, pool_status
    from .store import (
        BreakerStore,
        Circuit,
        LimitStore,
        MemoryBreakerStore,
        MemoryLimitStore,
    )

_LAZY = {
    "AdaptiveFactory": "factories",
    "AdaptiveGuard": "adaptive",
    "AdaptiveSettings": "settings",
    "BreakerFactory": "factories",
    "BreakerGuard": "breaker",
    "BreakerSettings": "settings",
    "BreakerStore": "store",
    "Circuit": "store",
    "EndpointLimits": "settings",
    "EndpointStatus": "status",
    "KeyAwareBackoff": "retry",
    "KeyStatus": "status",
    "KillSwitchFactory": "factories",
    "KillSwitchGuard": "killswitch",
    "KillSwitchSettings": "settings",
    "LimitSettings": "settings",
    "LimitStore": "store",
    "MemoryBreakerStore": "store",
    "MemoryLimitStore": "store",
    "PoolStatus": "status",
    "RateLimitFactory": "factories",
    "RateLimitGuard": "limits",
    "RetryFactory": "factories",
    "RetrySettings": "settings",
    "classify": "breaker",
    "estimate_tokens": "limits",
    "kill": "killswitch",
    "kill_switch_of": "killswitch",
    "overload_of": "adaptive",
    "parse_duration": "headers",
    "pool_status": "status",
    "retry_after_from_headers": "headers",
    "retry_policy": "retry",
    "revive": "killswitch",
    "revive_key": "breaker",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


@hookimpl
def omniwire_register_guards(register: Callable[[Any], None]) -> None:
    from .factories import (
        AdaptiveFactory,
        BreakerFactory,
        KillSwitchFactory,
        RateLimitFactory,
        RetryFactory,
    )

    register(RetryFactory())
    register(KillSwitchFactory())
    register(BreakerFactory())
    register(AdaptiveFactory())
    register(RateLimitFactory())


@hookimpl(wrapper=True)
def omniwire_transport(
    call: Call, wire: WireRequest
) -> Generator[None, Awaitable[WireResponse] | None, Awaitable[WireResponse] | None]:
    """Refuse an attempt whose provider or model was killed since it was admitted (it may
    have waited for a slot or a token); note which attempts reach the wire and what
    error responses asked for."""
    switch = call.attributes.get(KILL_SWITCH)
    if switch is not None and switch.active and call.endpoint is not None:
        switch.check(call, call.endpoint.name, call.model or "")
    pending = yield
    if pending is None:
        return None
    return watch_transport(call, pending)


omniwire_transport.omniwire_resilience_watch = True  # type: ignore[attr-defined]
