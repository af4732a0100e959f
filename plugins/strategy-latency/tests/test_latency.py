"""latency: after warm-up the fast upstream takes most calls; the slow one is probed."""

from __future__ import annotations

from collections import Counter

import anyio
import omniwire_strategy_latency as plugin
import pytest
from omniwire import ConfigError, Endpoint, Request
from omniwire.plugins import PluginManager
from omniwire.routing import ModelRoute, Target
from omniwire.stack import Stack
from omniwire_strategy_latency import Stat
from omniwire_testing.toy import ToyCodec
from omniwire_testing.upstream import FakeUpstream

FAST, SLOW = "sk-lat-test-fast-0001", "sk-lat-test-slow-0002"


def build(up: FakeUpstream, **options) -> Stack:
    route = ModelRoute(
        "pool",
        (Target("slow", "m"), Target("fast", "m")),
        strategy="latency",
        options={"seed": 3, **options},
    )
    return Stack(
        [
            Endpoint("slow", "kit.chat", up.url + "/v1", keys=(SLOW,)),
            Endpoint("fast", "kit.chat", up.url + "/v1", keys=(FAST,)),
        ],
        routes=[route],
        plugin_manager=PluginManager(entry_points=False),
        codecs=[ToyCodec()],
        plugins=[plugin],
    )


def test_prefers_the_fast_upstream_but_still_probes():
    with FakeUpstream([ToyCodec()]) as up:
        up.delay(0.1, key=SLOW, times=None)
        stack = build(up, latency_probe=0.15, latency_decay=0.5)

        async def main():
            async with stack:
                for _ in range(4):  # warm-up: both get measured
                    await stack.call(Request.simple("pool", "x"))
                counts = Counter()
                for _ in range(60):
                    call = await stack.invoke(Request.simple("pool", "x"))
                    counts[call.attempts[0].endpoint] += 1
                return counts

        counts = anyio.run(main)
    assert counts["fast"] >= 0.75 * 60, counts
    assert counts["slow"] >= 1, counts  # probes keep measuring the slow one
    stats = {who[0]: s for who, s in stack._strategies["pool"].snapshot().items()}
    assert stats["slow"].ewma > stats["fast"].ewma
    assert stats["slow"].pending == stats["fast"].pending == 0


def test_failures_are_penalised():
    with FakeUpstream([ToyCodec()]) as up:
        up.fail(503, key=FAST, times=1)
        up.delay(0.02, key=SLOW, times=None)
        stack = build(up, latency_probe=0.0, latency_penalty=2.0)

        async def main():
            async with stack:
                for _ in range(6):
                    await stack.call(Request.simple("pool", "x"))

        anyio.run(main)
    stats = {who[0]: s for who, s in stack._strategies["pool"].snapshot().items()}
    assert stats["fast"].ewma >= 2.0 > stats["slow"].ewma


def test_peak_ewma():
    stat = Stat()
    assert stat.cost() == 0.0  # never observed: tried first
    stat.observe(0.1, now=0.0, decay=10.0)
    stat.observe(0.5, now=1.0, decay=10.0)
    assert stat.ewma == 0.5  # a peak is taken at once
    stat.observe(0.1, now=2.0, decay=10.0)
    assert 0.45 < stat.ewma < 0.5  # a drop is believed slowly
    stat.observe(0.1, now=100.0, decay=10.0)
    assert stat.ewma == pytest.approx(0.1, abs=1e-3)  # unless it has been a while
    stat.pending = 3
    assert stat.cost() == pytest.approx(4 * stat.ewma)


def test_bad_options_fail_at_build():
    with FakeUpstream([ToyCodec()]) as up, pytest.raises(ConfigError, match="latency_probe"):
        build(up, latency_probe=2)


def test_installed_under_its_config_name():
    from importlib import metadata

    found = [ep for ep in metadata.entry_points(group="omniwire") if ep.name == "strategy-latency"]
    assert [ep.load() for ep in found] == [plugin]
    pm = PluginManager(entry_points=False)
    pm.register(plugin, name="strategy-latency")
    assert pm.get("strategies", "latency") is plugin.LatencyStrategy
