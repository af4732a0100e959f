"""Same-protocol relay: ``StreamResult.batches(relay)`` hands a server the upstream's own
bytes, whole events at a time, while every event is still decoded and folded (usage,
guards, observers); non-streamed answers keep their bytes in ``Call.native``. Real HTTP
against the kit's upstream, for every installed generation codec, on both transports."""

from __future__ import annotations

import json

import pytest
from omniwire import Endpoint, Request
from omniwire.errors import UpstreamError
from omniwire.model import events_for
from omniwire.plugins import PluginManager
from omniwire.report import Conversion
from omniwire.sse import parse_sse
from omniwire.stack import Stack
from omniwire_testing.upstream import FakeUpstream, RawResponse, echo_response

PROTOCOLS = ("openai.chat", "openai.responses", "anthropic.messages", "gemini.generate_content")
KEY = "sk-relay-test-key-0001"
SSE = {"content-type": "text/event-stream"}
pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


def make_stack(up: FakeUpstream, protocol: str, transport: str = "httpx", **kw) -> Stack:
    pytest.importorskip(f"omniwire_{protocol.split('.')[0]}")
    if transport == "aiohttp":
        pytest.importorskip("omniwire_aiohttp")
    endpoint = Endpoint("up", protocol, up.base_url_for(protocol), keys=(KEY,))
    return Stack([endpoint], plugin_manager=PluginManager(), transport_name=transport, **kw)


def native_stream(stack: Stack, protocol: str, text: str) -> bytes:
    """What an upstream speaking ``protocol`` sends for an answer of ``text``."""
    codec = stack.pm.codec(protocol)
    request = Request.simple("model-x", text, stream=True)
    encoder = codec.stream_encoder(Conversion(None, protocol), request)
    out = [e.encode() for ev in events_for(echo_response(request, 1)) for e in encoder.feed(ev)]
    out += [e.encode() for e in encoder.close()]
    return b"".join(out)


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


async def relayed(stack: Stack, text: str, relay: str | None):
    result = stack.stream(Request.simple("model-x", text))
    batches = []
    async with result:
        async for batch in result.batches(relay):
            assert batch, "batches are never empty"
            batches.append(batch)
    return result, batches


@pytest.mark.parametrize("transport", ["httpx", "aiohttp"])
@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("size", [7, 61, 100000])
async def test_stream_relays_the_upstream_bytes_whole_events_at_a_time(protocol, transport, size):
    with FakeUpstream() as up:
        stack = make_stack(up, protocol, transport)
        text = "one two three four five six seven"
        data = native_stream(stack, protocol, text)
        up.script(RawResponse(headers=SSE, chunks=split(data, size)))
        result, batches = await relayed(stack, text, protocol)
        await stack.aclose()
    assert result.relayed and not result.error_relayed
    assert all(type(b) is bytes for b in batches)
    assert b"".join(batches) == data  # byte for byte, nothing re-encoded
    for batch in batches:  # never half an event: an error written after a cut stays whole
        assert batch.endswith(b"\n\n") or batch.endswith(b"\r\n\r\n"), batch[-40:]
    # every event was still read: the fold, usage and the call record are complete
    assert result.response().text == echo_response(Request.simple("m", text), 1).text
    assert result.call.usage is not None and result.call.usage.output_tokens
    assert result.call.ended is not None and result.call.error is None


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_no_relay_across_protocols_or_when_not_asked(protocol):
    other = "anthropic.messages" if protocol != "anthropic.messages" else "openai.chat"
    with FakeUpstream() as up:
        stack = make_stack(up, protocol)
        data = native_stream(stack, protocol, "alpha beta")
        for relay in (other, None):
            up.script(RawResponse(headers=SSE, chunks=split(data, 50)))
            result, batches = await relayed(stack, "alpha beta", relay)
            assert not result.relayed
            assert all(isinstance(b, list) for b in batches)
            assert (
                result.response().text == echo_response(Request.simple("m", "alpha beta"), 1).text
            )
        await stack.aclose()


async def test_a_plugin_decode_stage_turns_relay_off():
    class Decoder:
        from omniwire import hookimpl

        @hookimpl(tryfirst=True)
        def omniwire_decode(self, call, response):
            return None  # defer to the codec, but the stage is no longer the codec alone

    with FakeUpstream() as up:
        stack = make_stack(up, "openai.chat", plugins=[Decoder()])
        up.script(RawResponse(headers=SSE, chunks=[native_stream(stack, "openai.chat", "hi")]))
        result, batches = await relayed(stack, "hi", "openai.chat")
        assert not result.relayed and isinstance(batches[0], list)
        await stack.aclose()


async def test_an_upstream_error_event_after_content_is_relayed_once():
    with FakeUpstream() as up:
        stack = make_stack(up, "openai.chat")
        data = native_stream(stack, "openai.chat", "one two three")
        events = data.split(b"\n\n")
        error = b'data: {"error":{"message":"overloaded","type":"server_error"}}\n\n'
        up.script(
            RawResponse(headers=SSE, chunks=[events[0] + b"\n\n", events[1] + b"\n\n", error])
        )
        result = stack.stream(Request.simple("model-x", "one two three"))
        got = []
        with pytest.raises(UpstreamError) as caught:
            async with result:
                async for batch in result.batches("openai.chat"):
                    got.append(batch)
        await stack.aclose()
    assert b"".join(got).endswith(error)  # the client sees the upstream's own error event
    assert result.error_relayed  # so a server must not write a second one
    assert "overloaded" in str(caught.value)


async def test_a_half_event_at_a_cut_is_never_relayed():
    with FakeUpstream() as up:
        stack = make_stack(up, "openai.chat")
        data = native_stream(stack, "openai.chat", "one two three four")
        events = data.split(b"\n\n")
        whole = b"".join(e + b"\n\n" for e in events[:2])  # the opening and some text
        half = events[2][: len(events[2]) // 2]  # the next event, cut in two
        up.script(RawResponse(headers=SSE, chunks=[whole + half]))
        result = stack.stream(Request.simple("model-x", "one two three four"))
        got = []
        with pytest.raises(UpstreamError, match="malformed"):
            async with result:
                async for batch in result.batches("openai.chat"):
                    got.append(batch)
        await stack.aclose()
    assert b"".join(got) == whole  # the complete events, not the half one
    assert not result.error_relayed  # the failure is ours to report, as an error event
    assert result.call.error is not None


@pytest.mark.parametrize("transport", ["httpx", "aiohttp"])
async def test_plain_answers_keep_their_bytes(transport):
    body = (
        b'{"id":"chatcmpl-9","object":"chat.completion","created":1,"model":"m",'
        b'"choices":[{"index":0,"message":{"role":"assistant","content":"hi there"},'
        b'"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,'
        b'"total_tokens":5},"x_vendor":{"kept":true}}'
    )
    with FakeUpstream() as up:
        stack = make_stack(up, "openai.chat", transport)
        up.script(RawResponse(body=body, headers={"content-type": "application/json"}))
        call = await stack.invoke(Request.simple("model-x", "hi"))
        await stack.aclose()
    assert call.native == body
    assert call.response.text == "hi there" and call.usage.output_tokens == 2
    assert json.loads(call.native)["x_vendor"] == {"kept": True}


def test_sse_parser_knows_when_it_stands_between_events():
    from omniwire.sse import SSEParser

    p = SSEParser()
    assert p.between_events
    p.feed(b"data: {")
    assert not p.between_events
    p.feed(b"}\n")
    assert not p.between_events  # the data line is whole, the event is not
    p.feed(b"\n")
    assert p.between_events
    p.feed(b"event: x\r")
    assert not p.between_events
    assert [e.event for e in parse_sse(b"event: x\ndata: 1\n\n")] == ["x"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_an_answer_that_is_no_stream_is_never_relayed(protocol):
    """JSON where a stream was asked: nothing of it reaches the consumer as bytes; the
    fallback answers with events (encoded by the server's codec)."""
    with FakeUpstream() as up:
        stack = make_stack(up, protocol)
        up.script(
            RawResponse(body={"not": "a stream"}, headers={"content-type": "application/json"})
        )
        result, batches = await relayed(stack, "plain words", protocol)
        await stack.aclose()
    assert not result.relayed and result.call.restreamed
    assert all(isinstance(b, list) for b in batches)
    assert result.response().text == echo_response(Request.simple("m", "plain words"), 2).text
