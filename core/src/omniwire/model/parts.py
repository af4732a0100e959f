"""Content parts: the typed pieces a message is made of.

Every part is frozen and slotted. ``raw`` keeps the provider object a part was decoded
from; it never takes part in equality, so a decoded part equals the part that produced it.
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Union

import attrs

from .common import CacheHint, Raw

__all__ = [
    "AudioPart",
    "FilePart",
    "ImagePart",
    "MediaSource",
    "OpaquePart",
    "Part",
    "ReasoningPart",
    "RefusalPart",
    "TextPart",
    "ToolCallPart",
    "ToolResultPart",
]

_raw = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen
class MediaSource:
    """Where binary content lives: inline base64 ``data``, a ``url``, or a provider ``file_id``.

    Exactly one of the three is set; ``media_type`` is the MIME type when known.
    """

    data: str | None = None
    url: str | None = None
    file_id: str | None = None
    media_type: str | None = None

    def __attrs_post_init__(self) -> None:
        if sum(x is not None for x in (self.data, self.url, self.file_id)) != 1:
            raise ValueError("MediaSource needs exactly one of data, url, file_id")

    @classmethod
    def from_data_url(cls, url: str) -> MediaSource:
        """Split a ``data:<mime>;base64,<payload>`` URL; any other URL stays a URL."""
        if url.startswith("data:") and ";base64," in url:
            head, _, payload = url.partition(";base64,")
            return cls(data=payload, media_type=head[5:] or None)
        return cls(url=url)

    def as_url(self) -> str | None:
        """The source as a URL, building a data URL from inline data when needed."""
        if self.url is not None:
            return self.url
        if self.data is not None:
            return f"data:{self.media_type or 'application/octet-stream'};base64,{self.data}"
        return None


@attrs.frozen
class TextPart:
    text: str
    citations: tuple[Mapping[str, Any], ...] = ()
    cache: CacheHint | None = None
    raw: Raw | None = _raw
    type: str = attrs.field(default="text", init=False, repr=False)


@attrs.frozen
class ImagePart:
    source: MediaSource
    detail: str | None = None
    cache: CacheHint | None = None
    raw: Raw | None = _raw
    type: str = attrs.field(default="image", init=False, repr=False)


@attrs.frozen
class AudioPart:
    """Audio content; ``format`` is the short name providers use (``wav``, ``mp3``)."""

    source: MediaSource
    format: str | None = None
    transcript: str | None = None
    id: str | None = None
    raw: Raw | None = _raw
    type: str = attrs.field(default="audio", init=False, repr=False)


@attrs.frozen
class FilePart:
    """A document or file (PDF, plain text, ...), inline, by URL or by provider file id."""

    source: MediaSource
    filename: str | None = None
    title: str | None = None
    context: str | None = None
    citations: bool | None = None
    cache: CacheHint | None = None
    raw: Raw | None = _raw
    type: str = attrs.field(default="file", init=False, repr=False)


@attrs.frozen
class ToolCallPart:
    """A call the model asks for. ``arguments`` is JSON text, exactly as produced."""

    id: str
    name: str
    arguments: str = "{}"
    cache: CacheHint | None = None
    raw: Raw | None = _raw
    type: str = attrs.field(default="tool_call", init=False, repr=False)

    @property
    def input(self) -> Any:
        """The arguments parsed; an empty string counts as an empty object."""
        return json.loads(self.arguments) if self.arguments.strip() else {}


@attrs.frozen
class ToolResultPart:
    """The result of a tool call, sent back to the model. Content is itself parts."""

    tool_call_id: str
    content: tuple[Part, ...] = ()
    is_error: bool = False
    name: str | None = None
    cache: CacheHint | None = None
    raw: Raw | None = _raw
    type: str = attrs.field(default="tool_result", init=False, repr=False)

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.content if isinstance(p, TextPart))


@attrs.frozen
class ReasoningPart:
    """Model reasoning ("thinking").

    ``text`` is the visible reasoning, ``summary`` the summarised form some providers
    return instead, ``signature`` the provider's integrity token that must travel back
    unchanged, ``encrypted`` an opaque payload (encrypted content, redacted thinking data).
    ``redacted`` marks reasoning the provider hid from us.
    """

    text: str = ""
    summary: tuple[str, ...] = ()
    signature: str | None = None
    encrypted: str | None = None
    redacted: bool = False
    id: str | None = None
    raw: Raw | None = _raw
    type: str = attrs.field(default="reasoning", init=False, repr=False)


@attrs.frozen
class RefusalPart:
    text: str
    raw: Raw | None = _raw
    type: str = attrs.field(default="refusal", init=False, repr=False)


@attrs.frozen
class OpaquePart:
    """A provider-specific block with no canonical meaning (server tool use, code execution
    results, built-in tool calls). It survives a same-protocol round trip untouched and is
    reported as a loss when bridged to another protocol."""

    protocol: str
    kind: str
    data: Mapping[str, Any]
    raw: Raw | None = _raw
    type: str = attrs.field(default="opaque", init=False, repr=False)


Part = Union[
    TextPart,
    ImagePart,
    AudioPart,
    FilePart,
    ToolCallPart,
    ToolResultPart,
    ReasoningPart,
    RefusalPart,
    OpaquePart,
]
