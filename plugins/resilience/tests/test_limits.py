"""The rate-limit guard over real HTTP: RPM, TPM and concurrency per key, in reject and
wait modes, and no reservation outliving its attempt."""

from __future__ import annotations

import functools
import time

import anyio
import pytest
from omniwire import CircuitOpen, RateLimited, Request
from omniwire_resilience import BreakerGuard, LimitSettings, RateLimitGuard, estimate_tokens
from omniwire_resilience import pool_status as status_of

A, B = "sk-res-test-key-a-0001", "sk-res-test-key-b-0002"


def limiter_of(stack) -> RateLimitGuard:
    return next(g for g in stack.guards if isinstance(g, RateLimitGuard))


async def outcome(stack, prompt="x", **kwargs):
    try:
        await stack.call(Request.simple("m", prompt, **kwargs))
    except RateLimited as exc:
        return exc
    return "ok"


def test_rpm_reject_mode_refuses_beyond_the_limit(up, make_stack):
    stack = make_stack(keys=(A,), endpoint_options={"rpm": 5})

    async def main():
        async with stack:
            return [await outcome(stack) for _ in range(8)]

    results = anyio.run(main)
    assert results[:5] == ["ok"] * 5
    refused = results[5:]
    assert all(isinstance(r, RateLimited) for r in refused)
    assert all(11 < r.retry_after <= 12 for r in refused)  # one request per 12 s refills
    assert "rpm = 5" in str(refused[0])
    assert up.count(A) == 5


def test_rpm_wait_mode_holds_the_rate_under_concurrency(up, make_stack):
    rpm, extra = 120, 2  # 2 requests/s refill: the extra two wait 0.5 and 1 s
    stack = make_stack(
        keys=(A,),
        endpoint_options={"rpm": rpm},
        options={"limits": {"mode": "wait", "max_wait": 5}},
    )
    results = []

    async def one():
        results.append(await outcome(stack))

    async def main():
        async with stack, anyio.create_task_group() as tg:
            for _ in range(rpm + extra):
                tg.start_soon(one)

    started = time.monotonic()
    anyio.run(main)
    assert results == ["ok"] * (rpm + extra)
    assert time.monotonic() - started >= 0.95
    arrivals = sorted(r.received for r in up.requests)
    assert len(arrivals) == rpm + extra
    for i, t in enumerate(arrivals):  # never ahead of the bucket: a minute's burst + refill
        assert i + 1 <= rpm + (t - started) * rpm / 60


def test_wait_mode_moves_on_to_a_free_key_before_waiting(up, make_stack):
    stack = make_stack(
        endpoint_options={"rpm": 2}, options={"limits": {"mode": "wait", "max_wait": 5}}
    )

    async def main():
        async with stack:
            start = time.monotonic()
            for _ in range(4):
                assert await outcome(stack) == "ok"
            assert time.monotonic() - start < 1.0  # two per key, no waiting
            refused = await outcome(stack)  # both keys empty; a wait of 30 s > max_wait
            assert isinstance(refused, RateLimited) and refused.retry_after > 5

    anyio.run(main)
    assert up.counts == {A: 2, B: 2}


def test_tpm_reserves_an_estimate_and_settles_on_actual_usage(up, make_stack, counting):
    counting(0.1)  # every answer: 3 input + 2 output tokens, 0.1 s later
    stack = make_stack(keys=(A,), endpoint_options={"tpm": 100})
    limiter = limiter_of(stack)
    results = []

    async def one():
        results.append(await outcome(stack, "hello", max_tokens=40))

    async def main():
        async with stack:
            async with anyio.create_task_group() as tg:
                for _ in range(3):
                    tg.start_soon(one)  # ~42 tokens each reserved: the third does not fit
            key = (await status_of(stack)).endpoint("up").keys[0]
            assert key.tpm == 100 and 5 < key.tpm_used <= 10  # 2 x 5 actual, refilling
            for _ in range(3):  # settled at 5 a call, so sequential calls all fit
                assert await outcome(stack, "hello", max_tokens=40) == "ok"

    anyio.run(main)
    assert results.count("ok") == 2
    assert "tpm = 100" in str(next(r for r in results if r != "ok"))
    assert limiter.reservations == 0


@pytest.mark.parametrize("mode", ["reject", "wait"])
def test_concurrency_cap_holds_under_50_concurrent_tasks(up, make_stack, counting, mode):
    upstream = counting(0.03)
    stack = make_stack(
        keys=(A,),
        endpoint_options={"max_concurrency": 3},
        options={"limits": {"mode": mode, "max_wait": 10}},
    )
    results = []

    async def one():
        results.append(await outcome(stack))

    async def main():
        async with stack, anyio.create_task_group() as tg:
            for _ in range(50):
                tg.start_soon(one)

    anyio.run(main)
    assert upstream.peak[A] <= 3
    if mode == "wait":
        assert results == ["ok"] * 50 and upstream.peak[A] == 3
    else:
        assert results.count("ok") == 3 == up.count(A)
        refused = [r for r in results if r != "ok"]
        assert all(isinstance(r, RateLimited) and r.retry_after is None for r in refused)
    assert limiter_of(stack).reservations == 0


def test_no_leaks_after_cancellations_and_early_stream_exits(up, make_stack):
    stack = make_stack(
        keys=(A,),
        endpoint_options={"rpm": 10, "tpm": 10_000, "max_concurrency": 4},
        options={"limits": {"mode": "wait", "max_wait": 5}},
    )
    limiter = limiter_of(stack)
    breaker = next(g for g in stack.guards if isinstance(g, BreakerGuard))

    async def main():
        async with stack:
            up.delay(5.0, times=None)
            with anyio.move_on_after(0.2):
                async with anyio.create_task_group() as tg:
                    for _ in range(10):  # 4 in flight upstream, 6 waiting for a slot
                        tg.start_soon(functools.partial(outcome, stack, "hi", max_tokens=100))
            up.clear()
            for _ in range(2):  # streams abandoned after the first event
                async with stack.stream(Request.simple("m", "a b c d e f g h")) as result:
                    async for _event in result:
                        break
            return await status_of(stack)

    status = anyio.run(main).endpoint("up")
    key = status.keys[0]
    assert limiter.reservations == 0 and key.in_flight == 0
    assert breaker._tickets == {} and breaker._in_flight == {}
    assert status.breaker == "closed" and status.failures == 0
    # every estimate (100+ tokens each) given back; the streams pay the usage they saw
    assert key.tpm_used is not None and key.tpm_used < 50
    assert key.rpm_used is not None and 5 < key.rpm_used <= 6  # 4 + 2 were sent


def test_attempts_refused_by_a_later_guard_give_their_request_back(up, make_stack):
    class Refuse:
        async def admit(self, call, candidate):
            raise CircuitOpen("refused by a later guard")

        async def complete(self, call):
            pass

        async def abort(self, call, error):
            pass

    stack = make_stack(keys=(A,), endpoint_options={"rpm": 3}, guards=[Refuse()])

    async def main():
        async with stack:
            for _ in range(5):
                with pytest.raises(CircuitOpen):
                    await stack.call(Request.simple("m", "x"))
            return await status_of(stack)

    key = anyio.run(main).endpoint("up").keys[0]
    assert key.rpm_used is not None and key.rpm_used < 0.1
    assert up.counts == {}


def test_estimate():
    settings = LimitSettings()
    request = Request.simple("m", "x" * 400, max_tokens=50)
    assert estimate_tokens(request, settings) == 150
    assert estimate_tokens(Request.simple("m", "hi"), settings) == 1 + 1024
    assert estimate_tokens(Request.simple("m", "x" * 400), LimitSettings(chars_per_token=2)) == (
        200 + 1024
    )
