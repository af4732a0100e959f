"""The ``redis`` budget backend: one budget for every process and host sharing a Redis.

The backend API is the memory and SQLite backends' (docs/budgets.md): ``reserve(scopes,
amount, deadline) -> id`` (or BudgetExceeded), ``settle(id, actual)``, ``release(id)``,
``spent(scope)``, ``reserved(scope)``; integer micro-dollars (reservations and charges
round up, limits down); windows ``total``, ``day``, ``month`` (UTC) and
``rolling:<n>[smhd]``.

Reserve and settle are each one Lua script, so check-and-hold is atomic across
processes: no two processes can both take the last room of a budget. A reservation
carries its deadline: it sits in each budget's sorted set of holds scored by deadline,
and every reserve (and every ``reserved``) first drops the holds whose deadline passed,
so a process killed mid-call stops holding its budgets at its deadline. The
reservation itself is kept for ``grace_seconds`` more, so a late settlement is still
recorded (once).

Key layout (``P`` is ``[redis] prefix``, default ``omniwire:``; ``W`` the window as
written, ``K`` the budget key, e.g. ``tenant:acme``)::

    P budget:W|K:holds          ZSET  "<micros>:<reservation>" scored by deadline
    P budget:W|K:held           STR   micro-dollars held by live reservations
    P budget:W|K:spent:total    STR   spend of a total window
    P budget:W|K:spent:<day>    STR   spend of a day window (YYYY-MM-DD, UTC; kept 3 days)
    P budget:W|K:spent:<month>  STR   spend of a month window (YYYY-MM, UTC; kept 62 days)
    P budget:W|K:charges        ZSET  "<micros>:<reservation>" scored by settle time (rolling)
    P budget:W|K:rolled         STR   sum of the charges still in the rolling window
    P hold:<reservation>        HASH  amount, deadline, n, k<i>/w<i>/t<i>/s<i> per budget

Time is the caller's clock (``clock``, unix seconds), as with the other backends: keep
the hosts' clocks in sync (NTP). When Redis does not answer, ``[redis] on_error``
decides: ``open`` lets the call through unbudgeted (its spend is charged once Redis is
back), ``closed`` refuses it with :class:`~omniwire_redis.link.StoreUnavailable` (503).
Settlements never fail a call: while Redis is down they are queued and replayed.
"""

from __future__ import annotations

import math
import time
import uuid
from typing import Any, Callable, Iterable

import anyio
import attrs
from omniwire.errors import BudgetExceeded, ConfigError
from omniwire.money import Cost, cost_of, limit_micros, micros
from omniwire.windows import Window, parse_window

from .link import RedisLink, StoreUnavailable, link_for
from .scripts import BUDGET_HELD, BUDGET_RESERVE, BUDGET_ROLLED, BUDGET_SETTLE
from .settings import ON_ERROR, RedisSettings, options_being_built, url_from

__all__ = ["RedisBudgetBackend"]

DAY_TTL = 3 * 86400
MONTH_TTL = 62 * 86400


@attrs.frozen(slots=True)
class _Slot:
    key: str
    window: Window
    limit: int


class RedisBudgetBackend:
    """Budgets in Redis. Every argument left out comes from the stack being built
    (``[redis]``, ``[server] redis_url``), else the defaults of ``[redis]``.

    ``hold_seconds``: default lifetime of an unsettled reservation; ``grace_seconds``:
    how long after its deadline it can still be settled; ``clock``: unix time source.
    """

    name = "redis"

    def __init__(
        self,
        url: str | None = None,
        *,
        prefix: str | None = None,
        on_error: str | None = None,
        timeout: float | None = None,
        retry_interval: float | None = None,
        hold_seconds: float = 3600.0,
        grace_seconds: float = 86400.0,
        clock: Callable[[], float] = time.time,
        link: RedisLink | None = None,
    ) -> None:
        options = options_being_built()
        base = RedisSettings.parse(options) if options is not None else RedisSettings()
        url = url_from(options or {}, url)
        self.prefix = base.prefix if prefix is None else prefix
        self.on_error = base.on_error if on_error is None else on_error
        if self.on_error not in ON_ERROR:
            raise ConfigError(
                f"budgets.options.on_error: expected open or closed, got {on_error!r}"
            )
        self.hold_seconds = float(hold_seconds)
        self.grace_seconds = float(grace_seconds)
        self.clock = clock
        self.link = link or link_for(
            url,
            timeout=base.timeout if timeout is None else float(timeout),
            retry_interval=base.retry_interval if retry_interval is None else float(retry_interval),
            max_connections=base.max_connections,
        )
        self._open: dict[str, tuple[_Slot, ...]] = {}

    def __repr__(self) -> str:
        return f"<RedisBudgetBackend {self.link.name} prefix={self.prefix!r}>"

    # -- keys -------------------------------------------------------------------------

    def base(self, key: str, window: str) -> str:
        return f"{self.prefix}budget:{window}|{key}"

    def hold_key(self, reservation: str) -> str:
        return f"{self.prefix}hold:{reservation}"

    # -- API --------------------------------------------------------------------------

    async def reserve(
        self, scopes: Iterable[Any], amount: Cost, deadline: float | None = None
    ) -> str:
        need = micros(amount)
        wanted: dict[tuple[str, str], _Slot] = {}
        for scope in scopes:
            where = (scope.key, scope.window)
            limit = limit_micros(scope.limit)
            if where in wanted:
                limit = min(limit, wanted[where].limit)
            wanted[where] = _Slot(scope.key, parse_window(scope.window), limit)
        now = self.clock()
        expires = now + self.hold_seconds if deadline is None else float(deadline)
        rid = uuid.uuid4().hex
        keys = [self.hold_key(rid)]
        ttl = max(1, math.ceil(expires - now + self.grace_seconds))
        args: list[Any] = [repr(now), str(need), repr(expires), rid, str(ttl), str(len(wanted))]
        for slot in wanted.values():
            window = slot.window
            base = self.base(slot.key, window.spec)
            spend = (
                f"{base}:charges"
                if window.kind == "rolling"
                else f"{base}:spent:{window.period(now) or 'total'}"
            )
            keys += [f"{base}:holds", f"{base}:held", spend, f"{base}:rolled"]
            args += [
                str(slot.limit),
                window.kind,
                repr(now - window.seconds),
                window.spec,
                slot.key,
                repr(window.seconds),
            ]
        try:
            with anyio.CancelScope(shield=True):  # never leave a hold nobody knows about
                result = await self.link.run(
                    BUDGET_RESERVE, keys, args, what="budgets cannot be checked, call refused"
                )
        except StoreUnavailable:
            if self.on_error == "closed":
                raise
            rid = f"open:{rid}"
            self._open[rid] = tuple(wanted.values())
            return rid
        if int(result[0]) == 1:
            return rid
        _, index, limit, spent, held = (int(x) for x in result)
        slot = list(wanted.values())[index - 1]
        raise BudgetExceeded(
            f"budget {slot.key!r} ({slot.window.spec}) is spent: {cost_of(spent)} of "
            f"{cost_of(limit)} used, {cost_of(held)} held by calls in flight; this call needs "
            f"up to {cost_of(need)}",
            budget=slot.key,
        )

    async def settle(self, reservation: str, actual: Cost) -> None:
        await self._settle(reservation, micros(actual))

    async def release(self, reservation: str) -> None:
        await self._settle(reservation, 0)

    async def _settle(self, reservation: str, spend: int) -> None:
        inline = self._open.pop(reservation, ())
        if reservation.startswith("open:") and not (inline and spend):
            return  # held nothing in Redis, and spends nothing
        now = self.clock()
        args: list[Any] = [
            self.prefix,
            repr(now),
            str(spend),
            time.strftime("%Y-%m-%d", time.gmtime(now)),
            time.strftime("%Y-%m", time.gmtime(now)),
            reservation,
            str(DAY_TTL),
            str(MONTH_TTL),
            str(len(inline)),
        ]
        for slot in inline:
            args += [slot.key, slot.window.spec, slot.window.kind, repr(slot.window.seconds)]
        try:
            with anyio.CancelScope(shield=True):
                await self.link.run(
                    BUDGET_SETTLE,
                    [self.hold_key(reservation)],
                    args,
                    what="the settlement is queued until Redis is back",
                    replay=True,
                )
        except StoreUnavailable:
            pass  # queued; the outage is logged by the link

    async def spent(self, scope: Any) -> Cost:
        window = parse_window(scope.window)
        base = self.base(scope.key, window.spec)
        what = f"the spend of budget {scope.key!r} cannot be read"
        now = self.clock()
        if window.kind == "rolling":
            found = await self.link.run(
                BUDGET_ROLLED,
                [f"{base}:charges", f"{base}:rolled"],
                [repr(now - window.seconds)],
                what=what,
            )
        else:
            found = await self.link.command(
                "GET", f"{base}:spent:{window.period(now) or 'total'}", what=what
            )
        return cost_of(int(found or 0))

    async def reserved(self, scope: Any) -> Cost:
        base = self.base(scope.key, parse_window(scope.window).spec)
        found = await self.link.run(
            BUDGET_HELD,
            [f"{base}:holds", f"{base}:held"],
            [repr(self.clock())],
            what=f"the holds of budget {scope.key!r} cannot be read",
        )
        return cost_of(int(found or 0))

    async def aclose(self) -> None:
        await self.link.aclose()
