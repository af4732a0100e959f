"""Hypothesis strategies for canonical values inside ``gemini.generate_content``'s
declared features: whatever these draw must survive encode -> JSON -> decode."""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import strategies as st
from omniwire.model import (
    ArgumentsDelta,
    AudioPart,
    Choice,
    FilePart,
    ImagePart,
    MediaSource,
    Message,
    OpaquePart,
    Part,
    PartEnd,
    PartStart,
    PromptCache,
    Reasoning,
    ReasoningDelta,
    ReasoningPart,
    Request,
    Response,
    ResponseEnd,
    ResponseFormat,
    ResponseStart,
    Role,
    SignatureDelta,
    StopReason,
    StreamEvent,
    TextDelta,
    TextPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    Usage,
    UsageUpdate,
)

CONTENT = "gemini.generate_content"

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
word = st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)
ident = st.text("abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=16)
b64 = st.binary(min_size=1, max_size=24).map(lambda b: base64.b64encode(b).decode())
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
json_scalar = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | finite | text
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(word, inner, max_size=3),
    max_leaves=8,
)
json_object = st.dictionaries(word, json_value, max_size=4)
schema = st.fixed_dictionaries(
    {
        "type": st.just("object"),
        "properties": st.dictionaries(word, st.just({"type": "string"}), max_size=3),
    }
)


def media(kind: str) -> st.SearchStrategy[MediaSource]:
    mimes = {
        "image": ["image/png", "image/jpeg", "image/webp"],
        "audio": ["audio/wav", "audio/mpeg"],
        "file": ["application/pdf", "text/plain"],
    }[kind]
    mime = st.sampled_from(mimes)
    inline = st.builds(lambda d, m: MediaSource(data=d, media_type=m), b64, mime)
    url = st.builds(
        lambda p, m: MediaSource(url=f"https://example.com/{p}", media_type=m), ident, mime
    )
    return inline | url


text_part = st.builds(TextPart, text)
image_part = st.builds(ImagePart, media("image"))
audio_part = st.builds(
    lambda src: AudioPart(src, format={"audio/wav": "wav", "audio/mpeg": "mp3"}[src.media_type]),
    media("audio"),
)
file_part = st.builds(FilePart, media("file"))
thought_part = st.builds(
    lambda t, s: ReasoningPart(t, signature=s), text.filter(bool), st.none() | b64
)
signature_part = st.builds(lambda s: ReasoningPart(signature=s), b64)
opaque_part = st.builds(
    lambda code: OpaquePart(
        CONTENT, "executableCode", {"executableCode": {"language": "PYTHON", "code": code}}
    ),
    text,
)


def call_part(call_id: str) -> st.SearchStrategy[ToolCallPart]:
    return st.builds(
        lambda name, args: ToolCallPart(
            call_id, name, json.dumps(args, separators=(",", ":"), ensure_ascii=False)
        ),
        word,
        json_object,
    )


@st.composite
def result_part(draw: st.DrawFn, call_id: str, name: str) -> ToolResultPart:
    body: list[Part] = []
    has_text = draw(st.booleans())
    if has_text:
        body.append(TextPart(draw(text)))
    body.extend(
        draw(
            st.lists(
                image_part | file_part, max_size=2 if has_text else 2, min_size=0 if has_text else 0
            )
        )
    )
    return ToolResultPart(call_id, tuple(body), has_text and draw(st.booleans()), name)


@st.composite
def assistant_parts(draw: st.DrawFn, prefix: str, calls: bool = True) -> list[Part]:
    kinds = draw(
        st.lists(st.sampled_from(["text", "thought", "sig", "call", "opaque", "image"]), max_size=5)
    )
    out: list[Part] = []
    for i, kind in enumerate(kinds):
        if kind == "text":
            out.append(draw(text_part))
        elif kind == "thought":
            out.append(draw(thought_part))
        elif kind == "sig":
            out.append(draw(signature_part))
        elif kind == "call" and calls:
            out.append(draw(call_part(f"{prefix}{i}")))
        elif kind == "opaque":
            out.append(draw(opaque_part))
        elif kind == "image":
            out.append(draw(image_part))
    return out


@st.composite
def conversations(draw: st.DrawFn) -> list[Message]:
    messages: list[Message] = []
    if draw(st.booleans()):
        messages.append(
            Message(Role.SYSTEM, tuple(draw(st.lists(text_part, min_size=1, max_size=2))))
        )
    for turn in range(draw(st.integers(0, 4))):
        user = draw(st.lists(text_part | image_part | audio_part | file_part, max_size=3))
        messages.append(Message(Role.USER, tuple(user)))
        reply = draw(assistant_parts(f"c{turn}_"))
        messages.append(Message(Role.ASSISTANT, tuple(reply)))
        calls = [p for p in reply if isinstance(p, ToolCallPart)]
        if calls and draw(st.booleans()):
            for c in calls:
                name = c.name if draw(st.booleans()) else draw(word)
                messages.append(Message(Role.TOOL, (draw(result_part(c.id, name)),)))
    return messages


function_tool = st.builds(
    lambda name, desc, params: Tool(name, desc, params),
    word,
    st.none() | text,
    st.none() | schema,
)
builtin_tool = st.sampled_from(["googleSearch", "codeExecution", "urlContext"]).flatmap(
    lambda kind: st.builds(lambda cfg: Tool(kind, kind=kind, config=cfg), st.just({}) | json_object)
)
tool_choice = st.sampled_from(
    [ToolChoice("auto"), ToolChoice("none"), ToolChoice("required")]
) | st.builds(lambda n: ToolChoice("tool", n), word)
response_format = (
    st.just(ResponseFormat("text"))
    | st.just(ResponseFormat("json_object"))
    | st.builds(lambda s: ResponseFormat("json_schema", s), schema)
)
reasoning = st.one_of(
    st.builds(
        Reasoning,
        effort=st.none() | st.sampled_from(["minimal", "low", "medium", "high"]),
        budget_tokens=st.none() | st.integers(1, 32768),
        include_thoughts=st.none() | st.booleans(),
    ),
    st.builds(
        lambda on, inc: Reasoning(enabled=on, include_thoughts=inc),
        st.booleans(),
        st.none() | st.booleans(),
    ),
)
opt_int = st.none() | st.integers(0, 2**31 - 1)
opt_float = st.none() | finite


@st.composite
def requests(draw: st.DrawFn) -> Request:
    return Request(
        model=draw(
            st.sampled_from(["gemini-2.5-flash", "gemini-3-pro-preview", "tunedModels/abc-1"])
        ),
        messages=tuple(draw(conversations())),
        tools=tuple(draw(st.lists(function_tool | builtin_tool, max_size=4))),
        tool_choice=draw(st.none() | tool_choice),
        max_tokens=draw(opt_int),
        temperature=draw(opt_float),
        top_p=draw(opt_float),
        top_k=draw(st.none() | st.integers(1, 100)),
        n=draw(st.none() | st.integers(1, 4)),
        stop=tuple(draw(st.lists(text.filter(bool), max_size=3))),
        seed=draw(st.none() | st.integers(-(2**31), 2**31 - 1)),
        presence_penalty=draw(opt_float),
        frequency_penalty=draw(opt_float),
        logprobs=draw(st.none() | st.booleans()),
        top_logprobs=draw(st.none() | st.integers(0, 20)),
        response_format=draw(st.none() | response_format),
        reasoning=draw(st.none() | reasoning),
        cache=draw(
            st.none()
            | st.builds(lambda n: PromptCache(cached_content=f"cachedContents/{n}"), ident)
        ),
        metadata=draw(st.none() | st.dictionaries(word, ident, max_size=3)),
        service_tier=draw(st.none() | st.sampled_from(["flex", "standard", "priority"])),
        stream=draw(st.booleans()),
    )


@st.composite
def usages(draw: st.DrawFn) -> Usage:
    reasoning_tokens = draw(st.integers(0, 5000))
    output = reasoning_tokens + draw(st.integers(0, 5000))
    cache_read = draw(st.integers(0, 5000))
    input_tokens = cache_read + draw(st.integers(0, 5000))
    details = None
    if draw(st.booleans()):
        details = {"input_text_tokens": draw(st.integers(1, 999))}
        if draw(st.booleans()):
            details["input_image_tokens"] = draw(st.integers(1, 999))
        if cache_read and draw(st.booleans()):
            details["cache_read_text_tokens"] = cache_read
    return Usage(input_tokens, output, cache_read, 0, reasoning_tokens, details)


def _stop(draw: st.DrawFn, parts: list[Part]) -> StopReason | None:
    reason = draw(
        st.sampled_from(
            [
                StopReason.END_TURN,
                StopReason.MAX_TOKENS,
                StopReason.CONTENT_FILTER,
                StopReason.OTHER,
                StopReason.ERROR,
                None,
            ]
        )
    )
    if reason is StopReason.END_TURN and any(isinstance(p, ToolCallPart) for p in parts):
        return StopReason.TOOL_CALLS
    return reason


@st.composite
def responses(draw: st.DrawFn, *, stream_safe: bool = False) -> Response:
    choices = []
    for i in range(draw(st.integers(1, 2))):
        parts = draw(assistant_parts(f"r{i}_"))
        if stream_safe:
            parts = _stream_safe(parts)
        choices.append(Choice(tuple(parts), _stop(draw, parts), index=i))
    return Response(
        id=draw(st.none() | ident),
        model=draw(st.none() | st.sampled_from(["gemini-2.5-flash", "gemini-3-pro-preview"])),
        choices=tuple(choices),
        usage=draw(st.none() | usages()),
        created=draw(st.none() | st.integers(0, 2**32)),
    )


def _stream_safe(parts: list[Part]) -> list[Part]:
    """Gemini streams merge a text part into the text part before it, and a thought into
    an unsigned thought before it (the encoder reports both as losses): leave them out."""
    out: list[Part] = []
    for p in parts:
        prev = out[-1] if out else None
        if isinstance(p, TextPart) and isinstance(prev, TextPart):
            continue
        if (
            isinstance(p, ReasoningPart)
            and isinstance(prev, ReasoningPart)
            and prev.signature is None
        ):
            continue
        out.append(p)
    return out


def _pieces(draw: st.DrawFn, s: str) -> list[str]:
    cuts = (
        sorted(draw(st.sets(st.integers(1, max(1, len(s) - 1)), max_size=3))) if len(s) > 1 else []
    )
    bounds = [0, *cuts, len(s)]
    return [s[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]


@st.composite
def streams(draw: st.DrawFn) -> list[StreamEvent]:
    """A canonical event sequence describing a stream-safe response."""
    response = draw(responses(stream_safe=True))
    events: list[StreamEvent] = [ResponseStart(response.id, response.model, response.created)]
    index = 0
    for choice in response.choices:
        for part in choice.content:
            if isinstance(part, TextPart):
                events.append(PartStart(index, TextPart(""), choice.index))
                events.extend(TextDelta(index, t) for t in _pieces(draw, part.text))
            elif isinstance(part, ReasoningPart) and part.text:
                events.append(PartStart(index, ReasoningPart(""), choice.index))
                events.extend(ReasoningDelta(index, t) for t in _pieces(draw, part.text))
                if part.signature is not None:
                    events.append(SignatureDelta(index, part.signature))
            elif isinstance(part, ToolCallPart):
                events.append(PartStart(index, ToolCallPart(part.id, part.name, ""), choice.index))
                events.extend(ArgumentsDelta(index, t) for t in _pieces(draw, part.arguments))
            else:
                events.append(PartStart(index, part, choice.index))
            events.append(PartEnd(index))
            index += 1
        events.append(ResponseEnd(choice.stop_reason, choice=choice.index))
    if response.usage is not None:
        events.insert(draw(st.integers(1, len(events))), UsageUpdate(response.usage))
    return events


def jsonable(value: Any) -> Any:
    """What the wire does to a payload: JSON text and back."""
    return json.loads(json.dumps(value, ensure_ascii=False))
