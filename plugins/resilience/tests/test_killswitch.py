"""The kill switch over real HTTP: a killed provider or model is never sent a byte,
calls go to the other candidates, everything killed is a typed 503, reviving restores
traffic, and flipping it while calls are in flight lets those finish."""

from __future__ import annotations

import json

import anyio
import pytest
from omniwire import ConfigError, Endpoint, NoAvailableKey, Request
from omniwire.routing import ModelRoute, Target
from omniwire_resilience import KillSwitchGuard, kill, kill_switch_of, pool_status, revive

KA, KB = "sk-res-test-key-a-0001", "sk-res-test-key-b-0002"


@pytest.fixture
def two(up, make_stack):
    """Providers ``a`` and ``b`` on the fake upstream (one key each) behind model ``m``:
    ``a`` first, ``b`` the failover."""

    def make(**kwargs):
        endpoint_options = kwargs.pop("a_options", {})
        endpoints = [
            Endpoint("a", "kit.chat", up.url + "/v1", keys=(KA,), options=endpoint_options),
            Endpoint("b", "kit.chat", up.url + "/v1", keys=(KB,)),
        ]
        route = ModelRoute("m", (Target("a", "m"), Target("b", "m")))
        return make_stack(endpoints=endpoints, routes=[route], **kwargs)

    return make


async def calls(stack, n, model="m"):
    """n calls at once: "ok" or the error each ended with."""
    results = []

    async def one(i):
        try:
            await stack.call(Request.simple(model, f"call {i}"))
            results.append("ok")
        except Exception as exc:
            results.append(exc)

    async with anyio.create_task_group() as tg:
        for i in range(n):
            tg.start_soon(one, i)
    return results


def test_a_provider_killed_in_the_config_gets_nothing(up, two):
    stack = two(options={"kill_switch": {"killed": ["a"]}})

    async def main():
        async with stack:
            results = await calls(stack, 20)
            return results, await pool_status(stack), await stack.pool_status()

    results, status, via_stack = anyio.run(main)
    assert results == ["ok"] * 20
    assert up.count(KA) == 0 and up.count(KB) == 20
    assert status.killed == ("a",)
    assert status.endpoint("a").killed and not status.endpoint("b").killed
    # the kernel's pool_status (what the gateway's /health shows) carries it too
    assert via_stack["killed"] == ["a"]
    assert [e["killed"] for e in via_stack["endpoints"]] == [True, False]


def test_kill_a_model_then_everything_then_revive(up, two):
    stack = two()

    async def main():
        async with stack:
            assert kill(stack, "a", model="m") is True
            assert kill(stack, "a:m") is False  # the same switch, written as a pattern
            assert await calls(stack, 5) == ["ok"] * 5
            assert (up.count(KA), up.count(KB)) == (0, 5)
            assert await calls(stack, 2, model="a:other") == ["ok"] * 2  # other models pass
            assert up.count(KA) == 2

            kill(stack, model="m")  # "*:m": model m on every provider
            status = await pool_status(stack)
            assert status.killed == ("*:m", "a:m")
            assert status.endpoint("b").killed_models == ("m",)
            refused = await calls(stack, 3)
            assert (up.count(KA), up.count(KB)) == (2, 5)  # not a byte sent
            for error in refused:
                assert isinstance(error, NoAvailableKey) and error.status == 503
                assert "every candidate of model 'm' is switched off by the kill switch" in (
                    str(error)
                )
                assert "*:m, a:m" in error.message
                data = json.loads(json.dumps(error.to_dict()))
                assert data["type"] == "no_available_key" and data["status"] == 503

            assert revive(stack, model="m") and revive(stack, "a", model="m")
            assert not revive(stack, "a")  # was never killed as a whole
            assert await calls(stack, 4) == ["ok"] * 4
            assert (up.count(KA), up.count(KB)) == (6, 5)  # a is first again
            return await pool_status(stack)

    status = anyio.run(main)
    assert status.killed == () and status.endpoint("a").killed_models == ()


def test_killing_while_calls_are_in_flight_lets_them_finish(up, two, counting):
    upstream = counting(0.3)
    stack = two()

    async def main():
        async with stack:
            first, later = [], []

            async def batch(into, n):
                into.extend(await calls(stack, n))

            async with anyio.create_task_group() as tg:
                tg.start_soon(batch, first, 6)
                with anyio.fail_after(5):
                    while upstream.active[KA] < 6:  # all six are being answered by a
                        await anyio.sleep(0.01)
                kill(stack, "a")
                tg.start_soon(batch, later, 6)
            return first, later

    first, later = anyio.run(main)
    assert first == ["ok"] * 6 and later == ["ok"] * 6
    assert (up.count(KA), up.count(KB)) == (6, 6)


def test_an_attempt_waiting_for_room_when_killed_is_never_sent(up, two, counting):
    """Admitted before the flip, it waited for a concurrency slot of ``a``; the check
    right before the transport refuses it."""
    counting(0.3)
    stack = two(
        a_options={"max_concurrency": 1}, options={"limits": {"mode": "wait", "max_wait": 5}}
    )

    async def main():
        async with stack:
            async with anyio.create_task_group() as tg:
                results = []

                async def one():
                    results.extend(await calls(stack, 1, model="a:m"))

                tg.start_soon(one)
                tg.start_soon(one)  # waits in line for a's only slot
                with anyio.fail_after(5):
                    while (await pool_status(stack)).endpoint("a").keys[0].waiting < 1:
                        await anyio.sleep(0.01)
                kill(stack, "a")
            return results

    results = anyio.run(main)
    assert results[0] == "ok"
    assert isinstance(results[1], NoAvailableKey) and "kill switch" in str(results[1])
    assert up.count(KA) == 1


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"killed": ["nope"]}, "unknown provider 'nope'"),
        ({"killed": ["a:"]}, r"kill_switch.killed\[0\]: expected \"provider\""),
        ({"killed": ["*"]}, r"kill_switch.killed\[0\]"),
        ({"killed": [3]}, r"kill_switch.killed\[0\]: expected a string"),
        ({"killed": "a"}, "kill_switch.killed: expected an array"),
        ({"kiled": ["a"]}, "kill_switch: unknown setting 'kiled'"),
        ({"enabled": False, "killed": ["a"]}, "killed is set but enabled = false"),
    ],
)
def test_config_mistakes_fail_at_build(two, table, message):
    with pytest.raises(ConfigError, match=message):
        two(options={"kill_switch": table})


def test_runtime_mistakes_and_a_stack_without_a_kill_switch(two):
    stack = two()
    switch = kill_switch_of(stack)
    assert isinstance(switch, KillSwitchGuard) and stack.guards[0] is switch  # order 5
    with pytest.raises(ConfigError, match="unknown provider 'zzz'"):
        kill(stack, "zzz")
    with pytest.raises(ConfigError, match="name a provider, a model, or both"):
        kill(stack)
    assert switch.killed == () and not switch.active
    off = two(options={"kill_switch": {"enabled": False}})
    with pytest.raises(ConfigError, match="has no kill switch"):
        kill(off, "a")
