"""The codec contract: one protocol, both directions.

A codec converts between the canonical model and one wire protocol (``openai.chat``,
``anthropic.messages``...). The *client side* encodes canonical requests and decodes the
provider's responses and streams; the *server side* (what the gateway needs) decodes
inbound requests and encodes responses and streams. Wire payloads are JSON-ready Python
values (dicts, lists, str...) except where a protocol is binary; JSON bytes are the
transport's business.

Every method takes a :class:`~omniwire.report.Conversion` and must call ``conv.lose`` for
anything it cannot carry. Malformed input raises :class:`~omniwire.errors.ProtocolError`
with the path of the offending field.

Streams are converted by small stateful objects built once per stream, with plain
methods called once per SSE event: no hook dispatch per chunk.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Mapping, Protocol

from .errors import OmniwireError, ProtocolError, UpstreamError

if TYPE_CHECKING:
    from .model import StreamEvent, Usage
    from .report import Conversion
    from .sse import SSEEvent
    from .wire import WireRequest

__all__ = ["FEATURES", "Codec", "Family", "StreamDecoder", "StreamEncoder"]

#: The feature vocabulary of ``Codec.features`` (see docs/codecs.md).
FEATURES = frozenset(
    {
        "system",
        "developer",
        "text",
        "image",
        "audio",
        "file",
        "tool_calls",
        "tool_results",
        "reasoning",
        "reasoning_signature",
        "reasoning_redacted",
        "reasoning_encrypted",
        "reasoning_summary",
        "refusal",
        "citations",
        "opaque",
        "cache_hints",
        "prompt_cache",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "max_tokens",
        "temperature",
        "top_p",
        "top_k",
        "n",
        "stop",
        "seed",
        "penalties",
        "logit_bias",
        "logprobs",
        "response_format",
        "json_schema",
        "reasoning_effort",
        "reasoning_budget",
        "metadata",
        "user",
        "service_tier",
        "usage_cache_read",
        "usage_cache_write",
        "usage_reasoning",
        "stream",
    }
)


class Family:
    """Endpoint families; a codec belongs to exactly one."""

    GENERATE = "generate"
    EMBED = "embed"
    IMAGE = "image"
    IMAGE_EDIT = "image_edit"
    IMAGE_VARIATION = "image_variation"
    TRANSCRIBE = "transcribe"
    SPEECH = "speech"
    RERANK = "rerank"
    COUNT_TOKENS = "count_tokens"


class StreamDecoder(Protocol):
    """Client side: provider SSE events in, canonical stream events out."""

    def feed(self, event: SSEEvent) -> list[StreamEvent]: ...

    def close(self) -> list[StreamEvent]:
        """The stream ended. Return any final events; raise ProtocolError if the stream
        was cut before the protocol's terminal event."""
        ...


class StreamEncoder(Protocol):
    """Server side: canonical stream events in, provider SSE events out."""

    def feed(self, event: StreamEvent) -> list[SSEEvent]: ...

    def close(self) -> list[SSEEvent]:
        """Terminal events (``data: [DONE]``...) after the last canonical event."""
        ...


class Codec:
    """Base class for codecs. Subclasses set the class attributes and override the
    methods of the directions they support; the rest raise ProtocolError naming the gap.

    ``id``: the codec id (``acme.chat``). ``family``: one of :class:`Family`.
    ``provider``: the ``gen_ai.provider.name`` reported to observers.
    ``default_auth``: the auth scheme an endpoint speaking this protocol uses by default.
    ``features``: what the codec can represent exactly (see ``docs/codecs.md`` for the
    vocabulary); the conformance kit narrows its generated payloads to these.
    """

    id: ClassVar[str] = ""
    family: ClassVar[str] = Family.GENERATE
    provider: ClassVar[str] = ""
    default_auth: ClassVar[str] = "bearer"
    features: ClassVar[frozenset[str]] = frozenset()
    binary_response: ClassVar[bool] = False
    routes: ClassVar[tuple[str, ...]] = ()
    """Inbound paths a server answers with this codec, as the official SDKs call them
    (``/v1/chat/completions``, ``/v1beta/models/{model}:generateContent``). ``{model}``
    is passed to ``decode_request`` in ``params``."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id}>"

    def _unsupported(self, what: str) -> ProtocolError:
        return ProtocolError(f"codec {self.id} does not support {what}")

    # -- client side ------------------------------------------------------------------

    def encode_request(self, request: Any, conv: Conversion) -> WireRequest:
        """Canonical request -> WireRequest (path, JSON body, headers, stream flag)."""
        raise self._unsupported("encoding requests")

    def decode_response(self, body: Any, conv: Conversion) -> Any:
        """Provider response body (parsed JSON, or bytes when ``binary_response``) ->
        canonical response."""
        raise self._unsupported("decoding responses")

    def stream_decoder(self, conv: Conversion) -> StreamDecoder:
        raise self._unsupported("decoding streams")

    def decode_error(self, status: int, headers: Mapping[str, str], body: bytes) -> OmniwireError:
        """An upstream error response -> the kernel error that describes it."""
        return UpstreamError(
            f"upstream answered HTTP {status}", status=status, provider=self.provider
        )

    # -- server side ------------------------------------------------------------------

    def decode_request(
        self, body: Any, conv: Conversion, *, params: Mapping[str, str] | None = None
    ) -> Any:
        """Inbound request body -> canonical request. ``params`` carries what the
        protocol puts in the URL (Gemini's model and stream method)."""
        raise self._unsupported("decoding requests")

    def encode_response(self, response: Any, conv: Conversion, *, request: Any = None) -> Any:
        """Canonical response -> body in this protocol. ``request`` is the canonical
        request being answered, when known: some protocols shape the answer after it
        (base64 embeddings, a single vs a batch embedding, text transcription formats)."""
        raise self._unsupported("encoding responses")

    def stream_encoder(self, conv: Conversion, request: Any = None) -> StreamEncoder:
        """``request`` is the canonical request being answered (some grammars echo it)."""
        raise self._unsupported("encoding streams")

    def encode_error(self, error: OmniwireError) -> tuple[int, Any]:
        """A kernel error -> (HTTP status, body in this protocol's error shape)."""
        return error.status, {"error": {"message": error.message, "type": error.kind}}

    # -- primitive (pass-through) mode ------------------------------------------------

    def usage_of(self, body: Any) -> Usage | None:
        """Usage from a provider-native response body, for budgets in pass-through."""
        return None

    def usage_of_event(self, event: SSEEvent) -> Usage | None:
        """Usage from one provider-native SSE event, if it carries any."""
        return None
