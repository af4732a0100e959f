"""Error mapping both ways, rate-limit headers, and pass-through usage."""

from __future__ import annotations

import email.utils
import json
import time

import pytest
from omniwire.errors import (
    BudgetExceeded,
    ProtocolError,
    RateLimited,
    Timeout,
    UpstreamError,
)
from omniwire.model import StreamError, Usage
from omniwire.sse import SSEEvent
from omniwire_openai._common import retry_after, stream_error
from omniwire_openai.chat import OpenAIChat
from omniwire_openai.embeddings import OpenAIEmbeddings
from omniwire_openai.images import OpenAIImages
from omniwire_openai.responses import OpenAIResponses
from omniwire_openai.speech import OpenAISpeech
from omniwire_openai.transcriptions import OpenAITranscriptions

ALL = [
    OpenAIChat(),
    OpenAIResponses(),
    OpenAIEmbeddings(),
    OpenAIImages(),
    OpenAITranscriptions(),
    OpenAISpeech(),
]


def _body(
    message: str = "nope",
    etype: str | None = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
) -> bytes:
    return json.dumps(
        {"error": {"message": message, "type": etype, "param": param, "code": code}}
    ).encode()


@pytest.mark.parametrize("codec", ALL, ids=lambda c: c.id)
@pytest.mark.parametrize(
    ("status", "cls", "retryable"),
    [
        (400, UpstreamError, False),
        (401, UpstreamError, False),
        (404, UpstreamError, False),
        (429, RateLimited, True),
        (500, UpstreamError, True),
        (503, UpstreamError, True),
    ],
)
def test_decode_error_classes(codec: object, status: int, cls: type, retryable: bool) -> None:
    err = codec.decode_error(status, {}, _body(code="some_code", param="messages[0]"))  # type: ignore[attr-defined]
    assert type(err) is cls
    assert err.status == status and err.retryable is retryable
    assert err.message == "nope" and err.provider == "openai"
    assert "code=some_code" in (err.cause or "") and "param=messages[0]" in (err.cause or "")
    if cls is UpstreamError:
        assert err.upstream_kind == "invalid_request_error"


def test_decode_error_odd_bodies() -> None:
    chat = OpenAIChat()
    err = chat.decode_error(502, {}, b"<html>Bad Gateway</html>")
    assert isinstance(err, UpstreamError) and err.retryable and "Bad Gateway" in err.message
    assert chat.decode_error(500, {}, b"").message == "upstream answered HTTP 500"
    assert chat.decode_error(400, {}, b'{"error": "plain string"}').message == "plain string"
    # code only (no type): the code is the kind
    assert chat.decode_error(
        400, {}, _body(etype=None, code="context_length_exceeded")
    ).upstream_kind == ("context_length_exceeded")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "1500"}, 1.5),
        ({"Retry-After": "7"}, 7.0),
        (
            {
                "x-ratelimit-reset-requests": "6m0s",
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-tokens": "1s",
                "x-ratelimit-remaining-tokens": "100",
            },
            360.0,
        ),
        ({"x-ratelimit-reset-tokens": "20ms", "x-ratelimit-remaining-tokens": "0"}, 0.02),
        ({"x-ratelimit-reset-requests": "1h2m3.5s", "x-ratelimit-reset-tokens": "2s"}, 3723.5),
        ({"x-ratelimit-reset-requests": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after(headers: dict[str, str], expected: float | None) -> None:
    got = retry_after(headers)
    assert got == pytest.approx(expected) if expected is not None else got is None


def test_retry_after_http_date_and_rate_limited() -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (retry_after({"retry-after": when}) or 0) <= 31
    err = OpenAIChat().decode_error(
        429,
        {"x-ratelimit-reset-tokens": "12s", "x-ratelimit-remaining-tokens": "0"},
        _body("Rate limit reached", "tokens", "rate_limit_exceeded"),
    )
    assert isinstance(err, RateLimited) and err.retry_after == 12.0 and err.retryable


@pytest.mark.parametrize(
    ("error", "status", "etype", "param", "code"),
    [
        (
            ProtocolError("expected string", path="$.messages[3].content"),
            400,
            "invalid_request_error",
            "messages[3].content",
            None,
        ),
        (RateLimited("slow"), 429, "rate_limit_error", None, "rate_limit_exceeded"),
        (BudgetExceeded("over budget"), 429, "insufficient_quota", None, "insufficient_quota"),
        (Timeout("late"), 504, "timeout", None, "timeout"),
        (
            UpstreamError("boom", status=503, upstream_kind="overloaded"),
            503,
            "overloaded",
            None,
            None,
        ),
    ],
)
def test_encode_error(
    error: object, status: int, etype: str, param: str | None, code: str | None
) -> None:
    got_status, body = OpenAIResponses().encode_error(error)  # type: ignore[arg-type]
    assert got_status == status
    assert body == {
        "error": {"message": error.message, "type": etype, "param": param, "code": code}
    }  # type: ignore[attr-defined]


def test_stream_error_shapes() -> None:
    assert stream_error(
        {"message": "m", "type": "invalid_request_error", "status_code": 400}
    ) == StreamError("m", "invalid_request_error", 400)
    assert stream_error({"code": 400, "message": "Token limit reached"}) == StreamError(
        "Token limit reached", None, 400
    )
    assert stream_error({"code": "rate_limit_exceeded", "message": "x"}) == StreamError(
        "x", "rate_limit_exceeded", 429
    )
    assert stream_error("boom") == StreamError("boom")
    assert stream_error(None).message == "error in stream"


def test_usage_of() -> None:
    chat, resp = OpenAIChat(), OpenAIResponses()
    body = {
        "usage": {
            "prompt_tokens": 10,
            "completion_tokens": 4,
            "prompt_tokens_details": {"cached_tokens": 8},
            "completion_tokens_details": {"reasoning_tokens": 2},
        }
    }
    assert chat.usage_of(body) == Usage(10, 4, cache_read_tokens=8, reasoning_tokens=2)
    assert chat.usage_of({"usage": {"prompt_tokens": "x"}}) is None  # pass-through never raises
    chunk = SSEEvent(json.dumps({"id": "c", "choices": [], **body}))
    assert chat.usage_of_event(chunk) == Usage(10, 4, cache_read_tokens=8, reasoning_tokens=2)
    assert chat.usage_of_event(SSEEvent("[DONE]")) is None
    assert chat.usage_of_event(SSEEvent('{"choices":[],"usage":null}')) is None
    done = {
        "type": "response.completed",
        "response": {
            "usage": {
                "input_tokens": 5,
                "output_tokens": 1,
                "input_tokens_details": {"cache_write_tokens": 3},
            }
        },
    }
    assert resp.usage_of_event(SSEEvent(json.dumps(done))) == Usage(5, 1, cache_write_tokens=3)
    assert (
        resp.usage_of_event(SSEEvent('{"type":"response.output_text.delta","delta":"usage"}'))
        is None
    )
    assert OpenAIEmbeddings().usage_of({"usage": {"prompt_tokens": 7, "total_tokens": 7}}) == Usage(
        7
    )
    assert OpenAIImages().usage_of(
        {
            "usage": {
                "input_tokens": 3,
                "output_tokens": 9,
                "input_tokens_details": {"text_tokens": 3},
            }
        }
    ) == Usage(3, 9, details={"input_text_tokens": 3})
    assert OpenAITranscriptions().usage_of({"usage": {"type": "duration", "seconds": 3}}) is None
