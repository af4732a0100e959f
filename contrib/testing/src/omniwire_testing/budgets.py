"""Budget backend conformance: the contract every backend (memory, SQLite, Redis, a
third party's) keeps, as a base class a backend's tests subclass in a few lines::

    class TestAcmeBudgets(BudgetBackendConformance):
        def make_backend(self, **options):       # clock=, hold_seconds=
            return AcmeBudgetBackend(**options)

The backend API is the one ``docs/budgets.md`` describes: async ``reserve(scopes, amount)``,
``settle``, ``release``, ``spent``, ``reserved``; scopes have ``key``, ``limit`` and
``window``. ``make_backend`` receives ``clock`` (a callable returning the time) and
``hold_seconds``; ``run`` drives a coroutine (override it to clean up per test).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable

import anyio
import attrs
import pytest
from omniwire.errors import BudgetExceeded, ConfigError
from omniwire.money import ZERO, Cost

__all__ = ["BudgetBackendConformance", "Clock", "Scope"]

MICRO = Cost(Decimal("0.000001"))


@attrs.frozen
class Scope:
    key: str
    limit: Cost
    window: str = "total"


S = Scope


class Clock:
    """A settable clock, starting 2025-06-15 15:06:40 UTC."""

    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class BudgetBackendConformance:
    __test__ = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.__test__ = True

    def make_backend(self, **options: Any) -> Any:
        raise NotImplementedError("subclasses build the backend under test")

    def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return anyio.run(fn, *args)

    def test_reserve_settle_release(self) -> None:
        b = self.make_backend()
        scope = S("tenant:a", Cost("1"))

        async def main():
            r1 = await b.reserve([scope], Cost("0.4"))
            r2 = await b.reserve([scope], Cost("0.4"))
            assert await b.reserved(scope) == Cost("0.8")
            with pytest.raises(BudgetExceeded) as caught:
                await b.reserve([scope], Cost("0.3"))
            assert caught.value.status == 429 and caught.value.budget == "tenant:a"
            assert "budget 'tenant:a' (total) is spent: 0 USD of 1 USD used" in caught.value.message
            await b.settle(r1, Cost("0.25"))
            await b.release(r2)
            await b.settle(r1, Cost("5"))  # settling twice is a no-op
            await b.release("no-such-reservation")
            return await b.spent(scope), await b.reserved(scope)

        assert self.run(main) == (Cost("0.25"), ZERO)

    def test_all_scopes_or_none(self) -> None:
        b = self.make_backend()
        wide, narrow = S("global", Cost("10")), S("tenant:a", Cost("0.5"))

        async def main():
            with pytest.raises(BudgetExceeded) as caught:
                await b.reserve([wide, narrow], Cost("0.6"))
            assert caught.value.budget == "tenant:a"
            assert await b.reserved(wide) == ZERO  # nothing held when one scope refuses
            rid = await b.reserve([wide, narrow], Cost("0.5"))
            await b.settle(rid, Cost("0.5"))
            return await b.spent(wide), await b.spent(narrow)

        assert self.run(main) == (Cost("0.5"), Cost("0.5"))

    def test_a_spent_budget_refuses_even_free_calls(self) -> None:
        b = self.make_backend()
        scope = S("k", Cost("0.000002"))

        async def main():
            await b.settle(await b.reserve([scope], Cost("0.000002")), Cost("0.000002"))
            with pytest.raises(BudgetExceeded):
                await b.reserve([scope], ZERO)

        self.run(main)

    def test_amounts_round_up_to_micro_dollars_and_limits_down(self) -> None:
        b = self.make_backend()
        scope = S("k", Cost("0.0000059"))  # 5 micro-dollars usable

        async def main():
            await b.reserve([scope], Cost("0.0000041"))  # 5 micro-dollars held
            with pytest.raises(BudgetExceeded):
                await b.reserve([scope], Cost("0.0000000001"))

        self.run(main)

    def test_calendar_windows_reset_in_utc(self) -> None:
        clock = Clock()
        b = self.make_backend(clock=clock)
        day, month = S("t", Cost("1"), "day"), S("t", Cost("2"), "month")

        async def main():
            await b.settle(await b.reserve([day, month], Cost("1")), Cost("1"))
            with pytest.raises(BudgetExceeded):
                await b.reserve([day, month], MICRO)
            clock.now += 86400  # next UTC day, same month
            await b.settle(await b.reserve([day, month], Cost("1")), Cost("1"))
            with pytest.raises(BudgetExceeded) as caught:
                clock.now += 86400
                await b.reserve([day, month], MICRO)
            assert "(month)" in caught.value.message
            clock.now += 20 * 86400  # July
            return await b.spent(day), await b.spent(month)

        assert self.run(main) == (ZERO, ZERO)

    def test_rolling_window_forgets_old_spend(self) -> None:
        clock = Clock()
        b = self.make_backend(clock=clock)
        hour = S("t", Cost("1"), "rolling:1h")

        async def main():
            await b.settle(await b.reserve([hour], Cost("0.6")), Cost("0.6"))
            clock.now += 1800
            await b.settle(await b.reserve([hour], Cost("0.4")), Cost("0.4"))
            with pytest.raises(BudgetExceeded):
                await b.reserve([hour], MICRO)
            clock.now += 1801  # the first charge left the window
            assert await b.spent(hour) == Cost("0.4")
            await b.reserve([hour], Cost("0.6"))

        self.run(main)

    def test_unsettled_holds_expire_at_their_deadline_and_can_still_be_settled(self) -> None:
        clock = Clock()
        b = self.make_backend(clock=clock, hold_seconds=60)
        scope = S("t", Cost("1"))

        async def main():
            rid = await b.reserve([scope], Cost("1"))
            clock.now += 61
            assert await b.reserved(scope) == ZERO  # a crashed caller's hold stops counting
            other = await b.reserve([scope], Cost("0.5"))
            await b.settle(rid, Cost("0.3"))  # the late settle is still recorded
            await b.release(other)
            return await b.spent(scope), await b.reserved(scope)

        assert self.run(main) == (Cost("0.3"), ZERO)

    def test_exact_under_concurrent_tasks(self) -> None:
        """1,000 tasks race for a budget worth exactly 500 calls: 500 are granted, and
        once every grant is settled the spend is the limit and nothing stays reserved."""
        b = self.make_backend()
        scope = S("global", Cost("0.0005"))
        granted = 0

        async def one() -> None:
            nonlocal granted
            try:
                rid = await b.reserve([scope], MICRO)
            except BudgetExceeded:
                return
            granted += 1
            await anyio.sleep(0.001)
            await b.settle(rid, MICRO)

        async def main():
            async with anyio.create_task_group() as tg:
                for _ in range(1000):
                    tg.start_soon(one)
            return await b.spent(scope), await b.reserved(scope)

        assert self.run(main) == (scope.limit, ZERO)
        assert granted == 500

    def test_bad_window_is_a_config_error(self) -> None:
        b = self.make_backend()
        with pytest.raises(ConfigError, match="unknown budget window 'week'"):
            self.run(b.reserve, [S("t", Cost("1"), "week")], MICRO)
