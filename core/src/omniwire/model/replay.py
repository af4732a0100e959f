"""Turn a canonical Response into the stream events that fold back to it.

The stack re-streams a non-streamed fallback with it, caches replay stored answers,
the testing kit's fake upstream streams with it and its Hypothesis strategies build
random splittings on ``part_events``. Invariant, pinned by the kit's tests:
``fold(events_for(r)) == r`` for every Response ``r``.
"""

from __future__ import annotations

from typing import Callable

import attrs

from .generation import Response, Usage
from .parts import Part, ReasoningPart, RefusalPart, TextPart, ToolCallPart
from .stream import (
    ArgumentsDelta,
    CitationDelta,
    PartEnd,
    PartStart,
    ReasoningDelta,
    ResponseEnd,
    ResponseStart,
    SignatureDelta,
    StreamEvent,
    SummaryDelta,
    TextDelta,
    UsageUpdate,
)

__all__ = ["events_for", "input_usage", "part_events", "split_text"]

Splitter = Callable[[str], list[str]]


def split_text(text: str, size: int = 16) -> list[str]:
    """Pieces of at most ``size`` characters; ``[]`` for the empty string."""
    return [text[i : i + size] for i in range(0, len(text), size)]


def _pieces(split: Splitter, text: str) -> list[str]:
    # an empty string still needs one delta when the field must exist (summary entries)
    return split(text) or [""]


def part_events(
    index: int,
    part: Part,
    *,
    choice: int = 0,
    split: Splitter = split_text,
    final: bool = False,
) -> list[StreamEvent]:
    """PartStart, deltas, PartEnd for one part. ``final`` repeats the whole part in the
    PartEnd, as protocols that close an item with its complete form do."""
    events: list[StreamEvent] = []
    if isinstance(part, TextPart):
        events.append(PartStart(index, attrs.evolve(part, text="", citations=()), choice))
        events.extend(TextDelta(index, t) for t in split(part.text))
        events.extend(CitationDelta(index, c) for c in part.citations)
    elif isinstance(part, RefusalPart):
        events.append(PartStart(index, attrs.evolve(part, text=""), choice))
        events.extend(TextDelta(index, t) for t in split(part.text))
    elif isinstance(part, ToolCallPart):
        events.append(PartStart(index, attrs.evolve(part, arguments=""), choice))
        events.extend(ArgumentsDelta(index, t) for t in split(part.arguments))
    elif isinstance(part, ReasoningPart):
        skeleton = attrs.evolve(part, text="", summary=(), signature=None, encrypted=None)
        events.append(PartStart(index, skeleton, choice))
        events.extend(ReasoningDelta(index, t) for t in split(part.text))
        for n, entry in enumerate(part.summary):
            events.extend(SummaryDelta(index, t, n) for t in _pieces(split, entry))
        if part.signature is not None:
            events.extend(SignatureDelta(index, t) for t in _pieces(split, part.signature))
        if part.encrypted is not None:
            events.extend(
                SignatureDelta(index, t, encrypted=True) for t in _pieces(split, part.encrypted)
            )
    else:  # media, tool results, opaque blocks: known up front, no deltas
        events.append(PartStart(index, part, choice))
    events.append(PartEnd(index, part if final else None))
    return events


def input_usage(usage: Usage) -> Usage:
    """The input side of a usage report (what a stream knows when it starts)."""
    return Usage(
        input_tokens=usage.input_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
    )


def events_for(response: Response, *, chunk_size: int | None = 16) -> list[StreamEvent]:
    """The canonical stream of ``response``: start (with input usage), each choice's
    parts in order, text cut every ``chunk_size`` characters (None: one delta per
    text), then one ResponseEnd per choice, the last one carrying the full usage."""

    def split(text: str) -> list[str]:
        if chunk_size is None:
            return [text] if text else []
        return split_text(text, chunk_size)

    usage = response.usage
    events: list[StreamEvent] = [
        ResponseStart(
            id=response.id,
            model=response.model,
            created=response.created,
            usage=input_usage(usage) if usage is not None else None,
            service_tier=response.service_tier,
        )
    ]
    index = 0
    ends: list[ResponseEnd] = []
    for choice in response.choices:
        for part in choice.content:
            events.extend(part_events(index, part, choice=choice.index, split=split))
            index += 1
        ends.append(ResponseEnd(choice.stop_reason, choice.stop_raw, None, choice.index))
    if ends:
        ends[-1] = attrs.evolve(ends[-1], usage=usage)
    elif usage is not None:
        events.append(UsageUpdate(usage))
    events.extend(ends)
    return events
