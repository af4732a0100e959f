"""Canonical types for the endpoint families beside generation."""

from __future__ import annotations

from typing import Any, Mapping

import attrs

from .common import Raw
from .generation import Message, Request, Tool, Usage, _tuple

__all__ = [
    "Embedding",
    "EmbeddingRequest",
    "EmbeddingResponse",
    "GeneratedImage",
    "ImageEditRequest",
    "ImageRequest",
    "ImageResponse",
    "ImageVariationRequest",
    "InputImage",
    "RerankRequest",
    "RerankResponse",
    "RerankResult",
    "SpeechRequest",
    "SpeechResponse",
    "TokenCountRequest",
    "TokenCountResponse",
    "TranscriptionRequest",
    "TranscriptionResponse",
]

_raw = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen
class EmbeddingRequest:
    """``inputs`` are strings or token-id lists; ``task`` carries Gemini's taskType."""

    model: str
    inputs: tuple[str | tuple[int, ...], ...] = attrs.field(converter=_tuple)
    dimensions: int | None = None
    encoding_format: str | None = None
    task: str | None = None
    user: str | None = None
    extra: Mapping[str, Any] | None = None
    raw: Raw | None = _raw


@attrs.frozen
class Embedding:
    """One vector. ``vector`` is floats; a base64 payload is decoded by the codec."""

    vector: tuple[float, ...] = attrs.field(converter=_tuple)
    index: int = 0


@attrs.frozen
class EmbeddingResponse:
    model: str | None
    embeddings: tuple[Embedding, ...] = attrs.field(converter=_tuple)
    usage: Usage | None = None
    raw: Raw | None = _raw


@attrs.frozen
class ImageRequest:
    model: str
    prompt: str
    n: int | None = None
    size: str | None = None
    quality: str | None = None
    style: str | None = None
    response_format: str | None = None
    background: str | None = None
    output_format: str | None = None
    user: str | None = None
    extra: Mapping[str, Any] | None = None
    raw: Raw | None = _raw


@attrs.frozen
class InputImage:
    """An image uploaded as input: its bytes, the file name it is sent under and its
    media type (None: not stated; the transport sends ``application/octet-stream``)."""

    data: bytes = attrs.field(repr=lambda b: f"<{len(b)} bytes>")
    filename: str = "image.png"
    media_type: str | None = None


@attrs.frozen
class ImageEditRequest:
    """Edit or extend ``images`` as ``prompt`` asks (OpenAI ``/images/edits``).

    ``mask``: where to edit (transparent areas), applied to the first image.
    ``model`` is ``""`` when the protocol's default is meant. ``extra`` holds the
    parameters with no canonical meaning; an unknown *file* part travels there as an
    :class:`InputImage`.
    """

    model: str
    prompt: str
    images: tuple[InputImage, ...] = attrs.field(converter=_tuple)
    mask: InputImage | None = None
    n: int | None = None
    size: str | None = None
    quality: str | None = None
    response_format: str | None = None
    background: str | None = None
    output_format: str | None = None
    output_compression: int | None = None
    input_fidelity: str | None = None
    user: str | None = None
    extra: Mapping[str, Any] | None = None
    raw: Raw | None = _raw


@attrs.frozen
class ImageVariationRequest:
    """Variations of one image (OpenAI ``/images/variations``); no prompt."""

    model: str
    image: InputImage
    n: int | None = None
    size: str | None = None
    response_format: str | None = None
    user: str | None = None
    extra: Mapping[str, Any] | None = None
    raw: Raw | None = _raw


@attrs.frozen
class GeneratedImage:
    url: str | None = None
    b64_json: str | None = None
    revised_prompt: str | None = None


@attrs.frozen
class ImageResponse:
    created: int | None
    images: tuple[GeneratedImage, ...] = attrs.field(converter=_tuple)
    usage: Usage | None = None
    raw: Raw | None = _raw


@attrs.frozen
class TranscriptionRequest:
    model: str
    audio: bytes = attrs.field(repr=lambda b: f"<{len(b)} bytes>")
    filename: str = "audio"
    media_type: str | None = None
    language: str | None = None
    prompt: str | None = None
    response_format: str | None = None
    temperature: float | None = None
    timestamp_granularities: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    extra: Mapping[str, Any] | None = None
    raw: Raw | None = _raw


@attrs.frozen
class TranscriptionResponse:
    text: str
    language: str | None = None
    duration: float | None = None
    segments: tuple[Mapping[str, Any], ...] = attrs.field(default=(), converter=_tuple)
    words: tuple[Mapping[str, Any], ...] = attrs.field(default=(), converter=_tuple)
    usage: Usage | None = None
    raw: Raw | None = _raw


@attrs.frozen
class SpeechRequest:
    model: str
    input: str
    voice: str
    response_format: str | None = None
    speed: float | None = None
    instructions: str | None = None
    extra: Mapping[str, Any] | None = None
    raw: Raw | None = _raw


@attrs.frozen
class SpeechResponse:
    audio: bytes = attrs.field(repr=lambda b: f"<{len(b)} bytes>")
    media_type: str = "audio/mpeg"


@attrs.frozen
class RerankRequest:
    model: str
    query: str
    documents: tuple[str, ...] = attrs.field(converter=_tuple)
    top_n: int | None = None
    return_documents: bool | None = None
    raw: Raw | None = _raw


@attrs.frozen
class RerankResult:
    index: int
    score: float
    document: str | None = None


@attrs.frozen
class RerankResponse:
    model: str | None
    results: tuple[RerankResult, ...] = attrs.field(converter=_tuple)
    usage: Usage | None = None
    raw: Raw | None = _raw


@attrs.frozen
class TokenCountRequest:
    """Count the input tokens of what ``request`` would send."""

    model: str
    messages: tuple[Message, ...] = attrs.field(default=(), converter=_tuple)
    tools: tuple[Tool, ...] = attrs.field(default=(), converter=_tuple)
    raw: Raw | None = _raw

    @classmethod
    def of(cls, request: Request) -> TokenCountRequest:
        return cls(request.model, request.messages, request.tools)


@attrs.frozen
class TokenCountResponse:
    input_tokens: int
    raw: Raw | None = _raw
