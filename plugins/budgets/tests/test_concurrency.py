"""Done means: 500 concurrent calls through a real Stack against a real HTTP server, a
budget that fits exactly 100 of them, never a cent over — on every backend."""

from __future__ import annotations

import time
from decimal import Decimal

import anyio
import pytest
from budgets_support import BACKENDS, build, guard_of
from budgets_toy import btoy_upstream, request
from omniwire import BudgetExceeded
from omniwire.money import ZERO, Cost

CALL = Decimal("0.0007")  # 100 input x $2/M + 50 output x $10/M: estimate == actual


async def _run(stack, calls: int) -> tuple[int, int, list[str]]:
    ok = refused = 0
    odd: list[str] = []

    async def one() -> None:
        nonlocal ok, refused
        try:
            await stack.call(request())
            ok += 1
        except BudgetExceeded as exc:
            assert exc.status == 429 and "is spent" in exc.message
            refused += 1
        except Exception as exc:  # pragma: no cover - reported by the assertion below
            odd.append(repr(exc))

    async with anyio.create_task_group() as tg:
        for _ in range(calls):
            tg.start_soon(one)
    return ok, refused, odd


@pytest.mark.parametrize("backend", BACKENDS)
def test_500_concurrent_calls_spend_exactly_the_budget(btoy_server, backend, tmp_path):
    btoy_server.delay(0.005, times=None)
    stack = build(btoy_server.url, backend, tmp_path, budget_usd=str(CALL * 100))

    async def main():
        async with stack:
            result = await _run(stack, 500)
            return result, await guard_of(stack).report()

    started = time.perf_counter()
    (ok, refused, odd), report = anyio.run(main)
    elapsed = time.perf_counter() - started
    assert odd == []
    assert (ok, refused) == (100, 400)
    assert len(btoy_server.requests) == 100  # refused calls never reached the server
    [status] = report
    assert status.key == "model:m" and status.limit == Cost(CALL * 100)
    assert status.spent == Cost(CALL * 100)  # all of it, and not a micro-dollar more
    assert status.reserved == ZERO
    print(
        f"\n{backend}: 500 calls, {ok} ok, spent {status.spent} of {status.limit} in {elapsed:.2f}s"
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_waves_reporting_less_than_estimated_use_the_freed_room_never_more(backend, tmp_path):
    # actual 100 in x $2 + 25 out x $10 = $0.00045 < the $0.0007 reserved: a second
    # wave of 60 concurrent calls fits what the first one's settles left, then single
    # calls until less than one reservation remains
    with btoy_upstream(usage_in=100, usage_out=25) as server:
        stack = build(server.url, backend, tmp_path, budget_usd="0.028")  # 40 reservations

        async def main():
            async with stack:
                waves = [await _run(stack, 60), await _run(stack, 60)]
                while waves[-1][0]:  # then one at a time until the first refusal
                    waves.append(await _run(stack, 1))
                return waves, await guard_of(stack).report()

        waves, [status] = anyio.run(main)
    ok = sum(w[0] for w in waves)
    assert all(w[2] == [] for w in waves)
    # 28000 micro-$: 40 of 60 fit; their settles leave 10000, room for at least 14 more
    # (more when some of a wave settle before the rest of it reserve)...
    # at least 40 of the first 60 fit; on a slow machine a call may settle (freeing room)
    # before the last of its wave reserves, so one or two more may fit — never over budget
    first = waves[0][0]
    assert sum(waves[0][:2]) == 60 and 40 <= first <= 60
    assert waves[1][0] >= (28000 - 450 * first) // 700  # 14 when exactly 40 fit
    assert status.spent == Cost(Decimal("0.00045") * ok) <= status.limit
    assert status.limit.amount - status.spent.amount < CALL  # less than one call left
    assert status.reserved == ZERO
    assert len(server.requests) == ok


@pytest.mark.parametrize("backend", BACKENDS)
def test_threads_with_their_own_stacks_share_one_backend_exactly(btoy_server, backend, tmp_path):
    # four threads, each with its own stack and event loop, one backend instance:
    # 4 x 50 concurrent calls against a budget for 100
    import threading

    from budgets_support import BACKEND_PLUGINS

    module = pytest.importorskip(BACKEND_PLUGINS[backend])
    shared = (
        module.MemoryBudgetBackend()
        if backend == "memory"
        else module.SQLiteBudgetBackend(tmp_path / "shared.db")
    )
    results: list[tuple[int, int, list[str]]] = []

    def worker() -> None:
        stack = build(
            btoy_server.url, backend, tmp_path, budget_usd="0.07", budgets={"backend": shared}
        )

        async def main():
            async with stack:
                return await _run(stack, 50)

        results.append(anyio.run(main))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r[2] for r in results] == [[], [], [], []]
    assert sum(r[0] for r in results) == 100 and sum(r[1] for r in results) == 100

    from omniwire_budgets import Scope

    scope = Scope("model:m", Cost("0.07"))
    assert anyio.run(shared.spent, scope) == Cost("0.07")
    assert anyio.run(shared.reserved, scope) == ZERO
