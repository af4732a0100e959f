"""The worst case a call can cost, estimated before it is sent.

Input tokens: a fast heuristic by default — every character of text the request carries
(message text, reasoning sent back, tool calls and results, tool names, descriptions and
JSON schemas, the response-format schema) divided by four, rounded up, plus a flat
``media_tokens`` (1,600) per image, audio or file part. Exact counts come from the
provider's count-tokens endpoint when the guard is configured with
``estimate = "count_tokens"`` (see :mod:`omniwire_budgets.guard`).

Output tokens: the request's ``max_tokens`` (or ``default_max_tokens``) times ``n``.
Reasoning counts against ``max_tokens`` on every provider, so it is included.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from omniwire.model import (
    AudioPart,
    EmbeddingRequest,
    FilePart,
    ImageEditRequest,
    ImagePart,
    ImageRequest,
    ImageVariationRequest,
    OpaquePart,
    ReasoningPart,
    RefusalPart,
    Request,
    RerankRequest,
    SpeechRequest,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    TranscriptionRequest,
    Usage,
)

__all__ = [
    "CHARS_PER_TOKEN",
    "DEFAULT_MAX_TOKENS",
    "MEDIA_TOKENS",
    "cache_ttl",
    "estimate_input_tokens",
    "worst_case_usage",
]

CHARS_PER_TOKEN = 4
MEDIA_TOKENS = 1600
DEFAULT_MAX_TOKENS = 4096


def _json_len(value: Any) -> int:
    if value is None:
        return 0
    try:
        return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str))
    except (TypeError, ValueError):
        return len(str(value))


def _parts(parts: Iterable[Any]) -> tuple[int, int]:
    """(characters, media parts) of a sequence of content parts."""
    chars = media = 0
    for part in parts:
        if isinstance(part, (TextPart, RefusalPart)):
            chars += len(part.text)
        elif isinstance(part, ReasoningPart):
            chars += len(part.text) + sum(len(s) for s in part.summary)
            chars += len(part.encrypted or "")
        elif isinstance(part, ToolCallPart):
            chars += len(part.name) + len(part.arguments)
        elif isinstance(part, ToolResultPart):
            c, m = _parts(part.content)
            chars += c + len(part.name or "")
            media += m
        elif isinstance(part, (ImagePart, AudioPart, FilePart)):
            media += 1
            chars += len(getattr(part, "transcript", None) or "")
        elif isinstance(part, OpaquePart):
            chars += _json_len(part.data)
    return chars, media


def _tokens(chars: int, media: int = 0, media_tokens: int = MEDIA_TOKENS) -> int:
    return -(-chars // CHARS_PER_TOKEN) + media * media_tokens


def estimate_input_tokens(request: Any, *, media_tokens: int = MEDIA_TOKENS) -> int:
    """Heuristic input tokens of any canonical request (0 for what it cannot see)."""
    if isinstance(request, Request):
        chars = media = 0
        for message in request.messages:
            c, m = _parts(message.content)
            chars += c + len(message.name or "")
            media += m
        for tool in request.tools:
            chars += len(tool.name) + len(tool.description or "")
            chars += _json_len(tool.parameters) + _json_len(tool.config)
        if request.response_format is not None:
            chars += _json_len(request.response_format.schema)
        return _tokens(chars, media, media_tokens)
    if isinstance(request, EmbeddingRequest):
        chars = tokens = 0
        for item in request.inputs:
            if isinstance(item, str):
                chars += len(item)
            else:
                tokens += len(item)
        return _tokens(chars) + tokens
    if isinstance(request, RerankRequest):
        return _tokens(len(request.query) + sum(len(d) for d in request.documents))
    if isinstance(request, (ImageRequest, ImageEditRequest)):
        return _tokens(len(request.prompt))
    if isinstance(request, SpeechRequest):
        return _tokens(len(request.input) + len(request.instructions or ""))
    if isinstance(request, TranscriptionRequest):
        return _tokens(len(request.prompt or ""))
    return 0


def cache_ttl(request: Request) -> str | None:
    """The longest prompt-cache TTL a request asks to write ("1h", "5m"), or None."""
    found: str | None = None

    def see(hint: Any) -> None:
        nonlocal found
        if hint is None:
            return
        ttl = hint.ttl or "5m"
        if found != "1h":
            found = "1h" if ttl == "1h" else ttl

    for tool in request.tools:
        see(tool.cache)
    for message in request.messages:
        see(message.cache)
        for part in message.content:
            see(getattr(part, "cache", None))
    return found


def worst_case_usage(
    request: Any, input_tokens: int, *, default_max_tokens: int = DEFAULT_MAX_TOKENS
) -> Usage:
    """The usage a request can at most cause, for pricing a reservation. A request that
    asks to write the prompt cache is priced as writing all of it (cache writes cost more
    than plain input on Anthropic)."""
    if isinstance(request, Request):
        output = (request.max_tokens or default_max_tokens) * max(request.n or 1, 1)
        ttl = cache_ttl(request)
        if ttl is None:
            return Usage(input_tokens, output)
        details = {"cache_write_1h_tokens": input_tokens} if ttl == "1h" else None
        return Usage(input_tokens, output, cache_write_tokens=input_tokens, details=details)
    if isinstance(request, (ImageRequest, ImageEditRequest, ImageVariationRequest)):
        return Usage(input_tokens, 0, details={"output_images": max(request.n or 1, 1)})
    if isinstance(request, SpeechRequest):
        return Usage(
            input_tokens, default_max_tokens, details={"input_characters": len(request.input)}
        )
    return Usage(input_tokens, 0)
