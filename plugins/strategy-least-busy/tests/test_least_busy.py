"""least-busy: a call goes to the candidate with the fewest requests in flight."""

from __future__ import annotations

import anyio
import omniwire_strategy_least_busy as plugin
from omniwire import Endpoint, Request
from omniwire.plugins import PluginManager
from omniwire.routing import ModelRoute, Target
from omniwire.stack import Stack
from omniwire_testing.toy import ToyCodec
from omniwire_testing.upstream import FakeUpstream

KEYS = ("sk-lb-test-key-a-0001", "sk-lb-test-key-b-0002", "sk-lb-test-key-c-0003")


def build(up: FakeUpstream) -> Stack:
    route = ModelRoute("pool", (Target("up", "m"),), strategy="least-busy")
    return Stack(
        [Endpoint("up", "kit.chat", up.url + "/v1", keys=KEYS)],
        routes=[route],
        plugin_manager=PluginManager(entry_points=False),
        codecs=[ToyCodec()],
        plugins=[plugin],
    )


async def _wait_for(predicate, timeout=5.0):
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(0.005)


def test_prefers_the_idle_key():
    with FakeUpstream([ToyCodec()]) as up:
        stack = build(up)
        strategy = stack._strategies["pool"]
        up.delay(1.0, times=2)  # the next two requests hang, whatever their key
        quick: list[str | None] = []
        held: list[str | None] = []

        async def slow():
            call = await stack.invoke(Request.simple("pool", "slow"))
            held.append(call.attempts[0].key_alias)

        async def main():
            async with stack, anyio.create_task_group() as tg:
                tg.start_soon(slow)
                await _wait_for(lambda: len(up.requests) == 1)
                tg.start_soon(slow)
                await _wait_for(lambda: len(up.requests) == 2)
                assert sum(strategy.in_flight().values()) == 2
                for _ in range(10):
                    call = await stack.invoke(Request.simple("pool", "quick"))
                    quick.append(call.attempts[0].key_alias)
                assert sum(strategy.in_flight().values()) == 2  # still held meanwhile

        anyio.run(main)
    assert len(set(held)) == 2  # the second slow call avoided the first's key
    assert len(set(quick)) == 1 and quick[0] not in held  # all ten on the idle key
    assert strategy.in_flight() == {}


def test_idle_pool_is_used_evenly_and_counts_do_not_leak():
    with FakeUpstream([ToyCodec()]) as up:
        stack = build(up)
        up.fail(500, key=KEYS[1], times=3)

        async def main():
            async with stack:
                for _ in range(12):
                    await stack.call(Request.simple("pool", "x"))
                with anyio.move_on_after(0.05):
                    up.delay(1.0, times=1)
                    await stack.call(Request.simple("pool", "cancelled"))

        anyio.run(main)
        counts = up.counts
    assert sum(counts.values()) == 16 and min(counts.values()) >= 3, counts
    assert stack._strategies["pool"].in_flight() == {}


def test_other_models_are_not_counted():
    with FakeUpstream([ToyCodec()]) as up:
        stack = build(up)
        up.delay(0.3, times=1)
        strategy = stack._strategies["pool"]
        seen = []

        async def main():
            async with stack, anyio.create_task_group() as tg:
                tg.start_soon(stack.call, Request.simple("up:direct", "x"))
                await _wait_for(lambda: len(up.requests) == 1)
                seen.append(strategy.in_flight())

        anyio.run(main)
    assert seen == [{}]


def test_installed_under_its_config_name():
    from importlib import metadata

    found = [
        ep for ep in metadata.entry_points(group="omniwire") if ep.name == "strategy-least-busy"
    ]
    assert [ep.load() for ep in found] == [plugin]
    pm = PluginManager(entry_points=False)
    pm.register(plugin, name="strategy-least-busy")
    assert pm.get("strategies", "least-busy") is plugin.LeastBusyStrategy
