"""weighted: route weights share traffic between targets, key weights within a pool."""

from __future__ import annotations

from collections import Counter

import anyio
import omniwire_strategy_weighted as plugin
from omniwire import Endpoint, Request
from omniwire.endpoint import Key
from omniwire.plugins import PluginManager
from omniwire.routing import ModelRoute, Target
from omniwire.stack import Stack
from omniwire_testing.toy import ToyCodec
from omniwire_testing.upstream import FakeUpstream

BIG = ("sk-w-test-key-a-0001", "sk-w-test-key-b-0002", "sk-w-test-key-c-0003")
SMALL = "sk-w-test-key-d-0004"


def build(up: FakeUpstream, weights=(3, 1), *, seed=1, big_keys=BIG) -> Stack:
    endpoints = [
        Endpoint("big", "kit.chat", up.url + "/v1", keys=big_keys),
        Endpoint("small", "kit.chat", up.url + "/v1", keys=(SMALL,)),
    ]
    route = ModelRoute(
        "pool",
        (Target("big", "m"), Target("small", "m")),
        strategy="weighted",
        weights=tuple(float(w) for w in weights),
        options={"seed": seed},
    )
    return Stack(
        endpoints,
        routes=[route],
        plugin_manager=PluginManager(entry_points=False),
        codecs=[ToyCodec()],
        plugins=[plugin],
    )


def test_matches_route_weights_over_http():
    """3:1 between targets although the first has three keys and the second one."""
    n = 100
    with FakeUpstream([ToyCodec()]) as up:
        stack = build(up)

        async def main():
            async with stack:
                for _ in range(n):
                    await stack.call(Request.simple("pool", "x"))

        anyio.run(main)
        counts = up.counts
    big = sum(counts.get(k, 0) for k in BIG)
    assert abs(big / n - 0.75) < 0.1, counts
    assert all(counts.get(k, 0) > 10 for k in BIG), counts  # the pool shares its 75%


def test_matches_weights_within_tolerance_over_many_draws():
    with FakeUpstream([ToyCodec()]) as up:
        stack = build(up, weights=(1, 4))
    strategy = stack._strategies["pool"]
    n = 20000
    firsts = Counter()
    for _ in range(n):
        firsts[strategy.order(stack.router.candidates("pool"))[0].endpoint.name] += 1
    assert abs(firsts["small"] / n - 0.8) < 0.015, firsts


def test_key_weights_share_a_pool():
    keys = (Key(BIG[0], alias="heavy", weight=3), Key(BIG[1], alias="light", weight=1))
    with FakeUpstream([ToyCodec()]) as up:
        stack = build(up, weights=(1, 0), big_keys=keys)
    strategy = stack._strategies["pool"]
    n = 20000
    firsts = Counter(strategy.order(stack.router.candidates("pool"))[0].key.alias for _ in range(n))
    assert abs(firsts["heavy"] / n - 0.75) < 0.015, firsts
    assert "small#0" not in firsts  # weight 0: never first


def test_zero_weight_is_only_a_last_resort():
    with FakeUpstream([ToyCodec()]) as up:
        stack = build(up, weights=(0, 1))
        up.fail(503, key=SMALL, times=None)

        async def main():
            async with stack:
                return await stack.invoke(Request.simple("pool", "x"))

        call = anyio.run(main)
    assert [a.endpoint for a in call.attempts][0] == "small"
    assert call.attempts[-1].endpoint == "big" and call.attempts[-1].error is None
    ordered = stack._strategies["pool"].order(stack.router.candidates("pool"))
    assert len(ordered) == 4


def test_installed_under_its_config_name():
    from importlib import metadata

    found = [ep for ep in metadata.entry_points(group="omniwire") if ep.name == "strategy-weighted"]
    assert [ep.load() for ep in found] == [plugin]
    pm = PluginManager(entry_points=False)
    pm.register(plugin, name="strategy-weighted")
    assert pm.get("strategies", "weighted") is plugin.WeightedStrategy
