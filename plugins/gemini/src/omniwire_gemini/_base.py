"""What every Gemini codec shares: identity, auth, URL paths and the error grammar
``{"error": {"code", "message", "status", "details"}}`` (google.rpc.Status)."""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar, Mapping
from urllib.parse import quote

from omniwire.codec import Codec
from omniwire.errors import OmniwireError, ProtocolError, RateLimited, UpstreamError

__all__ = ["GeminiCodec", "error_from_body", "model_path", "route_params"]

API_VERSION = "v1beta"

_CODE_OF_STATUS = {
    "CANCELLED": 499,
    "UNKNOWN": 500,
    "INVALID_ARGUMENT": 400,
    "DEADLINE_EXCEEDED": 504,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403,
    "UNAUTHENTICATED": 401,
    "RESOURCE_EXHAUSTED": 429,
    "FAILED_PRECONDITION": 400,
    "ABORTED": 409,
    "OUT_OF_RANGE": 400,
    "UNIMPLEMENTED": 501,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DATA_LOSS": 500,
}
_STATUS_OF_CODE = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


def model_path(model: str, method: str) -> str:
    """``/v1beta/models/{model}:{method}``; a resource name (``tunedModels/x``,
    ``models/x``) is used as it is."""
    name = model if "/" in model else f"models/{model}"
    return f"/{API_VERSION}/{quote(name, safe='/-_.')}:{method}"


_ROUTE = re.compile(r"^/v1(?:beta|alpha)?/(?:models/)?(?P<model>[^:]+):(?P<method>[A-Za-z]+)$")


def route_params(path: str) -> dict[str, str]:
    """The ``params`` a server passes to ``decode_request`` for an inbound path:
    ``{"model", "method", "stream"}``."""
    m = _ROUTE.match(path)
    if m is None:
        raise ProtocolError(f"not a Gemini model method path: {path!r}", path="$")
    method = m.group("method")
    return {
        "model": m.group("model"),
        "method": method,
        "stream": "true" if method == "streamGenerateContent" else "false",
    }


def _duration(value: Any) -> float | None:
    if isinstance(value, str):
        m = _DURATION.match(value)
        if m:
            return float(m.group(1))
    return None


def _retry_after(details: Any, headers: Mapping[str, str]) -> float | None:
    if isinstance(details, list):
        for d in details:
            if isinstance(d, dict) and d.get("@type") == RETRY_INFO:
                delay = _duration(d.get("retryDelay"))
                if delay is not None:
                    return delay
    for name, value in headers.items():
        if name.lower() == "retry-after":
            try:
                return float(value)
            except ValueError:
                return None
    return None


def error_from_body(
    status: int | None, headers: Mapping[str, str], body: Any, provider: str
) -> OmniwireError:
    """A parsed error body (or anything else) -> the kernel error describing it."""
    if isinstance(body, list) and body and isinstance(body[0], dict):
        body = body[0]  # streamGenerateContent without alt=sse answers a JSON array
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        err = {}
    code = err.get("code") if isinstance(err.get("code"), int) else None
    http = status if status is not None else code if code is not None else 500
    word = err.get("status") if isinstance(err.get("status"), str) else None
    message = err.get("message") if isinstance(err.get("message"), str) else None
    message = message or f"upstream answered HTTP {http}"
    retry_after = _retry_after(err.get("details"), headers)
    if http == 429 or word == "RESOURCE_EXHAUSTED":
        return RateLimited(message, retry_after=retry_after, provider=provider, status=429)
    return UpstreamError(
        message, status=http, upstream_kind=word, retry_after=retry_after, provider=provider
    )


class GeminiCodec(Codec):
    """Base of the Gemini codecs: ``x-goog-api-key`` auth (never a ``?key=`` query
    parameter), paths under ``/v1beta/models/``, google.rpc.Status errors."""

    provider: ClassVar[str] = "gcp.gemini"
    default_auth: ClassVar[str] = "x-goog-api-key"

    def decode_error(self, status: int, headers: Mapping[str, str], body: bytes) -> OmniwireError:
        try:
            parsed: Any = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            text = body[:200].decode("utf-8", errors="replace").strip()
            suffix = f": {text}" if text else ""
            parsed = {"error": {"message": f"upstream answered HTTP {status}{suffix}"}}
        return error_from_body(status, headers, parsed, self.provider)

    def encode_error(self, error: OmniwireError) -> tuple[int, Any]:
        status = error.status
        word = getattr(error, "upstream_kind", None)
        if word not in _CODE_OF_STATUS:
            if isinstance(error, RateLimited):
                word = "RESOURCE_EXHAUSTED"
            else:
                word = _STATUS_OF_CODE.get(
                    status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION"
                )
        err: dict[str, Any] = {"code": status, "message": error.message, "status": word}
        details: list[dict[str, Any]] = []
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            details.append({"@type": RETRY_INFO, "retryDelay": f"{retry_after:g}s"})
        if isinstance(error, ProtocolError) and error.path:
            violation = {"field": error.path, "description": error.message}
            details.append({"@type": BAD_REQUEST, "fieldViolations": [violation]})
        if details:
            err["details"] = details
        return status, {"error": err}
