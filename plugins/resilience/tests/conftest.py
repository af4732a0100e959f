from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import omniwire_resilience
import pytest
from omniwire import Choice, Endpoint, Response, StopReason, TextPart, Usage
from omniwire.plugins import PluginManager
from omniwire.serialize import to_json
from omniwire.stack import Stack
from omniwire_testing.toy import ToyCodec
from omniwire_testing.upstream import FakeUpstream, RawResponse

KEYS = ("sk-res-test-key-a-0001", "sk-res-test-key-b-0002", "sk-res-test-key-c-0003")


@pytest.fixture
def up():
    with FakeUpstream([ToyCodec()]) as server:
        yield server


@pytest.fixture
def make_stack(up):
    """A stack on the fake upstream with only the kernel and this plugin installed."""

    def make(
        *,
        keys: tuple[str, ...] = KEYS[:2],
        options: dict[str, Any] | None = None,
        endpoint_options: dict[str, Any] | None = None,
        endpoints: list[Endpoint] | None = None,
        **kwargs: Any,
    ) -> Stack:
        if endpoints is None:
            endpoints = [
                Endpoint(
                    "up", "kit.chat", up.url + "/v1", keys=keys, options=endpoint_options or {}
                )
            ]
        return Stack(
            endpoints,
            plugin_manager=PluginManager(entry_points=False),
            codecs=[ToyCodec()],
            plugins=[omniwire_resilience, *kwargs.pop("plugins", ())],
            options=options or {},
            **kwargs,
        )

    return make


class Counting:
    """A raw upstream handler that holds each request ``delay`` seconds and records how
    many were in flight at once, per key (it runs on the fake upstream's own loop)."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.active: Counter[str | None] = Counter()
        self.peak: Counter[str | None] = Counter()

    async def __call__(self, recorded: Any) -> RawResponse:
        key = recorded.key
        self.active[key] += 1
        self.peak[key] = max(self.peak[key], self.active[key])
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.active[key] -= 1
        answer = Response(
            id="held",
            model="m",
            choices=(Choice((TextPart("ok"),), StopReason.END_TURN),),
            usage=Usage(3, 2),
        )
        return RawResponse(200, to_json(answer))


@pytest.fixture
def counting(up):
    def install(delay: float) -> Counting:
        handler = Counting(delay)
        up.on("/v1/kit/chat", handler)
        return handler

    return install
