"""The guard factories this plugin registers, and when each one is switched on.

* ``retry`` (order 0): when the stack's options have a ``[retry]`` table.
* ``breaker`` (order 10): always, unless ``[breaker] enabled = false`` (a provider can
  still switch it back on, or off, with ``options = { breaker = { enabled = ... } }``).
* ``rate-limit`` (order 20): when some provider sets ``rpm``, ``tpm`` or
  ``max_concurrency``.

Settings are validated here, at build time, for every provider.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from .breaker import BreakerGuard
from .limits import RateLimitGuard
from .retry import RetryInstaller, retry_policy
from .settings import BreakerSettings, LimitSettings, parse_table

if TYPE_CHECKING:
    from omniwire.stack import Stack

__all__ = ["BreakerFactory", "RateLimitFactory", "RetryFactory"]


class BreakerFactory:
    name: ClassVar[str] = "breaker"
    order: ClassVar[int] = 10

    def from_stack(self, stack: Stack) -> BreakerGuard | None:
        settings = parse_table(BreakerSettings, stack.options.get("breaker"), "breaker")
        guard = BreakerGuard(settings)
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
