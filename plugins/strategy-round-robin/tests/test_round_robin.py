"""round-robin: every provider x key goes first once per turn, over real HTTP."""

from __future__ import annotations

from collections import Counter

import anyio
import omniwire_strategy_round_robin as plugin
from omniwire import Endpoint, Request
from omniwire.plugins import PluginManager
from omniwire.routing import ModelRoute, Target
from omniwire.stack import Stack
from omniwire_testing.toy import ToyCodec
from omniwire_testing.upstream import FakeUpstream

KEYS = ("sk-rr-test-key-a-0001", "sk-rr-test-key-b-0002", "sk-rr-test-key-c-0003")
OTHER = "sk-rr-test-key-d-0004"


def build(up: FakeUpstream) -> Stack:
    endpoints = [
        Endpoint("one", "kit.chat", up.url + "/v1", keys=KEYS),
        Endpoint("two", "kit.chat", up.url + "/v1", keys=(OTHER,)),
    ]
    route = ModelRoute("pool", (Target("one", "m1"), Target("two", "m2")), strategy="round-robin")
    return Stack(
        endpoints,
        routes=[route],
        plugin_manager=PluginManager(entry_points=False),
        codecs=[ToyCodec()],
        plugins=[plugin],
    )


def test_spreads_evenly_over_every_key_of_every_target():
    with FakeUpstream([ToyCodec()]) as up:
        stack = build(up)

        async def main() -> list[str | None]:
            firsts = []
            async with stack:
                for _ in range(40):
                    call = await stack.invoke(Request.simple("pool", "hello"))
                    firsts.append(call.attempts[0].key_alias)
            return firsts

        firsts = anyio.run(main)
        assert up.counts == {KEYS[0]: 10, KEYS[1]: 10, KEYS[2]: 10, OTHER: 10}
    # strict rotation in configuration order, not just even on average
    assert firsts[:4] == ["one#0", "one#1", "one#2", "two#0"]
    assert firsts[4:8] == firsts[:4]
    assert Counter(firsts) == {"one#0": 10, "one#1": 10, "one#2": 10, "two#0": 10}


def test_returns_every_candidate_and_fails_over_in_rotation_order():
    with FakeUpstream([ToyCodec()]) as up:
        stack = build(up)
        up.fail(503, key=KEYS[0])

        async def main():
            async with stack:
                return await stack.invoke(Request.simple("pool", "x"))

        call = anyio.run(main)
    assert [(a.key_alias, a.error) for a in call.attempts] == [
        ("one#0", "upstream_error"),
        ("one#1", None),
    ]
    candidates = stack.router.candidates("pool")
    ordered = stack._strategies["pool"].order(candidates)
    assert sorted(map(id, ordered)) == sorted(map(id, candidates))


def test_configured_by_name(tmp_path):
    with FakeUpstream([ToyCodec()]) as up:
        config = f"""
[[providers]]
name = "one"
protocol = "kit.chat"
base_url = "{up.url}/v1"
api_keys = {list(KEYS[:2])!r}

[[models]]
name = "pool"
targets = ["one:m"]
strategy = "round-robin"
"""
        stack = Stack.from_config(
            config,
            plugin_manager=PluginManager(entry_points=False),
            codecs=[ToyCodec()],
            plugins=[plugin],
        )

        async def main():
            async with stack:
                for _ in range(6):
                    await stack.call(Request.simple("pool", "x"))

        anyio.run(main)
        assert up.counts == {KEYS[0]: 3, KEYS[1]: 3}
    assert type(stack._strategies["pool"]).name == "round-robin"


def test_installed_under_its_config_name():
    from importlib import metadata

    found = [
        ep for ep in metadata.entry_points(group="omniwire") if ep.name == "strategy-round-robin"
    ]
    assert [ep.load() for ep in found] == [plugin]
    pm = PluginManager(entry_points=False)
    pm.register(plugin, name="strategy-round-robin")
    assert pm.get("strategies", "round-robin") is plugin.RoundRobinStrategy
