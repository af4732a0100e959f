"""The guard factories this plugin registers, and when each one is switched on.

* ``retry`` (order 0): when the stack's options have a ``[retry]`` table.
* ``kill-switch`` (order 5): always (so it can be flipped at run time), unless
  ``[kill_switch] enabled = false``.
* ``breaker`` (order 10): always, unless ``[breaker] enabled = false`` (a provider can
  still switch it back on, or off, with ``options = { breaker = { enabled = ... } }``).
* ``adaptive-concurrency`` (order 15): when there is an ``[adaptive_concurrency]``
  table or some provider has ``options.adaptive_concurrency`` (and it is enabled).
* ``rate-limit`` (order 20): when some provider sets ``rpm``, ``tpm`` or
  ``max_concurrency``.

Settings are validated here, at build time, for every provider.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from omniwire.errors import ConfigError

from .adaptive import TABLE, AdaptiveGuard
from .breaker import BreakerGuard
from .killswitch import KillSwitchGuard
from .limits import RateLimitGuard
from .retry import RetryInstaller, retry_policy
from .settings import (
    AdaptiveSettings,
    BreakerSettings,
    KillSwitchSettings,
    LimitSettings,
    parse_table,
)

if TYPE_CHECKING:
    from omniwire.stack import Stack

__all__ = [
    "AdaptiveFactory",
    "BreakerFactory",
    "KillSwitchFactory",
    "RateLimitFactory",
    "RetryFactory",
]


class BreakerFactory:
    name: ClassVar[str] = "breaker"
    order: ClassVar[int] = 10

    def from_stack(self, stack: Stack) -> BreakerGuard | None:
        settings = parse_table(BreakerSettings, stack.options.get("breaker"), "breaker")
        guard = BreakerGuard(settings)
        wanted = [guard.settings_for(e).enabled for e in stack.endpoints.values()]
        return guard if any(wanted) else None


class KillSwitchFactory:
    name: ClassVar[str] = "kill-switch"
    order: ClassVar[int] = 5

    def from_stack(self, stack: Stack) -> KillSwitchGuard | None:
        settings = KillSwitchSettings.parse(stack.options.get("kill_switch"))
        if not settings.enabled:
            if settings.killed:
                raise ConfigError("kill_switch: killed is set but enabled = false")
            return None
        return KillSwitchGuard(settings, providers=tuple(stack.endpoints))


class AdaptiveFactory:
    name: ClassVar[str] = "adaptive-concurrency"
    order: ClassVar[int] = 15

    def from_stack(self, stack: Stack) -> AdaptiveGuard | None:
        table = stack.options.get(TABLE)
        if table is not None:
            settings = parse_table(AdaptiveSettings, table, TABLE).check(TABLE)
        else:
            settings = AdaptiveSettings(enabled=False)
        limits = parse_table(LimitSettings, stack.options.get("limits"), "limits")
        guard = AdaptiveGuard(settings, limits)
        wanted = [guard.settings_for(e).enabled for e in stack.endpoints.values()]
        return guard if any(wanted) else None


class RateLimitFactory:
    name: ClassVar[str] = "rate-limit"
    order: ClassVar[int] = 20

    def from_stack(self, stack: Stack) -> RateLimitGuard | None:
        settings = parse_table(LimitSettings, stack.options.get("limits"), "limits")
        guard = RateLimitGuard(settings)
        wanted = [guard.limits_for(e).active for e in stack.endpoints.values()]
        return guard if any(wanted) else None


class RetryFactory:
    name: ClassVar[str] = "retry"
    order: ClassVar[int] = 0

    def from_stack(self, stack: Stack) -> RetryInstaller | None:
        policy = retry_policy(stack.options)
        return RetryInstaller(policy) if policy is not None else None
