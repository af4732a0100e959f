"""Settings of the resilience guards: the config file's ``[breaker]``, ``[limits]``,
``[retry]``, ``[adaptive_concurrency]`` and ``[kill_switch]`` tables (a stack's
``options``) and each provider's ``rpm``/``tpm``/``max_concurrency``,
``options.breaker`` and ``options.adaptive_concurrency``.

Everything is checked once, when a stack is built, so a typo fails at start-up with the
table and key named (``breaker.cooldown: expected a number >= 0``), never mid-traffic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, TypeVar

import attrs
from omniwire.errors import ConfigError

if TYPE_CHECKING:
    from omniwire.endpoint import Endpoint

__all__ = [
    "AdaptiveSettings",
    "BreakerSettings",
    "EndpointLimits",
    "KillSwitchSettings",
    "LimitSettings",
    "RetrySettings",
    "parse_kill_pattern",
    "parse_table",
]

T = TypeVar("T")


def _at_least(minimum: float, *, strict: bool = False) -> dict[str, Any]:
    return {"min": minimum, "strict": strict}


@attrs.frozen
class BreakerSettings:
    """``[breaker]``: circuit breakers per provider and per key, key cooldowns after an
    upstream 429, dead keys after a 401/403. On unless ``enabled = false``."""

    enabled: bool = True
    failures: int = attrs.field(default=5, metadata=_at_least(0))
    """Consecutive upstream failures that open a circuit (0: never by count)."""
    failure_rate: float = attrs.field(default=0.5, metadata={**_at_least(0), "max": 1})
    """Failed fraction of the attempts in ``window`` that opens it (0: never by rate)."""
    window: float = attrs.field(default=60.0, metadata=_at_least(0, strict=True))
    """Seconds over which ``failure_rate`` is measured."""
    min_calls: int = attrs.field(default=20, metadata=_at_least(1))
    """Attempts needed in the window before ``failure_rate`` is judged."""
    cooldown: float = attrs.field(default=30.0, metadata=_at_least(0))
    """Seconds an opened circuit refuses before one probe is let through."""
    max_cooldown: float = attrs.field(default=300.0, metadata=_at_least(0))
    """Each failed probe doubles the cooldown, up to this."""
    rate_limit_cooldown: float = attrs.field(default=1.0, metadata=_at_least(0))
    """Seconds a key rests after an upstream 429 that named no wait."""
    auth_failover: bool = True
    """A 401/403 moves the call on to the next candidate (another key may work)."""


@attrs.frozen
class LimitSettings:
    """``[limits]``: how the local rate limits behave when a key has no room."""

    mode: str = attrs.field(default="reject", metadata={"choices": ("reject", "wait")})
    """``reject``: refuse at once (the call moves on to the next candidate, or fails
    with RateLimited); ``wait``: the last candidate waits up to ``max_wait``."""
    max_wait: float = attrs.field(default=5.0, metadata=_at_least(0))
    """Longest wait, in seconds, in ``wait`` mode."""
    chars_per_token: float = attrs.field(default=4.0, metadata=_at_least(0, strict=True))
    """The estimate of a prompt's tokens is its characters divided by this."""
    default_max_tokens: int = attrs.field(default=1024, metadata=_at_least(0))
    """Output tokens reserved for a request that sets no ``max_tokens``."""
    store: str = attrs.field(default="memory", metadata={"choices": ("memory",)})
    """Where buckets and slots live; ``memory`` is per process."""


@attrs.frozen
class RetrySettings:
    """``[retry]``: jittered exponential backoff between attempts, within a deadline."""

    base: float = attrs.field(default=0.25, metadata=_at_least(0))
    cap: float = attrs.field(default=8.0, metadata=_at_least(0))
    deadline: float = attrs.field(default=60.0, metadata=_at_least(0))
    """Seconds from the start of the call after which no further attempt starts."""
    max_attempts: int = attrs.field(default=0, metadata=_at_least(0))
    """Attempts per call at most (0: as many as there are candidates)."""


@attrs.frozen
class AdaptiveSettings:
    """``[adaptive_concurrency]``: a limit on requests at once per provider that adapts
    to the upstream (AIMD). Off unless the table, or a provider's
    ``options.adaptive_concurrency``, is present."""

    enabled: bool = True
    initial_limit: int = attrs.field(default=8, metadata=_at_least(1))
    """Requests at once a provider starts with."""
    min_limit: int = attrs.field(default=1, metadata=_at_least(1))
    max_limit: int = attrs.field(default=64, metadata=_at_least(1))
    increase: int = attrs.field(default=1, metadata=_at_least(1))
    """Added to the limit after as many successes in a row as the limit (one "window")."""
    backoff: float = attrs.field(default=0.5, metadata={**_at_least(0, strict=True), "max": 1})
    """The limit is multiplied by this (rounded down) on an overload signal."""
    latency_threshold: float = attrs.field(default=0.0, metadata=_at_least(0))
    """Seconds; a successful attempt slower than this is an overload signal (time to the
    first event for streams). 0: latency is not watched."""

    def check(self, where: str) -> AdaptiveSettings:
        if not self.min_limit <= self.initial_limit <= self.max_limit:
            raise ConfigError(
                f"{where}: expected min_limit <= initial_limit <= max_limit, got "
                f"{self.min_limit}, {self.initial_limit}, {self.max_limit}"
            )
        if self.backoff >= 1:
            raise ConfigError(f"{where}.backoff: expected a number > 0 and < 1, got 1.0")
        return self


@attrs.frozen
class KillSwitchSettings:
    """``[kill_switch]``: providers and models that are never sent a request."""

    enabled: bool = True
    """False: no kill switch on the stack (not even one to flip at run time)."""
    killed: tuple[tuple[str, str | None], ...] = ()
    """``(provider, model)`` pairs; provider ``"*"`` is any provider, model None any
    model."""

    @classmethod
    def parse(cls, data: Any, where: str = "kill_switch") -> KillSwitchSettings:
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where}: expected a table, got {type(data).__name__}")
        unknown = set(data) - {"enabled", "killed"}
        if unknown:
            name = sorted(unknown)[0]
            raise ConfigError(f"{where}: unknown setting {name!r} (known: enabled, killed)")
        enabled = data.get("enabled", True)
        if not isinstance(enabled, bool):
            raise ConfigError(f"{where}.enabled: expected true/false, got {enabled!r}")
        killed = data.get("killed", [])
        if not isinstance(killed, (list, tuple)):
            raise ConfigError(f"{where}.killed: expected an array, got {type(killed).__name__}")
        pairs = tuple(parse_kill_pattern(p, f"{where}.killed[{i}]") for i, p in enumerate(killed))
        return cls(enabled, pairs)


def parse_kill_pattern(pattern: Any, where: str) -> tuple[str, str | None]:
    """``"provider"``, ``"provider:model"`` or ``"*:model"`` as ``(provider, model)``."""
    if not isinstance(pattern, str):
        raise ConfigError(f"{where}: expected a string, got {type(pattern).__name__}")
    provider, sep, model = pattern.strip().partition(":")
    if not provider or (sep and not model) or (provider == "*" and not sep):
        raise ConfigError(
            f'{where}: expected "provider", "provider:model" or "*:model", got {pattern!r}'
        )
    return provider, model if sep else None


def _check(value: Any, field: attrs.Attribute[Any], where: str) -> Any:
    default, meta = field.default, field.metadata
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true/false, got {value!r}")
        return value
    if isinstance(default, str):
        choices = meta.get("choices", ())
        if value not in choices:
            raise ConfigError(f"{where}: expected one of {', '.join(choices)}, got {value!r}")
        return value
    integer = isinstance(default, int)
    kinds: tuple[type, ...] = (int,) if integer else (int, float)
    minimum, strict = meta.get("min", 0), meta.get("strict", False)
    maximum = meta.get("max")
    if (
        isinstance(value, bool)
        or not isinstance(value, kinds)
        or value < minimum
        or (strict and value == minimum)
        or (maximum is not None and value > maximum)
    ):
        what = "an integer" if integer else "a number"
        bound = f"> {minimum}" if strict else f">= {minimum}"
        if maximum is not None:
            bound += f" and <= {maximum}"
        raise ConfigError(f"{where}: expected {what} {bound}, got {value!r}")
    return value if integer else float(value)  # type: ignore[arg-type]


def parse_table(cls: type[T], data: Any, where: str, base: T | None = None) -> T:
    """``cls`` from a config table, over ``base`` (default: the defaults)."""
    start = base if base is not None else cls()
    if data is None:
        return start
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a table, got {type(data).__name__}")
    fields = {f.name: f for f in attrs.fields(cls)}  # type: ignore[arg-type]
    changes = {}
    for name, value in data.items():
        field = fields.get(name)
        if field is None:
            known = ", ".join(fields)
            raise ConfigError(f"{where}: unknown setting {name!r} (known: {known})")
        changes[name] = _check(value, field, f"{where}.{name}")
    return attrs.evolve(start, **changes)  # type: ignore[misc]


@attrs.frozen
class EndpointLimits:
    """A provider's per-key limits: requests and tokens per minute, requests at once."""

    rpm: int | None = None
    tpm: int | None = None
    max_concurrency: int | None = None

    @property
    def active(self) -> bool:
        return self.rpm is not None or self.tpm is not None or self.max_concurrency is not None

    @classmethod
    def of(cls, endpoint: Endpoint) -> EndpointLimits:
        found: dict[str, int] = {}
        for name in ("rpm", "tpm", "max_concurrency"):
            value = endpoint.options.get(name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(
                    f"provider {endpoint.name!r}: {name} must be a positive integer, got {value!r}"
                )
            found[name] = value
        return cls(**found)
