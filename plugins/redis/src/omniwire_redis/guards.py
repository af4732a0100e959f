"""The guard factories this plugin registers.

``redis`` (order 1): planted when the stack has a ``[redis]`` table or a
``[server] redis_url``. The resilience plugin builds its breaker and rate-limit guards
with in-process stores and offers no way to name another store (its ``[limits] store``
accepts only ``memory``; kernel/plugin gap). This guard therefore moves them onto Redis
at the stack's first attempt — it runs before them (order 1 < 10, 20) and does not
suspend before the swap, so no attempt ever sees the in-process stores:

* a guard whose ``store`` has ``take``/``acquire`` (the rate-limit guard) gets a
  :class:`~omniwire_redis.stores.RedisLimitStore` (``[redis] limits``);
* a guard whose ``store`` has ``tally``/``forget`` (the breaker guard) gets a
  :class:`~omniwire_redis.stores.RedisBreakerStore` and wall-clock time
  (``[redis] breakers``).

Only stores that still are the default in-process ones (``local``) are replaced; a
store handed over in code is left alone. With ``on_error = "closed"`` this guard also
refuses attempts (StoreUnavailable, 503) while Redis is known to be down, so breakers
are never silently skipped.

Its ``from_stack`` also notes the stack under construction, so a ``redis`` budget
backend built later in the same construction reads ``[redis]`` (see
:mod:`omniwire_redis.settings`).

``redis-cache`` (order 2): the response cache's guard (:mod:`omniwire_redis.cache`).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, ClassVar

from .link import RedisLink
from .settings import CacheSettings, RedisSettings, building

if TYPE_CHECKING:
    from omniwire.call import Call
    from omniwire.errors import OmniwireError
    from omniwire.routing import Candidate
    from omniwire.stack import Stack

    from .cache import CacheGuard

__all__ = ["CacheFactory", "SharedStateFactory", "SharedStateGuard"]


class SharedStateGuard:
    """Moves the resilience guards' state onto Redis at the first attempt; in
    ``closed`` mode, refuses attempts while Redis is down."""

    def __init__(self, settings: RedisSettings, link: RedisLink) -> None:
        self.settings = settings
        self.link = link
        self.installed = False
        self.moved: list[Any] = []
        """The guards whose stores were replaced."""

    def install(self, stack: Stack) -> None:
        from .stores import RedisBreakerStore, RedisLimitStore

        self.installed = True
        s = self.settings
        guards: tuple[Any, ...] = stack.guards
        for guard in guards:
            store = getattr(guard, "store", None)
            if store is None or not getattr(store, "local", False):
                continue
            if s.limits and hasattr(store, "take") and hasattr(store, "acquire"):
                guard.store = RedisLimitStore(
                    self.link, prefix=s.prefix, on_error=s.on_error, slot_lease=s.slot_lease
                )
                self.moved.append(guard)
            elif s.breakers and hasattr(store, "tally") and hasattr(store, "forget"):
                guard.store = RedisBreakerStore(self.link, prefix=s.prefix, ttl=s.breaker_ttl)
                if hasattr(guard, "clock"):
                    guard.clock = time.time  # circuits are compared across hosts
                self.moved.append(guard)

    async def admit(self, call: Call, candidate: Candidate) -> None:
        if not self.installed:
            self.install(call.stack)
        if self.settings.on_error == "closed" and self.moved and self.link.down:
            # fails at once within retry_interval of the last failure, else pings
            await self.link.command(
                "PING", what="shared rate limits and breakers cannot be checked, call refused"
            )

    async def complete(self, call: Call) -> None:
        return None

    async def abort(self, call: Call, error: OmniwireError | None) -> None:
        return None


class SharedStateFactory:
    name: ClassVar[str] = "redis"
    order: ClassVar[int] = 1

    def from_stack(self, stack: Stack) -> SharedStateGuard | None:
        building(stack)
        if not RedisSettings.wanted(stack.options):
            return None
        settings = RedisSettings.parse(stack.options)
        if not (settings.limits or settings.breakers):
            return None
        return SharedStateGuard(settings, settings.link())


class CacheFactory:
    name: ClassVar[str] = "redis-cache"
    order: ClassVar[int] = 2

    def from_stack(self, stack: Stack) -> CacheGuard | None:
        settings = CacheSettings.parse(stack.options, stack.router.routes)
        if not settings.active:
            return None
        from .cache import CacheGuard

        if settings.redis:
            redis = RedisSettings.parse(stack.options)
            return CacheGuard(settings, redis.link(), prefix=redis.prefix)
        return CacheGuard(settings, None)
