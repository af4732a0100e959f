"""Every admitted attempt ends in exactly one complete or abort: nothing leaks."""

from __future__ import annotations

import anyio
import pytest
from kernel_toy import ToyCodec
from omniwire import BudgetExceeded, CircuitOpen, Endpoint, Request, UpstreamError
from omniwire.guard import Backoff
from omniwire.plugins import PluginManager
from omniwire.stack import Stack


class Recording:
    def __init__(self, refuse=None):
        self.log: list[str] = []
        self.refuse = refuse or (lambda candidate: None)

    async def admit(self, call, candidate):
        error = self.refuse(candidate)
        self.log.append(f"admit {candidate.key.alias}")
        if error:
            raise error

    async def complete(self, call):
        self.log.append(f"complete {call.usage.input_tokens if call.usage else None}")

    async def abort(self, call, error):
        self.log.append(f"abort {error.kind if error else 'cancelled'}")


def stack_with(url, *guards, keys=("sk-guard-key-a-0001", "sk-guard-key-b-0002"), retry=None):
    eps = [Endpoint("toy", "toy.chat", url, keys=keys)]
    return Stack(
        eps,
        plugin_manager=PluginManager(entry_points=False),
        codecs=[ToyCodec()],
        guards=guards,
        retry=retry,
    )


def test_success_is_completed(toy_server):
    g = Recording()

    async def main():
        async with stack_with(toy_server.url, g, keys=("sk-guard-key-a-0001",)) as s:
            await s.call(Request.simple("m", "a b c"))

    anyio.run(main)
    assert g.log == ["admit toy#0", "complete 3"] or g.log[1] == "complete 3"


def test_failed_attempt_aborted_then_failover_completed(toy_server):
    toy_server.fail = [500]
    g = Recording()

    async def main():
        async with stack_with(toy_server.url, g) as s:
            await s.call(Request.simple("m", "x"))

    anyio.run(main)
    assert [e.split()[0] for e in g.log] == ["admit", "abort", "admit", "complete"]
    assert g.log[1] == "abort upstream_error"


def test_non_retryable_refusal_sends_nothing(toy_server):
    g = Recording(lambda c: BudgetExceeded("budget 'm' is spent"))

    async def main():
        async with stack_with(toy_server.url, g) as s:
            await s.call(Request.simple("m", "x"))

    with pytest.raises(BudgetExceeded):
        anyio.run(main)
    assert toy_server.requests == []


def test_retryable_refusal_moves_to_next_candidate(toy_server):
    first = []

    def refuse(candidate):
        if not first:
            first.append(candidate.key.alias)
            return CircuitOpen("breaker open")
        return None

    g = Recording(refuse)

    async def main():
        async with stack_with(toy_server.url, g) as s:
            return await s.invoke(Request.simple("m", "x"))

    call = anyio.run(main)
    assert [a.error for a in call.attempts] == ["circuit_open", None]
    assert len(toy_server.requests) == 1


def test_cancelled_call_is_aborted():
    g = Recording()

    async def main():
        import socket

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)  # accepts, never answers
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        async with stack_with(url, g, keys=("sk-guard-key-a-0001",)) as s:
            with anyio.move_on_after(0.3):
                await s.call(Request.simple("m", "x"))
        sock.close()

    anyio.run(main)
    assert g.log == ["admit toy#0", "abort cancelled"]


def test_cut_stream_is_aborted_with_usage_seen(toy_server):
    toy_server.cut_stream = True
    g = Recording()

    async def main():
        async with stack_with(toy_server.url, g, keys=("sk-guard-key-a-0001",)) as s:
            await s.stream(Request.simple("m", "a b")).collect()

    with pytest.raises(UpstreamError, match="malformed"):  # the upstream's fault, a 502
        anyio.run(main)
    assert g.log == ["admit toy#0", "abort upstream_error"]


def test_consumer_stopping_early_aborts(toy_server):
    g = Recording()

    async def main():
        async with stack_with(toy_server.url, g, keys=("sk-guard-key-a-0001",)) as s:
            async with s.stream(Request.simple("m", "a b c d")) as result:
                async for _ in result:
                    break

    anyio.run(main)
    assert g.log == ["admit toy#0", "abort cancelled"]


def test_backoff_waits_what_upstream_asked_within_deadline(toy_server):
    toy_server.fail = [503, 503]

    async def main(deadline):
        policy = Backoff(base=0.01, cap=0.02, deadline=deadline)
        async with stack_with(
            toy_server.url,
            keys=("sk-guard-key-a-0001", "sk-guard-key-b-0002", "sk-guard-key-c-0003"),
            retry=policy,
        ) as s:
            return await s.invoke(Request.simple("m", "x"))

    call = anyio.run(main, 5.0)
    assert [a.error for a in call.attempts] == ["upstream_error", "upstream_error", None]
    toy_server.fail = [503]
    with pytest.raises(UpstreamError):
        anyio.run(main, 0.0)  # no time left for a retry: the error surfaces


def test_route_strategy_orders_and_watches(toy_server):
    from omniwire.plugins import hookimpl
    from omniwire.routing import ModelRoute, Target

    seen = []

    class Reverse:
        name = "reverse"

        def __init__(self, route):
            self.route = route

        def order(self, candidates):
            return list(reversed(candidates))

        async def admit(self, call, candidate):
            seen.append(("admit", candidate.model))

        async def complete(self, call):
            seen.append(("complete", call.model))

        async def abort(self, call, error):
            seen.append(("abort", call.model))

    class P:
        @hookimpl
        def omniwire_register_strategies(self, register):
            register(Reverse)

    route = ModelRoute(
        "smart", (Target("toy", "first"), Target("toy", "second")), strategy="reverse"
    )
    stack = Stack(
        [Endpoint("toy", "toy.chat", toy_server.url)],
        routes=[route],
        plugin_manager=PluginManager(entry_points=False),
        codecs=[ToyCodec()],
        plugins=[P()],
    )

    async def main():
        async with stack:
            await stack.call(Request.simple("smart", "x"))

    anyio.run(main)
    assert toy_server.requests[0]["body"]["model"] == "second"
    assert seen == [("admit", "second"), ("complete", "second")]
