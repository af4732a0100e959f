"""``kit.*``: a made-up wire protocol that *is* the canonical model, as JSON.

It lets tests of the kit, of the gateway or of the stack run real HTTP through the fake
upstream without any provider plugin installed. Bodies are ``omniwire.serialize.to_json``
of the canonical value; streams send one SSE event per canonical event (``event:`` is
the class name) and end with ``data: [DONE]``. It carries everything exactly, for every
family, so it declares every feature word. Subclass it to make a codec that loses (or
mangles) something on purpose.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from omniwire.codec import Codec, Family
from omniwire.errors import OmniwireError, ProtocolError, RateLimited, UpstreamError
from omniwire.model import (
    EmbeddingRequest,
    EmbeddingResponse,
    ImageEditRequest,
    ImageRequest,
    ImageResponse,
    ImageVariationRequest,
    Request,
    RerankRequest,
    RerankResponse,
    Response,
    SpeechRequest,
    SpeechResponse,
    StreamEvent,
    TokenCountRequest,
    TokenCountResponse,
    TranscriptionRequest,
    TranscriptionResponse,
    Usage,
)
from omniwire.report import Conversion
from omniwire.serialize import from_json, to_json
from omniwire.sse import SSEEvent
from omniwire.wire import WireRequest

from .features import ALL_WORDS

__all__ = ["ToyCodec", "ToyStreamDecoder", "ToyStreamEncoder", "retry_after_of"]

#: family -> (request type, response type)
TYPES: dict[str, tuple[type, type]] = {
    Family.GENERATE: (Request, Response),
    Family.EMBED: (EmbeddingRequest, EmbeddingResponse),
    Family.IMAGE: (ImageRequest, ImageResponse),
    Family.IMAGE_EDIT: (ImageEditRequest, ImageResponse),
    Family.IMAGE_VARIATION: (ImageVariationRequest, ImageResponse),
    Family.TRANSCRIBE: (TranscriptionRequest, TranscriptionResponse),
    Family.SPEECH: (SpeechRequest, SpeechResponse),
    Family.RERANK: (RerankRequest, RerankResponse),
    Family.COUNT_TOKENS: (TokenCountRequest, TokenCountResponse),
}

DONE = "[DONE]"


def retry_after_of(headers: Mapping[str, str]) -> float | None:
    """Seconds from ``retry-after-ms`` or ``retry-after`` (case-insensitive)."""
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        if "retry-after-ms" in lower:
            return float(lower["retry-after-ms"]) / 1000
        if "retry-after" in lower:
            return float(lower["retry-after"])
    except ValueError:
        return None
    return None


def _embedding_request(body: Any) -> EmbeddingRequest:
    # omniwire.serialize cannot structure ``str | tuple[int, ...]`` inputs: do it here
    if not isinstance(body, Mapping) or not isinstance(body.get("inputs"), list):
        raise ProtocolError("expected an object with an inputs array", path="$")
    inputs = tuple(x if isinstance(x, str) else tuple(x) for x in body["inputs"])
    rest = {k: v for k, v in body.items() if k != "inputs"}
    return EmbeddingRequest(inputs=inputs, **rest)


class ToyStreamEncoder:
    def feed(self, event: StreamEvent) -> list[SSEEvent]:
        data = json.dumps(to_json(event), separators=(",", ":"), ensure_ascii=False)
        return [SSEEvent(data, type(event).__name__)]

    def close(self) -> list[SSEEvent]:
        return [SSEEvent(DONE)]


class ToyStreamDecoder:
    def __init__(self) -> None:
        self.done = False

    def feed(self, event: SSEEvent) -> list[StreamEvent]:
        if event.data == DONE:
            self.done = True
            return []
        try:
            data = json.loads(event.data)
        except ValueError:
            raise ProtocolError("stream event is not JSON", path="$") from None
        return [from_json(data, StreamEvent)]  # type: ignore[arg-type]

    def close(self) -> list[StreamEvent]:
        if not self.done:
            raise ProtocolError("stream ended before data: [DONE]", path="$")
        return []


class ToyCodec(Codec):
    """The toy protocol. Instances may override ``id``, ``family``, ``provider`` (what
    price tables and telemetry see), ``routes`` and the client-side ``path``; routes follow
    the OpenAI convention (``/v1`` in the base URL)."""

    id = "kit.chat"
    family = Family.GENERATE
    provider = "kit"
    features = ALL_WORDS
    routes = ("/v1/kit/chat",)
    path = "/kit/chat"

    def __init__(
        self,
        id: str | None = None,
        *,
        family: str | None = None,
        provider: str | None = None,
        routes: tuple[str, ...] | None = None,
        path: str | None = None,
    ) -> None:
        if id is not None:
            self.id = id  # type: ignore[misc]
        if family is not None:
            self.family = family  # type: ignore[misc]
        if provider is not None:
            self.provider = provider  # type: ignore[misc]
        if routes is not None:
            self.routes = routes  # type: ignore[misc,assignment]
        if path is not None:
            self.path = path

    @property
    def request_type(self) -> type:
        return TYPES[self.family][0]

    @property
    def response_type(self) -> type:
        return TYPES[self.family][1]

    # -- client side --------------------------------------------------------------------

    def encode_request(self, request: Any, conv: Conversion) -> WireRequest:
        stream = bool(getattr(request, "stream", False))
        return WireRequest(self.path, to_json(request), stream=stream)

    def decode_response(self, body: Any, conv: Conversion) -> Any:
        return from_json(body, self.response_type)

    def stream_decoder(self, conv: Conversion) -> ToyStreamDecoder:
        return ToyStreamDecoder()

    def decode_error(self, status: int, headers: Mapping[str, str], body: bytes) -> OmniwireError:
        try:
            error = json.loads(body)["error"]
            message, kind = str(error["message"]), str(error.get("type") or "")
        except (ValueError, KeyError, TypeError):
            message, kind = body[:200].decode("utf-8", "replace") or f"HTTP {status}", ""
        retry_after = retry_after_of(headers)
        if status == 429 or kind == RateLimited.kind:
            return RateLimited(message, retry_after=retry_after, provider=self.provider)
        return UpstreamError(
            message,
            status=status,
            upstream_kind=kind or None,
            retry_after=retry_after,
            provider=self.provider,
        )

    # -- server side --------------------------------------------------------------------

    def decode_request(
        self, body: Any, conv: Conversion, *, params: Mapping[str, str] | None = None
    ) -> Any:
        if self.request_type is EmbeddingRequest:
            return _embedding_request(body)
        return from_json(body, self.request_type)

    def encode_response(self, response: Any, conv: Conversion, *, request: Any = None) -> Any:
        return to_json(response)

    def stream_encoder(self, conv: Conversion, request: Any = None) -> ToyStreamEncoder:
        return ToyStreamEncoder()

    def encode_error(self, error: OmniwireError) -> tuple[int, Any]:
        return error.status, {"error": {"type": error.kind, "message": error.message}}

    def usage_of(self, body: Any) -> Usage | None:
        usage = body.get("usage") if isinstance(body, Mapping) else None
        return from_json(usage, Usage) if isinstance(usage, Mapping) else None
