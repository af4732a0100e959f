"""The ``[redis]`` and ``[cache]`` tables, and where the Redis URL comes from.

Everything is checked when a stack is built, so a typo fails at start-up naming the
table and key, never mid-traffic.

The URL of every component is, in order: its own option (``[budgets.options] url``),
``[redis] url``, ``[server] redis_url`` (the gateway's setting), ``$OMNIWIRE_REDIS_URL``,
``redis://127.0.0.1:6379/0``.

Budget backends are built by the budgets plugin as ``factory(**options)`` and never see
the stack (kernel gap). So that ``[budgets] backend = "redis"`` still honours ``[redis]``
and ``[server] redis_url``, this plugin's guard factory (order 1, before the budgets
factory at 1000) records the stack being built in a thread-local, and the backend reads
its options from it while that stack is still under construction.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import TYPE_CHECKING, Any, Mapping

import attrs
from omniwire.errors import ConfigError

if TYPE_CHECKING:
    from omniwire.stack import Stack

    from .link import RedisLink

__all__ = [
    "DEFAULT_URL",
    "CacheSettings",
    "RedisSettings",
    "building",
    "options_being_built",
]

DEFAULT_URL = "redis://127.0.0.1:6379/0"
ON_ERROR = ("open", "closed")


def _number(value: Any, where: str, *, positive: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if value < 0 or (positive and value == 0):
        raise ConfigError(
            f"{where}: expected a number {'>' if positive else '>='} 0, got {value!r}"
        )
    return float(value)


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{where}: expected a positive integer, got {value!r}")
    return value


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    return value


def _table(data: Any, where: str) -> Mapping[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a table, got {type(data).__name__}")
    return data


def _check_url(url: Any, where: str) -> str:
    if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"{where}: expected a redis://, rediss:// or unix:// URL, got {url!r}")
    return url


def url_from(options: Mapping[str, Any], explicit: Any = None) -> str:
    """The Redis URL for a stack's ``options`` (see the module docstring for the order)."""
    if explicit is not None:
        return _check_url(explicit, "url")
    redis = _table(options.get("redis"), "redis")
    if redis.get("url") is not None:
        return _check_url(redis["url"], "redis.url")
    server = _table(options.get("server"), "server")
    if server.get("redis_url"):
        return _check_url(server["redis_url"], "server.redis_url")
    env = os.environ.get("OMNIWIRE_REDIS_URL")
    if env:
        return _check_url(env, "$OMNIWIRE_REDIS_URL")
    return DEFAULT_URL


_REDIS_KEYS = (
    "url",
    "prefix",
    "on_error",
    "timeout",
    "retry_interval",
    "max_connections",
    "limits",
    "breakers",
    "slot_lease",
    "breaker_ttl",
)


@attrs.frozen(slots=True)
class RedisSettings:
    """``[redis]``: where Redis is, and what happens when it does not answer."""

    url: str = DEFAULT_URL
    prefix: str = "omniwire:"
    """Every key this plugin writes starts with it (one Redis, several deployments)."""
    on_error: str = "open"
    """``open``: go on without shared state while Redis is down; ``closed``: refuse calls
    (StoreUnavailable, HTTP 503)."""
    timeout: float = 1.0
    """Socket connect and read timeout, seconds: a dead Redis never hangs a call."""
    retry_interval: float = 1.0
    """After a failure, Redis is not tried again for this long (calls fail fast)."""
    max_connections: int = 64
    """Connections per event loop; more concurrent operations queue for one."""
    limits: bool = True
    """Rate-limit buckets and concurrency slots of the resilience guards in Redis."""
    breakers: bool = True
    """Circuit breakers, 429 rests and dead keys of the resilience guards in Redis."""
    slot_lease: float = 900.0
    """Seconds a process's concurrency slots outlive its last limit operation (a
    crashed process's slots are freed then)."""
    breaker_ttl: float = 3600.0
    """Seconds a circuit (and a dead key) is kept after its last change."""

    @classmethod
    def parse(cls, options: Mapping[str, Any]) -> RedisSettings:
        """From a stack's options (the whole config document)."""
        data = _table(options.get("redis"), "redis")
        unknown = set(data) - set(_REDIS_KEYS)
        if unknown:
            raise ConfigError(
                f"redis: unknown setting {sorted(unknown)[0]!r} (known: {', '.join(_REDIS_KEYS)})"
            )
        on_error = data.get("on_error", "open")
        if on_error not in ON_ERROR:
            raise ConfigError(f"redis.on_error: expected open or closed, got {on_error!r}")
        prefix = data.get("prefix", "omniwire:")
        if not isinstance(prefix, str):
            raise ConfigError(f"redis.prefix: expected a string, got {prefix!r}")
        return cls(
            url=url_from(options),
            prefix=prefix,
            on_error=on_error,
            timeout=_number(data.get("timeout", 1.0), "redis.timeout"),
            retry_interval=_number(
                data.get("retry_interval", 1.0), "redis.retry_interval", positive=False
            ),
            max_connections=_count(data.get("max_connections", 64), "redis.max_connections"),
            limits=_flag(data.get("limits", True), "redis.limits"),
            breakers=_flag(data.get("breakers", True), "redis.breakers"),
            slot_lease=_number(data.get("slot_lease", 900.0), "redis.slot_lease"),
            breaker_ttl=_number(data.get("breaker_ttl", 3600.0), "redis.breaker_ttl"),
        )

    def link(self) -> RedisLink:
        """This process's shared link to ``url`` with these connection settings."""
        from .link import link_for

        return link_for(
            self.url,
            timeout=self.timeout,
            retry_interval=self.retry_interval,
            max_connections=self.max_connections,
        )

    @staticmethod
    def wanted(options: Mapping[str, Any]) -> bool:
        """Whether a stack shares its guards' state: it has a ``[redis]`` table or a
        ``[server] redis_url``."""
        server = options.get("server")
        return options.get("redis") is not None or (
            isinstance(server, Mapping) and bool(server.get("redis_url"))
        )


_CACHE_KEYS = ("models", "ttl", "memory_entries", "redis", "namespace", "max_entry_bytes")


@attrs.frozen(slots=True)
class CacheSettings:
    """``[cache]`` plus each route's ``options.cache_ttl``: which models are cached, how
    long, and in which tiers."""

    ttls: Mapping[str, float] = attrs.field(factory=dict)
    """Model name (as the client asks for it) -> seconds; ``"*"`` for every model."""
    memory_entries: int = 1024
    redis: bool = True
    namespace: str = ""
    max_entry_bytes: int = 1_000_000

    @property
    def active(self) -> bool:
        return bool(self.ttls)

    def ttl_for(self, model: str) -> float | None:
        found = self.ttls.get(model)
        return found if found is not None else self.ttls.get("*")

    @classmethod
    def parse(cls, options: Mapping[str, Any], routes: Mapping[str, Any]) -> CacheSettings:
        data = _table(options.get("cache"), "cache")
        unknown = set(data) - set(_CACHE_KEYS)
        if unknown:
            raise ConfigError(
                f"cache: unknown setting {sorted(unknown)[0]!r} (known: {', '.join(_CACHE_KEYS)})"
            )
        ttl = _number(data.get("ttl", 300), "cache.ttl")
        models = data.get("models", [])
        if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
            raise ConfigError("cache.models: expected an array of model names")
        ttls: dict[str, float] = dict.fromkeys(models, ttl)
        for name, route in routes.items():
            value = getattr(route, "options", {}).get("cache_ttl")
            if value is not None:
                ttls[name] = _number(value, f"models[{name!r}].options.cache_ttl")
        entries = data.get("memory_entries", 1024)
        if isinstance(entries, bool) or not isinstance(entries, int) or entries < 0:
            raise ConfigError(f"cache.memory_entries: expected an integer >= 0, got {entries!r}")
        size = data.get("max_entry_bytes", 1_000_000)
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise ConfigError(f"cache.max_entry_bytes: expected a positive integer, got {size!r}")
        namespace = data.get("namespace", "")
        if not isinstance(namespace, str):
            raise ConfigError(f"cache.namespace: expected a string, got {namespace!r}")
        return cls(
            ttls=ttls,
            memory_entries=entries,
            redis=_flag(data.get("redis", True), "cache.redis"),
            namespace=namespace,
            max_entry_bytes=size,
        )


# -- the stack being built ----------------------------------------------------------------

_building = threading.local()


def building(stack: Stack) -> None:
    """Note that ``stack`` is being built in this thread (called by the guard factory)."""
    _building.stack = weakref.ref(stack)


def options_being_built() -> Mapping[str, Any] | None:
    """The options of the stack under construction in this thread, if any: a stack whose
    guards are not planted yet (``Stack.guards`` is set once every factory ran)."""
    ref = getattr(_building, "stack", None)
    stack = ref() if ref is not None else None
    if stack is None or hasattr(stack, "guards"):
        return None
    options: Mapping[str, Any] = stack.options
    return options
