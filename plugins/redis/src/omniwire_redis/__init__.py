"""omniwire-redis: omniwire state shared by every process and host using one Redis.

* the ``redis`` budget backend (``[budgets] backend = "redis"``): reserve and settle as
  atomic Lua scripts, reservations that expire with a crashed caller;
* the resilience guards' rate-limit buckets, concurrency slots, circuits and 429 rests
  in Redis (guard ``redis``, planted by a ``[redis]`` table or ``[server] redis_url``);
* a two-tier response cache, memory then Redis (guard ``redis-cache``, planted by
  ``[cache] models`` or a route's ``options.cache_ttl``).

See docs/redis.md. Importing the package is cheap; redis-py loads at first use.
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Generator

from omniwire.plugins import hookimpl

if TYPE_CHECKING:
    from omniwire.call import Call
    from omniwire.model import Usage
    from omniwire.wire import WireRequest, WireResponse

    from .budget import RedisBudgetBackend
    from .cache import CacheGuard, request_hash
    from .guards import CacheFactory, SharedStateFactory, SharedStateGuard
    from .link import RedisLink, StoreUnavailable, close_clients, link_for
    from .settings import CacheSettings, RedisSettings
    from .stores import RedisBreakerStore, RedisLimitStore

_LAZY = {
    "CacheFactory": "guards",
    "CacheGuard": "cache",
    "CacheSettings": "settings",
    "RedisBreakerStore": "stores",
    "RedisBudgetBackend": "budget",
    "RedisLimitStore": "stores",
    "RedisLink": "link",
    "RedisSettings": "settings",
    "SharedStateFactory": "guards",
    "SharedStateGuard": "guards",
    "StoreUnavailable": "link",
    "close_clients": "link",
    "link_for": "link",
    "request_hash": "cache",
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


# -- registration -------------------------------------------------------------------------


@hookimpl
def omniwire_register_budget_backends(register: Callable[[Any], None]) -> None:
    from .budget import RedisBudgetBackend

    register(RedisBudgetBackend)


@hookimpl
def omniwire_register_guards(register: Callable[[Any], None]) -> None:
    from .guards import CacheFactory, SharedStateFactory

    register(SharedStateFactory())
    register(CacheFactory())


# -- the cache's stage hooks: answer a hit without I/O, record a miss ----------------------
# Each looks at ``call.attributes`` only, so calls of stacks without a cache pay one
# dictionary lookup per stage.

_STATE = "omniwire_redis.cache"
_CACHE_STAGES = frozenset({"transport", "decode", "price"})


def omniwire_stages(stack: Any) -> frozenset[str]:
    """The per-call hooks a stack needs from this plugin: the cache's, when the stack
    has a cache guard (none was ever built if the cache module is not even loaded)."""
    cache = sys.modules.get(f"{__name__}.cache")
    if cache is not None and any(isinstance(g, cache.CacheGuard) for g in stack.guards):
        return _CACHE_STAGES
    return frozenset()


@hookimpl(tryfirst=True)
def omniwire_transport(call: Call, wire: WireRequest) -> Awaitable[WireResponse] | None:
    if _STATE not in call.attributes:
        return None
    from .cache import serve

    return serve(call)


@hookimpl(tryfirst=True)
def omniwire_decode(call: Call, response: WireResponse) -> Any:
    if _STATE not in call.attributes:
        return None
    from .cache import decode_hit

    return decode_hit(call)


@hookimpl(wrapper=True, specname="omniwire_decode")
def omniwire_decode_recorder(call: Call, response: WireResponse) -> Generator[None, Any, Any]:
    decoded = yield
    if _STATE not in call.attributes:
        return decoded
    from .cache import record

    return record(call, decoded)


@hookimpl(tryfirst=True)
def omniwire_price(call: Call, usage: Usage) -> Any:
    if _STATE not in call.attributes:
        return None
    from .cache import price_hit

    return price_hit(call)
