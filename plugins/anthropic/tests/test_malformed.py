"""Malformed input fails with ProtocolError naming the exact field."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from omniwire.errors import ProtocolError
from omniwire.model import Message, Request, Role, ToolCallPart
from omniwire.report import Conversion
from omniwire.sse import SSEEvent
from omniwire_anthropic.count_tokens import AnthropicCountTokens
from omniwire_anthropic.messages import AnthropicMessages

CODEC = AnthropicMessages()

GOOD: dict[str, Any] = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 100,
    "messages": [
        {"role": "user", "content": [{"type": "text", "text": "hi"}]},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "t1",
                    "content": [{"type": "image", "source": {"type": "base64", "data": "AA=="}}],
                }
            ],
        },
    ],
    "tools": [{"name": "f", "input_schema": {"type": "object"}}],
}


def _set(body: dict[str, Any], path: list[Any], value: Any) -> dict[str, Any]:
    body = copy.deepcopy(body)
    target = body
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return body


_DELETE = object()

CASES = [
    (["max_tokens"], _DELETE, "$.max_tokens", "required field is missing"),
    (["max_tokens"], "100", "$.max_tokens", "expected integer, got string"),
    (["model"], 3, "$.model", "expected string, got integer"),
    (["messages"], {}, "$.messages", "expected array, got object"),
    (["messages", 0], "hi", "$.messages[0]", "expected object, got string"),
    (["messages", 0, "role"], "robot", "$.messages[0].role", "expected one of"),
    (["messages", 0, "content"], _DELETE, "$.messages[0].content", "required field is missing"),
    (["messages", 0, "content"], 7, "$.messages[0].content", "expected string or array"),
    (["messages", 0, "content", 0, "type"], _DELETE, "$.messages[0].content[0].type", "missing"),
    (["messages", 0, "content", 0, "text"], None, "$.messages[0].content[0].text", "got null"),
    (
        ["messages", 1, "content", 0, "input"],
        "{}",
        "$.messages[1].content[0].input",
        "expected object",
    ),
    (["messages", 1, "content", 0, "id"], _DELETE, "$.messages[1].content[0].id", "missing"),
    (
        ["messages", 2, "content", 0, "content", 0, "source", "data"],
        5,
        "$.messages[2].content[0].content[0].source.data",
        "expected string, got integer",
    ),
    (
        ["messages", 2, "content", 0, "is_error"],
        "yes",
        "$.messages[2].content[0].is_error",
        "expected boolean",
    ),
    (["tools", 0, "input_schema"], _DELETE, "$.tools[0].input_schema", "missing"),
    (["tools"], [3], "$.tools[0]", "expected object, got integer"),
    (["tool_choice"], {"type": "sometimes"}, "$.tool_choice.type", "expected one of"),
    (["tool_choice"], {"type": "tool"}, "$.tool_choice.name", "missing"),
    (["thinking"], {"type": "enabled"}, "$.thinking.budget_tokens", "missing"),
    (["temperature"], "hot", "$.temperature", "expected number, got string"),
    (["stop_sequences"], ["a", 1], "$.stop_sequences[1]", "expected string"),
    (["metadata"], {"user_id": 5}, "$.metadata.user_id", "expected string"),
    (["system"], 5, "$.system", "expected string or array"),
    (["system"], [{"text": "x"}], "$.system[0].type", "missing"),
    (["stream"], "yes", "$.stream", "expected boolean"),
]


@pytest.mark.parametrize(("where", "value", "path", "message"), CASES, ids=[c[2] for c in CASES])
def test_decode_request_names_the_field(
    where: list[Any], value: Any, path: str, message: str
) -> None:
    with pytest.raises(ProtocolError) as info:
        CODEC.decode_request(_set(GOOD, where, value), Conversion())
    assert info.value.path == path
    assert message in info.value.message


def test_good_body_decodes() -> None:
    CODEC.decode_request(GOOD, Conversion(strict=True))


def test_not_an_object() -> None:
    with pytest.raises(ProtocolError) as info:
        CODEC.decode_request([], Conversion())
    assert info.value.path == "$"


RESPONSE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "m",
    "content": [{"type": "text", "text": "x"}],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 1, "output_tokens": 1},
}


@pytest.mark.parametrize(
    ("where", "value", "path"),
    [
        (["id"], _DELETE, "$.id"),
        (["content"], None, "$.content"),
        (["content", 0], [], "$.content[0]"),
        (["content", 0, "type"], 1, "$.content[0].type"),
        (["stop_reason"], 1, "$.stop_reason"),
        (["usage"], [], "$.usage"),
        (["usage", "input_tokens"], "1", "$.usage.input_tokens"),
        (
            ["usage", "cache_creation"],
            {"ephemeral_5m_input_tokens": "x"},
            "$.usage.cache_creation.ephemeral_5m_input_tokens",
        ),
    ],
)
def test_decode_response_names_the_field(where: list[Any], value: Any, path: str) -> None:
    with pytest.raises(ProtocolError) as info:
        CODEC.decode_response(_set(RESPONSE, where, value), Conversion())
    assert info.value.path == path


def test_invalid_tool_arguments_name_the_canonical_field() -> None:
    request = Request(
        "m",
        (
            Message.text(Role.USER, "hi"),
            Message(Role.ASSISTANT, (ToolCallPart("t", "f", '{"a": '),)),
        ),
    )
    with pytest.raises(ProtocolError) as info:
        CODEC.encode_request(request, Conversion())
    assert info.value.path == "$.messages[1].content[0].arguments"
    request = Request("m", (Message(Role.ASSISTANT, (ToolCallPart("t", "f", "[1]"),)),))
    with pytest.raises(ProtocolError, match="JSON object"):
        CODEC.encode_request(request, Conversion())


def _feed(*events: tuple[str | None, str]) -> None:
    decoder = CODEC.stream_decoder(Conversion())
    for name, data in events:
        decoder.feed(SSEEvent(data, name))
    decoder.close()


START = (
    "message_start",
    '{"type":"message_start","message":{"id":"m","content":[],"usage":{"input_tokens":1,"output_tokens":0}}}',
)


@pytest.mark.parametrize(
    ("events", "path", "message"),
    [
        ([("message_start", "{not json")], "$.events[0]", "not valid JSON"),
        ([("message_start", "[]")], "$.events[0]", "expected object"),
        (
            [("content_block_stop", '{"type":"content_block_stop","index":0}')],
            "$.events[0]",
            "before message_start",
        ),
        (
            [
                START,
                (
                    "content_block_delta",
                    '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}}',
                ),
            ],
            "$.events[1].index",
            "not open",
        ),
        (
            [
                START,
                (
                    "content_block_start",
                    '{"type":"content_block_start","index":"0","content_block":{"type":"text","text":""}}',
                ),
            ],
            "$.events[1].index",
            "expected integer",
        ),
        (
            [
                START,
                (
                    "content_block_start",
                    '{"type":"content_block_start","index":0,"content_block":{"type":"text"}}',
                ),
            ],
            "$.events[1].content_block.text",
            "missing",
        ),
        (
            [START, ("message_delta", '{"type":"message_delta","delta":{"stop_reason":3}}')],
            "$.events[1].delta.stop_reason",
            "expected string",
        ),
        ([START], "$", "before message_stop"),
        (
            [
                START,
                (
                    "message_delta",
                    '{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":1}}',
                ),
            ],
            "$",
            "before message_stop",
        ),
    ],
    ids=[
        "json",
        "object",
        "order",
        "not-open",
        "index-type",
        "block-field",
        "stop-type",
        "cut",
        "cut-after-delta",
    ],
)
def test_stream_decoder_names_the_event(
    events: list[tuple[str, str]], path: str, message: str
) -> None:
    with pytest.raises(ProtocolError) as info:
        _feed(*events)
    assert info.value.path == path
    assert message in info.value.message


def test_count_tokens_body_names_the_field() -> None:
    with pytest.raises(ProtocolError) as info:
        AnthropicCountTokens().decode_request({"model": "m"}, Conversion())
    assert info.value.path == "$.messages"
    with pytest.raises(ProtocolError) as info:
        AnthropicCountTokens().decode_response({"input_tokens": "3"}, Conversion())
    assert info.value.path == "$.input_tokens"
