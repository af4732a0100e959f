"""random: a uniform shuffle per call, over real HTTP."""

from __future__ import annotations

from collections import Counter

import anyio
import omniwire_strategy_random as plugin
from omniwire import Endpoint, Request
from omniwire.plugins import PluginManager
from omniwire.routing import ModelRoute, Target
from omniwire.stack import Stack
from omniwire_testing.toy import ToyCodec
from omniwire_testing.upstream import FakeUpstream

KEYS = ("sk-rnd-test-key-a-0001", "sk-rnd-test-key-b-0002", "sk-rnd-test-key-c-0003")


def build(up: FakeUpstream, seed: int | None = 11) -> Stack:
    route = ModelRoute("pool", (Target("up", "m"),), strategy="random", options={"seed": seed})
    return Stack(
        [Endpoint("up", "kit.chat", up.url + "/v1", keys=KEYS)],
        routes=[route],
        plugin_manager=PluginManager(entry_points=False),
        codecs=[ToyCodec()],
        plugins=[plugin],
    )


def test_spreads_roughly_evenly():
    with FakeUpstream([ToyCodec()]) as up:
        stack = build(up)

        async def main():
            async with stack:
                for _ in range(60):
                    await stack.call(Request.simple("pool", "x"))

        anyio.run(main)
        counts = up.counts
    assert sum(counts.values()) == 60
    assert all(10 <= counts[k] <= 30 for k in KEYS), counts
    # the same strategy over many more draws, without the network
    strategy = stack._strategies["pool"]
    candidates = stack.router.candidates("pool")
    firsts = Counter(strategy.order(candidates)[0].key.alias for _ in range(6000))
    assert all(abs(n / 6000 - 1 / 3) < 0.03 for n in firsts.values()), firsts


def test_every_candidate_once_and_seed_reproduces():
    with FakeUpstream([ToyCodec()]) as up:
        a, b = build(up, seed=5), build(up, seed=5)
        candidates = a.router.candidates("pool")
        runs = []
        for stack in (a, b):
            strategy = stack._strategies["pool"]
            runs.append([[c.key.alias for c in strategy.order(candidates)] for _ in range(20)])
    assert runs[0] == runs[1]
    assert all(sorted(order) == ["up#0", "up#1", "up#2"] for order in runs[0])
    assert len({tuple(order) for order in runs[0]}) > 1


def test_installed_under_its_config_name():
    from importlib import metadata

    found = [ep for ep in metadata.entry_points(group="omniwire") if ep.name == "strategy-random"]
    assert [ep.load() for ep in found] == [plugin]
    pm = PluginManager(entry_points=False)
    pm.register(plugin, name="strategy-random")
    assert pm.get("strategies", "random") is plugin.RandomStrategy
