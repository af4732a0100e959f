"""The SQLite backend: the backend contract, windows, persistence, and exactness across
threads and processes sharing one file."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from decimal import Decimal

import anyio
import pytest
from omniwire.errors import BudgetExceeded, ConfigError
from omniwire.money import ZERO, Cost
from omniwire.plugins import PluginManager
from omniwire_budget_sqlite import SQLiteBudgetBackend
from omniwire_testing.budgets import BudgetBackendConformance, Clock
from omniwire_testing.budgets import Scope as S

MICRO = Cost(Decimal("0.000001"))


@pytest.fixture
def db(tmp_path):
    return tmp_path / "budgets.db"


def test_registered_as_sqlite():
    import omniwire_budget_sqlite

    pm = PluginManager(entry_points=False)
    pm.register(omniwire_budget_sqlite, name="budget-sqlite")
    assert pm.get("budget_backends", "sqlite") is SQLiteBudgetBackend


def test_path_is_required():
    with pytest.raises(ConfigError, match="needs a file path"):
        SQLiteBudgetBackend()


def test_reserve_settle_release(db):
    b = SQLiteBudgetBackend(db)
    scope = S("tenant:a", Cost("1"))

    async def main():
        r1 = await b.reserve([scope], Cost("0.4"))
        r2 = await b.reserve([scope], Cost("0.4"))
        assert await b.reserved(scope) == Cost("0.8")
        with pytest.raises(BudgetExceeded) as caught:
            await b.reserve([scope], Cost("0.3"))
        assert caught.value.status == 429 and caught.value.budget == "tenant:a"
        assert "is spent: 0 USD of 1 USD used, 0.8 USD held" in caught.value.message
        await b.settle(r1, Cost("0.25"))
        await b.release(r2)
        await b.settle(r1, Cost("5"))  # settling twice is a no-op
        await b.release("no-such-reservation")
        return await b.spent(scope), await b.reserved(scope)

    assert anyio.run(main) == (Cost("0.25"), ZERO)
    b.close()


def test_all_scopes_or_none(db):
    b = SQLiteBudgetBackend(db)
    wide, narrow = S("global", Cost("10")), S("tenant:a", Cost("0.5"))

    async def main():
        with pytest.raises(BudgetExceeded):
            await b.reserve([wide, narrow], Cost("0.6"))
        assert await b.reserved(wide) == ZERO
        await b.settle(await b.reserve([wide, narrow], Cost("0.5")), Cost("0.5"))
        return await b.spent(wide), await b.spent(narrow)

    assert anyio.run(main) == (Cost("0.5"), Cost("0.5"))


def test_spend_persists_across_instances(db):
    scope = S("model:m", Cost("1"), "month")
    first = SQLiteBudgetBackend(db)
    first.settle_now(first.reserve_now([scope], Cost("0.7")), Cost("0.7"))
    rid = first.reserve_now([scope], Cost("0.2"))
    first.close()
    second = SQLiteBudgetBackend(db)
    assert second.spent_now(scope) == Cost("0.7")
    assert second.reserved_now(scope) == Cost("0.2")  # holds are shared too
    with pytest.raises(BudgetExceeded):
        second.reserve_now([scope], Cost("0.2"))
    second.settle_now(rid, Cost("0.1"))  # settled by another process
    assert (second.spent_now(scope), second.reserved_now(scope)) == (Cost("0.8"), ZERO)


def test_calendar_and_rolling_windows(db):
    clock = Clock()
    b = SQLiteBudgetBackend(db, clock=clock)
    day, month, hour = (
        S("t", Cost("1"), "day"),
        S("t", Cost("2"), "month"),
        S("t", Cost("1"), "rolling:1h"),
    )
    b.settle_now(b.reserve_now([day, month, hour], Cost("1")), Cost("1"))
    with pytest.raises(BudgetExceeded):
        b.reserve_now([day], MICRO)
    with pytest.raises(BudgetExceeded):
        b.reserve_now([hour], MICRO)
    clock.now += 3601
    assert b.spent_now(hour) == ZERO and b.spent_now(day) == Cost("1")
    clock.now += 86400
    b.settle_now(b.reserve_now([day, month], Cost("1")), Cost("1"))
    assert b.spent_now(month) == Cost("2")
    with pytest.raises(BudgetExceeded):
        b.reserve_now([month], MICRO)
    clock.now += 20 * 86400  # July
    assert (b.spent_now(day), b.spent_now(month)) == (ZERO, ZERO)


def test_unsettled_holds_expire_and_can_still_be_settled(db):
    clock = Clock()
    b = SQLiteBudgetBackend(db, clock=clock, hold_seconds=60)
    scope = S("t", Cost("1"))
    rid = b.reserve_now([scope], Cost("1"))
    clock.now += 61
    assert b.reserved_now(scope) == ZERO
    b.settle_now(rid, Cost("0.3"))
    assert b.spent_now(scope) == Cost("0.3")


def test_exact_under_threads(db):
    b = SQLiteBudgetBackend(db)
    scope = S("global", Cost("0.0002"))
    granted = []

    def worker():
        async def main():
            mine = 0
            for _ in range(60):
                try:
                    rid = await b.reserve([scope], MICRO)
                except BudgetExceeded:
                    continue
                mine += 1
                await b.settle(rid, MICRO)
            return mine

        granted.append(anyio.run(main))

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(granted) == 200
    assert b.spent_now(scope) == scope.limit and b.reserved_now(scope) == ZERO


_WORKER = textwrap.dedent(
    """
    import sys
    from decimal import Decimal
    from omniwire.errors import BudgetExceeded
    from omniwire.money import Cost
    from omniwire_budget_sqlite import SQLiteBudgetBackend

    class Scope:
        key, limit, window = "global", Cost("0.0003"), "total"

    backend = SQLiteBudgetBackend(sys.argv[1])
    micro = Cost(Decimal("0.000001"))
    granted = 0
    for _ in range(int(sys.argv[2])):
        try:
            rid = backend.reserve_now([Scope], micro)
        except BudgetExceeded:
            continue
        granted += 1
        backend.settle_now(rid, micro)
    print(granted)
    """
)


def test_exact_across_processes(db):
    SQLiteBudgetBackend(db).close()  # create the schema once
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(db), "150"], stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    granted = [int(w.communicate(timeout=60)[0]) for w in workers]
    assert all(w.returncode == 0 for w in workers)
    assert sum(granted) == 300  # 600 attempts in 4 processes, exactly the budget
    b = SQLiteBudgetBackend(db)
    scope = S("global", Cost("0.0003"))
    assert b.spent_now(scope) == scope.limit and b.reserved_now(scope) == ZERO


def test_in_memory_database_works(tmp_path):
    b = SQLiteBudgetBackend(":memory:")
    scope = S("g", Cost("1"))
    b.settle_now(b.reserve_now([scope], Cost("0.5")), Cost("0.5"))
    assert b.spent_now(scope) == Cost("0.5")


class TestSQLiteBudgetContract(BudgetBackendConformance):
    """The contract every budget backend keeps (omniwire_testing.budgets)."""

    @pytest.fixture(autouse=True)
    def _db(self, db):
        self.path = db

    def make_backend(self, **options):
        return SQLiteBudgetBackend(self.path, **options)
