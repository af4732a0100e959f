"""Thinking and tool history: the part every gateway breaks.

An agent loop sends the model's own turn back: thinking with its signature, redacted
thinking, tool calls, then the tool results. Each must reach the next request exactly as
Anthropic produced it, whether the turn came back as JSON or as a stream.
"""

from __future__ import annotations

import copy
import json

from omniwire.model import (
    Message,
    ReasoningPart,
    Request,
    Role,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    fold,
)
from omniwire.report import Conversion
from omniwire.sse import parse_sse
from omniwire_anthropic.messages import AnthropicMessages

CODEC = AnthropicMessages()

THINKING = {
    "type": "thinking",
    "thinking": "The user wants the weather in Paris; I should call the tool.",
    "signature": "EqQBCkYIBxgCKkBsig+/nature==",
}
REDACTED = {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlx"}
TOOL_USE = {
    "type": "tool_use",
    "id": "toolu_01A09q90qw90lq917835lq9",
    "name": "get_weather",
    "input": {"location": "Paris, France", "unit": "celsius", "days": [1, 2.5, None]},
    "caller": {"type": "direct"},
}

CONVERSATION = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 16000,
    "system": [
        {"type": "text", "text": "You are a weather bot.", "cache_control": {"type": "ephemeral"}}
    ],
    "thinking": {"type": "enabled", "budget_tokens": 10000},
    "tools": [
        {
            "name": "get_weather",
            "description": "Weather by city",
            "input_schema": {
                "type": "object",
                "properties": {"location": {"type": "string"}},
                "required": ["location"],
            },
            "cache_control": {"type": "ephemeral", "ttl": "1h"},
        }
    ],
    "messages": [
        {"role": "user", "content": "What's the weather in Paris?"},
        {"role": "assistant", "content": [THINKING, REDACTED, TOOL_USE]},
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_01A09q90qw90lq917835lq9",
                    "content": [
                        {"type": "text", "text": "15 degrees"},
                        {"type": "text", "text": "light rain"},
                    ],
                },
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_02",
                    "content": "service unavailable",
                    "is_error": True,
                },
                {"type": "text", "text": "Also, should I bring an umbrella?"},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "", "signature": "EoYBCkYIBxgC"},
                {"type": "text", "text": "It is 15 degrees with light rain: yes."},
            ],
        },
        {"role": "user", "content": [{"type": "text", "text": "Thanks!"}]},
    ],
}


def test_conversation_survives_exactly() -> None:
    original = copy.deepcopy(CONVERSATION)
    conv = Conversion(strict=True)
    request = CODEC.decode_request(CONVERSATION, conv)
    assert original == CONVERSATION  # decoding never mutates its input
    assistant = request.messages[2]
    assert assistant.role is Role.ASSISTANT
    thinking, redacted, call = assistant.content
    assert thinking == ReasoningPart(text=THINKING["thinking"], signature=THINKING["signature"])
    assert redacted == ReasoningPart(redacted=True, encrypted=REDACTED["data"])
    assert isinstance(call, ToolCallPart) and json.loads(call.arguments) == TOOL_USE["input"]
    results = [p for p in request.messages[3].content if isinstance(p, ToolResultPart)]
    assert [r.is_error for r in results] == [False, True]
    assert results[0].text == "15 degrees" + "light rain"

    wire = CODEC.encode_request(request, Conversion(strict=True))
    assert wire.body == CONVERSATION
    assert json.loads(json.dumps(wire.body)) == CONVERSATION


def test_canonical_history_from_other_shapes() -> None:
    """The same history built in canonical form with OpenAI-style TOOL messages (no raw)
    encodes to Anthropic's shape: results merged into the next user turn, first."""
    request = Request(
        model="claude-sonnet-4-5",
        max_tokens=1024,
        messages=(
            Message.text(Role.SYSTEM, "Be brief."),
            Message.text(Role.USER, "Weather in Paris and Rome?"),
            Message(
                Role.ASSISTANT,
                (
                    ReasoningPart(text="Two calls.", signature="sig-1"),
                    ReasoningPart(redacted=True, encrypted="opaque-1"),
                    ToolCallPart("call_1", "get_weather", '{"location": "Paris"}'),
                    ToolCallPart("call_2", "get_weather", '{"location":"Rome"}'),
                ),
            ),
            Message(Role.TOOL, (ToolResultPart("call_1", (TextPart("15C"),)),)),
            Message(Role.TOOL, (ToolResultPart("call_2", (TextPart("20C"),), is_error=True),)),
            Message.text(Role.USER, "And tomorrow?"),
        ),
    )
    body = CODEC.encode_request(request, Conversion(strict=True)).body
    assert body["system"] == "Be brief."
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Rome?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Two calls.", "signature": "sig-1"},
                {"type": "redacted_thinking", "data": "opaque-1"},
                {
                    "type": "tool_use",
                    "id": "call_1",
                    "name": "get_weather",
                    "input": {"location": "Paris"},
                },
                {
                    "type": "tool_use",
                    "id": "call_2",
                    "name": "get_weather",
                    "input": {"location": "Rome"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "15C"},
                {
                    "type": "tool_result",
                    "tool_use_id": "call_2",
                    "content": "20C",
                    "is_error": True,
                },
                {"type": "text", "text": "And tomorrow?"},
            ],
        },
    ]


RESPONSE = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [THINKING, REDACTED, TOOL_USE],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {"input_tokens": 10, "output_tokens": 20},
}


def _stream_of(message: dict) -> bytes:
    """The Anthropic stream of ``message``, as the API sends it."""
    events = [
        {
            "type": "message_start",
            "message": {
                **message,
                "content": [],
                "stop_reason": None,
                "usage": {"input_tokens": 10, "output_tokens": 1},
            },
        }
    ]
    for i, block in enumerate(message["content"]):
        if block["type"] == "thinking":
            events.append(
                {
                    "type": "content_block_start",
                    "index": i,
                    "content_block": {**block, "thinking": "", "signature": ""},
                }
            )
            half = len(block["thinking"]) // 2
            for piece in (block["thinking"][:half], block["thinking"][half:]):
                events.append(
                    {
                        "type": "content_block_delta",
                        "index": i,
                        "delta": {"type": "thinking_delta", "thinking": piece},
                    }
                )
            events.append(
                {
                    "type": "content_block_delta",
                    "index": i,
                    "delta": {"type": "signature_delta", "signature": block["signature"]},
                }
            )
        elif block["type"] == "tool_use":
            events.append(
                {"type": "content_block_start", "index": i, "content_block": {**block, "input": {}}}
            )
            text = json.dumps(block["input"])  # the model's own spacing
            for piece in (text[:7], text[7:]):
                events.append(
                    {
                        "type": "content_block_delta",
                        "index": i,
                        "delta": {"type": "input_json_delta", "partial_json": piece},
                    }
                )
        else:
            events.append({"type": "content_block_start", "index": i, "content_block": block})
        events.append({"type": "content_block_stop", "index": i})
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
            "usage": {"output_tokens": 20},
        }
    )
    events.append({"type": "message_stop"})
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()


def _next_request(assistant: Message) -> dict:
    request = Request(
        model="claude-sonnet-4-5",
        max_tokens=2048,
        messages=(
            Message.text(Role.USER, "What's the weather in Paris?"),
            assistant,
            Message(Role.TOOL, (ToolResultPart(TOOL_USE["id"], (TextPart("15C"),)),)),
        ),
    )
    return CODEC.encode_request(request, Conversion(strict=True)).body


def test_response_turn_goes_back_unchanged() -> None:
    response = CODEC.decode_response(RESPONSE, Conversion(strict=True))
    body = _next_request(response.as_message())
    assert body["messages"][1] == {"role": "assistant", "content": [THINKING, REDACTED, TOOL_USE]}
    assert body["messages"][2]["content"][0]["tool_use_id"] == TOOL_USE["id"]


def test_streamed_turn_goes_back_unchanged() -> None:
    decoder = CODEC.stream_decoder(Conversion(strict=True))
    events = [e for sse in parse_sse(_stream_of(RESPONSE)) for e in decoder.feed(sse)]
    events += decoder.close()
    response = fold(events)
    assert response.tool_calls and response.reasoning[0].signature == THINKING["signature"]
    body = _next_request(response.as_message())
    assert body["messages"][1] == {"role": "assistant", "content": [THINKING, REDACTED, TOOL_USE]}


def test_streamed_turn_survives_our_own_stream_encoder() -> None:
    """Gateway path: upstream stream -> canonical -> our SSE -> a client's next request."""
    decoder = CODEC.stream_decoder(Conversion(strict=True))
    events = [e for sse in parse_sse(_stream_of(RESPONSE)) for e in decoder.feed(sse)]
    events += decoder.close()
    encoder = CODEC.stream_encoder(Conversion(strict=True))
    relayed = b"".join(x.encode() for e in events for x in encoder.feed(e))
    relayed += b"".join(x.encode() for x in encoder.close())
    client = CODEC.stream_decoder(Conversion(strict=True))
    again = [e for sse in parse_sse(relayed) for e in client.feed(sse)] + client.close()
    body = _next_request(fold(again).as_message())
    assert body["messages"][1] == {"role": "assistant", "content": [THINKING, REDACTED, TOOL_USE]}
