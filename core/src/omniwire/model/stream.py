"""Stream events, and the fold that turns a sequence of them into a Response.

A stream is: ``ResponseStart``, then for each output part a ``PartStart``, any number of
deltas and a ``PartEnd``, then ``ResponseEnd`` (stop reason and usage). ``UsageUpdate`` may
come anywhere; ``StreamError`` ends a broken stream. Part ``index`` is unique across the
whole stream; ``choice`` on PartStart says which choice the part belongs to.

Codecs build these with plain constructors, one per upstream chunk, so the per-chunk cost
is a few attribute writes; folding is a dictionary update per delta.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Union

import attrs

from .common import Raw, StopReason
from .generation import Choice, Response, Usage
from .parts import (
    Part,
    ReasoningPart,
    RefusalPart,
    TextPart,
    ToolCallPart,
)

__all__ = [
    "ArgumentsDelta",
    "CitationDelta",
    "PartEnd",
    "PartStart",
    "ReasoningDelta",
    "ResponseEnd",
    "ResponseStart",
    "SignatureDelta",
    "StreamError",
    "StreamEvent",
    "StreamFold",
    "SummaryDelta",
    "TextDelta",
    "UsageUpdate",
    "fold",
    "merge_usage",
]


@attrs.frozen
class ResponseStart:
    id: str | None = None
    model: str | None = None
    created: int | None = None
    usage: Usage | None = None
    service_tier: str | None = None
    raw: Raw | None = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen
class PartStart:
    """Opens part ``index``; ``part`` holds what is known up front (a tool call's id and
    name, an empty text) and is extended by the deltas that follow."""

    index: int
    part: Part
    choice: int = 0


@attrs.frozen
class TextDelta:
    """Appends text to a TextPart or RefusalPart."""

    index: int
    text: str


@attrs.frozen
class ArgumentsDelta:
    """Appends a fragment of JSON text to a ToolCallPart's arguments."""

    index: int
    fragment: str


@attrs.frozen
class ReasoningDelta:
    index: int
    text: str


@attrs.frozen
class SummaryDelta:
    """Appends to summary entry ``summary_index`` of a ReasoningPart (a new entry when
    it is one past the last)."""

    index: int
    text: str
    summary_index: int = 0


@attrs.frozen
class SignatureDelta:
    """Sets (appends to) a ReasoningPart's signature; ``encrypted`` targets the opaque
    payload instead."""

    index: int
    signature: str
    encrypted: bool = False


@attrs.frozen
class CitationDelta:
    index: int
    citation: Mapping[str, Any]


@attrs.frozen
class PartEnd:
    """Closes part ``index``. When ``part`` is given it is the authoritative final form
    (some protocols repeat the whole item at the end) and replaces what was folded."""

    index: int
    part: Part | None = None


@attrs.frozen
class UsageUpdate:
    """Usage so far; later updates replace earlier ones field by field (non-zero wins)."""

    usage: Usage


@attrs.frozen
class ResponseEnd:
    stop_reason: StopReason | None = None
    stop_raw: str | None = None
    usage: Usage | None = None
    choice: int = 0


@attrs.frozen
class StreamError:
    """The upstream reported an error inside the stream."""

    message: str
    kind: str | None = None
    status: int | None = None


StreamEvent = Union[
    ResponseStart,
    PartStart,
    TextDelta,
    ArgumentsDelta,
    ReasoningDelta,
    SummaryDelta,
    SignatureDelta,
    CitationDelta,
    PartEnd,
    UsageUpdate,
    ResponseEnd,
    StreamError,
]


def merge_usage(old: Usage | None, new: Usage | None) -> Usage | None:
    """Field-wise merge where a non-zero newer count wins (streams report usage in pieces)."""
    if old is None:
        return new
    if new is None:
        return old
    details = dict(old.details or {})
    details.update(new.details or {})
    return Usage(
        new.input_tokens or old.input_tokens,
        new.output_tokens or old.output_tokens,
        new.cache_read_tokens or old.cache_read_tokens,
        new.cache_write_tokens or old.cache_write_tokens,
        new.reasoning_tokens or old.reasoning_tokens,
        details or None,
    )


class _Building:
    """A part under construction: mutable pieces, frozen into a Part at the end."""

    __slots__ = ("choice", "part", "chunks", "summary", "signature", "encrypted", "citations")

    def __init__(self, part: Part, choice: int) -> None:
        self.part = part
        self.choice = choice
        self.chunks: list[str] = []
        self.summary: list[list[str]] | None = None
        self.signature: list[str] | None = None
        self.encrypted: list[str] | None = None
        self.citations: list[Mapping[str, Any]] | None = None

    def build(self) -> Part:
        part = self.part
        joined = "".join(self.chunks)
        if isinstance(part, (TextPart, RefusalPart)):
            changes: dict[str, Any] = {"text": part.text + joined} if joined else {}
            if self.citations and isinstance(part, TextPart):
                changes["citations"] = part.citations + tuple(self.citations)
            return attrs.evolve(part, **changes) if changes else part
        if isinstance(part, ToolCallPart):
            if not joined:
                return part
            base = part.arguments if part.arguments not in ("", "{}") else ""
            return attrs.evolve(part, arguments=base + joined)
        if isinstance(part, ReasoningPart):
            changes = {}
            if joined:
                changes["text"] = part.text + joined
            if self.summary is not None:
                summary = list(part.summary)
                for i, pieces in enumerate(self.summary):
                    text = "".join(pieces)
                    if i < len(summary):
                        summary[i] += text
                    else:
                        summary.append(text)
                changes["summary"] = tuple(summary)
            if self.signature is not None:
                changes["signature"] = (part.signature or "") + "".join(self.signature)
            if self.encrypted is not None:
                changes["encrypted"] = (part.encrypted or "") + "".join(self.encrypted)
            return attrs.evolve(part, **changes) if changes else part
        return part


class StreamFold:
    """Folds stream events into a Response, one ``feed`` per event."""

    __slots__ = ("_start", "_parts", "_order", "_ends", "_usage", "error")

    def __init__(self) -> None:
        self._start: ResponseStart | None = None
        self._parts: dict[int, _Building] = {}
        self._order: list[int] = []
        self._ends: dict[int, ResponseEnd] = {}
        self._usage: Usage | None = None
        self.error: StreamError | None = None

    def feed(self, event: StreamEvent) -> None:
        cls = type(event)
        if cls is TextDelta:
            self._parts[event.index].chunks.append(event.text)  # type: ignore[union-attr]
        elif cls is ArgumentsDelta:
            self._parts[event.index].chunks.append(event.fragment)  # type: ignore[union-attr]
        elif cls is ReasoningDelta:
            self._parts[event.index].chunks.append(event.text)  # type: ignore[union-attr]
        elif cls is PartStart:
            assert isinstance(event, PartStart)
            if event.index in self._parts:
                raise ValueError(f"part {event.index} started twice")
            self._parts[event.index] = _Building(event.part, event.choice)
            self._order.append(event.index)
        elif cls is PartEnd:
            assert isinstance(event, PartEnd)
            building = self._parts[event.index]
            if event.part is not None:
                building.part = event.part
                building.chunks.clear()
                building.summary = building.signature = building.encrypted = None
                building.citations = None
        elif cls is SummaryDelta:
            assert isinstance(event, SummaryDelta)
            b = self._parts[event.index]
            if b.summary is None:
                b.summary = []
            while len(b.summary) <= event.summary_index:
                b.summary.append([])
            b.summary[event.summary_index].append(event.text)
        elif cls is SignatureDelta:
            assert isinstance(event, SignatureDelta)
            b = self._parts[event.index]
            if event.encrypted:
                b.encrypted = (b.encrypted or []) + [event.signature]
            else:
                b.signature = (b.signature or []) + [event.signature]
        elif cls is CitationDelta:
            assert isinstance(event, CitationDelta)
            b = self._parts[event.index]
            b.citations = (b.citations or []) + [event.citation]
        elif cls is UsageUpdate:
            self._usage = merge_usage(self._usage, event.usage)  # type: ignore[union-attr]
        elif cls is ResponseStart:
            assert isinstance(event, ResponseStart)
            self._start = event
            self._usage = merge_usage(self._usage, event.usage)
        elif cls is ResponseEnd:
            assert isinstance(event, ResponseEnd)
            self._ends[event.choice] = event
            self._usage = merge_usage(self._usage, event.usage)
        elif cls is StreamError:
            self.error = event  # type: ignore[assignment]
        else:
            raise TypeError(f"not a stream event: {event!r}")

    def response(self) -> Response:
        by_choice: dict[int, list[Part]] = {}
        for index in self._order:
            b = self._parts[index]
            by_choice.setdefault(b.choice, []).append(b.build())
        for c in self._ends:
            by_choice.setdefault(c, [])
        choices = []
        for c in sorted(by_choice):
            end = self._ends.get(c)
            choices.append(
                Choice(
                    tuple(by_choice[c]),
                    end.stop_reason if end else None,
                    end.stop_raw if end else None,
                    index=c,
                )
            )
        start = self._start or ResponseStart()
        return Response(
            id=start.id,
            model=start.model,
            choices=tuple(choices),
            usage=self._usage,
            created=start.created,
            service_tier=start.service_tier,
        )


def fold(events: Iterable[StreamEvent]) -> Response:
    """Fold a whole event sequence into the Response it describes."""
    f = StreamFold()
    for e in events:
        f.feed(e)
    return f.response()
