"""Configured retries: jittered backoff on the same provider, none across keys after a
key's own refusal, and the overall deadline."""

from __future__ import annotations

import time

import anyio
import pytest
from omniwire import Endpoint, Request, UpstreamError
from omniwire.guard import Backoff

A, B, C = "sk-res-test-key-a-0001", "sk-res-test-key-b-0002", "sk-res-test-key-c-0003"


def test_backs_off_between_keys_of_a_failing_provider_within_the_deadline(up, make_stack):
    up.fail(503, times=2)
    stack = make_stack(keys=(A, B, C), options={"retry": {"base": 0.05, "cap": 0.1, "deadline": 5}})

    async def main():
        async with stack:
            return await stack.invoke(Request.simple("m", "x"))

    call = anyio.run(main)
    assert [a.error for a in call.attempts] == ["upstream_error", "upstream_error", None]


def test_deadline_ends_the_retries(up, make_stack):
    up.fail(503, times=1, seconds=0.2)
    stack = make_stack(keys=(A, B), options={"retry": {"deadline": 0.1}})

    async def main():
        async with stack:
            await stack.call(Request.simple("m", "x"))

    with pytest.raises(UpstreamError):
        anyio.run(main)
    assert sum(up.counts.values()) == 1


@pytest.mark.parametrize("status", [429, 401])
def test_another_key_does_not_wait_for_a_keys_refusal(up, make_stack, status):
    up.fail(status, key=A, retry_after=3)
    stack = make_stack(keys=(A, B), options={"retry": {"base": 1, "deadline": 10}})

    async def main():
        async with stack:
            started = time.monotonic()
            call = await stack.invoke(Request.simple("m", "x"))
            return call, time.monotonic() - started

    call, took = anyio.run(main)
    assert [a.key_alias for a in call.attempts] == ["up#0", "up#1"]
    assert took < 2  # the kernel's Backoff would have slept the 3 s asked of key A


def test_the_kernel_backoff_alone_would_wait(up):
    """The contrast: what KeyAwareBackoff avoids."""
    from omniwire.plugins import PluginManager
    from omniwire.stack import Stack
    from omniwire_testing.toy import ToyCodec

    up.fail(429, key=A, retry_after=0.3)
    stack = Stack(
        [Endpoint("up", "kit.chat", up.url + "/v1", keys=(A, B))],
        plugin_manager=PluginManager(entry_points=False),
        codecs=[ToyCodec()],
        retry=Backoff(base=0.001, deadline=10),
    )

    async def main():
        async with stack:
            started = time.monotonic()
            await stack.call(Request.simple("m", "x"))
            return time.monotonic() - started

    assert anyio.run(main) >= 0.3
