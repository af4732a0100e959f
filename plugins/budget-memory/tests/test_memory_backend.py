"""The memory backend: the backend contract, windows, hold expiry, and exactness under
threads (each running its own event loop) and tasks."""

from __future__ import annotations

import threading
from decimal import Decimal

import anyio
import attrs
import pytest
from omniwire.errors import BudgetExceeded, ConfigError
from omniwire.money import ZERO, Cost
from omniwire.plugins import PluginManager
from omniwire_budget_memory import MemoryBudgetBackend

MICRO = Cost(Decimal("0.000001"))


@attrs.frozen
class S:
    key: str
    limit: Cost
    window: str = "total"


class Clock:
    def __init__(self, now: float = 1_750_000_000.0) -> None:  # 2025-06-15 15:06:40 UTC
        self.now = now

    def __call__(self) -> float:
        return self.now


def run(fn, *args):
    return anyio.run(fn, *args)


def test_registered_as_memory():
    import omniwire_budget_memory

    pm = PluginManager(entry_points=False)
    pm.register(omniwire_budget_memory, name="budget-memory")
    assert pm.get("budget_backends", "memory") is MemoryBudgetBackend


def test_reserve_settle_release():
    b = MemoryBudgetBackend()
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

    assert run(main) == (Cost("0.25"), ZERO)


def test_all_scopes_or_none():
    b = MemoryBudgetBackend()
    wide, narrow = S("global", Cost("10")), S("tenant:a", Cost("0.5"))

    async def main():
        with pytest.raises(BudgetExceeded) as caught:
            await b.reserve([wide, narrow], Cost("0.6"))
        assert caught.value.budget == "tenant:a"
        assert await b.reserved(wide) == ZERO  # nothing held when one scope refuses
        rid = await b.reserve([wide, narrow], Cost("0.5"))
        await b.settle(rid, Cost("0.5"))
        return await b.spent(wide), await b.spent(narrow)

    assert run(main) == (Cost("0.5"), Cost("0.5"))


def test_a_spent_budget_refuses_even_free_calls():
    b = MemoryBudgetBackend()
    scope = S("k", Cost("0.000002"))

    async def main():
        await b.settle(await b.reserve([scope], Cost("0.000002")), Cost("0.000002"))
        with pytest.raises(BudgetExceeded):
            await b.reserve([scope], ZERO)

    run(main)


def test_amounts_round_up_to_micro_dollars_and_limits_down():
    b = MemoryBudgetBackend()
    scope = S("k", Cost("0.0000059"))  # 5 micro-dollars usable

    async def main():
        await b.reserve([scope], Cost("0.0000041"))  # 5 micro-dollars held
        with pytest.raises(BudgetExceeded):
            await b.reserve([scope], Cost("0.0000000001"))

    run(main)


def test_calendar_windows_reset_in_utc():
    clock = Clock()
    b = MemoryBudgetBackend(clock=clock)
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

    assert run(main) == (ZERO, ZERO)


def test_rolling_window_forgets_old_spend():
    clock = Clock()
    b = MemoryBudgetBackend(clock=clock)
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

    run(main)


def test_unsettled_holds_expire_at_their_deadline_and_can_still_be_settled():
    clock = Clock()
    b = MemoryBudgetBackend(clock=clock, hold_seconds=60)
    scope = S("t", Cost("1"))

    async def main():
        rid = await b.reserve([scope], Cost("1"))
        clock.now += 61
        assert await b.reserved(scope) == ZERO  # a crashed caller's hold stops counting
        other = await b.reserve([scope], Cost("0.5"))
        await b.settle(rid, Cost("0.3"))  # the late settle is still recorded
        await b.release(other)
        return await b.spent(scope), await b.reserved(scope)

    assert run(main) == (Cost("0.3"), ZERO)


def test_bad_window_is_a_config_error():
    b = MemoryBudgetBackend()
    with pytest.raises(ConfigError, match="unknown budget window 'week'"):
        run(b.reserve, [S("t", Cost("1"), "week")], MICRO)


def test_exact_under_threads_each_with_its_own_loop():
    b = MemoryBudgetBackend()
    scope = S("global", Cost("0.001"))  # 1000 micro-dollars
    granted = []
    overspent = []

    def worker():
        async def main():
            mine = 0
            for _ in range(400):
                try:
                    rid = await b.reserve([scope], MICRO)
                except BudgetExceeded:
                    continue
                mine += 1
                await anyio.sleep(0)
                await b.settle(rid, MICRO)
            return mine

        granted.append(anyio.run(main))

    def watcher(stop):
        while not stop.is_set():
            total = anyio.run(b.spent, scope).amount + anyio.run(b.reserved, scope).amount
            if total > scope.limit.amount:
                overspent.append(total)

    stop = threading.Event()
    watch = threading.Thread(target=watcher, args=(stop,))
    watch.start()
    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    watch.join()
    assert sum(granted) == 1000  # 3200 attempts, exactly the budget granted
    assert overspent == []
    assert run(b.spent, scope) == scope.limit and run(b.reserved, scope) == ZERO


def test_exact_under_tasks():
    b = MemoryBudgetBackend()
    scope = S("global", Cost("0.0005"))
    granted = 0

    async def one():
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
            for _ in range(2000):
                tg.start_soon(one)
        return await b.spent(scope)

    assert run(main) == scope.limit and granted == 500
