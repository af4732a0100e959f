"""usage: the key with the most RPM/TPM headroom goes first."""

from __future__ import annotations

from collections import Counter

import anyio
import omniwire_strategy_usage as plugin
import pytest
from omniwire import Endpoint, Request
from omniwire.plugins import PluginManager
from omniwire.routing import ModelRoute, Target
from omniwire.stack import Stack
from omniwire_testing.toy import ToyCodec
from omniwire_testing.upstream import FakeUpstream

A, B, C = "sk-use-test-key-a-0001", "sk-use-test-key-b-0002", "sk-use-test-key-c-0003"


def stack_for(up: FakeUpstream, endpoints, targets) -> Stack:
    route = ModelRoute("pool", tuple(Target(t, "m") for t in targets), strategy="usage")
    return Stack(
        endpoints,
        routes=[route],
        plugin_manager=PluginManager(entry_points=False),
        codecs=[ToyCodec()],
        plugins=[plugin],
    )


def test_prefers_the_provider_with_more_rpm_headroom():
    with FakeUpstream([ToyCodec()]) as up:
        stack = stack_for(
            up,
            [
                Endpoint("small", "kit.chat", up.url + "/v1", keys=(A,), options={"rpm": 10}),
                Endpoint("big", "kit.chat", up.url + "/v1", keys=(B,), options={"rpm": 1000}),
            ],
            ["small", "big"],  # priority would always pick "small"
        )

        async def main():
            async with stack:
                for _ in range(20):
                    await stack.call(Request.simple("pool", "x"))

        anyio.run(main)
        counts = up.counts
    assert counts.get(B, 0) >= 19, counts


def test_tokens_steer_between_keys_and_direct_calls_count():
    with FakeUpstream([ToyCodec()]) as up:
        endpoint = Endpoint(
            "up", "kit.chat", up.url + "/v1", keys=(A, B, C), options={"tpm": 10_000}
        )
        stack = stack_for(up, [endpoint], ["up"])
        strategy = stack._strategies["pool"]
        firsts = []

        async def main():
            async with stack:
                # a long prompt straight to the provider (not via the route) uses a key
                call = await stack.invoke(Request.simple("up:m", "word " * 300))
                firsts.append(call.attempts[0].key_alias)
                for _ in range(9):
                    call = await stack.invoke(Request.simple("pool", "x"))
                    firsts.append(call.attempts[0].key_alias)

        anyio.run(main)
    heavy = firsts[0]
    assert heavy not in firsts[1:]  # the key that spent 300+ tokens is avoided
    assert sorted(Counter(firsts[1:]).values()) == [4, 5]  # the other two alternate
    rooms = {c.key.alias: strategy.headroom(c)[0] for c in stack.router.candidates("pool")}
    assert rooms[heavy] < min(v for k, v in rooms.items() if k != heavy) < 1.0


def test_without_limits_every_key_has_full_headroom_and_fewer_requests_win():
    with FakeUpstream([ToyCodec()]) as up:
        stack = stack_for(up, [Endpoint("up", "kit.chat", up.url + "/v1", keys=(A, B))], ["up"])

        async def main():
            async with stack:
                for _ in range(10):
                    await stack.call(Request.simple("pool", "x"))

        anyio.run(main)
        assert up.counts == {A: 5, B: 5}


def test_installed_under_its_config_name():
    from importlib import metadata

    found = [ep for ep in metadata.entry_points(group="omniwire") if ep.name == "strategy-usage"]
    assert [ep.load() for ep in found] == [plugin]
    pm = PluginManager(entry_points=False)
    pm.register(plugin, name="strategy-usage")
    assert pm.get("strategies", "usage") is plugin.UsageStrategy


def test_attempts_refused_after_admission_are_not_counted():
    from omniwire import CircuitOpen

    class Refuse:
        async def admit(self, call, candidate):
            raise CircuitOpen("refused by a later guard")

        async def complete(self, call):
            pass

        async def abort(self, call, error):
            pass

    with FakeUpstream([ToyCodec()]) as up:
        endpoint = Endpoint("up", "kit.chat", up.url + "/v1", keys=(A,), options={"rpm": 10})
        route = ModelRoute("pool", (Target("up", "m"),), strategy="usage")
        stack = Stack(
            [endpoint],
            routes=[route],
            plugin_manager=PluginManager(entry_points=False),
            codecs=[ToyCodec()],
            plugins=[plugin],
            guards=[Refuse()],
        )

        async def main():
            async with stack:
                for _ in range(3):
                    with pytest.raises(CircuitOpen):
                        await stack.call(Request.simple("pool", "x"))

        anyio.run(main)
    strategy = stack._strategies["pool"]
    assert strategy.headroom(stack.router.candidates("pool")[0]) == (1.0, 0)
