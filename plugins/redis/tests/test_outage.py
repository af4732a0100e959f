"""Redis going away: a private redis-server killed and restarted mid-run (never the
machine's shared one). ``on_error = "open"`` goes on without shared state,
``"closed"`` refuses with a typed 503; never a hang, never a crash, one log line per
outage, and everything works again once Redis is back."""

from __future__ import annotations

import logging
import os
import signal
import time
from decimal import Decimal

import anyio
import pytest
from omniwire.errors import OmniwireError
from omniwire.money import ZERO, Cost
from omniwire_budgets import Scope
from omniwire_redis import RedisBudgetBackend, StoreUnavailable, close_clients, link_for
from redis_support import PRICE, build, free_port, guard, request

FAST = {"timeout": 0.5, "retry_interval": 0.2}


async def _outcome(stack) -> str:
    started = time.monotonic()
    try:
        with anyio.fail_after(3):  # a hang fails the test
            await stack.call(request())
        kind = "ok"
    except OmniwireError as exc:
        assert exc.status == 503 and isinstance(exc, StoreUnavailable), repr(exc)
        kind = exc.kind
    assert time.monotonic() - started < 1.5
    return kind


@pytest.mark.parametrize("on_error", ["open", "closed"])
def test_a_redis_restart_mid_run(up, private_redis, on_error, caplog):
    caplog.set_level(logging.WARNING, logger="omniwire.redis")
    stack = build(
        up.url,
        private_redis.url,
        "run:",
        budget_usd="100",
        rpm=100_000,
        max_concurrency=50,
        redis={"on_error": on_error, **FAST},
    )
    budget = guard(stack, "BudgetGuard")
    scope = Scope("global", Cost("100"))

    async def main():
        timeline: list[tuple[float, str]] = []
        async with stack:
            t0 = time.monotonic()
            while (now := time.monotonic() - t0) < 2.6:
                if now > 0.4 and private_redis.process is not None and now < 1.0:
                    private_redis.kill()
                if now > 1.2 and private_redis.process is None:
                    await anyio.to_thread.run_sync(private_redis.start)
                timeline.append((now, await _outcome(stack)))
                await anyio.sleep(0.01)
            before = await budget.backend.spent(scope)
            after_restart = [await _outcome(stack) for _ in range(5)]
            spent = (await budget.backend.spent(scope)).amount - before.amount
        await close_clients()
        return timeline, after_restart, spent

    timeline, after_restart, spent = anyio.run(main)
    kinds = {kind for _, kind in timeline}
    down = [kind for at, kind in timeline if 0.45 < at < 1.2]
    assert down, "no call ran while Redis was down"
    if on_error == "open":
        assert kinds == {"ok"}  # shared state skipped, calls went on
    else:
        assert kinds == {"ok", "store_unavailable"}
        assert set(down) == {"store_unavailable"}
    assert [kind for at, kind in timeline if at > 2.0] and all(
        kind == "ok" for at, kind in timeline if at > 2.0
    )  # recovered
    assert after_restart == ["ok"] * 5 and spent == PRICE * 5  # budgets count again
    link = budget.backend.link
    assert link.pending == 0 and not link.down
    messages = [r.getMessage() for r in caplog.records if r.name == "omniwire.redis"]
    assert sum("does not answer" in m for m in messages) == 1, messages
    assert sum("answers again" in m for m in messages) == 1, messages


def test_an_unreachable_redis_fails_fast_open_or_closed(up, caplog):
    caplog.set_level(logging.WARNING, logger="omniwire.redis")
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    opened = build(up.url, url, "x:", budget_usd="1", rpm=10, redis=FAST)
    closed = build(up.url, url, "x:", budget_usd="1", rpm=10, redis={**FAST, "on_error": "closed"})

    async def main():
        async with opened, closed:
            results = [await _outcome(opened) for _ in range(20)]
            with pytest.raises(StoreUnavailable) as caught:
                await closed.call(request())
            with pytest.raises(StoreUnavailable):
                await guard(opened, "BudgetGuard").report()  # reports need Redis
        await close_clients()
        return results, caught.value

    started = time.monotonic()
    results, error = anyio.run(main)
    assert results == ["ok"] * 20 and up.count("sk-redis-test-shared-0001") == 20
    assert time.monotonic() - started < 5
    assert error.to_dict()["type"] == "store_unavailable" and error.status == 503
    assert f"Redis at {url} is unavailable" in error.message
    assert error.retryable is False
    messages = [r.getMessage() for r in caplog.records if r.name == "omniwire.redis"]
    assert sum("does not answer" in m for m in messages) == 1, messages


def test_settlements_made_while_redis_is_frozen_are_replayed_once(private_redis):
    link = link_for(private_redis.url, timeout=0.3, retry_interval=0.1)
    backend = RedisBudgetBackend(prefix="frozen:", link=link)
    scope = Scope("global", Cost("1"))
    pid = private_redis.process.pid

    async def main():
        rid = await backend.reserve([scope], Cost("0.4"))
        os.kill(pid, signal.SIGSTOP)  # Redis stops answering, keeping its data
        try:
            await backend.settle(rid, Cost("0.25"))  # times out: queued, never raised
            assert link.pending == 1 and link.down
        finally:
            os.kill(pid, signal.SIGCONT)
        await anyio.sleep(0.15)
        # the frozen Redis may have run the first settle after all: the replay is a no-op
        held = await backend.reserved(scope)
        result = await backend.spent(scope), held, link.pending
        await close_clients()
        return result

    assert anyio.run(main) == (Cost("0.25"), ZERO, 0)


def test_open_reservations_made_while_redis_is_down_are_charged_when_it_returns(
    private_redis,
):
    link = link_for(private_redis.url, timeout=0.3, retry_interval=0.05)
    backend = RedisBudgetBackend(prefix="open:", link=link)
    closed = RedisBudgetBackend(prefix="open:", link=link, on_error="closed")
    scope = Scope("tenant:a", Cost("1"), "day")
    private_redis.kill()

    async def main():
        rid = await backend.reserve([scope], Cost("0.5"))
        assert rid.startswith("open:")
        with pytest.raises(StoreUnavailable, match="budgets cannot be checked"):
            await closed.reserve([scope], Cost("0.5"))
        await backend.settle(rid, Cost("0.125"))  # queued with the budgets it counts in
        await backend.settle(rid, Cost("0.125"))  # settling twice charges once
        free = await backend.reserve([scope], Cost("0.5"))
        await backend.release(free)  # released open reservations charge nothing
        await anyio.to_thread.run_sync(private_redis.start)
        await anyio.sleep(0.06)
        result = await backend.spent(scope), await backend.reserved(scope), link.pending
        await close_clients()
        return result

    assert anyio.run(main) == (Cost(Decimal("0.125")), ZERO, 0)


def test_closed_mode_gives_back_a_slot_taken_just_before_redis_failed(private_redis):
    from omniwire_redis import RedisLimitStore

    link = link_for(private_redis.url, timeout=0.3, retry_interval=0.1)
    store = RedisLimitStore(link, prefix="gb:", on_error="closed")
    pid = private_redis.process.pid

    async def main():
        assert await store.acquire("key:up:k|slots", 2)
        os.kill(pid, signal.SIGSTOP)
        try:
            with pytest.raises(StoreUnavailable, match="rate limit 'key:up:k|rpm'"):
                await store.take("key:up:k|rpm", 1, 10, 1)
            assert link.pending == 1  # the slot's release, queued
        finally:
            os.kill(pid, signal.SIGCONT)
        await anyio.sleep(0.15)
        held = await store.held("key:up:k|slots")
        await close_clients()
        return held, link.pending

    assert anyio.run(main) == (0, 0)


def test_scripts_are_sent_again_after_the_script_cache_is_emptied(private_redis):
    import redis as redis_py
    from omniwire_redis.scripts import BUDGET_RESERVE

    link = link_for(private_redis.url)
    backend = RedisBudgetBackend(prefix="ns:", link=link)
    scope = Scope("global", Cost("1"))
    admin = redis_py.Redis.from_url(private_redis.url)

    async def main():
        await backend.release(await backend.reserve([scope], Cost("0.5")))
        admin.script_flush()  # what a restart does: EVALSHA now answers NOSCRIPT
        assert admin.script_exists(BUDGET_RESERVE.sha) == [False]
        rid = await backend.reserve([scope], Cost("0.5"))  # falls back to EVAL
        await backend.settle(rid, Cost("0.5"))
        result = await backend.spent(scope), link.failures
        await close_clients()
        return result

    assert anyio.run(main) == (Cost("0.5"), 0)
    assert admin.script_exists(BUDGET_RESERVE.sha) == [True]  # and EVAL cached it again
    admin.close()
