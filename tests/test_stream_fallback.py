"""A stream that fails before its first event reaches the caller is answered by a
non-streamed call, re-streamed locally; once an event was delivered, a failure is final.
Real HTTP against the kit's fault-injecting upstream, for every installed generation
codec family."""

from __future__ import annotations

import anyio
import pytest
from omniwire import Endpoint, OmniwireError, Request
from omniwire.model import ResponseStart, StreamError, TextDelta, fold
from omniwire.plugins import PluginManager
from omniwire.stack import Stack
from omniwire_testing.upstream import FakeUpstream

PROTOCOLS = ("openai.chat", "openai.responses", "anthropic.messages", "gemini.generate_content")
KEY = "sk-fallback-test-key-0001"


class CountingGuard:
    """Every admitted attempt must end in exactly one complete or abort."""

    def __init__(self) -> None:
        self.admitted = self.completed = self.aborted = 0

    async def admit(self, call, candidate):
        self.admitted += 1

    async def complete(self, call):
        self.completed += 1

    async def abort(self, call, error):
        self.aborted += 1

    @property
    def balanced(self) -> bool:
        return self.admitted == self.completed + self.aborted


def make_stack(up: FakeUpstream, protocol: str, **kwargs) -> tuple[Stack, CountingGuard]:
    pytest.importorskip(f"omniwire_{protocol.split('.')[0]}")
    pm = PluginManager()
    guard = CountingGuard()
    endpoint = Endpoint("up", protocol, up.base_url_for(protocol), keys=(KEY,))
    stack = Stack([endpoint], plugin_manager=pm, guards=[guard], **kwargs)
    return stack, guard


async def collect(stack: Stack, text: str, *, batched: bool = False):
    result = stack.stream(Request.simple("model-x", text))
    events = []
    async with result:
        if batched:
            async for batch in result.batches():
                assert batch, "batches are never empty"
                events.extend(batch)
        else:
            async for event in result:
                events.append(event)
    return result, events


def streamed(up: FakeUpstream) -> list[bool]:
    """Per request whether it asked for a stream (a faulted one is never decoded)."""
    return [
        ":streamGenerateContent" in r.path
        or bool(isinstance(r.json, dict) and r.json.get("stream"))
        for r in up.requests
    ]


@pytest.fixture
def upstream():
    with FakeUpstream() as up:
        yield up


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(
    "fault",
    ["cut_before_any_event", "status_503", "reset", "malformed_first_event"],
)
def test_failure_before_first_event_falls_back(upstream, protocol, fault):
    if fault == "cut_before_any_event":
        upstream.cut_stream(0)
    elif fault == "status_503":
        upstream.fail(503)
    elif fault == "reset":
        upstream.reset_connection()
    else:
        upstream.malformed_event(0)
    stack, guard = make_stack(upstream, protocol)

    async def main():
        async with stack:
            return await collect(stack, "hello fallback", batched=protocol == "openai.chat")

    result, events = anyio.run(main)
    assert result.call.restreamed
    assert fold(events).text == "echo: hello fallback"
    assert result.response().text == "echo: hello fallback"
    assert result.call.response.text == "echo: hello fallback"
    assert isinstance(events[0], ResponseStart)
    assert sum(isinstance(e, ResponseStart) for e in events) == 1
    assert streamed(upstream) == [True, False]  # the stream, then one plain call
    assert [a.error for a in result.call.attempts][0] is not None
    assert result.call.attempts[-1].error is None
    assert guard.balanced and guard.completed == 1 and guard.aborted == 1
    assert result.call.usage is not None and result.call.usage.output_tokens > 0


def test_error_event_before_content_falls_back(upstream):
    upstream.script([StreamError("overloaded", kind="overloaded_error")])
    stack, guard = make_stack(upstream, "anthropic.messages")

    async def main():
        async with stack:
            return await collect(stack, "after an overload")

    result, events = anyio.run(main)
    assert result.call.restreamed
    assert not any(isinstance(e, StreamError) for e in events)
    assert fold(events).text == "echo: after an overload"
    assert streamed(upstream) == [True, False]
    assert guard.balanced


def test_client_error_event_is_not_retried(upstream):
    upstream.script([StreamError("bad field", kind="invalid_request_error")])
    stack, guard = make_stack(upstream, "anthropic.messages")

    async def main():
        async with stack:
            return await collect(stack, "bad")

    with pytest.raises(OmniwireError, match="bad field") as caught:
        anyio.run(main)
    assert not caught.value.retryable
    assert streamed(upstream) == [True]
    assert guard.balanced and guard.completed == 0


def test_failure_after_content_is_final(upstream):
    upstream.cut_stream(4)  # some text reached the caller first
    stack, guard = make_stack(upstream, "openai.chat")
    seen = []

    async def main():
        async with stack:
            async for event in stack.stream(Request.simple("m", "a longer answer to cut " * 4)):
                seen.append(event)

    with pytest.raises(OmniwireError) as caught:
        anyio.run(main)
    assert any(isinstance(e, TextDelta) for e in seen)
    assert "Traceback" not in str(caught.value)
    assert streamed(upstream) == [True]  # never silently restarted
    assert guard.balanced and guard.completed == 0


def test_client_error_at_connect_is_not_retried(upstream):
    upstream.fail(400)
    stack, guard = make_stack(upstream, "openai.chat")

    async def main():
        async with stack:
            return await collect(stack, "bad request")

    with pytest.raises(OmniwireError) as caught:
        anyio.run(main)
    assert caught.value.status == 400
    assert streamed(upstream) == [True]
    assert guard.balanced


def test_fallback_failing_too_raises_the_typed_error(upstream):
    upstream.fail(503, times=2)
    stack, guard = make_stack(upstream, "openai.chat")

    async def main():
        async with stack:
            return await collect(stack, "down")

    with pytest.raises(OmniwireError) as caught:
        anyio.run(main)
    assert caught.value.status == 503
    assert streamed(upstream) == [True, False]
    assert guard.balanced and guard.aborted == 2


def test_fallback_can_be_switched_off(upstream):
    upstream.cut_stream(0)
    stack, guard = make_stack(upstream, "openai.chat", stream_fallback=False)

    async def main():
        async with stack:
            return await collect(stack, "no fallback")

    with pytest.raises(OmniwireError):
        anyio.run(main)
    assert streamed(upstream) == [True]
    assert guard.balanced


def test_fallback_reaches_the_next_provider(upstream):
    """Two endpoints: the stream fails on both at connect; the plain call fails over too."""
    upstream.fail(503, times=2)
    pm = PluginManager()
    base = upstream.base_url_for("openai.chat")
    endpoints = [
        Endpoint("a", "openai.chat", base, keys=("sk-fallback-a-0000001",)),
        Endpoint("b", "openai.chat", base, keys=("sk-fallback-b-0000002",)),
    ]
    from omniwire.routing import ModelRoute, Target

    route = ModelRoute("m", (Target("a", "model-x"), Target("b", "model-x")))
    stack = Stack(endpoints, routes=[route], plugin_manager=pm)

    async def main():
        async with stack:
            result = stack.stream(Request.simple("m", "two providers"))
            async with result:
                return result, [e async for e in result]

    result, events = anyio.run(main)
    assert fold(events).text == "echo: two providers"
    assert streamed(upstream) == [True, True, False]
    assert [a.endpoint for a in result.call.attempts] == ["a", "b", "a"]


def test_config_switch(tmp_path):
    from omniwire.config import load_config

    assert load_config({}).stream_fallback is True
    assert load_config({"stream_fallback": False}).stream_fallback is False
    with pytest.raises(OmniwireError, match="stream_fallback"):
        load_config({"stream_fallback": "yes"})


class UsageAtEnd(CountingGuard):
    """Records what usage each attempt ended with (what a budget would settle)."""

    def __init__(self) -> None:
        super().__init__()
        self.settled: list[tuple[str, object]] = []

    async def complete(self, call):
        await super().complete(call)
        self.settled.append(("complete", call.usage))

    async def abort(self, call, error):
        await super().abort(call, error)
        self.settled.append(("abort", call.usage))


def test_the_broken_attempt_settles_the_usage_it_reported(upstream):
    """Anthropic's message_start carries the input usage; a stream cut right after it
    is retried plain, and the broken attempt's guards settle on that input usage."""
    pytest.importorskip("omniwire_anthropic")
    upstream.cut_stream(1)  # message_start, then nothing
    guard = UsageAtEnd()
    endpoint = Endpoint(
        "up", "anthropic.messages", upstream.base_url_for("anthropic.messages"), keys=(KEY,)
    )
    stack = Stack([endpoint], plugin_manager=PluginManager(), guards=[guard])

    async def main():
        async with stack:
            return await collect(stack, "settle what was seen")

    result, events = anyio.run(main)
    assert result.call.restreamed and fold(events).text == "echo: settle what was seen"
    (first, seen), (second, final) = guard.settled
    assert (first, second) == ("abort", "complete")
    assert seen is not None and seen.input_tokens > 0 and seen.output_tokens == 0
    assert final is not None and final.output_tokens > 0
    assert result.call.usage == final
