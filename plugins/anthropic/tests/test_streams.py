"""Stream decoder and encoder behaviour beyond the round-trip properties."""

from __future__ import annotations

import json
from typing import Any

from omniwire.model import (
    ArgumentsDelta,
    OpaquePart,
    PartEnd,
    PartStart,
    ReasoningPart,
    RefusalPart,
    Request,
    ResponseEnd,
    ResponseStart,
    SignatureDelta,
    StopReason,
    StreamError,
    StreamEvent,
    SummaryDelta,
    TextDelta,
    TextPart,
    ToolCallPart,
    Usage,
    UsageUpdate,
    fold,
)
from omniwire.report import Conversion
from omniwire.sse import SSEEvent
from omniwire_anthropic.messages import AnthropicMessages

CODEC = AnthropicMessages()


def sse(payload: dict[str, Any]) -> SSEEvent:
    return SSEEvent(json.dumps(payload), payload["type"])


START = {
    "type": "message_start",
    "message": {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {
            "input_tokens": 5,
            "cache_read_input_tokens": 100,
            "cache_creation_input_tokens": 20,
            "cache_creation": {"ephemeral_5m_input_tokens": 20, "ephemeral_1h_input_tokens": 0},
            "output_tokens": 1,
            "service_tier": "standard",
        },
    },
}


def decode(*payloads: dict[str, Any], conv: Conversion | None = None) -> list[StreamEvent]:
    decoder = CODEC.stream_decoder(conv or Conversion())
    out = [e for p in payloads for e in decoder.feed(sse(p))]
    return out + decoder.close()


def encode(
    events: list[StreamEvent], conv: Conversion | None = None, request: Any = None
) -> list[dict[str, Any]]:
    encoder = CODEC.stream_encoder(conv or Conversion(), request)
    out = [e for event in events for e in encoder.feed(event)] + encoder.close()
    for e in out:
        assert json.loads(e.data)["type"] == e.event
    return [json.loads(e.data) for e in out]


def delta(index: int, **d: Any) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": d}


END = [
    {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 9},
    },
    {"type": "message_stop"},
]


def test_usage_is_cumulative_and_counts_cache() -> None:
    events = decode(START, *END)
    start, end = events[0], events[1]
    assert isinstance(start, ResponseStart) and start.service_tier == "standard"
    expected = Usage(125, 9, 100, 20, 0, {"cache_write_5m_tokens": 20, "cache_write_1h_tokens": 0})
    assert isinstance(end, ResponseEnd) and end.usage == expected
    assert fold(events).usage == expected


def test_signature_delta_sets_and_ping_is_ignored() -> None:
    events = decode(
        START,
        {"type": "ping"},
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "thinking", "thinking": "", "signature": ""},
        },
        delta(0, type="thinking_delta", thinking="hm"),
        delta(0, type="signature_delta", signature="first"),
        delta(0, type="signature_delta", signature="final"),
        {"type": "content_block_stop", "index": 0},
        *END,
    )
    assert fold(events).content == (ReasoningPart(text="hm", signature="final"),)


def test_server_tool_input_is_folded_into_the_opaque_part() -> None:
    block = {"type": "server_tool_use", "id": "srv_1", "name": "web_search", "input": {}}
    events = decode(
        START,
        {"type": "content_block_start", "index": 0, "content_block": block},
        delta(0, type="input_json_delta", partial_json='{"query": '),
        delta(0, type="input_json_delta", partial_json='"omniwire"}'),
        {"type": "content_block_stop", "index": 0},
        *END,
    )
    (part,) = fold(events).content
    assert part == OpaquePart(
        "anthropic.messages", "server_tool_use", {**block, "input": {"query": "omniwire"}}
    )


def test_error_event_ends_the_stream() -> None:
    decoder = CODEC.stream_decoder(Conversion())
    decoder.feed(sse(START))
    (error,) = decoder.feed(
        SSEEvent(
            '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}', "error"
        )
    )
    assert error == StreamError("Overloaded", "overloaded_error", 529)
    assert decoder.close() == []


def test_unknown_events_and_deltas_are_reported() -> None:
    conv = Conversion()
    decode(
        START,
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        delta(0, type="sparkle_delta", sparkle=1),
        {"type": "content_block_stop", "index": 0},
        {"type": "message_sparkle"},
        *END,
        conv=conv,
    )
    assert [loss.path for loss in conv.losses] == ["$.events[2].delta", "$.events[4]"]


def test_usage_of_event() -> None:
    usage = CODEC.usage_of_event(sse(START))
    assert usage is not None and usage.input_tokens == 125 and usage.cache_read_tokens == 100
    assert CODEC.usage_of_event(sse(END[0])) == Usage(0, 9)
    assert CODEC.usage_of_event(sse({"type": "ping"})) is None
    assert CODEC.usage_of_event(SSEEvent("not json", "message_delta")) is None


# -- encoder ------------------------------------------------------------------------------


def test_interleaved_parts_are_serialised() -> None:
    """Parallel tool calls streamed side by side (OpenAI style) become sequential blocks."""
    events: list[StreamEvent] = [
        ResponseStart("r1", "gpt"),
        PartStart(0, ToolCallPart("a", "f", "")),
        PartStart(1, ToolCallPart("b", "g", "")),
        ArgumentsDelta(1, '{"y":'),
        ArgumentsDelta(0, '{"x":'),
        ArgumentsDelta(1, "2}"),
        PartEnd(1),
        ArgumentsDelta(0, "1}"),
        PartEnd(0),
        ResponseEnd(StopReason.TOOL_CALLS, usage=Usage(3, 4)),
    ]
    wire = encode(events, Conversion(strict=True))
    shape = [(w["type"], w.get("index")) for w in wire]
    assert shape == [
        ("message_start", None),
        ("content_block_start", 0),
        ("content_block_delta", 0),
        ("content_block_delta", 0),
        ("content_block_stop", 0),
        ("content_block_start", 1),
        ("content_block_delta", 1),
        ("content_block_delta", 1),
        ("content_block_stop", 1),
        ("message_delta", None),
        ("message_stop", None),
    ]
    assert wire[-2]["delta"]["stop_reason"] == "tool_use"
    folded = fold(decode(*wire))
    assert [p.arguments for p in folded.tool_calls] == ['{"x":1}', '{"y":2}']


def test_minimal_stream_is_completed() -> None:
    """No ResponseStart, no ResponseEnd: the grammar is still whole."""
    wire = encode([PartStart(0, TextPart("hi"))], request=Request("claude-x"))
    assert [w["type"] for w in wire] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert wire[0]["message"]["model"] == "claude-x"
    assert wire[0]["message"]["id"].startswith("msg_")


def test_stream_error_is_an_error_event_without_message_stop() -> None:
    wire = encode(
        [
            ResponseStart("r"),
            PartStart(0, TextPart("")),
            TextDelta(0, "x"),
            StreamError("busy", "overloaded_error"),
        ]
    )
    assert wire[-1] == {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
    assert "message_stop" not in [w["type"] for w in wire]


def test_stop_sequence_inferred_from_a_single_stop() -> None:
    events = [ResponseStart("r"), ResponseEnd(StopReason.STOP_SEQUENCE)]
    wire = encode(events, request=Request("m", stop=("END",)))
    assert wire[1]["delta"] == {"stop_reason": "stop_sequence", "stop_sequence": "END"}
    wire = encode(events, request=Request("m", stop=("A", "B")))
    assert wire[1]["delta"]["stop_sequence"] is None


def test_authoritative_part_end() -> None:
    conv = Conversion()
    wire = encode(
        [
            PartStart(0, TextPart("")),
            TextDelta(0, "Hel"),
            PartEnd(0, TextPart("Hello")),
            PartStart(1, TextPart("")),
            TextDelta(1, "abc"),
            PartEnd(1, TextPart("xyz")),
            PartStart(2, ReasoningPart(redacted=True)),
            SignatureDelta(2, "enc", encrypted=True),
            PartEnd(2),
        ],
        conv,
    )
    folded = fold(decode(*wire))
    assert folded.content == (
        TextPart("Hello"),
        TextPart("abc"),
        ReasoningPart(redacted=True, encrypted="enc"),
    )
    assert [loss.path for loss in conv.losses] == ["$.choices[0].content[1]"]


def test_losses_are_reported() -> None:
    conv = Conversion()
    encode(
        [
            ResponseStart("r", created=123),
            PartStart(0, ReasoningPart(encrypted="e", summary=("s",))),
            SummaryDelta(0, "more"),
            PartEnd(0),
            PartStart(1, RefusalPart("no")),
            PartEnd(1),
            PartStart(0, TextPart("other choice"), choice=1),
            PartStart(2, OpaquePart("openai.responses", "web_search_call", {"id": "ws"})),
            UsageUpdate(Usage(1, 1, details={"audio_tokens": 3})),
            ResponseEnd(StopReason.CONTENT_FILTER),
        ],
        conv,
    )
    assert sorted({loss.path for loss in conv.losses}) == [
        "$.choices[0].content[0].encrypted",
        "$.choices[0].content[0].summary",
        "$.choices[0].content[1]",
        "$.choices[0].content[2]",
        "$.choices[0].stop_reason",
        "$.choices[1]",
        "$.created",
        "$.usage.details.audio_tokens",
    ]
