"""Hypothesis strategies for canonical values the anthropic codecs carry exactly.

Everything generated here is inside ``AnthropicMessages.features`` and in the canonical
form the decoder produces (e.g. a thinking budget implies ``enabled=None``), so
``decode(encode(x)) == x`` after ``omniwire.normalize``. The values are also valid for the
official SDK models, so the oracle tests can reuse them.
"""

from __future__ import annotations

import base64
import json
import string
from typing import Any

from hypothesis import strategies as st
from omniwire.model import (
    ArgumentsDelta,
    CacheHint,
    Choice,
    CitationDelta,
    FilePart,
    ImagePart,
    MediaSource,
    Message,
    OpaquePart,
    Part,
    PartEnd,
    PartStart,
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
)

PROTOCOL = "anthropic.messages"

texts = st.text(max_size=24)
nonempty = st.text(min_size=1, max_size=24)
idents = st.text(string.ascii_letters + string.digits + "_", min_size=1, max_size=16)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**9), 10**9)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
json_objects = st.dictionaries(texts, json_values, max_size=4)
caches = st.none() | st.builds(CacheHint, st.sampled_from([None, "5m", "1h"]))
b64 = st.binary(max_size=24).map(lambda b: base64.b64encode(b).decode("ascii"))
urls = idents.map(lambda s: f"https://example.com/{s}")


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@st.composite
def citations(draw: st.DrawFn) -> dict[str, Any]:
    start = draw(st.integers(0, 100))
    return {
        "type": "char_location",
        "cited_text": draw(texts),
        "document_index": draw(st.integers(0, 3)),
        "document_title": draw(st.none() | texts),
        "start_char_index": start,
        "end_char_index": start + draw(st.integers(0, 50)),
    }


def text_parts(*, cache: bool = True) -> st.SearchStrategy[TextPart]:
    return st.builds(
        TextPart,
        nonempty,
        citations=st.lists(citations(), max_size=2).map(tuple),
        cache=caches if cache else st.none(),
    )


image_sources = st.one_of(
    st.builds(MediaSource, data=b64, media_type=st.sampled_from(["image/png", "image/jpeg"])),
    st.builds(MediaSource, url=urls),
    st.builds(MediaSource, file_id=idents),
)
image_parts = st.builds(ImagePart, image_sources, cache=caches)
file_sources = st.one_of(
    st.builds(MediaSource, data=b64, media_type=st.just("application/pdf")),
    st.builds(
        MediaSource,
        data=texts.map(lambda t: base64.b64encode(t.encode()).decode()),
        media_type=st.just("text/plain"),
    ),
    st.builds(MediaSource, url=urls),
    st.builds(MediaSource, file_id=idents),
)
file_parts = st.builds(
    FilePart,
    file_sources,
    title=st.none() | texts,
    context=st.none() | texts,
    citations=st.none() | st.booleans(),
    cache=caches,
)


def tool_calls(*, cache: bool = True) -> st.SearchStrategy[ToolCallPart]:
    return st.builds(
        ToolCallPart,
        idents.map(lambda s: "toolu_" + s),
        idents,
        json_objects.map(dumps),
        cache=caches if cache else st.none(),
    )


tool_results = st.builds(
    ToolResultPart,
    idents.map(lambda s: "toolu_" + s),
    st.lists(st.one_of(text_parts(), image_parts), max_size=3).map(tuple),
    is_error=st.booleans(),
    cache=caches,
)
signed_reasoning = st.builds(ReasoningPart, text=texts, signature=idents)
redacted_reasoning = st.builds(ReasoningPart, redacted=st.just(True), encrypted=idents)
container_uploads = idents.map(
    lambda f: OpaquePart(PROTOCOL, "container_upload", {"type": "container_upload", "file_id": f})
)


@st.composite
def server_tool_uses(draw: st.DrawFn) -> OpaquePart:
    data = {
        "type": "server_tool_use",
        "id": "srvtoolu_" + draw(idents),
        "name": "web_search",
        "input": {"query": draw(texts)},
    }
    return OpaquePart(PROTOCOL, "server_tool_use", data)


@st.composite
def web_search_results(draw: st.DrawFn) -> OpaquePart:
    results = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "type": st.just("web_search_result"),
                    "url": urls,
                    "title": texts,
                    "encrypted_content": idents,
                    "page_age": st.none() | texts,
                }
            ),
            max_size=2,
        )
    )
    data = {
        "type": "web_search_tool_result",
        "tool_use_id": "srvtoolu_" + draw(idents),
        "content": results,
    }
    return OpaquePart(PROTOCOL, "web_search_tool_result", data)


opaque_outputs = st.one_of(server_tool_uses(), web_search_results())

# -- requests -----------------------------------------------------------------------------

user_messages = st.builds(
    lambda parts: Message(Role.USER, tuple(parts)),
    st.lists(
        st.one_of(text_parts(), image_parts, file_parts, tool_results, container_uploads),
        min_size=1,
        max_size=4,
    ),
)
assistant_messages = st.builds(
    lambda parts: Message(Role.ASSISTANT, tuple(parts)),
    st.lists(
        st.one_of(text_parts(), tool_calls(), signed_reasoning, redacted_reasoning, opaque_outputs),
        max_size=4,
    ),
)
tool_messages = st.builds(
    lambda parts: Message(Role.TOOL, tuple(parts)), st.lists(tool_results, min_size=1, max_size=2)
)
inline_system_messages = st.builds(
    lambda parts: Message(Role.SYSTEM, tuple(parts)),
    st.lists(text_parts(), min_size=1, max_size=2),
)
leading_system = st.lists(inline_system_messages, max_size=1)
"""``system`` is one field: at most one leading SYSTEM message (of one part per block)."""


@st.composite
def conversations(draw: st.DrawFn) -> tuple[Message, ...]:
    head = draw(leading_system)
    first = draw(user_messages)
    rest = draw(
        st.lists(
            st.one_of(user_messages, assistant_messages, tool_messages, inline_system_messages),
            max_size=5,
        )
    )
    return tuple([*head, first, *rest])


schemas = st.builds(
    lambda props: {"type": "object", "properties": {k: {"type": "string"} for k in props}},
    st.lists(idents, max_size=3),
)
function_tools = st.builds(
    Tool,
    idents,
    description=st.none() | texts,
    parameters=schemas,
    strict=st.none() | st.booleans(),
    cache=caches,
)


@st.composite
def server_tools(draw: st.DrawFn) -> Tool:
    kind = "web_search_20250305"
    config = {"type": kind, "name": "web_search", "max_uses": draw(st.integers(1, 10))}
    return Tool("web_search", kind=kind, config=config, cache=draw(caches))


@st.composite
def tool_choices(draw: st.DrawFn) -> ToolChoice:
    mode = draw(st.sampled_from(["auto", "required", "none", "tool"]))
    parallel = None if mode == "none" else draw(st.none() | st.booleans())
    return ToolChoice(mode, draw(idents) if mode == "tool" else None, parallel=parallel)


@st.composite
def reasonings(draw: st.DrawFn) -> Reasoning:
    effort = draw(st.none() | st.sampled_from(["low", "medium", "high", "xhigh", "max"]))
    thinking = draw(st.sampled_from(["none", "budget", "adaptive", "disabled"]))
    budget = draw(st.integers(1024, 32000)) if thinking == "budget" else None
    enabled = {"adaptive": True, "disabled": False}.get(thinking)
    include = draw(st.none() | st.booleans()) if thinking in ("budget", "adaptive") else None
    if thinking == "none" and effort is None:
        effort = "high"
    return Reasoning(effort=effort, budget_tokens=budget, include_thoughts=include, enabled=enabled)


@st.composite
def extras(draw: st.DrawFn) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    if draw(st.booleans()):
        out["container"] = "container_" + draw(idents)
    if draw(st.booleans()):
        out["context_management"] = {"edits": [{"type": "clear_tool_uses_20250919"}]}
    if draw(st.booleans()):
        out["anthropic-beta"] = draw(idents)
    return out or None


@st.composite
def requests(draw: st.DrawFn) -> Request:
    return Request(
        model=draw(idents),
        messages=draw(conversations()),
        tools=tuple(draw(st.lists(st.one_of(function_tools, server_tools()), max_size=3))),
        tool_choice=draw(st.none() | tool_choices()),
        max_tokens=draw(st.integers(1, 128000)),
        temperature=draw(st.none() | st.floats(0, 1)),
        top_p=draw(st.none() | st.floats(0, 1)),
        top_k=draw(st.none() | st.integers(1, 500)),
        stop=tuple(draw(st.lists(nonempty, max_size=3))),
        reasoning=draw(st.none() | reasonings()),
        response_format=draw(
            st.none() | st.builds(lambda s: ResponseFormat("json_schema", schema=s), schemas)
        ),
        user=draw(st.none() | idents),
        service_tier=draw(st.none() | st.sampled_from(["auto", "standard_only"])),
        stream=draw(st.booleans()),
        extra=draw(extras()),
    )


# -- responses ----------------------------------------------------------------------------

response_parts = st.one_of(
    text_parts(cache=False),
    tool_calls(cache=False),
    st.builds(ReasoningPart, text=texts, signature=st.none() | idents),
    redacted_reasoning,
    opaque_outputs,
)
stop_reasons = st.sampled_from(
    [
        None,
        StopReason.END_TURN,
        StopReason.MAX_TOKENS,
        StopReason.STOP_SEQUENCE,
        StopReason.TOOL_CALLS,
        StopReason.PAUSE_TURN,
        StopReason.REFUSAL,
    ]
)
counts = st.integers(0, 100000)


@st.composite
def usages(draw: st.DrawFn) -> Usage:
    read, write, base = draw(counts), draw(counts), draw(counts)
    output = draw(counts)
    details: dict[str, int] = {}
    if draw(st.booleans()):
        five = draw(st.integers(0, write))
        details.update(cache_write_5m_tokens=five, cache_write_1h_tokens=write - five)
    if draw(st.booleans()):
        details.update(web_search_requests=draw(st.integers(0, 5)), web_fetch_requests=0)
    return Usage(
        base + read + write,
        output,
        read,
        write,
        draw(st.integers(0, output)),
        details or None,
    )


@st.composite
def responses(draw: st.DrawFn) -> Response:
    return Response(
        id="msg_" + draw(idents),
        model=draw(idents),
        choices=(Choice(tuple(draw(st.lists(response_parts, max_size=5))), draw(stop_reasons)),),
        usage=draw(usages()),
        service_tier=draw(st.none() | st.sampled_from(["standard", "priority", "batch"])),
    )


# -- streams ------------------------------------------------------------------------------


def _chunks(draw: st.DrawFn, text: str) -> list[str]:
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=4)))
    pieces, last = [], 0
    for cut in cuts:
        pieces.append(text[last:cut])
        last = cut
    pieces.append(text[last:])
    return [p for p in pieces if p]


def _part_events(draw: st.DrawFn, index: int, part: Part) -> list[StreamEvent]:
    if isinstance(part, TextPart):
        out: list[StreamEvent] = [PartStart(index, TextPart(""))]
        deltas: list[StreamEvent] = [TextDelta(index, c) for c in _chunks(draw, part.text)]
        at = 0
        for citation in part.citations:  # anywhere among the text, in their own order
            at = draw(st.integers(at, len(deltas)))
            deltas.insert(at, CitationDelta(index, citation))
            at += 1
        return out + deltas + [PartEnd(index)]
    if isinstance(part, ReasoningPart) and not part.redacted:
        out = [PartStart(index, ReasoningPart())]
        out += [ReasoningDelta(index, c) for c in _chunks(draw, part.text)]
        if part.signature is not None:
            out.append(SignatureDelta(index, part.signature))
        return out + [PartEnd(index)]
    if isinstance(part, ToolCallPart):
        out = [PartStart(index, ToolCallPart(part.id, part.name, ""))]
        out += [ArgumentsDelta(index, c) for c in _chunks(draw, part.arguments)]
        return out + [PartEnd(index)]
    if isinstance(part, OpaquePart) and isinstance(part.data.get("input"), dict):
        started = OpaquePart(part.protocol, part.kind, {**part.data, "input": {}})
        return [PartStart(index, started), PartEnd(index, part)]
    return [PartStart(index, part), PartEnd(index)]


@st.composite
def streams(draw: st.DrawFn) -> tuple[Response, list[StreamEvent]]:
    """A response and a canonical event sequence that folds to it; parts may interleave
    (as they do when bridging from protocols that stream parallel tool calls)."""
    response = draw(responses())
    usage = response.usage
    assert usage is not None
    ttl = {k: v for k, v in (usage.details or {}).items() if k.startswith("cache_write_")}
    start_usage = Usage(
        usage.input_tokens, 0, usage.cache_read_tokens, usage.cache_write_tokens, 0, ttl or None
    )
    per_part = [_part_events(draw, i, p) for i, p in enumerate(response.content)]
    events: list[StreamEvent] = [
        ResponseStart(
            response.id, response.model, usage=start_usage, service_tier=response.service_tier
        )
    ]
    if draw(st.booleans()):
        for evs in per_part:
            events += evs
    else:
        started = 0
        while any(per_part):
            ready = [
                j
                for j, evs in enumerate(per_part)
                if evs and (not isinstance(evs[0], PartStart) or j == started)
            ]
            j = draw(st.sampled_from(ready))
            event = per_part[j].pop(0)
            if isinstance(event, PartStart):
                started += 1
            events.append(event)
    events.append(ResponseEnd(response.stop_reason, usage=usage))
    return response, events
