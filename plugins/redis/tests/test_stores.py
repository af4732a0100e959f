"""The Redis limit and breaker stores, on their own and moved under the resilience
guards: two stacks (as two processes would) share buckets, slots, circuits and 429
rests."""

from __future__ import annotations

import asyncio
import math
import time

import anyio
import pytest
from omniwire import CircuitOpen, RateLimited
from omniwire_redis import RedisBreakerStore, RedisLimitStore, close_clients, link_for
from omniwire_redis.stores import SharedCircuit
from omniwire_resilience import BreakerGuard, MemoryLimitStore, RateLimitGuard, pool_status
from omniwire_testing.upstream import RawResponse
from redis_support import KEY, build, guard, request


def run(main):
    async def wrapped():
        try:
            return await main()
        finally:
            await close_clients()

    return anyio.run(wrapped)


@pytest.fixture
def limits(redis_url, prefix):
    def make(**kwargs):
        return RedisLimitStore(link_for(redis_url), prefix=prefix, **kwargs)

    return make


# -- buckets ------------------------------------------------------------------------------


def test_a_bucket_starts_full_refills_and_says_how_long_to_wait(limits):
    store = limits()

    async def main():
        assert await store.take("b", 5, 5, 1.0) == 0.0
        wait = await store.take("b", 1, 5, 1.0)
        assert 0.9 < wait <= 1.0  # one token per second
        assert await store.level("b", 5, 1.0) < 0.1
        await store.give("b", 2, 5, 1.0)
        assert await store.take("b", 2, 5, 1.0) == 0.0
        await store.give("b", -3, 5, 1.0)  # a debt: usage above the estimate
        assert -3.0 <= await store.level("b", 5, 1.0) < -2.8
        assert 3.8 < await store.take("b", 1, 5, 1.0) <= 4.0
        await anyio.sleep(0.3)
        assert await store.take("other", 1, 1, 0.0) == 0.0
        assert await store.take("other", 1, 1, 0.0) == math.inf  # never refills

    run(main)


def test_a_bucket_is_one_bucket_for_every_store(limits):
    first, second = limits(), limits()

    async def main():
        taken = 0
        for store in (first, second) * 10:
            taken += await store.take("shared", 1, 8, 0.001) == 0.0
        return taken

    assert run(main) == 8


# -- slots --------------------------------------------------------------------------------


def test_slots_are_shared_and_never_go_below_zero(limits):
    a, b = limits(), limits()

    async def main():
        assert [await a.acquire("s", 3) for _ in range(2)] == [True, True]
        assert await b.acquire("s", 3) is True
        assert await b.acquire("s", 3) is False and await a.acquire("s", 3) is False
        assert await a.held("s") == 3
        await b.release("s")
        await b.release("s")  # b held one: the extra release changes nothing
        assert await a.held("s") == 2
        assert await b.acquire("s", 3) is True
        with anyio.fail_after(1):
            await a.released("s", 10)  # polls: returns soon, whatever happened

    run(main)


def test_a_dead_process_slots_end_with_its_lease(limits):
    dead, alive = limits(slot_lease=0.3), limits()

    async def main():
        assert await dead.acquire("s", 2) and await dead.acquire("s", 2)
        assert await alive.acquire("s", 2) is False
        await anyio.sleep(0.35)  # the dead process never released, its lease ran out
        assert await alive.held("s") == 0
        assert await alive.acquire("s", 2) and await alive.acquire("s", 2)

    run(main)


# -- circuits -----------------------------------------------------------------------------


def test_circuits_round_trip_and_tallies_slide(redis_url, prefix):
    store = RedisBreakerStore(link_for(redis_url), prefix=prefix, ttl=60)

    async def main():
        assert await store.get("c") == SharedCircuit()
        opened = SharedCircuit("open", 3, 1_750_000_000.25, 30.0, True, "HTTP 401", 12.5)
        await store.put("c", opened)
        assert await store.get("c") == opened
        await store.put("c", SharedCircuit(consecutive=1))
        assert await store.get("c") == SharedCircuit(consecutive=1)  # dead is cleared
        assert await store.tally("t", 100, True, 3) == (1, 1)
        assert await store.tally("t", 101, False, 3) == (2, 1)
        assert await store.tally("t", 102, False, 3) == (3, 1)
        assert await store.tally("t", 103, False, 3) == (3, 0)  # slot 100 slid out
        await store.forget("t")
        assert await store.tally("t", 103, True, 3) == (1, 1)

    run(main)


# -- under the resilience guards ------------------------------------------------------------


def test_the_first_attempt_moves_the_guards_onto_redis(up, redis_url, prefix):
    stack = build(up.url, redis_url, prefix, rpm=100)
    limiter, breaker = guard(stack, "RateLimitGuard"), guard(stack, "BreakerGuard")
    assert isinstance(limiter.store, MemoryLimitStore)

    async def main():
        async with stack:
            await stack.call(request())

    run(main)
    assert isinstance(limiter.store, RedisLimitStore) and limiter.store.prefix == prefix
    assert isinstance(breaker.store, RedisBreakerStore) and breaker.clock is time.time
    assert guard(stack, "SharedStateGuard").moved == [breaker, limiter]


def test_switches_and_stores_given_in_code_are_respected(up, redis_url, prefix):
    stack = build(up.url, redis_url, prefix, rpm=100, redis={"limits": False})
    mine = MemoryLimitStore()
    extra = RateLimitGuard(store=mine)
    stack.guards = (*stack.guards, extra)

    async def main():
        async with stack:
            await stack.call(request())

    run(main)
    assert isinstance(guard(stack, "RateLimitGuard").store, MemoryLimitStore)
    assert extra.store is mine
    assert isinstance(guard(stack, "BreakerGuard").store, RedisBreakerStore)
    none = build(up.url, redis_url, prefix, redis={"limits": False, "breakers": False})
    assert not any(type(g).__name__ == "SharedStateGuard" for g in none.guards)


def test_one_process_429_rests_the_key_in_every_process(up, redis_url, prefix):
    first, second = build(up.url, redis_url, prefix), build(up.url, redis_url, prefix)
    up.fail(429, retry_after=2)

    async def main():
        async with first, second:
            with pytest.raises(RateLimited):
                await first.call(request())
            with pytest.raises(RateLimited) as caught:
                await second.call(request())  # refused locally, nothing sent
            status = (await pool_status(second)).endpoint("up").keys[0]
            return caught.value, status

    refused, status = run(main)
    assert up.count(KEY) == 1
    assert "resting" in refused.message and 1.5 < refused.retry_after <= 2.0
    assert 1.5 < status.retry_in <= 2.0


def test_a_circuit_opened_by_one_process_is_open_for_all(up, redis_url, prefix):
    breaker = {"breaker": {"failures": 2, "failure_rate": 0, "cooldown": 5}}
    first = build(up.url, redis_url, prefix, extra=breaker)
    second = build(up.url, redis_url, prefix, extra=breaker)
    up.fail(500, times=2)

    async def main():
        async with first, second:
            for _ in range(2):
                with pytest.raises(Exception, match="500"):
                    await first.call(request())
            with pytest.raises(CircuitOpen):
                await second.call(request())

    run(main)
    assert up.count(KEY) == 2


def test_a_concurrency_cap_holds_across_stacks(up, redis_url, prefix):
    active = peak = 0

    async def slow(recorded):
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        try:
            await asyncio.sleep(0.05)
        finally:
            active -= 1
        answer = {
            "id": "x",
            "model": "m",
            "choices": [{"content": [{"type": "text", "text": "ok"}]}],
        }
        return RawResponse(200, answer)

    up.on("/v1/kit/chat", slow)
    options = {"limits": {"mode": "wait", "max_wait": 10}}
    stacks = [build(up.url, redis_url, prefix, max_concurrency=3, extra=options) for _ in range(2)]
    done = 0

    async def one(stack):
        nonlocal done
        await stack.call(request())
        done += 1

    async def main():
        async with stacks[0], stacks[1], anyio.create_task_group() as tg:
            for i in range(24):
                tg.start_soon(one, stacks[i % 2])
        return await guard(stacks[0], "RateLimitGuard").store.held("key:up:up#0|slots")

    held = run(main)
    assert done == 24 and peak == 3 and held == 0


def test_limits_of_other_processes_show_in_pool_status(up, redis_url, prefix):
    first, second = (build(up.url, redis_url, prefix, rpm=6) for _ in range(2))

    async def main():
        async with first, second:
            for _ in range(4):
                await first.call(request())
            await second.call(request())
            return (await pool_status(second)).endpoint("up").keys[0]

    key = run(main)
    assert 4.8 < key.rpm_used <= 5.0  # five requests this minute, from both stacks


def test_the_breaker_guard_reads_shared_circuits(up, redis_url, prefix):
    stack = build(up.url, redis_url, prefix)

    async def main():
        async with stack:
            await stack.call(request())
            breaker: BreakerGuard = guard(stack, "BreakerGuard")
            await breaker.store.put("key:up:up#0", SharedCircuit(dead="HTTP 401"))
            with pytest.raises(Exception, match="refused by the upstream"):
                await stack.call(request())

    run(main)


def test_a_server_redis_url_alone_shares_the_guards_state(up, redis_url):
    from omniwire import Endpoint
    from omniwire.stack import Stack
    from omniwire_testing.toy import ToyCodec
    from redis_support import plugin_manager

    stack = Stack(
        [Endpoint("up", "kit.chat", up.url + "/v1")],
        plugin_manager=plugin_manager(),
        codecs=[ToyCodec()],
        options={"server": {"redis_url": redis_url}},
    )
    shared = guard(stack, "SharedStateGuard")
    assert shared.link.url == redis_url and shared.settings.prefix == "omniwire:"
    alone = Stack(
        [Endpoint("up", "kit.chat", up.url + "/v1")],
        plugin_manager=plugin_manager(),
        codecs=[ToyCodec()],
    )
    assert not any(type(g).__name__ == "SharedStateGuard" for g in alone.guards)
