"""Singleflight (opt-in): identical non-streamed requests in flight together share one
upstream call; the upstream's own counter is the judge."""

from __future__ import annotations

import anyio
import pytest
from omniwire import Endpoint, OmniwireError, Request
from omniwire.plugins import PluginManager
from omniwire.stack import Stack
from omniwire_testing.upstream import FakeUpstream

pytest.importorskip("omniwire_openai")
KEY = "sk-singleflight-key-00001"


@pytest.fixture
def upstream():
    with FakeUpstream() as up:
        yield up


def make_stack(up: FakeUpstream, **kwargs) -> Stack:
    endpoint = Endpoint("up", "openai.chat", up.base_url_for("openai.chat"), keys=(KEY,))
    return Stack([endpoint], plugin_manager=PluginManager(), **kwargs)


async def burst(stack: Stack, requests: list[Request]) -> list:
    calls: list = [None] * len(requests)

    async def one(i: int) -> None:
        calls[i] = await stack.invoke(requests[i])

    async with anyio.create_task_group() as tg:
        for i in range(len(requests)):
            tg.start_soon(one, i)
    return calls


def test_identical_requests_share_one_upstream_call(upstream):
    upstream.delay(0.3)  # keep the first in flight while the others arrive
    stack = make_stack(upstream, singleflight=True)

    async def main():
        async with stack:
            return await burst(stack, [Request.simple("m", "same question")] * 20)

    calls = anyio.run(main)
    assert len(upstream.requests) == 1
    assert {c.response.text for c in calls} == {"echo: same question"}
    leaders = [c for c in calls if not c.shared]
    assert len(leaders) == 1
    assert leaders[0].usage is not None
    followers = [c for c in calls if c.shared]
    assert len(followers) == 19
    assert all(c.usage is None and c.cost is None and not c.attempts for c in followers)


def test_different_requests_are_not_shared(upstream):
    upstream.delay(0.2, times=None)
    stack = make_stack(upstream, singleflight=True)
    requests = [Request.simple("m", f"question {i % 4}") for i in range(12)]

    async def main():
        async with stack:
            return await burst(stack, requests)

    calls = anyio.run(main)
    assert len(upstream.requests) == 4
    assert [c.response.text for c in calls] == [f"echo: question {i % 4}" for i in range(12)]


def test_later_identical_request_is_sent_again(upstream):
    stack = make_stack(upstream, singleflight=True)

    async def main():
        async with stack:
            await stack.call(Request.simple("m", "again"))
            await stack.call(Request.simple("m", "again"))

    anyio.run(main)
    assert len(upstream.requests) == 2  # nothing is cached once the flight landed


def test_followers_get_the_leaders_typed_error(upstream):
    upstream.fail(503, seconds=0.3)
    stack = make_stack(upstream, singleflight=True)
    errors: list[OmniwireError] = []

    async def main():
        async with stack:

            async def one() -> None:
                try:
                    await stack.call(Request.simple("m", "doomed"))
                except OmniwireError as exc:
                    errors.append(exc)

            async with anyio.create_task_group() as tg:
                for _ in range(5):
                    tg.start_soon(one)

    anyio.run(main)
    assert len(upstream.requests) == 1
    assert len(errors) == 5 and {e.status for e in errors} == {503}


def test_a_cancelled_leader_hands_over(upstream):
    upstream.delay(0.4)
    stack = make_stack(upstream, singleflight=True)
    results: list[str] = []

    async def main():
        async with stack:
            async with anyio.create_task_group() as tg:
                leader_scope = anyio.CancelScope()

                async def leader() -> None:
                    with leader_scope:
                        await stack.call(Request.simple("m", "handover"))

                async def follower() -> None:
                    results.append((await stack.call(Request.simple("m", "handover"))).text)

                tg.start_soon(leader)
                await anyio.sleep(0.05)
                tg.start_soon(follower)
                tg.start_soon(follower)
                await anyio.sleep(0.05)
                leader_scope.cancel()

    anyio.run(main)
    assert results == ["echo: handover", "echo: handover"]
    assert len(upstream.requests) == 2  # the cancelled one, then one for both followers


def test_off_by_default(upstream):
    upstream.delay(0.2)
    stack = make_stack(upstream)

    async def main():
        async with stack:
            return await burst(stack, [Request.simple("m", "same")] * 5)

    anyio.run(main)
    assert len(upstream.requests) == 5


def test_config_switch():
    from omniwire.config import load_config

    assert load_config({}).singleflight is False
    assert load_config({"singleflight": True}).singleflight is True
    with pytest.raises(OmniwireError, match="singleflight"):
        load_config({"singleflight": 1})
