"""Anthropic error bodies <-> kernel errors, with the right retryability."""

from __future__ import annotations

import json

import pytest
from omniwire.errors import (
    BudgetExceeded,
    CircuitOpen,
    ConfigError,
    NoAvailableKey,
    OmniwireError,
    ProtocolError,
    RateLimited,
    Timeout,
    UpstreamError,
)
from omniwire.secrets import Secret
from omniwire_anthropic.messages import AnthropicMessages

CODEC = AnthropicMessages()


def body(kind: str, message: str = "msg", request_id: str | None = "req_1") -> bytes:
    out: dict = {"type": "error", "error": {"type": kind, "message": message}}
    if request_id:
        out["request_id"] = request_id
    return json.dumps(out).encode()


@pytest.mark.parametrize(
    ("status", "kind", "retryable"),
    [
        (400, "invalid_request_error", False),
        (401, "authentication_error", False),
        (402, "billing_error", False),
        (403, "permission_error", False),
        (404, "not_found_error", False),
        (413, "request_too_large", False),
        (500, "api_error", True),
        (504, "timeout_error", True),
        (529, "overloaded_error", True),
        (200, "overloaded_error", True),  # overloaded is retryable whatever the status
    ],
)
def test_decode_error(status: int, kind: str, retryable: bool) -> None:
    error = CODEC.decode_error(status, {}, body(kind, "it failed"))
    assert type(error) is UpstreamError
    assert error.status == status
    assert error.upstream_kind == kind
    assert error.retryable is retryable
    assert error.message == "it failed"
    assert error.provider == "anthropic"
    assert error.request_id == "req_1"  # type: ignore[attr-defined]


def test_rate_limit_with_retry_after() -> None:
    error = CODEC.decode_error(429, {"Retry-After": "12"}, body("rate_limit_error"))
    assert isinstance(error, RateLimited)
    assert error.retry_after == 12.0 and error.retryable and error.status == 429
    error = CODEC.decode_error(
        429, {"retry-after-ms": "1500", "retry-after": "9"}, body("rate_limit_error")
    )
    assert error.retry_after == 1.5  # type: ignore[attr-defined]
    error = CODEC.decode_error(429, {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, b"")
    assert isinstance(error, RateLimited) and error.retry_after is None


def test_overloaded_keeps_retry_after() -> None:
    error = CODEC.decode_error(529, {"retry-after": "3"}, body("overloaded_error"))
    assert isinstance(error, UpstreamError) and error.retry_after == 3.0 and error.retryable


def test_unparseable_bodies() -> None:
    error = CODEC.decode_error(502, {"request-id": "req_h"}, b"<html>Bad gateway</html>")
    assert isinstance(error, UpstreamError) and error.retryable
    assert "Bad gateway" in error.message
    assert error.request_id == "req_h"  # type: ignore[attr-defined]
    error = CODEC.decode_error(503, {}, b"")
    assert error.retryable and error.message == "upstream answered HTTP 503"


def test_key_in_error_text_is_scrubbed() -> None:
    secret = "sk-ant-api03-" + "A" * 80
    Secret(secret)  # keys the stack holds are registered like this
    error = CODEC.decode_error(401, {}, body("authentication_error", f"invalid x-api-key {secret}"))
    assert secret not in error.message


@pytest.mark.parametrize(
    ("error", "status", "kind"),
    [
        (ProtocolError("bad", path="$.x"), 400, "invalid_request_error"),
        (ConfigError("unknown model"), 400, "invalid_request_error"),
        (UpstreamError("no", status=401), 401, "authentication_error"),
        (UpstreamError("no", status=403), 403, "permission_error"),
        (UpstreamError("no", status=404, upstream_kind="NOT_FOUND"), 404, "not_found_error"),
        (RateLimited("slow", retry_after=2), 429, "rate_limit_error"),
        (BudgetExceeded("spent"), 402, "billing_error"),
        (Timeout("late"), 504, "timeout_error"),
        (NoAvailableKey("none"), 529, "overloaded_error"),
        (CircuitOpen("open"), 529, "overloaded_error"),
        (UpstreamError("busy", status=503), 503, "overloaded_error"),
        (UpstreamError("boom", status=502), 502, "api_error"),
        (
            UpstreamError("Overloaded", status=529, upstream_kind="overloaded_error"),
            529,
            "overloaded_error",
        ),
        (OmniwireError("internal"), 500, "api_error"),
    ],
)
def test_encode_error(error: OmniwireError, status: int, kind: str) -> None:
    got_status, got = CODEC.encode_error(error)
    assert got_status == status
    assert got == {"type": "error", "error": {"type": kind, "message": error.message}}


def test_error_round_trip_keeps_request_id() -> None:
    original = json.loads(body("permission_error", "nope", "req_xyz"))
    error = CODEC.decode_error(403, {}, json.dumps(original).encode())
    assert CODEC.encode_error(error) == (403, original)


def test_decode_response_of_an_error_body_raises_it() -> None:
    from omniwire.report import Conversion

    with pytest.raises(UpstreamError) as info:
        CODEC.decode_response(json.loads(body("overloaded_error")), Conversion())
    assert info.value.status == 529 and info.value.retryable
