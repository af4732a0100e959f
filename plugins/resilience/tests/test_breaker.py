"""The breaker guard over real HTTP: circuits, 401/403 dead keys, 429 cooldowns."""

from __future__ import annotations

import time

import anyio
import pytest
from omniwire import (
    CircuitOpen,
    ConfigError,
    NoAvailableKey,
    RateLimited,
    Request,
    UpstreamError,
)
from omniwire_resilience import BreakerGuard, pool_status

A, B = "sk-res-test-key-a-0001", "sk-res-test-key-b-0002"


def breaker_options(**settings):
    return {"breaker": {"failure_rate": 0, **settings}}


async def attempt(stack, prompt="x"):
    """One call: its attempts as (key, error kind), or the error that ended it."""
    try:
        call = await stack.invoke(Request.simple("m", prompt))
    except Exception as exc:
        return exc
    return [(a.key_alias, a.error) for a in call.attempts]


def test_opens_after_n_failures_half_opens_after_cooldown_and_closes(up, make_stack):
    up.fail(500, times=3)
    stack = make_stack(keys=(A,), options=breaker_options(failures=3, cooldown=0.3))

    async def main():
        async with stack:
            for _ in range(3):
                assert isinstance(await attempt(stack), UpstreamError)
            refused = await attempt(stack)
            assert isinstance(refused, CircuitOpen), refused
            assert up.count(A) == 3  # the open circuit sent nothing
            status = (await pool_status(stack)).endpoint("up")
            assert status.breaker == "open" and 0 < status.retry_in <= 0.3
            assert status.failures == 3
            await anyio.sleep(0.31)
            assert (await pool_status(stack)).endpoint("up").breaker == "half_open"
            assert await attempt(stack) == [("up#0", None)]  # the probe succeeds
            status = (await pool_status(stack)).endpoint("up")
            assert (status.breaker, status.failures, status.keys[0].breaker) == (
                "closed",
                0,
                "closed",
            )
            assert await attempt(stack) == [("up#0", None)]

    anyio.run(main)
    assert up.count(A) == 5


def test_half_open_lets_one_probe_through_and_a_failed_probe_doubles_the_cooldown(up, make_stack):
    stack = make_stack(keys=(A,), options=breaker_options(failures=2, cooldown=0.2))
    up.fail(500, times=2)

    async def main():
        async with stack:
            for _ in range(2):
                await attempt(stack)
            await anyio.sleep(0.21)
            up.fail(500, seconds=0.2)  # the probe hangs, then fails
            results = []

            async def probe():
                results.append(await attempt(stack, "probe"))

            async with anyio.create_task_group() as tg:
                tg.start_soon(probe)
                with anyio.fail_after(2):
                    while up.count(A) < 3:
                        await anyio.sleep(0.005)
                other = await attempt(stack, "meanwhile")
                assert isinstance(other, CircuitOpen) and "probe" in str(other)
            assert isinstance(results[0], UpstreamError)
            status = (await pool_status(stack)).endpoint("up")
            assert status.breaker == "open" and 0 < status.retry_in <= 0.4
            guard = next(g for g in stack.guards if isinstance(g, BreakerGuard))
            assert (await guard.circuit("provider:up")).cooldown == 0.4  # 2 x 0.2
            await anyio.sleep(0.41)
            assert await attempt(stack) == [("up#0", None)]

    anyio.run(main)
    assert up.count(A) == 4


def test_client_errors_are_not_upstream_failures(up, make_stack):
    stack = make_stack(options=breaker_options(failures=2))

    async def main():
        async with stack:
            for status in (400, 404, 422, 400, 413):
                up.fail(status)
                error = await attempt(stack)
                assert isinstance(error, UpstreamError) and error.status == status
            assert len(await attempt(stack)) == 1

    anyio.run(main)
    assert sum(up.counts.values()) == 6


def test_failure_rate_over_the_window_opens(up, make_stack):
    stack = make_stack(
        keys=(A,),
        options={"breaker": {"failures": 0, "failure_rate": 0.5, "min_calls": 4}},
    )

    async def main():
        async with stack:
            for fails in (False, True, False, True):
                if fails:
                    up.fail(503)
                await attempt(stack)
            assert isinstance(await attempt(stack), CircuitOpen)

    anyio.run(main)
    assert up.count(A) == 4


def test_a_failing_key_opens_its_own_circuit_only(up, make_stack):
    up.fail(500, key=A, times=None)
    stack = make_stack(options=breaker_options(failures=2, cooldown=30))

    async def main():
        async with stack:
            for _ in range(8):
                assert (await attempt(stack))[-1] == ("up#1", None)
            status = (await pool_status(stack)).endpoint("up")
            assert status.breaker == "closed"
            assert [k.breaker for k in status.keys] == ["open", "closed"]

    anyio.run(main)
    assert up.count(A) == 2


def test_401_kills_the_key_and_the_call_moves_on(up, make_stack):
    up.fail(401, key=A, times=None)
    stack = make_stack()

    async def main():
        async with stack:
            assert await attempt(stack) == [("up#0", "upstream_error"), ("up#1", None)]
            for _ in range(6):
                assert (await attempt(stack))[-1] == ("up#1", None)
            status = (await pool_status(stack)).endpoint("up")
            assert [(k.breaker, k.dead) for k in status.keys] == [
                ("dead", "HTTP 401"),
                ("closed", None),
            ]

    anyio.run(main)
    assert up.count(A) == 1


def test_a_dead_key_is_revived_without_a_rebuild(up, make_stack):
    from omniwire_resilience import revive_key

    fault = up.fail(401, key=A, times=None)
    stack = make_stack()

    async def main():
        async with stack:
            assert await attempt(stack) == [("up#0", "upstream_error"), ("up#1", None)]
            assert (await attempt(stack))[-1] == ("up#1", None)
            up.heal(fault)  # the key was fixed at the provider
            assert await revive_key(stack, "up", "up#0") is True
            assert await revive_key(stack, "up", "up#0") is False  # not dead any more
            status = (await pool_status(stack)).endpoint("up")
            assert [k.dead for k in status.keys] == [None, None]
            seen = {(await attempt(stack))[-1][0] for _ in range(4)}
            assert seen == {"up#0", "up#1"}  # back in the rotation
            with pytest.raises(ConfigError, match="unknown provider"):
                await revive_key(stack, "nope", "x")

    anyio.run(main)
    assert up.count(A) == 3  # the 401, then two calls after the revival


def test_every_key_dead_is_no_available_key(up, make_stack):
    up.fail(403, times=None)
    stack = make_stack()

    async def main():
        async with stack:
            first = await attempt(stack)
            assert isinstance(first, UpstreamError) and first.status == 403
            assert not first.retryable  # the last candidate's refusal reaches the caller
            second = await attempt(stack)
            assert isinstance(second, NoAvailableKey) and "every key" in str(second)

    anyio.run(main)
    assert sum(up.counts.values()) == 2


def test_429_rests_that_key_exactly_as_asked_and_fails_over(up, make_stack):
    up.fail(429, retry_after=0.5, key=A)
    stack = make_stack()

    async def main():
        async with stack:
            before = time.monotonic()
            assert await attempt(stack) == [("up#0", "rate_limited"), ("up#1", None)]
            after = time.monotonic()
            rest = (await pool_status(stack)).endpoint("up").keys[0].retry_in
            assert 0.5 - (time.monotonic() - before) - 0.01 <= rest <= 0.5
            while time.monotonic() - before < 0.35:  # meanwhile the key is skipped locally
                assert (await attempt(stack))[-1] == ("up#1", None)
            assert up.count(A) == 1
            await anyio.sleep(0.5 - (time.monotonic() - after) + 0.02)
            for _ in range(2):
                await attempt(stack)
            assert up.count(A) == 2

    anyio.run(main)


def test_429_alone_is_rate_limited_with_retry_after(up, make_stack):
    up.fail(429, retry_after=2)
    stack = make_stack(keys=(A,))

    async def main():
        async with stack:
            await attempt(stack)
            refused = await attempt(stack)
            assert isinstance(refused, RateLimited)
            assert 1.0 < refused.retry_after <= 2.0

    anyio.run(main)
    assert up.count(A) == 1


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "400"}, 0.4),
        (
            {
                "x-ratelimit-remaining-requests": "7",
                "x-ratelimit-reset-requests": "20ms",
                "x-ratelimit-remaining-tokens": "0",
                "x-ratelimit-reset-tokens": "0.4s",
            },
            0.4,
        ),
        ({"x-ratelimit-reset-requests": "0m0.4s"}, 0.4),
        ({}, 0.7),  # nothing asked: [breaker] rate_limit_cooldown
    ],
)
def test_429_headers(up, make_stack, headers, expected):
    up.fail(429, key=A, headers=headers)
    stack = make_stack(keys=(A,), options={"breaker": {"rate_limit_cooldown": 0.7}})

    async def main():
        async with stack:
            before = time.monotonic()
            await attempt(stack)
            rest = (await pool_status(stack)).endpoint("up").keys[0].retry_in
            assert expected - (time.monotonic() - before) - 0.01 <= rest <= expected

    anyio.run(main)


def test_a_cut_stream_is_an_upstream_failure(up, make_stack):
    up.cut_stream(after_events=1)
    stack = make_stack(keys=(A,), options=breaker_options(failures=1))

    async def main():
        async with stack:
            with pytest.raises(Exception):  # noqa: B017 - whichever error the cut raises
                await stack.stream(Request.simple("m", "a b c d e f")).collect()
            assert (await pool_status(stack)).endpoint("up").breaker == "open"

    anyio.run(main)


def test_cancelled_probe_is_released(up, make_stack):
    up.fail(500, times=1)
    stack = make_stack(keys=(A,), options=breaker_options(failures=1, cooldown=0))
    guard = next(g for g in stack.guards if isinstance(g, BreakerGuard))

    async def main():
        async with stack:
            await attempt(stack)
            up.delay(1.0)
            with anyio.move_on_after(0.1):
                await attempt(stack)  # the probe, cancelled
            assert (await pool_status(stack)).endpoint("up").breaker == "half_open"
            assert await attempt(stack) == [("up#0", None)]  # a new probe is allowed

    anyio.run(main)
    assert guard._tickets == {} and guard._in_flight == {}
