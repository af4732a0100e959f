"""``anthropic.count_tokens``: TokenCountRequest <-> ``/v1/messages/count_tokens``."""

from __future__ import annotations

from omniwire.codec import Family
from omniwire.model import (
    Message,
    Request,
    Role,
    TextPart,
    TokenCountRequest,
    TokenCountResponse,
    Tool,
)
from omniwire.report import Conversion
from omniwire_anthropic.count_tokens import AnthropicCountTokens

CODEC = AnthropicCountTokens()

BODY = {
    "model": "claude-sonnet-4-5",
    "system": [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}],
    "messages": [
        {"role": "user", "content": "hello"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "hm", "signature": "sig"},
                {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}},
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}],
        },
    ],
    "tools": [{"name": "f", "input_schema": {"type": "object"}}],
    "tool_choice": {"type": "auto"},
    "thinking": {"type": "enabled", "budget_tokens": 2048},
}


def test_identity() -> None:
    assert CODEC.id == "anthropic.count_tokens"
    assert CODEC.family == Family.COUNT_TOKENS
    assert CODEC.routes == ("/v1/messages/count_tokens",)
    assert CODEC.default_auth == "x-api-key"


def test_request_round_trip_is_exact() -> None:
    request = CODEC.decode_request(BODY, Conversion(strict=True))
    assert request.model == "claude-sonnet-4-5"
    assert [m.role for m in request.messages] == [Role.SYSTEM, Role.USER, Role.ASSISTANT, Role.USER]
    assert request.tools == (Tool("f", parameters={"type": "object"}),)
    wire = CODEC.encode_request(request, Conversion(strict=True))
    assert wire.path == "/v1/messages/count_tokens" and not wire.stream
    assert wire.headers == {"anthropic-version": "2023-06-01"}
    assert wire.body == BODY


def test_from_a_generation_request() -> None:
    request = Request(
        "claude",
        (Message.text(Role.SYSTEM, "sys"), Message(Role.USER, (TextPart("q"),))),
        max_tokens=10,
    )
    body = CODEC.encode_request(TokenCountRequest.of(request), Conversion(strict=True)).body
    assert body == {
        "model": "claude",
        "system": "sys",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "q"}]}],
    }


def test_response() -> None:
    response = CODEC.decode_response({"input_tokens": 2095}, Conversion(strict=True))
    assert response == TokenCountResponse(2095)
    assert CODEC.encode_response(response, Conversion(strict=True)) == {"input_tokens": 2095}
    assert CODEC.encode_response(TokenCountResponse(7), Conversion()) == {"input_tokens": 7}


def test_errors_use_the_anthropic_shape() -> None:
    error = CODEC.decode_error(
        529, {}, b'{"type":"error","error":{"type":"overloaded_error","message":"x"}}'
    )
    assert error.retryable
    assert CODEC.encode_error(error)[0] == 529
