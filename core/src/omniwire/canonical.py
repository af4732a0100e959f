"""``omniwire.canonical``: the canonical model itself as a wire protocol.

Its JSON is :mod:`omniwire.serialize`'s; a stream is one SSE event per canonical event
(``event:`` the class name). Nothing is lost going through it, so it suits endpoints that
are canonical-native: the gateway's embedded local model, a test double, or one omniwire
gateway in front of another. (``raw`` provider objects stay behind: they belong to the
protocol they came from.)
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from .codec import FEATURES, Codec, Family
from .errors import OmniwireError, ProtocolError, RateLimited, UpstreamError
from .model import (
    EmbeddingRequest,
    EmbeddingResponse,
    Request,
    Response,
    StreamError,
    StreamEvent,
    TokenCountRequest,
    TokenCountResponse,
)
from .report import Conversion
from .sse import SSEEvent
from .wire import WireRequest

__all__ = ["CanonicalCodec", "canonical_codecs"]


class CanonicalCodec(Codec):
    provider = "omniwire"
    default_auth = "bearer"

    def __init__(
        self, codec_id: str, family: str, path: str, request_type: type, response_type: type
    ) -> None:
        self.id = codec_id  # type: ignore[misc]
        self.family = family  # type: ignore[misc]
        self.routes = (path,)  # type: ignore[misc]
        self.request_type = request_type  # type: ignore[misc]
        self.response_type = response_type  # type: ignore[misc]
        self.features = FEATURES  # type: ignore[misc]
        self._path = path

    def encode_request(self, request: Any, conv: Conversion) -> WireRequest:
        from .serialize import to_json

        return WireRequest(
            self._path, to_json(request), stream=bool(getattr(request, "stream", False))
        )

    def decode_request(
        self, body: Any, conv: Conversion, *, params: Mapping[str, str] | None = None
    ) -> Any:
        from .serialize import from_json

        return from_json(body, self.request_type)

    def decode_response(self, body: Any, conv: Conversion) -> Any:
        from .serialize import from_json

        return from_json(body, self.response_type)

    def encode_response(self, response: Any, conv: Conversion, *, request: Any = None) -> Any:
        from .serialize import to_json

        return to_json(response)

    def stream_decoder(self, conv: Conversion) -> _Decoder:
        return _Decoder()

    def stream_encoder(self, conv: Conversion, request: Any = None) -> _Encoder:
        return _Encoder()

    def encode_error(self, error: OmniwireError) -> tuple[int, Any]:
        return error.status, {"error": error.to_dict()}

    def decode_error(self, status: int, headers: Mapping[str, str], body: bytes) -> OmniwireError:
        try:
            data = json.loads(body)["error"]
            message, kind = str(data["message"]), data.get("type")
        except (ValueError, KeyError, TypeError):
            message, kind = f"upstream answered HTTP {status}", None
        if status == 429:
            lowered = {k.lower(): v for k, v in headers.items()}
            try:
                retry_after: float | None = float(lowered.get("retry-after", ""))
            except ValueError:
                retry_after = None
            return RateLimited(message, retry_after=retry_after, status=429, provider="omniwire")
        return UpstreamError(message, status=status, upstream_kind=kind, provider="omniwire")


class _Decoder:
    def __init__(self) -> None:
        self.ended = False

    def feed(self, event: SSEEvent) -> list[StreamEvent]:
        from .model import ResponseEnd
        from .serialize import from_json

        try:
            data = json.loads(event.data)
        except ValueError:
            raise ProtocolError("stream event is not JSON", path="$") from None
        parsed: StreamEvent = from_json(data, StreamEvent)  # type: ignore[arg-type]
        if isinstance(parsed, (ResponseEnd, StreamError)):
            self.ended = True
        return [parsed]

    def close(self) -> list[StreamEvent]:
        if not self.ended:
            raise ProtocolError("canonical stream ended before its ResponseEnd event")
        return []


class _Encoder:
    def feed(self, event: StreamEvent) -> list[SSEEvent]:
        from .serialize import to_json

        data = to_json(event)
        return [SSEEvent(json.dumps(data, separators=(",", ":")), data["event"])]

    def close(self) -> list[SSEEvent]:
        return []


def canonical_codecs() -> list[CanonicalCodec]:
    return [
        CanonicalCodec(
            "omniwire.canonical", Family.GENERATE, "/omniwire/v1/generate", Request, Response
        ),
        CanonicalCodec(
            "omniwire.canonical.embeddings",
            Family.EMBED,
            "/omniwire/v1/embed",
            EmbeddingRequest,
            EmbeddingResponse,
        ),
        CanonicalCodec(
            "omniwire.canonical.count_tokens",
            Family.COUNT_TOKENS,
            "/omniwire/v1/count_tokens",
            TokenCountRequest,
            TokenCountResponse,
        ),
    ]
