"""Anthropic's error shape, both ways: ``{"type": "error", "error": {"type", "message"},
"request_id"}``.

The provider's ``request_id`` has no field on the kernel errors, so it travels as a
``request_id`` attribute set on the error instance (read back by :func:`encode_error`).
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from omniwire.errors import (
    BudgetExceeded,
    CircuitOpen,
    NoAvailableKey,
    OmniwireError,
    RateLimited,
    Timeout,
    UpstreamError,
)

__all__ = ["ERROR_STATUS", "decode_error", "encode_error", "error_body", "status_of_kind"]

PROVIDER = "anthropic"

ERROR_STATUS: dict[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
"""Anthropic's error types and the HTTP status each comes with."""

_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def status_of_kind(kind: str | None) -> int | None:
    return ERROR_STATUS.get(kind) if kind else None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """``retry-after-ms`` (milliseconds) wins over ``retry-after`` (seconds); an HTTP date
    is not honoured (Anthropic sends seconds)."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = _header(headers, name)
        if value is None:
            continue
        try:
            seconds = float(value) / scale
        except ValueError:
            continue
        if seconds >= 0:
            return seconds
    return None


def decode_error(
    status: int, headers: Mapping[str, str], body: bytes | str | Mapping[str, Any]
) -> OmniwireError:
    """An error response -> RateLimited (429) or UpstreamError with the provider's type,
    message, request id and retry-after. ``overloaded_error`` is retryable at any status."""
    data: Any = body
    if isinstance(body, (bytes, str)):
        try:
            data = json.loads(body) if body else None
        except ValueError:
            data = None
    kind: str | None = None
    message = f"upstream answered HTTP {status}"
    request_id = _header(headers, "request-id")
    if isinstance(data, Mapping):
        inner = data.get("error")
        if isinstance(inner, Mapping):
            if isinstance(inner.get("type"), str):
                kind = inner["type"]
            if isinstance(inner.get("message"), str) and inner["message"]:
                message = inner["message"]
        if isinstance(data.get("request_id"), str):
            request_id = data["request_id"]
    elif isinstance(body, (bytes, str)) and body:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        message = f"{message}: {text.strip()[:500]}"
    retry_after = _retry_after(headers)
    error: Any  # the kernel errors have no request_id field: it rides as an attribute
    if status == 429 or kind == "rate_limit_error":
        error = RateLimited(message, retry_after=retry_after, provider=PROVIDER, status=status)
        error.upstream_kind = kind
    else:
        retryable = True if kind == "overloaded_error" else None
        error = UpstreamError(
            message,
            status=status,
            upstream_kind=kind,
            retry_after=retry_after,
            retryable=retryable,
            provider=PROVIDER,
        )
    error.request_id = request_id
    return error  # type: ignore[no-any-return]


def _kind_and_status(error: OmniwireError) -> tuple[str, int]:
    if isinstance(error, (RateLimited,)):
        return "rate_limit_error", 429
    if isinstance(error, BudgetExceeded):
        return "billing_error", 402  # spending more will not help: not retryable for clients
    if isinstance(error, Timeout):
        return "timeout_error", 504
    if isinstance(error, (NoAvailableKey, CircuitOpen)):
        return "overloaded_error", 529  # capacity is gone for now: clients back off and retry
    kind = getattr(error, "upstream_kind", None)
    status = error.status
    if isinstance(error, UpstreamError):  # the upstream's status stands; the type follows
        if not 400 <= status <= 599:
            status = ERROR_STATUS.get(kind or "", 500)
        if kind in ERROR_STATUS:
            return kind, status
        return _kind_of_status(status), status
    if status in _BY_STATUS:
        return _BY_STATUS[status], status
    if 400 <= status < 500:
        return "invalid_request_error", status
    return "api_error", 500


def _kind_of_status(status: int) -> str:
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status == 503:
        return "overloaded_error"
    return "invalid_request_error" if status < 500 else "api_error"


def error_body(kind: str, message: str, request_id: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": message}}
    if request_id is not None:
        out["request_id"] = request_id
    return out


def encode_error(error: OmniwireError) -> tuple[int, dict[str, Any]]:
    """A kernel error -> (status, Anthropic error body)."""
    kind, status = _kind_and_status(error)
    return status, error_body(kind, error.message, getattr(error, "request_id", None))
