"""Hypothesis strategies for every canonical type.

Most strategies take ``features``: a set of feature words (``docs/codecs.md`` plus the
kit's words in :mod:`omniwire_testing.features`) restricting what is generated to what a
protocol carries, or ``None`` for everything the canonical model can hold, including
things no protocol carries exactly (foreign opaque blocks, ``Request.extra``...).

What is generated is valid for real protocols where it matters: ids are non-empty and
unique, tool arguments are compact JSON objects, text is non-empty and not padded with
whitespace, a conversation starts with a user turn and alternates, every tool call in the
history is answered right after it (results first in the user turn), reasoning and
refusals appear only in assistant turns, at most four cache hints with one TTL, a
reasoning budget stays below ``max_tokens``. Sizes are small so suites stay fast.
"""

from __future__ import annotations

import base64
import json
import string
from functools import cache
from typing import Any, Callable

import attrs
from hypothesis import strategies as st
from omniwire.codec import Family
from omniwire.model import (
    AudioPart,
    CacheHint,
    Choice,
    Embedding,
    EmbeddingRequest,
    EmbeddingResponse,
    FilePart,
    GeneratedImage,
    ImageEditRequest,
    ImagePart,
    ImageRequest,
    ImageResponse,
    ImageVariationRequest,
    InputImage,
    MediaSource,
    Message,
    OpaquePart,
    Part,
    PromptCache,
    Reasoning,
    ReasoningPart,
    RefusalPart,
    Request,
    RerankRequest,
    RerankResponse,
    RerankResult,
    Response,
    ResponseEnd,
    ResponseFormat,
    ResponseStart,
    Role,
    SpeechRequest,
    SpeechResponse,
    StopReason,
    StreamEvent,
    TextPart,
    TokenCountRequest,
    TokenCountResponse,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    TranscriptionRequest,
    TranscriptionResponse,
    Usage,
    UsageUpdate,
)

from .events import events_for, input_usage, part_events

__all__ = [
    "assistant_messages",
    "audio_parts",
    "base64_data",
    "choices",
    "conversations",
    "embedding_requests",
    "embedding_responses",
    "events_for",
    "file_parts",
    "identifiers",
    "image_edit_requests",
    "image_parts",
    "image_requests",
    "image_responses",
    "image_variation_requests",
    "input_images",
    "json_arguments",
    "json_objects",
    "model_names",
    "opaque_parts",
    "reasoning_parts",
    "refusal_parts",
    "requests",
    "requests_for",
    "rerank_requests",
    "rerank_responses",
    "responses",
    "responses_for",
    "responses_with_events",
    "speech_requests",
    "speech_responses",
    "stream_events",
    "text_parts",
    "texts",
    "token_count_requests",
    "token_count_responses",
    "tool_calls",
    "tool_choices",
    "tool_results",
    "tools",
    "transcription_requests",
    "transcription_responses",
    "usages",
    "user_messages",
]

Features = frozenset[str] | set[str] | None

# -- scalars ------------------------------------------------------------------------------

# Strategies are built once and reused: a fresh strategy object per draw is validated
# again every time, which costs more than the draw itself.
_BOOL = st.booleans()


@cache
def _ints(low: int, high: int) -> st.SearchStrategy[int]:
    return st.integers(low, high)


@cache
def _pick(*items: Any) -> st.SearchStrategy[Any]:
    return st.sampled_from(items)


_TEXT_ALPHABET = string.ascii_letters + string.digits + " .,;:!?'()-\n" + "éßø中文🙂"
_ALNUM = string.ascii_letters + string.digits


# Fragments carry what matters to wire formats (non-ASCII, emoji, quotes, backslashes,
# newlines, JSON-looking text) in one draw each; random text still appears. Fewer draws
# per example is what keeps the conformance properties fast.
_FRAGMENTS = (
    "hello",
    "Wörld",
    "中文",
    "🙂",
    '"quoted"',
    "back\\slash",
    "line\nbreak",
    "{not: json}",
    "</tag>",
    "x",
    "0",
    "tab\tin",
    "ça va?",
)


@cache
def texts(max_size: int = 24) -> st.SearchStrategy[str]:
    """Non-empty text with no leading/trailing whitespace (protocols reject blank text
    blocks and trailing whitespace in the final assistant turn)."""
    joined = st.lists(_pick(*_FRAGMENTS), min_size=1, max_size=3).map(" ".join)
    free = st.text(alphabet=_TEXT_ALPHABET, min_size=1, max_size=min(max_size, 8))
    return st.one_of(joined, free).map(lambda t: t[:max_size].strip()).filter(bool)


tokens = _ints(0, 16**8 - 1).map(lambda i: format(i, "08x"))
"""Hex tokens for ids, keys and URLs."""

_WORDS = (
    "a",
    "q",
    "city",
    "unit",
    "query",
    "get_weather",
    "lookup",
    "search_docs",
    "x_1",
    "sum",
    "max_results",
    "location",
)

identifiers = st.builds(lambda word, n: f"{word}{n}" if n else word, _pick(*_WORDS), _ints(0, 99))
"""Names valid as function names and schema properties for every protocol."""

model_names = st.builds(
    lambda family, n: f"{family}-{n}",
    _pick("model", "acme-large", "gem", "claude-ish"),
    _ints(0, 9),
)
"""URL-safe model names (Gemini puts the model in the path)."""

base64_data = st.binary(min_size=1, max_size=24).map(lambda b: base64.b64encode(b).decode())

_json_scalars = st.one_of(st.none(), _BOOL, _ints(-1000, 1000), texts(12))
json_values = st.recursive(
    _json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(identifiers, inner, max_size=3)
    ),
    max_leaves=6,
)
json_objects = st.dictionaries(identifiers, json_values, max_size=3)


def _compact(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


@cache
def json_arguments() -> st.SearchStrategy[str]:
    """Tool arguments: a JSON object as compact text (the form decoders produce)."""
    return json_objects.map(_compact)


_unit = _ints(0, 100).map(lambda i: i / 100)  # floats that survive JSON exactly


# -- the generation context ---------------------------------------------------------------


class _Ctx:
    """Per-example state: the feature view, unique ids, the cache-hint budget."""

    def __init__(
        self,
        draw: Callable[[st.SearchStrategy[Any]], Any],
        features: Features,
        protocol: str | None = None,
        opaque_shape: str = "typed",
    ) -> None:
        self.draw = draw
        self.everything = features is None
        self.words = frozenset(features or ())
        self.protocol = protocol
        self.opaque_shape = opaque_shape
        self._base = draw(tokens)
        self._n = 0
        self.cache_left = 4  # Anthropic accepts at most four breakpoints
        self.ttl = draw(_pick(None, "5m", "1h"))  # one TTL: no ordering rules

    def f(self, *words: str) -> bool:
        return self.everything or all(w in self.words for w in words)

    def new_id(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}_{self._base}{self._n}"

    def maybe(self, strategy: st.SearchStrategy[Any], *words: str) -> Any:
        """A value when every word is enabled (and a coin says so), else None."""
        if not self.f(*words) or not self.draw(_BOOL):
            return None
        return self.draw(strategy)

    def cache(self) -> CacheHint | None:
        if not self.f("cache_hints") or self.cache_left <= 0 or not self.draw(_BOOL):
            return None
        self.cache_left -= 1
        return CacheHint(self.ttl)


def _using(
    fn: Callable[[_Ctx], Any],
    features: Features,
    protocol: str | None = None,
    opaque_shape: str = "typed",
) -> st.SearchStrategy[Any]:
    """A strategy running ``fn`` with a fresh context inside one composite draw."""

    @st.composite
    def build(draw: Any) -> Any:
        return fn(_Ctx(draw, features, protocol, opaque_shape))

    return build()


# -- parts ------------------------------------------------------------------------------


def _citation(ctx: _Ctx) -> dict[str, Any]:
    text = ctx.draw(texts(16))
    return {
        "type": "url_citation",
        "url": f"https://example.com/{ctx.draw(tokens)}",
        "title": text,
        "start_index": 0,
        "end_index": len(text),
    }


def _text_part(ctx: _Ctx, *, cache: bool = True, citations: bool = False) -> TextPart:
    cites: tuple[dict[str, Any], ...] = ()
    if citations and ctx.f("citations") and ctx.draw(_BOOL):
        cites = tuple(_citation(ctx) for _ in range(ctx.draw(_ints(1, 2))))
    return TextPart(ctx.draw(texts()), cites, ctx.cache() if cache else None)


def _source(ctx: _Ctx, media_types: list[str], ext: str) -> MediaSource:
    if ctx.f("media_url") and ctx.draw(_BOOL):
        return MediaSource(url=f"https://example.com/{ctx.draw(tokens)}.{ext}")
    if ctx.everything and ctx.draw(_ints(0, 4)) == 0:
        return MediaSource(file_id=f"file-{ctx.draw(tokens)}")
    return MediaSource(data=ctx.draw(base64_data), media_type=ctx.draw(_pick(*media_types)))


def _image_part(ctx: _Ctx) -> ImagePart:
    return ImagePart(
        _source(ctx, ["image/png", "image/jpeg", "image/webp"], "png"),
        detail=ctx.maybe(_pick("low", "high", "auto"), "image_detail"),
        cache=ctx.cache(),
    )


def _audio_part(ctx: _Ctx) -> AudioPart:
    fmt = ctx.draw(_pick("wav", "mp3"))
    return AudioPart(
        MediaSource(data=ctx.draw(base64_data), media_type=f"audio/{fmt}"),
        format=fmt,
        transcript=ctx.draw(texts()) if ctx.everything and ctx.draw(_BOOL) else None,
    )


def _file_part(ctx: _Ctx) -> FilePart:
    meta = ctx.f("file_metadata")
    return FilePart(
        _source(ctx, ["application/pdf"], "pdf"),
        filename=ctx.draw(tokens) + ".pdf" if ctx.f("file_name") else None,
        title=ctx.draw(texts(16)) if meta and ctx.draw(_BOOL) else None,
        context=ctx.draw(texts(16)) if meta and ctx.draw(_BOOL) else None,
        citations=ctx.draw(_BOOL) if meta and ctx.draw(_BOOL) else None,
        cache=ctx.cache(),
    )


def _reasoning_variants(ctx: _Ctx) -> list[str]:
    variants = []
    if ctx.f("reasoning"):
        variants.append("visible")
    if ctx.f("reasoning_summary"):
        variants.append("summary")
    if ctx.f("reasoning_redacted"):
        variants.append("redacted")
    if ctx.f("reasoning_encrypted"):
        variants.append("encrypted")
    return variants


def _reasoning_part(ctx: _Ctx, variant: str) -> ReasoningPart:
    """Visible thinking (with a signature whenever signatures are declared: Anthropic
    rejects unsigned thinking), summary-only, redacted, or encrypted-only reasoning."""
    rid = ctx.new_id("rs") if ctx.f("reasoning_id") else None
    if ctx.everything and rid is not None and ctx.draw(_BOOL):
        rid = None
    if variant == "redacted":
        return ReasoningPart(redacted=True, encrypted=ctx.draw(base64_data), id=rid)
    if variant == "encrypted":
        return ReasoningPart(encrypted=ctx.draw(base64_data), id=rid)
    summary: tuple[str, ...] = ()
    if ctx.f("reasoning_summary") and (variant == "summary" or ctx.draw(_BOOL)):
        summary = tuple(ctx.draw(st.lists(texts(), min_size=1, max_size=2)))
    text = ctx.draw(texts()) if variant == "visible" else ""
    signature = None
    if variant == "visible" and ctx.f("reasoning_signature"):
        signature = ctx.draw(base64_data)
        if ctx.everything and ctx.draw(_BOOL):
            signature = None
    encrypted = ctx.maybe(base64_data, "reasoning_encrypted")
    return ReasoningPart(text, summary, signature, encrypted, id=rid)


def _opaque_part(ctx: _Ctx) -> OpaquePart:
    kind = "x_" + ctx.draw(identifiers)
    value = ctx.draw(json_objects)
    foreign = ctx.protocol is None or (ctx.everything and ctx.draw(_BOOL))
    protocol = "other.protocol" if foreign else ctx.protocol
    assert protocol is not None
    data = {kind: value} if ctx.opaque_shape == "keyed" else {"type": kind, "value": value}
    return OpaquePart(protocol, kind, data)


def _tool_call(ctx: _Ctx, names: list[str], *, cache: bool = True) -> ToolCallPart:
    name = ctx.draw(_pick(*names)) if names else ctx.draw(identifiers)
    return ToolCallPart(
        ctx.new_id("call"), name, ctx.draw(json_arguments()), cache=ctx.cache() if cache else None
    )


def _tool_result(ctx: _Ctx, call: ToolCallPart) -> ToolResultPart:
    # one text part unless everything is asked for: Gemini's functionResponse holds one
    count = ctx.draw(_ints(1, 2)) if ctx.everything else 1
    content: list[Part] = [_text_part(ctx, cache=False) for _ in range(count)]
    if ctx.everything and ctx.draw(_ints(0, 3)) == 0:
        content.append(attrs.evolve(_image_part(ctx), cache=None))
    # always the call's name when named at all (protocols that need it recover it from
    # the call, and a recovered name would look like a difference)
    name = call.name if ctx.f("tool_result_name") else None
    return ToolResultPart(
        call.id,
        tuple(content),
        is_error=bool(ctx.f("tool_result_error") and ctx.draw(_BOOL)),
        name=name,
        cache=ctx.cache(),
    )


# -- messages -----------------------------------------------------------------------------


def _user_message(ctx: _Ctx) -> Message:
    kinds = ["text"] + [k for k in ("image", "audio", "file") if ctx.f(k)]
    chosen = ctx.draw(st.lists(_pick(*kinds), min_size=1, max_size=3))
    build: dict[str, Callable[[], Part]] = {
        "text": lambda: _text_part(ctx),
        "image": lambda: _image_part(ctx),
        "audio": lambda: _audio_part(ctx),
        "file": lambda: _file_part(ctx),
    }
    parts = tuple(build[k]() for k in chosen)
    return Message(
        Role.USER,
        parts,
        name=ctx.maybe(identifiers, "message_name"),
        cache=ctx.cache() if ctx.everything else None,
    )


def _assistant_message(ctx: _Ctx, tool_names: list[str], *, calls: bool) -> Message:
    """Reasoning first, then text/refusal, then opaque blocks, then tool calls (the
    order every protocol can keep)."""
    parts: list[Part] = []
    variants = _reasoning_variants(ctx)
    if variants:
        for _ in range(ctx.draw(_ints(0, 2 if ctx.everything else 1))):
            parts.append(_reasoning_part(ctx, ctx.draw(_pick(*variants))))
    body: list[Part] = [_text_part(ctx, citations=True) for _ in range(ctx.draw(_ints(0, 2)))]
    if ctx.f("refusal") and ctx.draw(_ints(0, 3)) == 0:
        body.append(RefusalPart(ctx.draw(texts())))
    if ctx.f("opaque") and ctx.draw(_ints(0, 3)) == 0:
        body.append(_opaque_part(ctx))
    if calls and ctx.f("tool_calls", "tool_results"):
        body.extend(_tool_call(ctx, tool_names) for _ in range(ctx.draw(_ints(0, 2))))
    if not body:
        body.append(_text_part(ctx, citations=True))
    return Message(
        Role.ASSISTANT,
        tuple(parts + body),
        name=ctx.maybe(identifiers, "message_name"),
        cache=ctx.cache() if ctx.everything else None,
    )


def _instruction_message(ctx: _Ctx, role: Role) -> Message:
    parts = tuple(_text_part(ctx) for _ in range(ctx.draw(_ints(1, 2))))
    return Message(role, parts, name=ctx.maybe(identifiers, "message_name"))


def _conversation(ctx: _Ctx, tool_names: list[str]) -> tuple[Message, ...]:
    """[instruction] user (assistant [tool results] user?)* ... ending on the user side."""
    messages: list[Message] = []
    roles = [r for r, w in ((Role.SYSTEM, "system"), (Role.DEVELOPER, "developer")) if ctx.f(w)]
    if roles and ctx.draw(_BOOL):
        messages.append(_instruction_message(ctx, ctx.draw(_pick(*roles))))
    messages.append(_user_message(ctx))
    for _ in range(ctx.draw(_ints(0, 2))):
        assistant = _assistant_message(ctx, tool_names, calls=True)
        messages.append(assistant)
        calls = [p for p in assistant.content if isinstance(p, ToolCallPart)]
        if not calls:
            messages.append(_user_message(ctx))
            continue
        results = [_tool_result(ctx, c) for c in calls]
        follow = ctx.draw(_BOOL)
        if ctx.draw(_BOOL):  # OpenAI's shape: one TOOL message per result
            messages.extend(Message(Role.TOOL, (r,)) for r in results)
            if follow:
                messages.append(_user_message(ctx))
        else:  # Anthropic's shape: results first in the user turn
            extra = [_text_part(ctx) for _ in range(ctx.draw(_ints(0, 1)))] if follow else []
            messages.append(Message(Role.USER, tuple(results + extra)))
    if ctx.everything:
        # a system turn mid-conversation, never between tool calls and their results
        spots = [
            i
            for i in range(1, len(messages) + 1)
            if not any(isinstance(p, ToolCallPart) for p in messages[i - 1].content)
            and (i == len(messages) or messages[i].role is not Role.TOOL)
        ]
        if spots and ctx.draw(_ints(0, 3)) == 0:
            at = ctx.draw(_pick(*spots))
            messages.insert(at, _instruction_message(ctx, Role.SYSTEM))
        if ctx.draw(_ints(0, 3)) == 0:  # an assistant prefill at the end
            messages.append(_assistant_message(ctx, tool_names, calls=False))
    return tuple(messages)


# -- tools --------------------------------------------------------------------------------


def _schema(ctx: _Ctx) -> dict[str, Any]:
    props = ctx.draw(
        st.dictionaries(identifiers, _pick("string", "integer", "number", "boolean"), max_size=3)
    )
    properties: dict[str, Any] = {}
    for name, kind in props.items():
        prop: dict[str, Any] = {"type": kind}
        if ctx.draw(_BOOL):
            prop["description"] = ctx.draw(texts(16))
        properties[name] = prop
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    required = sorted(n for n in props if ctx.draw(_BOOL))
    if required:
        schema["required"] = required
    return schema


def _tools(ctx: _Ctx) -> tuple[Tool, ...]:
    if not ctx.f("tools"):
        return ()
    names = ctx.draw(st.lists(identifiers, max_size=2, unique=True))
    out = [
        Tool(
            name,
            description=ctx.draw(st.none() | texts()),
            parameters=_schema(ctx),
            strict=ctx.maybe(_BOOL, "tool_strict"),
            cache=ctx.cache(),
        )
        for name in names
    ]
    if ctx.everything and ctx.draw(_ints(0, 3)) == 0:
        kind = "x_builtin_" + ctx.draw(identifiers)
        out.append(Tool(kind, kind=kind, config={"type": kind, "max_uses": 2}))
    return tuple(out)


def _tool_choice(ctx: _Ctx, tools: tuple[Tool, ...]) -> ToolChoice | None:
    functions = [t.name for t in tools if t.kind == "function"]
    if not functions or not ctx.f("tool_choice") or not ctx.draw(_BOOL):
        return None
    mode = ctx.draw(_pick("auto", "none", "required", "tool"))
    name = ctx.draw(_pick(*functions)) if mode == "tool" else None
    parallel = ctx.maybe(_BOOL, "parallel_tool_calls") if mode != "none" else None
    return ToolChoice(mode, name, parallel)


# -- requests -----------------------------------------------------------------------------


def _reasoning(ctx: _Ctx) -> tuple[Reasoning | None, int | None]:
    budget = ctx.maybe(_ints(1024, 4096), "reasoning_budget")
    value = Reasoning(
        effort=ctx.maybe(_pick("low", "medium", "high"), "reasoning_effort"),
        budget_tokens=budget,
        summary=ctx.maybe(_pick("auto", "concise", "detailed"), "reasoning_summary"),
        include_thoughts=ctx.maybe(_BOOL, "include_thoughts"),
        enabled=ctx.draw(_BOOL) if ctx.everything and ctx.draw(_BOOL) else None,
    )
    return (value if value != Reasoning() else None), budget


def _response_format(ctx: _Ctx) -> ResponseFormat | None:
    kinds = [
        k
        for k, w in (("json_object", "response_format"), ("json_schema", "json_schema"))
        if ctx.f(w)
    ]
    if not kinds or not ctx.draw(_BOOL):
        return None
    if ctx.draw(_pick(*kinds)) == "json_object":
        return ResponseFormat("json_object")
    named = ctx.f("json_schema_name")
    return ResponseFormat(
        "json_schema",
        schema=_schema(ctx),
        name=ctx.draw(identifiers) if named else None,
        strict=ctx.draw(st.none() | _BOOL) if named else None,
        description=ctx.draw(st.none() | texts()) if named else None,
    )


def _prompt_cache(ctx: _Ctx) -> PromptCache | None:
    value = PromptCache(
        key=ctx.maybe(tokens, "prompt_cache"),
        retention=ctx.maybe(_pick("in_memory", "24h"), "prompt_cache"),
        cached_content=ctx.maybe(tokens.map(lambda t: f"cachedContents/{t}"), "cached_content"),
    )
    return value if value != PromptCache() else None


def _request(ctx: _Ctx) -> Request:
    f, draw = ctx.f, ctx.draw
    tools = _tools(ctx)
    messages = _conversation(ctx, [t.name for t in tools if t.kind == "function"])
    reasoning, budget = _reasoning(ctx)
    max_tokens = None
    if f("max_tokens"):  # always set when declared: Anthropic requires it
        low = budget + 1 if budget else 1
        max_tokens = draw(_ints(low, low + 8192))
    logprobs = ctx.maybe(_BOOL, "logprobs")
    stop = (
        draw(st.lists(st.text(_ALNUM, min_size=1, max_size=8), min_size=1, max_size=3, unique=True))
        if f("stop") and draw(_BOOL)
        else ()
    )
    extra = None
    if ctx.everything and draw(_BOOL):
        extra = {"x_" + draw(identifiers): draw(_json_scalars)}
    return Request(
        model=draw(model_names),
        messages=messages,
        tools=tools,
        tool_choice=_tool_choice(ctx, tools),
        max_tokens=max_tokens,
        temperature=ctx.maybe(_unit, "temperature"),
        top_p=ctx.maybe(_unit, "top_p"),
        top_k=ctx.maybe(_ints(1, 64), "top_k"),
        n=ctx.maybe(_ints(1, 3), "n"),
        stop=tuple(stop),
        seed=ctx.maybe(_ints(0, 2**31 - 1), "seed"),
        presence_penalty=ctx.maybe(_unit, "penalties"),
        frequency_penalty=ctx.maybe(_unit, "penalties"),
        logit_bias=ctx.maybe(
            st.dictionaries(_ints(0, 100_000).map(str), _ints(-100, 100), min_size=1, max_size=2),
            "logit_bias",
        ),
        logprobs=logprobs,
        top_logprobs=ctx.maybe(_ints(0, 5), "logprobs") if logprobs else None,
        response_format=_response_format(ctx),
        reasoning=reasoning,
        cache=_prompt_cache(ctx),
        metadata=ctx.maybe(
            st.dictionaries(identifiers, texts(12), min_size=1, max_size=2), "metadata"
        ),
        user=ctx.maybe(tokens, "user"),
        service_tier=ctx.maybe(_pick("auto", "default", "flex", "priority"), "service_tier"),
        stream=bool(f("stream") and draw(_BOOL)),
        extra=extra,
    )


def requests(
    features: Features = None, *, protocol: str | None = None, opaque_shape: str = "typed"
) -> st.SearchStrategy[Request]:
    """Generation requests. ``protocol`` is the codec id owning generated OpaqueParts
    (None: they are foreign); ``opaque_shape`` is ``typed`` (``{"type": kind, ...}``,
    block protocols) or ``keyed`` (``{kind: {...}}``, Gemini-style parts)."""
    return _using(_request, features, protocol, opaque_shape)


def conversations(
    features: Features = None, *, tool_names: tuple[str, ...] = (), protocol: str | None = None
) -> st.SearchStrategy[tuple[Message, ...]]:
    """A valid message history (see the module docstring for the rules)."""
    return _using(lambda c: _conversation(c, list(tool_names)), features, protocol)


def user_messages(features: Features = None) -> st.SearchStrategy[Message]:
    return _using(_user_message, features)


def assistant_messages(
    features: Features = None, *, protocol: str | None = None
) -> st.SearchStrategy[Message]:
    """An assistant turn without tool calls (calls need answers: see ``conversations``)."""
    return _using(lambda c: _assistant_message(c, [], calls=False), features, protocol)


def text_parts(features: Features = None) -> st.SearchStrategy[TextPart]:
    return _using(lambda c: _text_part(c, citations=True), features)


def image_parts(features: Features = None) -> st.SearchStrategy[ImagePart]:
    return _using(_image_part, features)


def audio_parts(features: Features = None) -> st.SearchStrategy[AudioPart]:
    return _using(_audio_part, features)


def file_parts(features: Features = None) -> st.SearchStrategy[FilePart]:
    return _using(_file_part, features)


def refusal_parts() -> st.SearchStrategy[RefusalPart]:
    return texts().map(RefusalPart)


def reasoning_parts(features: Features = None) -> st.SearchStrategy[ReasoningPart]:
    """Needs at least one reasoning word in ``features`` (or None)."""

    @st.composite
    def build(draw: Any) -> ReasoningPart:
        ctx = _Ctx(draw, features)
        variants = _reasoning_variants(ctx)
        if not variants:
            raise ValueError("reasoning_parts needs a reasoning feature")
        return _reasoning_part(ctx, draw(_pick(*variants)))

    return build()


def opaque_parts(
    protocol: str | None = None, *, shape: str = "typed"
) -> st.SearchStrategy[OpaquePart]:
    return _using(_opaque_part, frozenset({"opaque"}), protocol, shape)


def tool_calls(names: tuple[str, ...] = ()) -> st.SearchStrategy[ToolCallPart]:
    return _using(lambda c: _tool_call(c, list(names), cache=False), frozenset())


def tool_results(
    call: ToolCallPart, features: Features = None
) -> st.SearchStrategy[ToolResultPart]:
    """A result answering ``call``."""
    return _using(lambda c: _tool_result(c, call), features)


def tools(features: Features = None) -> st.SearchStrategy[tuple[Tool, ...]]:
    """Declared tools with unique names (empty unless ``tools`` is enabled)."""
    return _using(_tools, features)


def tool_choices(
    tool_list: tuple[Tool, ...], features: Features = None
) -> st.SearchStrategy[ToolChoice | None]:
    return _using(lambda c: _tool_choice(c, tool_list), features)


# -- responses ----------------------------------------------------------------------------


def _usage(ctx: _Ctx) -> Usage:
    draw = ctx.draw
    total_in = draw(_ints(0, 5000))
    read = draw(_ints(0, total_in)) if ctx.f("usage_cache_read") else 0
    write = draw(_ints(0, total_in - read)) if ctx.f("usage_cache_write") else 0
    output = draw(_ints(0, 5000))
    reasoning = draw(_ints(0, output)) if ctx.f("usage_reasoning") else 0
    details = None
    if ctx.everything and draw(_BOOL):
        details = {"audio_tokens": draw(_ints(1, 100))}
    return Usage(total_in, output, read, write, reasoning, details)


def usages(features: Features = None) -> st.SearchStrategy[Usage]:
    """Consistent usage: cache reads + writes within input, reasoning within output."""
    return _using(_usage, features)


def _choice(ctx: _Ctx, index: int) -> Choice:
    draw, f = ctx.draw, ctx.f
    many = f("multi_part_output")
    parts: list[Part] = []
    variants = _reasoning_variants(ctx)
    if variants:
        for _ in range(draw(_ints(0, 2 if many else 1))):
            parts.append(_reasoning_part(ctx, draw(_pick(*variants))))
    body: list[Part] = []
    if f("refusal") and draw(_ints(0, 3)) == 0:
        body.append(RefusalPart(draw(texts())))
    for _ in range(draw(_ints(0, 2 if many else 1))):
        body.insert(0, attrs.evolve(_text_part(ctx, citations=True), cache=None))
    if ctx.everything and draw(_ints(0, 4)) == 0:
        body.append(attrs.evolve(_image_part(ctx), cache=None, detail=None))
    if f("opaque") and draw(_ints(0, 3)) == 0:
        body.append(_opaque_part(ctx))
    calls = []
    if f("tool_calls"):
        calls = [_tool_call(ctx, [], cache=False) for _ in range(draw(_ints(0, 2)))]
    body.extend(calls)
    if not body:
        body.append(TextPart(draw(texts())))
    if ctx.everything:
        stop = draw(_pick(*StopReason))
    elif calls:
        stop = StopReason.TOOL_CALLS
    else:
        stop = draw(_pick(StopReason.END_TURN, StopReason.MAX_TOKENS))
    return Choice(tuple(parts + body), stop, index=index)


def _response(ctx: _Ctx) -> Response:
    draw, f = ctx.draw, ctx.f
    count = draw(_ints(1, 3)) if f("n") else 1
    return Response(
        id=f"resp_{draw(tokens)}",
        model=draw(model_names),
        choices=tuple(_choice(ctx, i) for i in range(count)),
        usage=_usage(ctx),
        created=draw(_ints(1_600_000_000, 1_900_000_000)) if f("response_created") else None,
        service_tier=ctx.maybe(_pick("default", "flex", "priority"), "service_tier"),
    )


def choices(features: Features = None, *, index: int = 0) -> st.SearchStrategy[Choice]:
    return _using(lambda c: _choice(c, index), features)


def responses(
    features: Features = None, *, protocol: str | None = None, opaque_shape: str = "typed"
) -> st.SearchStrategy[Response]:
    """Generation responses: an id, a model, one choice (up to three with ``n``), usage.
    A choice holds reasoning, then one text (several with ``multi_part_output``) or a
    refusal, then tool calls; the stop reason is TOOL_CALLS exactly when calls are there."""
    return _using(_response, features, protocol, opaque_shape)


# -- streams ------------------------------------------------------------------------------


def stream_events(response: Response) -> st.SearchStrategy[list[StreamEvent]]:
    """Random event sequences that fold to ``response``: text cut at random points,
    choices interleaved, usage at the start and end, at the end only, or in a
    UsageUpdate anywhere, and PartEnd sometimes repeating the whole part."""

    @st.composite
    def build(draw: Any) -> list[StreamEvent]:
        def split(text: str) -> list[str]:
            if len(text) <= 1:
                return [text] if text else []
            cuts = draw(st.lists(_ints(1, len(text) - 1), max_size=3, unique=True))
            bounds = [0, *sorted(cuts), len(text)]
            return [text[a:b] for a, b in zip(bounds, bounds[1:])]

        per_choice: list[list[StreamEvent]] = []
        index = 0
        for choice in response.choices:
            events: list[StreamEvent] = []
            for part in choice.content:
                final = draw(_ints(0, 3)) == 0
                events += part_events(index, part, choice=choice.index, split=split, final=final)
                index += 1
            events.append(ResponseEnd(choice.stop_reason, choice.stop_raw, None, choice.index))
            per_choice.append(events)
        merged: list[StreamEvent] = []
        while any(per_choice):
            live = [q for q in per_choice if q]
            queue = live[0] if len(live) == 1 else live[draw(_ints(0, len(live) - 1))]
            merged.append(queue.pop(0))
        usage = response.usage
        mode = draw(_pick("end", "split", "update")) if usage is not None else None
        if not response.choices and usage is not None:
            mode = "update"
        start = ResponseStart(
            response.id,
            response.model,
            response.created,
            input_usage(usage) if usage is not None and mode == "split" else None,
            response.service_tier,
        )
        if mode in ("end", "split"):
            last = max(i for i, e in enumerate(merged) if isinstance(e, ResponseEnd))
            end = merged[last]
            assert isinstance(end, ResponseEnd)
            merged[last] = attrs.evolve(end, usage=usage)
        elif mode == "update":
            assert usage is not None
            merged.insert(draw(_ints(0, len(merged))), UsageUpdate(usage))
        return [start, *merged]

    return build()


def responses_with_events(
    features: Features = None, *, protocol: str | None = None, opaque_shape: str = "typed"
) -> st.SearchStrategy[tuple[Response, list[StreamEvent]]]:
    return responses(features, protocol=protocol, opaque_shape=opaque_shape).flatmap(
        lambda r: st.tuples(st.just(r), stream_events(r))
    )


# -- the other families -------------------------------------------------------------------


def _float32_vector() -> st.SearchStrategy[tuple[float, ...]]:
    # multiples of 1/1024 in [-1, 1]: exact in float32 (base64 embeddings) and in JSON
    return st.lists(_ints(-1024, 1024).map(lambda i: i / 1024), min_size=2, max_size=6).map(tuple)


def _family_usage(ctx: _Ctx, output: bool = False) -> Usage | None:
    if not ctx.f("usage"):
        return None
    return Usage(ctx.draw(_ints(1, 1000)), ctx.draw(_ints(1, 1000)) if output else 0)


def embedding_requests(features: Features = None) -> st.SearchStrategy[EmbeddingRequest]:
    @st.composite
    def build(draw: Any) -> EmbeddingRequest:
        ctx = _Ctx(draw, features)
        item: st.SearchStrategy[Any] = texts()
        if ctx.f("token_inputs") and draw(_BOOL):
            item = st.lists(_ints(0, 50_000), min_size=1, max_size=4).map(lambda v: tuple(v))
        return EmbeddingRequest(
            draw(model_names),
            tuple(draw(st.lists(item, min_size=1, max_size=3))),
            dimensions=ctx.maybe(_ints(1, 3072), "dimensions"),
            encoding_format=ctx.maybe(st.just("float"), "encoding_format"),
            task=ctx.maybe(
                _pick("RETRIEVAL_QUERY", "RETRIEVAL_DOCUMENT", "SEMANTIC_SIMILARITY"),
                "task",
            ),
            user=ctx.maybe(tokens, "user"),
        )

    return build()


def embedding_responses(features: Features = None) -> st.SearchStrategy[EmbeddingResponse]:
    @st.composite
    def build(draw: Any) -> EmbeddingResponse:
        ctx = _Ctx(draw, features)
        vectors = draw(st.lists(_float32_vector(), min_size=1, max_size=3))
        return EmbeddingResponse(
            draw(model_names),
            tuple(Embedding(v, i) for i, v in enumerate(vectors)),
            usage=_family_usage(ctx),
        )

    return build()


def image_requests(features: Features = None) -> st.SearchStrategy[ImageRequest]:
    @st.composite
    def build(draw: Any) -> ImageRequest:
        ctx = _Ctx(draw, features)
        return ImageRequest(
            draw(model_names),
            draw(texts()),
            n=ctx.maybe(_ints(1, 4), "n"),
            size=ctx.maybe(_pick("256x256", "512x512", "1024x1024"), "size"),
            quality=ctx.maybe(_pick("standard", "hd", "low", "high"), "quality"),
            style=ctx.maybe(_pick("vivid", "natural"), "style"),
            response_format=ctx.maybe(_pick("url", "b64_json"), "response_format"),
            background=ctx.maybe(_pick("transparent", "opaque", "auto"), "background"),
            output_format=ctx.maybe(_pick("png", "jpeg", "webp"), "output_format"),
            user=ctx.maybe(tokens, "user"),
        )

    return build()


def _input_image(ctx: _Ctx) -> InputImage:
    ext, media = ctx.draw(
        _pick(("png", "image/png"), ("jpg", "image/jpeg"), ("webp", "image/webp"))
    )
    return InputImage(
        ctx.draw(st.binary(min_size=1, max_size=32)),
        filename=f"{ctx.draw(tokens)}.{ext}",
        media_type=ctx.maybe(st.just(media), "media_type"),
    )


def input_images(features: Features = None) -> st.SearchStrategy[InputImage]:
    """An uploaded image: a few bytes, a ``<token>.<ext>`` file name, maybe a media type
    (word ``media_type``)."""
    return _using(_input_image, features)


def image_edit_requests(features: Features = None) -> st.SearchStrategy[ImageEditRequest]:
    """Words: ``multiple_images`` (more than one input image), ``mask``, ``media_type``
    and one per optional parameter."""

    @st.composite
    def build(draw: Any) -> ImageEditRequest:
        ctx = _Ctx(draw, features)
        count = draw(_ints(1, 3)) if ctx.f("multiple_images") else 1
        return ImageEditRequest(
            draw(model_names),
            draw(texts()),
            tuple(_input_image(ctx) for _ in range(count)),
            mask=_input_image(ctx) if ctx.f("mask") and draw(_BOOL) else None,
            n=ctx.maybe(_ints(1, 4), "n"),
            size=ctx.maybe(_pick("256x256", "1024x1024", "1536x1024", "auto"), "size"),
            quality=ctx.maybe(_pick("standard", "low", "medium", "high", "auto"), "quality"),
            response_format=ctx.maybe(_pick("url", "b64_json"), "response_format"),
            background=ctx.maybe(_pick("transparent", "opaque", "auto"), "background"),
            output_format=ctx.maybe(_pick("png", "jpeg", "webp"), "output_format"),
            output_compression=ctx.maybe(_ints(0, 100), "output_compression"),
            input_fidelity=ctx.maybe(_pick("high", "low"), "input_fidelity"),
            user=ctx.maybe(tokens, "user"),
        )

    return build()


def image_variation_requests(
    features: Features = None,
) -> st.SearchStrategy[ImageVariationRequest]:
    @st.composite
    def build(draw: Any) -> ImageVariationRequest:
        ctx = _Ctx(draw, features)
        return ImageVariationRequest(
            draw(model_names),
            _input_image(ctx),
            n=ctx.maybe(_ints(1, 4), "n"),
            size=ctx.maybe(_pick("256x256", "512x512", "1024x1024"), "size"),
            response_format=ctx.maybe(_pick("url", "b64_json"), "response_format"),
            user=ctx.maybe(tokens, "user"),
        )

    return build()


def image_responses(features: Features = None) -> st.SearchStrategy[ImageResponse]:
    @st.composite
    def build(draw: Any) -> ImageResponse:
        ctx = _Ctx(draw, features)
        images = []
        for _ in range(draw(_ints(1, 2))):
            url = ctx.f("image_url") and draw(_BOOL)
            images.append(
                GeneratedImage(
                    url=f"https://example.com/{draw(tokens)}.png" if url else None,
                    b64_json=None if url else draw(base64_data),
                    revised_prompt=ctx.maybe(texts(), "revised_prompt"),
                )
            )
        return ImageResponse(
            draw(_ints(1_600_000_000, 1_900_000_000)),
            tuple(images),
            usage=_family_usage(ctx, output=True),
        )

    return build()


def transcription_requests(features: Features = None) -> st.SearchStrategy[TranscriptionRequest]:
    @st.composite
    def build(draw: Any) -> TranscriptionRequest:
        ctx = _Ctx(draw, features)
        ext = draw(_pick("wav", "mp3"))
        return TranscriptionRequest(
            draw(model_names),
            draw(st.binary(min_size=1, max_size=32)),
            filename=f"{draw(tokens)}.{ext}",
            media_type=ctx.maybe(st.just(f"audio/{ext}"), "media_type"),
            language=ctx.maybe(_pick("en", "fr", "de"), "language"),
            prompt=ctx.maybe(texts(), "prompt"),
            response_format=ctx.maybe(_pick("json", "verbose_json", "text"), "response_format"),
            temperature=ctx.maybe(_unit, "temperature"),
            timestamp_granularities=ctx.maybe(
                _pick(("word",), ("segment",), ("word", "segment")),
                "timestamp_granularities",
            )
            or (),
        )

    return build()


def transcription_responses(features: Features = None) -> st.SearchStrategy[TranscriptionResponse]:
    @st.composite
    def build(draw: Any) -> TranscriptionResponse:
        ctx = _Ctx(draw, features)
        segments: tuple[dict[str, Any], ...] = ()
        if ctx.f("segments") and draw(_BOOL):
            segments = tuple(
                {"id": i, "start": i * 0.5, "end": i * 0.5 + 0.5, "text": draw(texts(12))}
                for i in range(draw(_ints(1, 2)))
            )
        words: tuple[dict[str, Any], ...] = ()
        if ctx.f("words") and draw(_BOOL):
            words = tuple(
                {"word": draw(identifiers), "start": i * 0.25, "end": i * 0.25 + 0.25}
                for i in range(draw(_ints(1, 3)))
            )
        return TranscriptionResponse(
            draw(texts()),
            language=ctx.maybe(_pick("english", "french"), "language"),
            duration=ctx.maybe(_ints(1, 400).map(lambda i: i / 4), "duration"),
            segments=segments,
            words=words,
            usage=_family_usage(ctx),
        )

    return build()


def speech_requests(features: Features = None) -> st.SearchStrategy[SpeechRequest]:
    @st.composite
    def build(draw: Any) -> SpeechRequest:
        ctx = _Ctx(draw, features)
        return SpeechRequest(
            draw(model_names),
            draw(texts()),
            draw(_pick("alloy", "echo", "nova")),
            response_format=ctx.maybe(_pick("mp3", "wav", "opus"), "response_format"),
            speed=ctx.maybe(_ints(1, 16).map(lambda i: i / 4), "speed"),
            instructions=ctx.maybe(texts(), "instructions"),
        )

    return build()


def speech_responses(features: Features = None) -> st.SearchStrategy[SpeechResponse]:
    @st.composite
    def build(draw: Any) -> SpeechResponse:
        ctx = _Ctx(draw, features)
        media = ctx.maybe(_pick("audio/wav", "audio/ogg"), "media_type")
        return SpeechResponse(draw(st.binary(min_size=1, max_size=32)), media or "audio/mpeg")

    return build()


def rerank_requests(features: Features = None) -> st.SearchStrategy[RerankRequest]:
    @st.composite
    def build(draw: Any) -> RerankRequest:
        ctx = _Ctx(draw, features)
        documents = tuple(draw(st.lists(texts(), min_size=1, max_size=4)))
        return RerankRequest(
            draw(model_names),
            draw(texts()),
            documents,
            top_n=ctx.maybe(_ints(1, len(documents)), "top_n"),
            return_documents=ctx.maybe(_BOOL, "return_documents"),
        )

    return build()


def rerank_responses(features: Features = None) -> st.SearchStrategy[RerankResponse]:
    @st.composite
    def build(draw: Any) -> RerankResponse:
        ctx = _Ctx(draw, features)
        indices = draw(st.lists(_ints(0, 9), min_size=1, max_size=4, unique=True))
        scores = sorted(
            draw(st.lists(_ints(0, 1024), min_size=len(indices), max_size=len(indices))),
            reverse=True,
        )
        docs = ctx.f("return_documents") and draw(_BOOL)
        results = tuple(
            RerankResult(i, s / 1024, draw(texts()) if docs else None)
            for i, s in zip(indices, scores)
        )
        return RerankResponse(draw(model_names), results, usage=_family_usage(ctx))

    return build()


def token_count_requests(
    features: Features = None, *, protocol: str | None = None, opaque_shape: str = "typed"
) -> st.SearchStrategy[TokenCountRequest]:
    def build(ctx: _Ctx) -> TokenCountRequest:
        tool_list = _tools(ctx)
        names = [t.name for t in tool_list if t.kind == "function"]
        return TokenCountRequest(ctx.draw(model_names), _conversation(ctx, names), tool_list)

    return _using(build, features, protocol, opaque_shape)


def token_count_responses(features: Features = None) -> st.SearchStrategy[TokenCountResponse]:
    return _ints(0, 100_000).map(TokenCountResponse)


_REQUESTS: dict[str, Callable[..., st.SearchStrategy[Any]]] = {
    Family.EMBED: embedding_requests,
    Family.IMAGE: image_requests,
    Family.IMAGE_EDIT: image_edit_requests,
    Family.IMAGE_VARIATION: image_variation_requests,
    Family.TRANSCRIBE: transcription_requests,
    Family.SPEECH: speech_requests,
    Family.RERANK: rerank_requests,
    Family.COUNT_TOKENS: token_count_requests,
}
_RESPONSES: dict[str, Callable[..., st.SearchStrategy[Any]]] = {
    Family.EMBED: embedding_responses,
    Family.IMAGE: image_responses,
    Family.IMAGE_EDIT: image_responses,
    Family.IMAGE_VARIATION: image_responses,
    Family.TRANSCRIBE: transcription_responses,
    Family.SPEECH: speech_responses,
    Family.RERANK: rerank_responses,
    Family.COUNT_TOKENS: token_count_responses,
}


def requests_for(
    family: str,
    features: Features = None,
    *,
    protocol: str | None = None,
    opaque_shape: str = "typed",
) -> st.SearchStrategy[Any]:
    """The request strategy of an endpoint family (``Codec.family``)."""
    if family == Family.GENERATE:
        return requests(features, protocol=protocol, opaque_shape=opaque_shape)
    if family == Family.COUNT_TOKENS:
        return token_count_requests(features, protocol=protocol, opaque_shape=opaque_shape)
    try:
        return _REQUESTS[family](features)
    except KeyError:
        raise ValueError(f"no request strategy for family {family!r}") from None


def responses_for(
    family: str,
    features: Features = None,
    *,
    protocol: str | None = None,
    opaque_shape: str = "typed",
) -> st.SearchStrategy[Any]:
    """The response strategy of an endpoint family."""
    if family == Family.GENERATE:
        return responses(features, protocol=protocol, opaque_shape=opaque_shape)
    try:
        return _RESPONSES[family](features)
    except KeyError:
        raise ValueError(f"no response strategy for family {family!r}") from None
