"""One shape per meaning, for comparing canonical values that crossed different protocols.

Protocols put the same conversation in different shapes (tool results in a TOOL message
or inside a USER turn; ``{"a":1}`` or ``{"a": 1}``). ``normalize`` maps each to a single
form, so ``normalize(x) == normalize(y)`` means "same meaning". It is for comparisons and
tests; codecs never need it.
"""

from __future__ import annotations

import json
from typing import TypeVar

import attrs

from .model import (
    Choice,
    Message,
    Part,
    Request,
    Response,
    Role,
    TextPart,
    TokenCountRequest,
    ToolCallPart,
    ToolResultPart,
)

__all__ = ["normalize", "normalize_arguments"]

T = TypeVar("T")


def normalize_arguments(arguments: str) -> str:
    """Compact JSON text; text that is not JSON is left as it is."""
    if not arguments.strip():
        return "{}"
    try:
        return json.dumps(json.loads(arguments), separators=(",", ":"), ensure_ascii=False)
    except ValueError:
        return arguments


def _parts(parts: tuple[Part, ...]) -> tuple[Part, ...]:
    out: list[Part] = []
    for p in parts:
        if isinstance(p, TextPart) and not p.text and not p.citations and p.cache is None:
            continue
        if isinstance(p, ToolCallPart):
            p = attrs.evolve(p, arguments=normalize_arguments(p.arguments))
        elif isinstance(p, ToolResultPart):
            p = attrs.evolve(p, content=_parts(p.content))
        out.append(p)
    return tuple(out)


def _messages(messages: tuple[Message, ...]) -> tuple[Message, ...]:
    out: list[Message] = []
    for m in messages:
        content = _parts(m.content)
        results = [p for p in content if isinstance(p, ToolResultPart)]
        if not results or m.role not in (Role.USER, Role.TOOL):
            out.append(attrs.evolve(m, content=content))
            continue
        for r in results:
            out.append(Message(Role.TOOL, (r,)))
        rest = tuple(p for p in content if not isinstance(p, ToolResultPart))
        if rest:
            out.append(attrs.evolve(m, role=Role.USER, content=rest))
    return tuple(out)


def normalize(value: T) -> T:
    """Normalize a Request, Response, Message or tuple of messages."""
    if isinstance(value, Request):
        return attrs.evolve(value, messages=_messages(value.messages))  # type: ignore[return-value]
    if isinstance(value, TokenCountRequest):
        return attrs.evolve(value, messages=_messages(value.messages))  # type: ignore[return-value]
    if isinstance(value, Response):
        choices = tuple(attrs.evolve(c, content=_parts(c.content)) for c in value.choices)
        return attrs.evolve(value, choices=choices)  # type: ignore[return-value]
    if isinstance(value, Choice):
        return attrs.evolve(value, content=_parts(value.content))  # type: ignore[return-value]
    if isinstance(value, Message):
        return _messages((value,))[0] if value.content else value  # type: ignore[return-value]
    if isinstance(value, tuple):
        return _messages(value)  # type: ignore[return-value]
    return value
