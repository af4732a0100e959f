"""Adaptive concurrency (AIMD) over real HTTP: the limit halves when the upstream starts
answering 429/503 or gets slow, climbs back when it recovers, and requests at once at
the upstream never exceed it."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import anyio
import pytest
from omniwire import (
    Choice,
    ConfigError,
    Endpoint,
    OmniwireError,
    RateLimited,
    Request,
    Response,
    StopReason,
    TextPart,
    Usage,
)
from omniwire.routing import ModelRoute, Target
from omniwire.serialize import to_json
from omniwire_resilience import AdaptiveGuard, overload_of, pool_status
from omniwire_testing.upstream import RawResponse

A, B = "sk-res-test-key-a-0001", "sk-res-test-key-b-0002"


class Gauge:
    """A raw upstream handler (on the fake upstream's own loop) that holds each request
    ``delay`` seconds and records, per arrival, the requests the upstream is answering
    at once (over all keys) and the guard's limit at that moment."""

    def __init__(self, delay: float, limit_now: Any) -> None:
        self.delay = delay
        self.limit_now = limit_now
        self.active = 0
        self.peak = 0
        self.arrivals: list[tuple[float, int, int]] = []
        self.lock = threading.Lock()

    async def __call__(self, recorded: Any) -> RawResponse:
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
            self.arrivals.append((time.monotonic(), self.active, self.limit_now()))
        try:
            await asyncio.sleep(self.delay)
        finally:
            with self.lock:
                self.active -= 1
        answer = Response(
            id="held",
            model="m",
            choices=(Choice((TextPart("ok"),), StopReason.END_TURN),),
            usage=Usage(3, 2),
        )
        return RawResponse(200, to_json(answer))


def adaptive_of(stack) -> AdaptiveGuard:
    return next(g for g in stack.guards if isinstance(g, AdaptiveGuard))


def options(**adaptive):
    return {
        "breaker": {"enabled": False},  # or 503s open the circuit and 429s rest the keys
        "adaptive_concurrency": {"initial_limit": 4, "max_limit": 12, **adaptive},
        "limits": {"mode": "wait", "max_wait": 5},
    }


async def drive(stack, workers: int, phases: list[tuple[str, Any, Any]]) -> dict[str, float]:
    """``workers`` tasks calling in a loop through ``phases``: (name, set-up, until),
    each phase lasting until ``until()`` holds (at most 5 s) — or, when ``until`` is a
    number, that many seconds. Returns when each phase began."""
    marks: dict[str, float] = {}
    done = anyio.Event()

    async def worker():
        while not done.is_set():
            try:
                await stack.call(Request.simple("m", "x"))
            except OmniwireError:
                await anyio.sleep(0.005)

    async with anyio.create_task_group() as tg:
        for _ in range(workers):
            tg.start_soon(worker)
        for name, setup, until in phases:
            marks[name] = time.monotonic()
            if setup is not None:
                setup()
            if isinstance(until, (int, float)):
                await anyio.sleep(until)
                continue
            with anyio.fail_after(5):
                while not until():
                    await anyio.sleep(0.005)
        done.set()
    marks["end"] = time.monotonic()
    return marks


def limit_at(guard: AdaptiveGuard, t: float, initial: int) -> int:
    limit = initial
    for change in guard.changes:
        if change.at > t:
            break
        limit = change.new
    return limit


def assert_within_limit(gauge: Gauge, guard: AdaptiveGuard, initial: int) -> None:
    """Each request reaching the upstream found no more requests being answered than the
    limit allowed: the limit read at its arrival, or — for requests admitted just before
    a decrease and still running — the limit of the last 0.2 s."""
    for at, active, now in gauge.arrivals:
        recent = [c.old for c in guard.changes if at - 0.2 <= c.at <= at]
        assert active <= max([now, limit_at(guard, at - 0.2, initial), *recent]), (at, active)


def trajectory(guard: AdaptiveGuard, start: float) -> list[tuple[float, int, str]]:
    return [(round(c.at - start, 3), c.new, c.reason) for c in guard.changes]


@pytest.mark.parametrize("status", [503, 429])
def test_limit_halves_on_overload_and_climbs_back(up, make_stack, status):
    stack = make_stack(options=options())
    guard = adaptive_of(stack)
    gauge = Gauge(0.01, lambda: guard.limit("up") or 4)
    up.on("/v1/kit/chat", gauge)

    def limit():
        return guard.limit("up")

    async def main():
        async with stack:
            marks = await drive(
                stack,
                24,
                [
                    ("healthy", None, lambda: limit() == 12),  # grows from 4 to max_limit
                    ("overloaded", lambda: up.fail(status, times=None), lambda: limit() == 1),
                    ("hold", None, 0.1),  # stays at min_limit while the upstream refuses
                    ("recovered", up.clear, lambda: limit() == 12),  # and climbs back
                ],
            )
            return marks, await pool_status(stack)

    marks, status_after = anyio.run(main)
    path = trajectory(guard, marks["healthy"])
    print(f"\nAIMD limit trajectory ({status}):", path)
    healthy = [c for c in guard.changes if c.at < marks["overloaded"]]
    assert [c.new for c in healthy] == list(range(5, 13)), path  # +1 per window
    overloaded = [c for c in guard.changes if marks["overloaded"] <= c.at < marks["recovered"]]
    assert [c.new for c in overloaded] == [6, 3, 1], path  # x0.5, rounded down
    assert {c.reason for c in overloaded} == {f"upstream {status}"}
    recovered = [c for c in guard.changes if c.at >= marks["recovered"]]
    assert [c.new for c in recovered] == list(range(2, 13)), path
    assert gauge.peak <= 12
    assert_within_limit(gauge, guard, 4)
    assert guard.reservations == 0
    endpoint = status_after.endpoint("up")
    assert (endpoint.concurrency_limit, endpoint.concurrency_in_flight) == (12, 0)
    assert endpoint.concurrency_waiting == 0
    print(
        f"phases: healthy {marks['overloaded'] - marks['healthy']:.2f}s, "
        f"overloaded {marks['hold'] - marks['overloaded']:.2f}s, "
        f"recovered {marks['end'] - marks['recovered']:.2f}s; upstream peak {gauge.peak}"
    )


def test_a_slow_upstream_lowers_the_limit(up, make_stack):
    stack = make_stack(options=options(initial_limit=8, max_limit=8, latency_threshold=0.1))
    guard = adaptive_of(stack)
    gauge = Gauge(0.005, lambda: guard.limit("up") or 8)
    up.on("/v1/kit/chat", gauge)

    def limit():
        return guard.limit("up")

    async def main():
        async with stack:
            return await drive(
                stack,
                16,
                [
                    ("fast", None, 0.2),
                    ("slow", lambda: up.delay(0.3, times=None), lambda: limit() == 1),
                    ("fast again", up.clear, lambda: limit() == 8),
                ],
            )

    marks = anyio.run(main)
    path = trajectory(guard, marks["fast"])
    print("\nAIMD limit trajectory (latency):", path)
    assert all(c.at >= marks["slow"] for c in guard.changes), path  # fast: nothing changes
    slow = [c for c in guard.changes if c.at < marks["fast again"]]
    assert [c.new for c in slow] == [4, 2, 1], path
    assert all(c.reason.startswith("latency ") and c.reason.endswith("> 0.1s") for c in slow)
    assert gauge.peak <= 8
    assert_within_limit(gauge, guard, 8)


def test_reject_mode_moves_on_to_another_provider(up, make_stack, counting):
    upstream = counting(0.2)
    endpoints = [
        Endpoint(
            "a",
            "kit.chat",
            up.url + "/v1",
            keys=(A,),
            options={"adaptive_concurrency": {"initial_limit": 2, "max_limit": 2}},
        ),
        Endpoint("b", "kit.chat", up.url + "/v1", keys=(B,)),
    ]
    stack = make_stack(
        endpoints=endpoints, routes=[ModelRoute("m", (Target("a", "m"), Target("b", "m")))]
    )
    guard = adaptive_of(stack)
    assert not guard.settings_for(stack.endpoints["b"]).enabled  # only a asked for it

    async def main():
        async with stack:
            calls = []

            async def one():
                calls.append(await stack.invoke(Request.simple("m", "x")))

            async with anyio.create_task_group() as tg:
                for _ in range(10):
                    tg.start_soon(one)
            return calls, await pool_status(stack)

    calls, status = anyio.run(main)
    assert len(calls) == 10
    assert upstream.peak[A] == 2 and up.count(A) == 2 and up.count(B) == 8
    refused = [a for c in calls for a in c.attempts if a.error is not None]
    assert len(refused) == 8 and {a.error for a in refused} == {RateLimited.kind}
    assert status.endpoint("a").concurrency_limit == 2
    assert status.endpoint("b").concurrency_limit is None


def test_waiters_give_up_after_max_wait_and_cancelled_ones_leak_nothing(up, make_stack):
    up.delay(0.5, times=None)
    stack = make_stack(
        keys=(A,),
        options={
            "adaptive_concurrency": {"initial_limit": 1, "max_limit": 1},
            "limits": {"mode": "wait", "max_wait": 0.2},
        },
    )
    guard = adaptive_of(stack)

    async def main():
        async with stack:
            results = []

            async def one():
                try:
                    await stack.call(Request.simple("m", "x"))
                    results.append("ok")
                except RateLimited as exc:
                    results.append(exc)

            async with anyio.create_task_group() as tg:
                for _ in range(3):
                    tg.start_soon(one)
            with anyio.move_on_after(0.1):  # cancelled: in flight, and waiting
                async with anyio.create_task_group() as tg:
                    for _ in range(3):
                        tg.start_soon(one)
            return results, await pool_status(stack)

    results, status = anyio.run(main)
    assert len(results) == 3 and results.count("ok") == 1
    for refused in [r for r in results if r != "ok"]:
        assert "adaptive concurrency limit (1 requests at once)" in str(refused)
        assert "no slot within max_wait = 0.2s" in str(refused)
    assert guard.reservations == 0
    endpoint = status.endpoint("up")
    assert (endpoint.concurrency_in_flight, endpoint.concurrency_waiting) == (0, 0)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"initial_limit": 0}, "adaptive_concurrency.initial_limit: expected an integer >= 1"),
        ({"min_limit": 4, "initial_limit": 2}, "min_limit <= initial_limit <= max_limit"),
        ({"initial_limit": 100}, "min_limit <= initial_limit <= max_limit"),
        ({"backoff": 1}, r"adaptive_concurrency.backoff: expected a number > 0 and < 1"),
        ({"backoff": 0}, r"adaptive_concurrency.backoff: expected a number > 0"),
        ({"latency": 1}, "adaptive_concurrency: unknown setting 'latency'"),
    ],
)
def test_config_mistakes_fail_at_build(make_stack, table, message):
    with pytest.raises(ConfigError, match=message):
        make_stack(options={"adaptive_concurrency": table})
    with pytest.raises(ConfigError, match="options.adaptive_concurrency"):
        make_stack(endpoint_options={"adaptive_concurrency": table})


def test_off_unless_asked_and_per_provider_settings(make_stack):
    assert not any(isinstance(g, AdaptiveGuard) for g in make_stack().guards)
    off = {"adaptive_concurrency": {"enabled": False}}
    assert not any(isinstance(g, AdaptiveGuard) for g in make_stack(options=off).guards)
    stack = make_stack(
        options={"adaptive_concurrency": {"max_limit": 32}},
        endpoint_options={"adaptive_concurrency": {"initial_limit": 2, "backoff": 0.75}},
    )
    s = adaptive_of(stack).settings_for(stack.endpoints["up"])
    assert (s.enabled, s.initial_limit, s.max_limit, s.backoff) == (True, 2, 32, 0.75)


def test_overload_signals():
    from omniwire import CircuitOpen, Timeout, UpstreamError

    assert overload_of(RateLimited("slow down")) == "upstream 429"
    assert overload_of(UpstreamError("x", status=503)) == "upstream 503"
    assert overload_of(UpstreamError("x", status=529)) == "upstream 529"
    assert overload_of(Timeout("x")) == "timeout"
    assert overload_of(UpstreamError("x", status=500)) is None
    assert overload_of(UpstreamError("x", status=400)) is None
    assert overload_of(CircuitOpen("x")) is None
    assert overload_of(None) is None
