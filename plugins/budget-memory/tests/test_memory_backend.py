"""The memory backend: the backend contract, windows, hold expiry, and exactness under
threads (each running its own event loop) and tasks."""

from __future__ import annotations

import threading
from decimal import Decimal

import anyio
from omniwire.errors import BudgetExceeded
from omniwire.money import ZERO, Cost
from omniwire.plugins import PluginManager
from omniwire_budget_memory import MemoryBudgetBackend
from omniwire_testing.budgets import BudgetBackendConformance
from omniwire_testing.budgets import Scope as S

MICRO = Cost(Decimal("0.000001"))


def run(fn, *args):
    return anyio.run(fn, *args)


def test_registered_as_memory():
    import omniwire_budget_memory

    pm = PluginManager(entry_points=False)
    pm.register(omniwire_budget_memory, name="budget-memory")
    assert pm.get("budget_backends", "memory") is MemoryBudgetBackend


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


class TestMemoryBudgetContract(BudgetBackendConformance):
    """The contract every budget backend keeps (omniwire_testing.budgets)."""

    def make_backend(self, **options):
        return MemoryBudgetBackend(**options)
