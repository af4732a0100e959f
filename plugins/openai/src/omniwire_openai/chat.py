"""``openai.chat``: the Chat Completions protocol (``POST /v1/chat/completions``).

Also what most "OpenAI-compatible" servers speak, so the decoders are lenient about the
variants seen in the wild (``content: null`` deltas, OpenRouter/DeepSeek ``reasoning``
fields, errors inside chunks) while the encoders emit exactly what the official SDK
parses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omniwire.codec import Family
from omniwire.errors import ProtocolError
from omniwire.model import (
    ArgumentsDelta,
    AudioPart,
    CitationDelta,
    FilePart,
    ImagePart,
    MediaSource,
    Message,
    OpaquePart,
    Part,
    PartEnd,
    PartStart,
    PromptCache,
    Raw,
    Reasoning,
    ReasoningDelta,
    ReasoningPart,
    RefusalPart,
    Request,
    Response,
    ResponseEnd,
    ResponseFormat,
    ResponseStart,
    Role,
    SignatureDelta,
    StopReason,
    StreamError,
    StreamEvent,
    SummaryDelta,
    TextDelta,
    TextPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    Usage,
    UsageUpdate,
)
from omniwire.model import Choice as CChoice
from omniwire.model.stream import merge_usage
from omniwire.report import Conversion
from omniwire.sse import SSEEvent
from omniwire.wire import WireRequest, expect, opt, type_name

from ._common import (
    LossOnce,
    OpenAICodec,
    audio_format,
    audio_media_type,
    decode_cache_hint,
    decode_usage,
    drop_absent,
    dumps,
    encode_cache_hint,
    encode_usage,
    error_body_of,
    gen_id,
    iter_list,
    loads_event,
    now,
    restore,
    same,
    same_value,
    stream_error,
    timestamp,
)

__all__ = ["OpenAIChat"]

_FINISH = {
    "stop": StopReason.END_TURN,
    "length": StopReason.MAX_TOKENS,
    "tool_calls": StopReason.TOOL_CALLS,
    "function_call": StopReason.TOOL_CALLS,
    "content_filter": StopReason.CONTENT_FILTER,
}
_FINISH_OUT = {
    StopReason.END_TURN: "stop",
    StopReason.MAX_TOKENS: "length",
    StopReason.TOOL_CALLS: "tool_calls",
    StopReason.CONTENT_FILTER: "content_filter",
}
# canonical reasons chat has no word for: the closest word, and the loss is reported
_FINISH_NEAR = {
    StopReason.STOP_SEQUENCE: "stop",
    StopReason.REFUSAL: "content_filter",
    StopReason.PAUSE_TURN: "stop",
    StopReason.ERROR: "stop",
    StopReason.OTHER: "stop",
}

_REQUEST_KEYS = frozenset(
    {
        "model",
        "messages",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "n",
        "stop",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "response_format",
        "reasoning_effort",
        "prompt_cache_key",
        "prompt_cache_retention",
        "metadata",
        "user",
        "service_tier",
        "stream",
        "stream_options",
    }
)
_USAGE_KEYS = {
    "input_key": "prompt_tokens",
    "output_key": "completion_tokens",
    "input_details": "prompt_tokens_details",
    "output_details": "completion_tokens_details",
}
_PLAIN_CHOICE_KEYS = frozenset({"index", "delta", "finish_reason", "logprobs"})
_PLAIN_DELTA_KEYS = frozenset({"content", "role"})
_CHUNK_KEYS = frozenset(
    {
        "id",
        "object",
        "created",
        "model",
        "choices",
        "usage",
        "service_tier",
        "system_fingerprint",
        "obfuscation",
    }
)
_REASONING_KEYS = ("reasoning_content", "reasoning")

# message fields that, when null (or an empty list), add no part to an answer
_EMPTY_WHEN_NULL = (*_REASONING_KEYS, "refusal", "audio", "function_call")


def _plain_answer(m: dict[str, Any]) -> list[Part] | None:
    """The parts of the answer almost every call gets — text content (or none) and every
    other field null or empty — without the general walk, which gives the same parts;
    None for anything else."""
    content = m.get("content")
    if content is not None and type(content) is not str:
        return None
    for key in _EMPTY_WHEN_NULL:
        if m.get(key) is not None:
            return None
    for key in ("annotations", "tool_calls"):
        value = m.get(key)
        if value is not None and (type(value) is not list or value):
            return None
    return [] if content is None else [TextPart(content)]


_PLAIN_ROLES = {Role.SYSTEM: "system", Role.DEVELOPER: "developer", Role.USER: "user"}


def _plain_message(m: Message) -> dict[str, Any] | None:
    """The message almost every request is made of — a system, developer or user
    message of one plain text part — written without the general walk, which writes the
    same object; None for anything else (and for codecs that always send typed parts)."""
    role = _PLAIN_ROLES.get(m.role)
    if role is None or m.raw is not None or m.cache is not None or m.name is not None:
        return None
    content = m.content
    if len(content) != 1:
        return None
    p = content[0]
    if type(p) is not TextPart or p.citations or p.cache is not None or p.raw is not None:
        return None
    return {"role": role, "content": p.text}


_USAGE_FIELDS = frozenset(
    {
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "prompt_tokens_details",
        "completion_tokens_details",
    }
)

# where an OpaquePart sits in a chat message
_SLOT_CONTENT = "content"
_SLOTS = ("content", "tool_calls", "audio", "function_call")


def _slot(part: OpaquePart, protocol: str) -> str:
    data = same(part.raw, protocol)
    slot = data.get("slot") if data is not None else None
    return slot if isinstance(slot, str) and slot in _SLOTS else _SLOT_CONTENT


def _finish_of(reason: StopReason | None, raw: str | None, conv: Conversion, path: str) -> str:
    if raw is not None and raw in _FINISH and _FINISH[raw] == reason:
        return raw
    if reason in _FINISH_OUT:
        return _FINISH_OUT[reason]
    if reason is None:
        return "stop"
    conv.lose(
        path,
        f"stop reason {reason.value!r} has no chat finish_reason; sent as {_FINISH_NEAR[reason]!r}",
    )
    return _FINISH_NEAR[reason]


def _opt_number(body: Mapping[str, Any], key: str, path: str) -> Any:
    return opt(body, key, float, path)


class OpenAIChat(OpenAICodec):
    """The Chat Completions codec.

    ``typed_content``: always send message content as an array of typed parts (some
    OpenAI-compatible wrappers reject bare strings).
    ``reasoning_field``: for OpenAI-compatible servers that carry reasoning text
    (``"reasoning"`` for OpenRouter/vLLM, ``"reasoning_content"`` for DeepSeek); the
    encoders then send ReasoningPart text in that message/delta field. Without it,
    reasoning is reported as a loss (OpenAI itself never returns reasoning text here).
    Decoders accept both fields regardless.
    """

    id = "openai.chat"
    family = Family.GENERATE
    routes = ("/v1/chat/completions",)
    features = frozenset(
        {
            "system",
            "developer",
            "text",
            "image",
            "audio",
            "file",
            "tool_calls",
            "tool_results",
            "refusal",
            "tools",
            "tool_choice",
            "parallel_tool_calls",
            "max_tokens",
            "temperature",
            "top_p",
            "n",
            "stop",
            "seed",
            "penalties",
            "logit_bias",
            "logprobs",
            "response_format",
            "json_schema",
            "reasoning_effort",
            "metadata",
            "user",
            "service_tier",
            "prompt_cache",
            "usage_cache_read",
            "usage_cache_write",
            "usage_reasoning",
            "stream",
            # finer words of the conformance kit (contrib/testing features.py)
            "message_name",
            "tool_strict",
            "image_detail",
            "file_name",
            "json_schema_name",
            "response_created",
        }
    )

    def __init__(self, *, typed_content: bool = False, reasoning_field: str | None = None) -> None:
        if reasoning_field not in (None, *_REASONING_KEYS):
            raise ValueError(
                f"reasoning_field must be one of {_REASONING_KEYS}, not {reasoning_field!r}"
            )
        self.typed_content = typed_content
        self.reasoning_field = reasoning_field

    # =====================================================================================
    # requests
    # =====================================================================================

    def decode_request(
        self, body: Any, conv: Conversion, *, params: Mapping[str, str] | None = None
    ) -> Request:
        if not isinstance(body, Mapping):
            raise ProtocolError(f"expected object, got {type_name(body)}", path="$")
        model = expect(body, "model", str)
        messages: list[Message] = []
        for _, m, path in iter_list(expect(body, "messages", list), "$.messages"):
            messages.append(self._decode_message(m, path, conv))
        tools = tuple(
            self._decode_tool(t, p)
            for _, t, p in iter_list(opt(body, "tools", list) or [], "$.tools")
        )
        extra: dict[str, Any] = {k: v for k, v in body.items() if k not in _REQUEST_KEYS}
        tool_choice = self._decode_tool_choice(body, extra)

        max_tokens = opt(body, "max_completion_tokens", int)
        legacy_max = opt(body, "max_tokens", int)
        if max_tokens is None:
            max_tokens = legacy_max
        elif legacy_max is not None:
            extra["max_tokens"] = legacy_max  # both sent: canonical takes the modern one

        stop = _decode_stop(body.get("stop"))

        logit_bias = opt(body, "logit_bias", dict)
        if logit_bias is not None:
            for k in logit_bias:
                opt(logit_bias, k, float, "$.logit_bias")
        metadata = opt(body, "metadata", dict)
        if metadata is not None:
            for k in metadata:
                opt(metadata, k, str, "$.metadata")
        effort = opt(body, "reasoning_effort", str)
        key, retention = (
            opt(body, "prompt_cache_key", str),
            opt(body, "prompt_cache_retention", str),
        )
        stream = opt(body, "stream", bool)
        opt(body, "stream_options", dict)
        return Request(
            model=model,
            messages=tuple(messages),
            tools=tools,
            tool_choice=tool_choice,
            max_tokens=max_tokens,
            temperature=_opt_number(body, "temperature", "$"),
            top_p=_opt_number(body, "top_p", "$"),
            n=opt(body, "n", int),
            stop=stop,
            seed=opt(body, "seed", int),
            presence_penalty=_opt_number(body, "presence_penalty", "$"),
            frequency_penalty=_opt_number(body, "frequency_penalty", "$"),
            logit_bias=logit_bias,
            logprobs=opt(body, "logprobs", bool),
            top_logprobs=opt(body, "top_logprobs", int),
            response_format=self._decode_response_format(body),
            reasoning=Reasoning(effort=effort) if effort is not None else None,
            cache=PromptCache(key=key, retention=retention) if key or retention else None,
            metadata=metadata,
            user=opt(body, "user", str),
            service_tier=opt(body, "service_tier", str),
            stream=bool(stream),
            extra=extra or None,
            raw=Raw(self.id, body),
        )

    def _decode_tool(self, t: Any, path: str) -> Tool:
        ttype = expect(t, "type", str, path)
        if ttype != "function":
            inner = t.get(ttype)
            name = inner.get("name") if isinstance(inner, Mapping) else None
            return Tool(
                name if isinstance(name, str) else ttype, kind=ttype, config=t, raw=Raw(self.id, t)
            )
        fn = expect(t, "function", dict, path)
        fpath = f"{path}.function"
        return Tool(
            name=expect(fn, "name", str, fpath),
            description=opt(fn, "description", str, fpath),
            parameters=opt(fn, "parameters", dict, fpath),
            strict=opt(fn, "strict", bool, fpath),
            raw=Raw(self.id, t),
        )

    def _decode_tool_choice(
        self, body: Mapping[str, Any], extra: dict[str, Any]
    ) -> ToolChoice | None:
        parallel = opt(body, "parallel_tool_calls", bool)
        tc = body.get("tool_choice")
        if tc is None:
            return ToolChoice("auto", parallel=parallel) if parallel is not None else None
        if isinstance(tc, str):
            if tc not in ("auto", "none", "required"):
                raise ProtocolError(f"unknown tool_choice {tc!r}", path="$.tool_choice")
            return ToolChoice(tc, parallel=parallel)
        if not isinstance(tc, Mapping):
            raise ProtocolError(
                f"expected string or object, got {type_name(tc)}", path="$.tool_choice"
            )
        ctype = expect(tc, "type", str, "$.tool_choice")
        if ctype == "function":
            fn = expect(tc, "function", dict, "$.tool_choice")
            return ToolChoice(
                "tool", expect(fn, "name", str, "$.tool_choice.function"), parallel=parallel
            )
        extra["tool_choice"] = tc  # allowed_tools, custom: no canonical form
        return ToolChoice("auto", parallel=parallel) if parallel is not None else None

    def _decode_response_format(self, body: Mapping[str, Any]) -> ResponseFormat | None:
        rf = opt(body, "response_format", dict)
        if rf is None:
            return None
        rtype = expect(rf, "type", str, "$.response_format")
        if rtype != "json_schema":
            return ResponseFormat(rtype)
        js = expect(rf, "json_schema", dict, "$.response_format")
        p = "$.response_format.json_schema"
        return ResponseFormat(
            "json_schema",
            schema=opt(js, "schema", dict, p),
            name=expect(js, "name", str, p),
            strict=opt(js, "strict", bool, p),
            description=opt(js, "description", str, p),
        )

    def _decode_message(self, m: Any, path: str, conv: Conversion) -> Message:
        role = expect(m, "role", str, path)
        name = opt(m, "name", str, path)
        raw = Raw(self.id, m)
        if role in ("system", "developer", "user"):
            parts = self._decode_parts(m.get("content"), f"{path}.content", role)
            if "content" not in m:
                raise ProtocolError("required field is missing", path=f"{path}.content")
            return Message(Role(role), tuple(parts), name=name, raw=raw)
        if role == "assistant":
            return Message(
                Role.ASSISTANT, tuple(self._decode_assistant(m, path)), name=name, raw=raw
            )
        if role == "tool":
            call_id = expect(m, "tool_call_id", str, path)
            content = m.get("content")
            if content is None:
                raise ProtocolError("required field is missing", path=f"{path}.content")
            parts = self._decode_parts(content, f"{path}.content", "tool")
            result = ToolResultPart(call_id, tuple(parts), raw=raw)
            return Message(Role.TOOL, (result,), name=name, raw=raw)
        raise ProtocolError(f"unknown role {role!r}", path=f"{path}.role")

    def _decode_parts(self, content: Any, path: str, role: str) -> list[Part]:
        if content is None:
            return []
        if isinstance(content, str):
            return [TextPart(content)]
        if not isinstance(content, list):
            raise ProtocolError(f"expected string or array, got {type_name(content)}", path=path)
        out: list[Part] = []
        for _, part, p in iter_list(content, path):
            ptype = expect(part, "type", str, p)
            raw = Raw(self.id, part)
            if ptype == "text":
                out.append(
                    TextPart(
                        expect(part, "text", str, p), cache=decode_cache_hint(part, p), raw=raw
                    )
                )
            elif ptype == "refusal" and role == "assistant":
                out.append(RefusalPart(expect(part, "refusal", str, p), raw=raw))
            elif ptype == "image_url" and role == "user":
                iu = expect(part, "image_url", dict, p)
                url = expect(iu, "url", str, f"{p}.image_url")
                detail = opt(iu, "detail", str, f"{p}.image_url")
                source = MediaSource.from_data_url(url)
                out.append(
                    ImagePart(source, detail=detail, cache=decode_cache_hint(part, p), raw=raw)
                )
            elif ptype == "input_audio" and role == "user":
                ia = expect(part, "input_audio", dict, p)
                data = expect(ia, "data", str, f"{p}.input_audio")
                fmt = opt(ia, "format", str, f"{p}.input_audio")
                source = MediaSource(data=data, media_type=audio_media_type(fmt))
                out.append(AudioPart(source, format=fmt, raw=raw))
            elif ptype == "file" and role == "user":
                f = expect(part, "file", dict, p)
                fp = f"{p}.file"
                file_data, file_id = opt(f, "file_data", str, fp), opt(f, "file_id", str, fp)
                if file_data is not None:
                    source = (
                        MediaSource.from_data_url(file_data)
                        if file_data.startswith("data:")
                        else MediaSource(data=file_data)
                    )
                elif file_id is not None:
                    source = MediaSource(file_id=file_id)
                else:
                    raise ProtocolError("file needs file_data or file_id", path=fp)
                out.append(FilePart(source, filename=opt(f, "filename", str, fp), raw=raw))
            else:
                out.append(
                    OpaquePart(self.id, ptype, part, raw=Raw(self.id, {"slot": _SLOT_CONTENT}))
                )
        return out

    def _decode_assistant(self, m: Mapping[str, Any], path: str) -> list[Part]:
        """Assistant message -> parts in a fixed order: reasoning, content, refusal,
        tool calls, audio reference, legacy function_call."""
        if type(m) is dict:
            plain = _plain_answer(m)
            if plain is not None:
                return plain
        parts: list[Part] = []
        for key in _REASONING_KEYS:
            text = opt(m, key, str, path)
            if text is not None:
                parts.append(ReasoningPart(text, raw=Raw(self.id, {"field": key})))
        content = m.get("content")
        parts.extend(self._decode_parts(content, f"{path}.content", "assistant"))
        annotations = opt(m, "annotations", list, path)
        if annotations:
            texts = [i for i, p in enumerate(parts) if isinstance(p, TextPart)]
            if not texts:
                raise ProtocolError("annotations without content", path=f"{path}.annotations")
            first = parts[texts[0]]
            assert isinstance(first, TextPart)
            for i, a in enumerate(annotations):
                if not isinstance(a, Mapping):
                    raise ProtocolError(
                        f"expected object, got {type_name(a)}", path=f"{path}.annotations[{i}]"
                    )
            cites = tuple(_flat_citation(a) for a in annotations)
            parts[texts[0]] = TextPart(first.text, cites, first.cache, raw=first.raw)
        refusal = opt(m, "refusal", str, path)
        if refusal is not None:
            parts.append(RefusalPart(refusal))
        for _, tc, p in iter_list(opt(m, "tool_calls", list, path) or [], f"{path}.tool_calls"):
            ttype = tc.get("type", "function") if isinstance(tc, Mapping) else None
            if ttype != "function":
                ttype = expect(tc, "type", str, p)
                parts.append(
                    OpaquePart(self.id, ttype, tc, raw=Raw(self.id, {"slot": "tool_calls"}))
                )
                continue
            fn = expect(tc, "function", dict, p)
            parts.append(
                ToolCallPart(
                    expect(tc, "id", str, p),
                    expect(fn, "name", str, f"{p}.function"),
                    expect(fn, "arguments", str, f"{p}.function"),
                    raw=Raw(self.id, tc),
                )
            )
        for key in ("audio", "function_call"):
            obj = opt(m, key, dict, path)
            if obj is not None:
                parts.append(OpaquePart(self.id, key, obj, raw=Raw(self.id, {"slot": key})))
        return parts

    # -- encoding requests ---------------------------------------------------------------

    def encode_request(self, request: Request, conv: Conversion) -> WireRequest:
        raw = same(request.raw, self.id)
        body: dict[str, Any] = {"model": request.model}
        messages: list[dict[str, Any]] = []
        plain = not self.typed_content
        for i, m in enumerate(request.messages):
            fast = _plain_message(m) if plain else None
            if fast is not None:
                messages.append(fast)
            else:
                messages.extend(self._encode_message(m, f"$.messages[{i}]", conv))
        body["messages"] = messages
        if request.tools:
            body["tools"] = [
                self._encode_tool(t, f"$.tools[{i}]", conv) for i, t in enumerate(request.tools)
            ]
        tc = request.tool_choice
        if tc is not None:
            if not (tc.mode == "auto" and raw is not None and "tool_choice" not in raw):
                body["tool_choice"] = (
                    {"type": "function", "function": {"name": tc.name}}
                    if tc.mode == "tool"
                    else tc.mode
                )
            if tc.parallel is not None:
                body["parallel_tool_calls"] = tc.parallel
        if request.max_tokens is not None:
            legacy = raw is not None and "max_tokens" in raw and "max_completion_tokens" not in raw
            body["max_tokens" if legacy else "max_completion_tokens"] = request.max_tokens
        for key in ("temperature", "top_p", "n", "seed", "presence_penalty", "frequency_penalty"):
            value = getattr(request, key)
            if value is not None:
                body[key] = value
        if request.top_k is not None:
            conv.lose("$.top_k", "chat completions has no top_k")
        if request.stop:
            as_str = raw is not None and isinstance(raw.get("stop"), str) and len(request.stop) == 1
            body["stop"] = request.stop[0] if as_str else list(request.stop)
        for key in ("logit_bias", "logprobs", "top_logprobs", "metadata", "user", "service_tier"):
            value = getattr(request, key)
            if value is not None:
                body[key] = dict(value) if isinstance(value, Mapping) else value
        if request.response_format is not None:
            body["response_format"] = self._encode_response_format(request.response_format, conv)
        r = request.reasoning
        if r is not None:
            if r.effort is not None:
                body["reasoning_effort"] = r.effort
            for key in ("budget_tokens", "summary", "include_thoughts", "enabled"):
                if getattr(r, key) is not None:
                    conv.lose(f"$.reasoning.{key}", f"chat completions has no reasoning {key}")
        c = request.cache
        if c is not None:
            if c.key is not None:
                body["prompt_cache_key"] = c.key
            if c.retention is not None:
                body["prompt_cache_retention"] = c.retention
            if c.cached_content is not None:
                conv.lose(
                    "$.cache.cached_content", "chat completions cannot reference cached content"
                )
        if request.stream:
            body["stream"] = True
            if raw is None:
                body["stream_options"] = {"include_usage": True}
            elif raw.get("stream_options") is not None:
                body["stream_options"] = raw["stream_options"]
        elif raw is not None and "stream" in raw and not raw["stream"]:
            body["stream"] = raw["stream"]  # an explicit false (or null) stays; true never
        self._encode_extra(request, body, conv)
        restore(body, raw, _REQUEST_KEYS)
        return WireRequest("/chat/completions", body, stream=request.stream)

    def _encode_extra(self, request: Request, body: dict[str, Any], conv: Conversion) -> None:
        if not request.extra:
            return
        if request.raw is not None and request.raw.protocol != self.id:
            for key in request.extra:
                conv.lose(
                    f"$.extra.{key}",
                    f"{request.raw.protocol} parameter {key!r} has no chat equivalent",
                )
            return
        for key, value in request.extra.items():
            body.setdefault(key, value)

    def _encode_tool(self, tool: Tool, path: str, conv: Conversion) -> dict[str, Any]:
        raw = same(tool.raw, self.id)
        if tool.cache is not None:
            conv.lose(f"{path}.cache", "chat completions has no cache breakpoints on tools")
        if tool.kind != "function":
            if raw is not None:
                return dict(raw)
            conv.lose(path, f"built-in tool {tool.kind!r} is not available in chat completions")
            return {
                "type": "function",
                "function": {"name": tool.name, "parameters": {"type": "object"}},
            }
        fn: dict[str, Any] = {"name": tool.name}
        if tool.description is not None:
            fn["description"] = tool.description
        if tool.parameters is not None:
            fn["parameters"] = tool.parameters
        if tool.strict is not None:
            fn["strict"] = tool.strict
        out: dict[str, Any] = {"type": "function", "function": fn}
        if raw is not None:
            restore(
                fn,
                raw.get("function") if isinstance(raw.get("function"), Mapping) else None,
                ("name", "description", "parameters", "strict"),
            )
            restore(out, raw, ("type", "function"))
        return out

    def _encode_response_format(self, rf: ResponseFormat, conv: Conversion) -> dict[str, Any]:
        if rf.type != "json_schema":
            _schema_losses(rf, conv)
            return {"type": rf.type}
        js: dict[str, Any] = {"name": rf.name or "response"}
        if rf.description is not None:
            js["description"] = rf.description
        if rf.schema is not None:
            js["schema"] = rf.schema
        if rf.strict is not None:
            js["strict"] = rf.strict
        return {"type": "json_schema", "json_schema": js}

    def _encode_message(self, m: Message, path: str, conv: Conversion) -> list[dict[str, Any]]:
        raw = same(m.raw, self.id)
        if m.cache is not None:
            conv.lose(f"{path}.cache", "chat completions has no message-level cache breakpoint")
        if m.role == Role.TOOL or (
            m.role == Role.USER and any(isinstance(p, ToolResultPart) for p in m.content)
        ):
            return self._encode_tool_results(m, path, conv)
        if m.role == Role.ASSISTANT:
            out = self._encode_assistant(m, path, raw, conv)
        else:
            allowed: tuple[type, ...] = (TextPart,)
            if m.role == Role.USER:
                allowed = (TextPart, ImagePart, AudioPart, FilePart, OpaquePart)
            parts: list[dict[str, Any]] = []
            texts = 0
            for j, p in enumerate(m.content):
                pp = f"{path}.content[{j}]"
                if not isinstance(p, allowed):
                    conv.lose(
                        pp,
                        f"a {m.role.value} message cannot carry {p.type} parts in chat completions",
                    )
                    continue
                encoded = self._encode_part(p, pp, conv)
                if encoded is not None:
                    parts.append(encoded)
                    texts += isinstance(p, TextPart)
            out = {"role": m.role.value, "content": self._content_value(parts, raw)}
        if m.name is not None:
            out["name"] = m.name
        restore(
            out,
            raw,
            (
                "role",
                "content",
                "name",
                "refusal",
                "tool_calls",
                "audio",
                "function_call",
                *_REASONING_KEYS,
            ),
        )
        return [out]

    def _content_value(self, parts: list[dict[str, Any]], raw: Mapping[str, Any] | None) -> Any:
        """A string when the content is one plain text part (and nothing asks for the array
        form), else the array of typed parts; no parts at all is an empty string."""
        raw_list = raw is not None and isinstance(raw.get("content"), list)
        if self.typed_content or raw_list:
            return parts
        if not parts:
            return ""
        if len(parts) == 1 and parts[0].get("type") == "text" and set(parts[0]) == {"type", "text"}:
            return parts[0]["text"]
        return parts

    def _encode_part(self, p: Part, path: str, conv: Conversion) -> dict[str, Any] | None:
        raw = same(p.raw, self.id)
        out: dict[str, Any]
        if isinstance(p, TextPart):
            out = {"type": "text", "text": p.text}
            if p.citations:
                conv.lose(
                    f"{path}.citations", "chat completions cannot send citations in a request"
                )
            encode_cache_hint(out, p.cache)
            owned: tuple[str, ...] = ("type", "text", "prompt_cache_breakpoint")
        elif isinstance(p, ImagePart):
            url = p.source.as_url()
            if url is None:
                conv.lose(path, "chat completions cannot reference an image by file id")
                return None
            if p.source.url is not None and p.source.media_type is not None:
                conv.lose(f"{path}.source.media_type", "an image URL carries no media type")
            iu: dict[str, Any] = {"url": url}
            if p.detail is not None:
                iu["detail"] = p.detail
            if raw is not None and isinstance(raw.get("image_url"), Mapping):
                restore(iu, raw["image_url"], ("url", "detail"))
            out = {"type": "image_url", "image_url": iu}
            encode_cache_hint(out, p.cache)
            owned = ("type", "image_url", "prompt_cache_breakpoint")
        elif isinstance(p, AudioPart):
            if p.source.data is None:
                conv.lose(path, "chat completions takes input audio only as inline data")
                return None
            fmt = p.format or audio_format(p.source.media_type)
            if fmt is None:
                conv.lose(f"{path}.format", "input audio needs a format (wav, mp3); none known")
                fmt = "wav"
            if p.source.media_type not in (None, audio_media_type(fmt)):
                conv.lose(f"{path}.source.media_type", f"sent as the audio format {fmt!r} only")
            ia: dict[str, Any] = {"data": p.source.data, "format": fmt}
            for key in ("transcript", "id"):
                if getattr(p, key) is not None:
                    conv.lose(f"{path}.{key}", f"input audio has no {key}")
            if raw is not None and isinstance(raw.get("input_audio"), Mapping):
                restore(ia, raw["input_audio"], ("data", "format"))
            out = {"type": "input_audio", "input_audio": ia}
            owned = ("type", "input_audio", "prompt_cache_breakpoint")
        elif isinstance(p, FilePart):
            f: dict[str, Any] = {}
            src = p.source
            if src.file_id is not None:
                f["file_id"] = src.file_id
            elif src.data is not None:
                f["file_data"] = src.as_url() if src.media_type else src.data
            else:
                conv.lose(path, "chat completions cannot send a file by URL")
                return None
            if p.filename is not None:
                f["filename"] = p.filename
            if src.file_id is not None and src.media_type is not None:
                conv.lose(f"{path}.source.media_type", "a file id carries no media type")
            for key in ("title", "context", "citations", "cache"):
                if getattr(p, key) is not None:
                    conv.lose(f"{path}.{key}", f"chat completions files have no {key}")
            if raw is not None and isinstance(raw.get("file"), Mapping):
                restore(f, raw["file"], ("file_id", "file_data", "filename"))
            out = {"type": "file", "file": f}
            owned = ("type", "file")
        elif isinstance(p, OpaquePart):
            if p.protocol != self.id:
                conv.lose(path, f"{p.protocol} block {p.kind!r} has no chat equivalent")
                return None
            return dict(p.data)
        elif isinstance(p, RefusalPart):
            out = {"type": "refusal", "refusal": p.text}
            owned = ("type", "refusal")
        else:  # pragma: no cover - callers filter
            conv.lose(path, f"{p.type} parts cannot be sent here")
            return None
        return restore(out, raw, owned)

    def _encode_tool_results(self, m: Message, path: str, conv: Conversion) -> list[dict[str, Any]]:
        """TOOL messages, and tool results inside a USER message (Anthropic's shape): one
        ``tool`` message per result, placed before the rest of the user turn."""
        results: list[dict[str, Any]] = []
        rest: list[Part] = []
        for j, p in enumerate(m.content):
            pp = f"{path}.content[{j}]"
            if not isinstance(p, ToolResultPart):
                if m.role == Role.TOOL:
                    conv.lose(pp, f"a tool message cannot carry {p.type} parts in chat completions")
                else:
                    rest.append(p)
                continue
            raw = same(p.raw, self.id)
            parts: list[dict[str, Any]] = []
            for k, c in enumerate(p.content):
                if not isinstance(c, TextPart):
                    conv.lose(
                        f"{pp}.content[{k}]", f"chat tool results carry only text, not {c.type}"
                    )
                    continue
                encoded = self._encode_part(c, f"{pp}.content[{k}]", conv)
                if encoded is not None:
                    parts.append(encoded)
            if p.is_error:
                conv.lose(f"{pp}.is_error", "chat tool results have no error flag")
            if p.name is not None:
                conv.lose(f"{pp}.name", "chat tool results carry no tool name")
            if p.cache is not None:
                conv.lose(f"{pp}.cache", "chat tool results have no cache breakpoint")
            out = {
                "role": "tool",
                "tool_call_id": p.tool_call_id,
                "content": self._content_value(parts, raw),
            }
            results.append(restore(out, raw, ("role", "tool_call_id", "content", "name")))
        if rest:
            results.extend(
                self._encode_message(Message(Role.USER, tuple(rest), m.name), path, conv)
            )
        elif m.name is not None and m.role == Role.USER:
            conv.lose(
                f"{path}.name", "the user turn held only tool results; its name has nowhere to go"
            )
        elif m.name is not None:  # a TOOL message's name rides on each tool message
            for r in results:
                r["name"] = m.name
        return results

    def _reasoning_field(self, p: ReasoningPart) -> str | None:
        data = same(p.raw, self.id)
        field = data.get("field") if data is not None else None
        if isinstance(field, str) and field in _REASONING_KEYS:
            return field
        return self.reasoning_field

    def _encode_reasoning(
        self,
        parts: list[ReasoningPart | tuple[int, ReasoningPart]],
        path: str,
        out: dict[str, Any],
        conv: Conversion,
    ) -> None:
        for item in parts:
            j, p = item if isinstance(item, tuple) else (0, item)
            pp = f"{path}.content[{j}]"
            field = self._reasoning_field(p)
            if field is None:
                conv.lose(
                    pp,
                    "chat completions carries no reasoning (set reasoning_field for servers that do)",
                )
                continue
            if field in out:
                conv.lose(pp, "only one reasoning text fits a chat message; joined")
                out[field] += p.text
            else:
                out[field] = p.text
            for key in ("summary", "signature", "encrypted", "id"):
                if getattr(p, key):
                    conv.lose(f"{pp}.{key}", f"chat reasoning has no {key}")
            if p.redacted:
                conv.lose(f"{pp}.redacted", "chat reasoning cannot be redacted")

    def _encode_assistant(
        self, m: Message, path: str, raw: Mapping[str, Any] | None, conv: Conversion
    ) -> dict[str, Any]:
        out: dict[str, Any] = {"role": "assistant"}
        raw_list = raw is not None and isinstance(raw.get("content"), list)
        texts = [p for p in m.content if isinstance(p, TextPart)]
        content_opaque = [
            p
            for p in m.content
            if isinstance(p, OpaquePart)
            and p.protocol == self.id
            and _slot(p, self.id) == _SLOT_CONTENT
        ]
        as_array = (
            self.typed_content
            or raw_list
            or len(texts) > 1
            or bool(content_opaque)
            or any(t.cache is not None for t in texts)
        )
        content: list[dict[str, Any]] = []
        refusals: list[str] = []
        tool_calls: list[dict[str, Any]] = []
        reasoning: list[tuple[int, ReasoningPart]] = []
        ranks: list[int] = []
        for j, p in enumerate(m.content):
            pp = f"{path}.content[{j}]"
            if isinstance(p, ReasoningPart):
                reasoning.append((j, p))
                ranks.append(0)
            elif isinstance(p, TextPart):
                enc = self._encode_part(p, pp, conv)
                if enc is not None:
                    content.append(enc)
                ranks.append(1)
            elif isinstance(p, RefusalPart):
                inline = as_array and (same(p.raw, self.id) or {}).get("type") == "refusal"
                if inline:
                    enc = self._encode_part(p, pp, conv)
                    if enc is not None:
                        content.append(enc)
                    ranks.append(1)
                else:
                    refusals.append(p.text)
                    ranks.append(2)
            elif isinstance(p, ToolCallPart):
                tc = self._tool_call(p)
                if p.cache is not None:
                    conv.lose(f"{pp}.cache", "chat tool calls have no cache breakpoint")
                tool_calls.append(tc)
                ranks.append(3)
            elif isinstance(p, OpaquePart) and p.protocol == self.id:
                slot = _slot(p, self.id)
                if slot == _SLOT_CONTENT:
                    content.append(dict(p.data))
                    ranks.append(1)
                elif slot == "tool_calls":
                    tool_calls.append(dict(p.data))
                    ranks.append(3)
                else:
                    if slot in out:
                        conv.lose(pp, f"only one {slot} fits a chat message")
                    out[slot] = dict(p.data)
                    ranks.append(4 if slot == "audio" else 5)
            else:
                conv.lose(
                    pp, f"an assistant message cannot carry {p.type} parts in chat completions"
                )
        if ranks != sorted(ranks):
            conv.lose(
                f"{path}.content",
                "chat messages order parts as reasoning, text, refusal, tool calls; the order changed",
            )
        if len(refusals) > 1:
            conv.lose(f"{path}.content", "chat messages hold one refusal; refusals were joined")
        self._encode_reasoning(list(reasoning), path, out, conv)
        if content:
            if as_array:
                out["content"] = content
            else:
                out["content"] = content[0]["text"] if content[0].get("type") == "text" else content
        if refusals:
            out["refusal"] = "".join(refusals)
        if tool_calls:
            out["tool_calls"] = tool_calls
        return out

    # =====================================================================================
    # responses
    # =====================================================================================

    def decode_response(self, body: Any, conv: Conversion) -> Response:
        if not isinstance(body, Mapping):
            raise ProtocolError(f"expected object, got {type_name(body)}", path="$")
        choices = []
        for _, c, p in iter_list(expect(body, "choices", list), "$.choices"):
            msg = expect(c, "message", dict, p)
            finish = opt(c, "finish_reason", str, p)
            choices.append(
                CChoice(
                    tuple(self._decode_assistant(msg, f"{p}.message")),
                    _FINISH.get(finish, StopReason.OTHER) if finish is not None else None,
                    finish,
                    index=expect(c, "index", int, p),
                    logprobs=c.get("logprobs"),
                    raw=Raw(self.id, c),
                )
            )
        usage = body.get("usage")
        return Response(
            id=opt(body, "id", str),
            model=opt(body, "model", str),
            choices=tuple(choices),
            usage=decode_usage(usage, "$.usage", **_USAGE_KEYS) if usage is not None else None,
            created=timestamp(body, "created"),
            service_tier=opt(body, "service_tier", str),
            raw=Raw(self.id, body),
        )

    def encode_response(
        self, response: Response, conv: Conversion, *, request: Any = None
    ) -> dict[str, Any]:
        raw = same(response.raw, self.id)
        out: dict[str, Any] = {
            "id": response.id if response.id is not None else gen_id("chatcmpl-"),
            "object": "chat.completion",
            "created": same_value(raw, "created", response.created)
            if response.created is not None
            else now(),
            "model": response.model or "",
            "choices": [
                self._encode_choice(c, f"$.choices[{i}]", conv)
                for i, c in enumerate(response.choices)
            ],
        }
        if response.usage is not None:
            raw_usage = (
                raw.get("usage")
                if raw is not None and isinstance(raw.get("usage"), Mapping)
                else None
            )
            out["usage"] = encode_usage(
                response.usage, raw_usage, always_cache_write=False, lose=conv.lose, **_USAGE_KEYS
            )
        if response.service_tier is not None:
            out["service_tier"] = response.service_tier
        return restore(
            out, raw, ("id", "object", "created", "model", "choices", "usage", "service_tier")
        )

    def _encode_choice(self, c: CChoice, path: str, conv: Conversion) -> dict[str, Any]:
        raw = same(c.raw, self.id)
        msg_raw = (
            raw.get("message")
            if raw is not None and isinstance(raw.get("message"), Mapping)
            else None
        )
        message = self._encode_response_message(c.content, path, msg_raw, conv)
        out: dict[str, Any] = {
            "index": c.index,
            "message": message,
            "logprobs": c.logprobs,
            "finish_reason": _finish_of(c.stop_reason, c.stop_raw, conv, f"{path}.stop_reason"),
        }
        if raw is not None and raw.get("finish_reason") is None and c.stop_reason is None:
            out["finish_reason"] = raw.get("finish_reason")
        drop_absent(out, raw, {"logprobs": None})
        return restore(out, raw, ("index", "message", "logprobs", "finish_reason"))

    def _tool_call(self, p: ToolCallPart) -> dict[str, Any]:
        """A tool call as chat writes it in an assistant message (a same-protocol
        original's extra fields restored)."""
        fn: dict[str, Any] = {"name": p.name, "arguments": p.arguments}
        tc: dict[str, Any] = {"id": p.id, "type": "function", "function": fn}
        tc_raw = same(p.raw, self.id)
        if tc_raw is not None:
            raw_fn = tc_raw.get("function")
            restore(fn, raw_fn if isinstance(raw_fn, Mapping) else None, ("name", "arguments"))
            restore(tc, tc_raw, ("id", "type", "function"))
        return tc

    def _encode_response_message(
        self, content: tuple[Part, ...], path: str, raw: Mapping[str, Any] | None, conv: Conversion
    ) -> dict[str, Any]:
        out: dict[str, Any] = {"role": "assistant"}
        first_text = f"{path}.content[0]"
        text: list[str] = []
        annotations: list[Any] = []
        refusals: list[str] = []
        tool_calls: list[dict[str, Any]] = []
        reasoning: list[tuple[int, ReasoningPart]] = []
        ranks: list[int] = []
        for j, p in enumerate(content):
            pp = f"{path}.content[{j}]"
            if isinstance(p, TextPart):
                if text:
                    conv.lose(pp, "a chat response holds one text; parts were joined")
                    if len(text) == 1:
                        conv.lose(first_text, "the texts after it were joined onto it")
                else:
                    first_text = pp
                if p.citations:
                    if text and "".join(text):
                        conv.lose(
                            f"{pp}.citations",
                            "citation offsets refer to the part, not the joined text",
                        )
                    for k, c in enumerate(p.citations):
                        if c.get("type") == "url_citation":
                            annotations.append(_nested_citation(c))
                        else:
                            conv.lose(
                                f"{pp}.citations[{k}]",
                                f"chat annotations are url citations; {c.get('type')!r} has no form",
                            )
                if p.cache is not None:
                    conv.lose(f"{pp}.cache", "responses carry no cache breakpoints")
                text.append(p.text)
                ranks.append(1)
            elif isinstance(p, RefusalPart):
                refusals.append(p.text)
                ranks.append(2)
            elif isinstance(p, ToolCallPart):
                tc = self._tool_call(p)
                tool_calls.append(tc)
                ranks.append(3)
            elif isinstance(p, ReasoningPart):
                reasoning.append((j, p))
                ranks.append(0)
            elif (
                isinstance(p, OpaquePart)
                and p.protocol == self.id
                and _slot(p, self.id) != _SLOT_CONTENT
            ):
                slot = _slot(p, self.id)
                if slot == "tool_calls":
                    tool_calls.append(dict(p.data))
                    ranks.append(3)
                else:
                    out[slot] = dict(p.data)
                    ranks.append(4 if slot == "audio" else 5)
            else:
                conv.lose(pp, f"a chat response cannot carry {p.type} parts")
        if ranks != sorted(ranks):
            conv.lose(
                f"{path}.content",
                "chat messages order parts as reasoning, text, refusal, tool calls; the order changed",
            )
        if len(refusals) > 1:
            conv.lose(f"{path}.content", "chat messages hold one refusal; refusals were joined")
        self._encode_reasoning(list(reasoning), path, out, conv)
        out["content"] = "".join(text) if text else None
        out["refusal"] = "".join(refusals) if refusals else None
        out["annotations"] = annotations
        if tool_calls:
            out["tool_calls"] = tool_calls
        drop_absent(out, raw, {"refusal": None, "annotations": [], "content": None})
        return restore(
            out,
            raw,
            (
                "role",
                "content",
                "refusal",
                "annotations",
                "tool_calls",
                "audio",
                "function_call",
                *_REASONING_KEYS,
            ),
        )

    # =====================================================================================
    # streams
    # =====================================================================================

    def stream_decoder(self, conv: Conversion) -> _ChatStreamDecoder:
        return _ChatStreamDecoder(self, conv)

    def stream_encoder(self, conv: Conversion, request: Any = None) -> _ChatStreamEncoder:
        include_usage = True
        if isinstance(request, Request):
            raw = same(request.raw, self.id)
            if raw is not None:
                so = raw.get("stream_options")
                include_usage = bool(so.get("include_usage")) if isinstance(so, Mapping) else False
        return _ChatStreamEncoder(self, conv, request, include_usage)

    # =====================================================================================
    # errors and usage
    # =====================================================================================

    def usage_of(self, body: Any) -> Usage | None:
        if isinstance(body, Mapping) and isinstance(body.get("usage"), Mapping):
            try:
                return decode_usage(body["usage"], "$.usage", **_USAGE_KEYS)
            except ProtocolError:
                return None
        return None

    def usage_of_event(self, event: SSEEvent) -> Usage | None:
        if '"usage"' not in event.data or event.data.startswith("[DONE]"):
            return None
        try:
            return self.usage_of(loads_event(event.data))
        except ProtocolError:
            return None


def _flat_citation(a: Mapping[str, Any]) -> Mapping[str, Any]:
    """Chat nests a URL citation (``{"type": "url_citation", "url_citation": {...}}``);
    canonically it is flat, as the Responses API writes it, so it crosses unchanged."""
    inner = a.get("url_citation")
    if (
        a.get("type") == "url_citation"
        and isinstance(inner, Mapping)
        and set(a) == {"type", "url_citation"}
    ) and "type" not in inner:
        return {"type": "url_citation", **inner}
    return a


def _nested_citation(c: Mapping[str, Any]) -> Mapping[str, Any]:
    if "url_citation" in c:
        return c
    return {"type": "url_citation", "url_citation": {k: v for k, v in c.items() if k != "type"}}


def _schema_losses(rf: ResponseFormat, conv: Conversion) -> None:
    for key in ("schema", "name", "strict", "description"):
        if getattr(rf, key) is not None:
            conv.lose(f"$.response_format.{key}", f"a {rf.type!r} response format carries no {key}")


def _decode_stop(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    out = []
    for _, s, p in iter_list(value, "$.stop"):
        if not isinstance(s, str):
            raise ProtocolError(f"expected string, got {type_name(s)}", path=p)
        out.append(s)
    return tuple(out)


# =========================================================================================
# stream decoding
# =========================================================================================


class _ChoiceState:
    __slots__ = ("open_kind", "open_index", "tools", "tool_order", "ended")

    def __init__(self) -> None:
        self.open_kind: str | None = None  # "text" | "refusal" | "reasoning"
        self.open_index = -1
        self.tools: dict[int, int] = {}  # tool_calls[].index -> part index
        self.tool_order: list[int] = []
        self.ended = False


class _ChatStreamDecoder:
    """chat.completion.chunk events -> canonical stream events.

    Text, refusal and reasoning deltas of a choice each become one part, opened when the
    kind changes; tool calls are parts keyed by their ``index`` and stay open until the
    choice's finish_reason. A chunk carrying ``error`` (OpenRouter) or an ``error`` SSE
    event (Groq) becomes a StreamError.
    """

    def __init__(self, codec: OpenAIChat, conv: Conversion) -> None:
        self.codec = codec
        self.lose = LossOnce(conv)
        self.started = False
        self.done = False
        self.errored = False
        self.next_index = 0
        self.choices: dict[int, _ChoiceState] = {}

    def feed(self, event: SSEEvent) -> list[StreamEvent]:
        data = event.data.strip()
        if not data:
            return []
        if data == "[DONE]":
            self.done = True
            return self._close_all()
        chunk = loads_event(data)
        if self.started and type(chunk) is dict and event.event is None:
            fast = self._plain_text(chunk)
            if fast is not None:
                return [fast]
        out: list[StreamEvent] = []
        if event.event == "error" or (
            isinstance(chunk, Mapping) and "choices" not in chunk and "error" in chunk
        ):
            self.errored = True
            out.extend(self._close_all())
            err = chunk.get("error", chunk) if isinstance(chunk, Mapping) else chunk
            out.append(stream_error(err))
            return out
        if not isinstance(chunk, Mapping):
            raise ProtocolError(f"expected object, got {type_name(chunk)}", path="$")
        if not self.started:
            self.started = True
            out.append(
                ResponseStart(
                    id=opt(chunk, "id", str),
                    model=opt(chunk, "model", str),
                    created=timestamp(chunk, "created"),
                    service_tier=opt(chunk, "service_tier", str),
                    raw=Raw(
                        self.codec.id,
                        {k: v for k, v in chunk.items() if k not in ("choices", "usage")},
                    ),
                )
            )
        for key in chunk:
            if key not in _CHUNK_KEYS and key != "error":
                self.lose(f"$.{key}", f"chunk field {key!r} has no canonical place")
        for _, c, p in iter_list(chunk.get("choices") or [], "$.choices"):
            out.extend(self._choice(c, p))
        usage = chunk.get("usage")
        if usage is not None:
            out.append(UsageUpdate(decode_usage(usage, "$.usage", **_USAGE_KEYS)))
            self._usage_extras(usage)
        if isinstance(chunk.get("error"), Mapping):
            self.errored = True
            out.extend(self._close_all())
            out.append(stream_error(chunk["error"]))
        return out

    def _plain_text(self, chunk: dict[str, Any]) -> StreamEvent | None:
        """Almost every chunk of a stream is one choice adding text to the text part it
        already has open: that one becomes its TextDelta without the general walk (which
        gives the same event). Anything else returns None."""
        choices = chunk.get("choices")
        if type(choices) is not list or len(choices) != 1:
            return None
        c = choices[0]
        if type(c) is not dict or c.get("finish_reason") is not None:
            return None
        delta = c.get("delta")
        index = c.get("index")
        if type(delta) is not dict or type(index) is not int or c.get("logprobs") is not None:
            return None
        text = delta.get("content")
        st = self.choices.get(index)
        if type(text) is not str or not text or st is None or st.open_kind != "text":
            return None
        if chunk.get("usage") is not None or not _CHUNK_KEYS.issuperset(chunk):
            return None
        if not _PLAIN_CHOICE_KEYS.issuperset(c) or not _PLAIN_DELTA_KEYS.issuperset(delta):
            return None
        return TextDelta(st.open_index, text)

    def _usage_extras(self, usage: Any) -> None:
        if isinstance(usage, Mapping):
            for key, value in usage.items():
                if key not in _USAGE_FIELDS and value is not None:
                    self.lose(f"$.usage.{key}", f"usage field {key!r} has no canonical place")

    def _state(self, index: int) -> _ChoiceState:
        st = self.choices.get(index)
        if st is None:
            st = self.choices[index] = _ChoiceState()
        return st

    def _open(
        self, st: _ChoiceState, kind: str, part: Part, choice: int, out: list[StreamEvent]
    ) -> int:
        if st.open_kind is not None:
            out.append(PartEnd(st.open_index))
        index = self.next_index
        self.next_index += 1
        out.append(PartStart(index, part, choice))
        st.open_kind, st.open_index = kind, index
        return index

    def _text_like(
        self, st: _ChoiceState, kind: str, text: str, choice: int, out: list[StreamEvent]
    ) -> None:
        if st.open_kind == kind:
            index = st.open_index
        else:
            part: Part
            if kind == "text":
                part = TextPart("")
            elif kind == "refusal":
                part = RefusalPart("")
            else:
                part = ReasoningPart("", raw=Raw(self.codec.id, {"field": self.reasoning_key}))
            index = self._open(st, kind, part, choice, out)
        out.append(ReasoningDelta(index, text) if kind == "reasoning" else TextDelta(index, text))

    reasoning_key = "reasoning"

    def _choice(self, c: Any, path: str) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        choice = expect(c, "index", int, path)
        st = self._state(choice)
        delta = opt(c, "delta", dict, path) or {}
        dpath = f"{path}.delta"
        for key in _REASONING_KEYS:
            text = opt(delta, key, str, dpath)
            if text:
                self.reasoning_key = key
                self._text_like(st, "reasoning", text, choice, out)
        text = opt(delta, "content", str, dpath)
        if text:
            self._text_like(st, "text", text, choice, out)
        refusal = opt(delta, "refusal", str, dpath)
        if refusal:
            self._text_like(st, "refusal", refusal, choice, out)
        for _, tc, tp in iter_list(
            opt(delta, "tool_calls", list, dpath) or [], f"{dpath}.tool_calls"
        ):
            out.extend(self._tool_delta(st, tc, tp, choice))
        for key in delta:
            known = key in ("role", "content", "refusal", "tool_calls", *_REASONING_KEYS)
            if not known and delta[key] not in (None, [], {}, ""):
                self.lose(
                    f"$.choices[{choice}].delta.{key}",
                    f"delta field {key!r} has no canonical place",
                )
        if c.get("logprobs") is not None:
            self.lose(
                f"$.choices[{choice}].logprobs", "streamed logprobs have no canonical stream event"
            )
        for key in c:
            if key not in ("index", "delta", "finish_reason", "logprobs") and c[key] is not None:
                self.lose(
                    f"$.choices[{choice}].{key}", f"choice field {key!r} has no canonical place"
                )
        finish = opt(c, "finish_reason", str, path)
        if finish is not None and not st.ended:
            st.ended = True
            out.extend(self._close_choice(st))
            out.append(ResponseEnd(_FINISH.get(finish, StopReason.OTHER), finish, choice=choice))
        return out

    def _tool_delta(self, st: _ChoiceState, tc: Any, path: str, choice: int) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        tindex = expect(tc, "index", int, path)
        fn = opt(tc, "function", dict, path) or {}
        fragment = opt(fn, "arguments", str, f"{path}.function")
        part_index = st.tools.get(tindex)
        if part_index is None:
            if st.open_kind is not None:
                out.append(PartEnd(st.open_index))
                st.open_kind = None
            part_index = self.next_index
            self.next_index += 1
            st.tools[tindex] = part_index
            st.tool_order.append(part_index)
            call_id = opt(tc, "id", str, path) or ""
            name = opt(fn, "name", str, f"{path}.function") or ""
            out.append(PartStart(part_index, ToolCallPart(call_id, name, ""), choice))
        if fragment:
            out.append(ArgumentsDelta(part_index, fragment))
        return out

    def _close_choice(self, st: _ChoiceState) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        if st.open_kind is not None:
            out.append(PartEnd(st.open_index))
            st.open_kind = None
        out.extend(PartEnd(i) for i in st.tool_order)
        st.tool_order = []
        return out

    def _close_all(self) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for st in self.choices.values():
            out.extend(self._close_choice(st))
        return out

    def close(self) -> list[StreamEvent]:
        if self.done or self.errored:
            return []
        if (
            not self.started
            or not self.choices
            or not all(st.ended for st in self.choices.values())
        ):
            raise ProtocolError("stream ended before data: [DONE]", path="$")
        return self._close_all()


# =========================================================================================
# stream encoding
# =========================================================================================


_MARK = "\x00omniwire-text\x00"
_MARK_JSON = dumps(_MARK)


class _OpenPart:
    __slots__ = ("kind", "choice", "tool_index", "sent", "empty_args")

    def __init__(self, kind: str, choice: int, tool_index: int = -1) -> None:
        self.kind = kind  # text | refusal | reasoning | tool | none
        self.choice = choice
        self.tool_index = tool_index
        self.sent: list[str] = []
        self.empty_args = False  # the call's arguments are "{}" unless fragments follow


class _ChatStreamEncoder:
    """Canonical stream events -> chat.completion.chunk SSE events, in the grammar the
    official SDK accumulates: a role chunk per choice (in index order), content /
    refusal / tool-call deltas, a finish_reason chunk per choice, a usage chunk with
    empty choices, then ``data: [DONE]``."""

    def __init__(
        self, codec: OpenAIChat, conv: Conversion, request: Any, include_usage: bool
    ) -> None:
        self.codec = codec
        self.conv = conv
        self.lose = LossOnce(conv)
        self.include_usage = include_usage
        self.id: str = gen_id("chatcmpl-")
        self.created: int = now()
        self.model: str = request.model if isinstance(request, Request) else ""
        self.extra: dict[str, Any] = {}
        self.service_tier: str | None = None
        self.started: set[int] = set()
        self.tool_counts: dict[int, int] = {}
        self.parts: dict[int, _OpenPart] = {}
        self.usage: Usage | None = None
        self.closed = False
        self.head_sent = False
        self.templates: dict[int, tuple[str, str]] = {}

    def _chunk(
        self, choices: list[dict[str, Any]], usage: dict[str, Any] | None = None
    ) -> SSEEvent:
        obj: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
        }
        if self.service_tier is not None:
            obj["service_tier"] = self.service_tier
        obj.update(self.extra)
        obj["choices"] = choices
        if usage is not None:
            obj["usage"] = usage
        return SSEEvent(dumps(obj))

    def _delta(self, choice: int, delta: dict[str, Any], finish: str | None = None) -> SSEEvent:
        return self._chunk(
            [{"index": choice, "delta": delta, "logprobs": None, "finish_reason": finish}]
        )

    def _ensure(self, choice: int) -> list[SSEEvent]:
        out = []
        for c in range(choice + 1):
            if c not in self.started:
                self.started.add(c)
                out.append(self._delta(c, {"role": "assistant", "content": ""}))
        return out

    def feed(self, event: StreamEvent) -> list[SSEEvent]:
        cls = type(event)
        out: list[SSEEvent] = []
        if cls is TextDelta or cls is ReasoningDelta or cls is ArgumentsDelta:
            op = self.parts.get(event.index)  # type: ignore[union-attr]
            if op is None:
                raise ProtocolError(f"delta for part {event.index} that was never started")  # type: ignore[union-attr]
            text = event.fragment if cls is ArgumentsDelta else event.text  # type: ignore[union-attr]
            out.extend(self._emit(op, text, f"$.parts[{event.index}]"))  # type: ignore[union-attr]
        elif cls is PartStart:
            assert isinstance(event, PartStart)
            out.extend(self._start(event))
        elif cls is PartEnd:
            assert isinstance(event, PartEnd)
            op = self.parts.get(event.index)
            if op is not None:
                if event.part is not None:
                    out.extend(self._final(op, event.part, f"$.parts[{event.index}]"))
                if op.kind == "tool" and op.empty_args and not "".join(op.sent):
                    out.extend(self._emit(op, "{}", f"$.parts[{event.index}]"))
        elif cls is ResponseStart:
            assert isinstance(event, ResponseStart)
            if event.id is not None:
                self.id = event.id
            if event.created is not None:
                self.created = event.created
            if event.model is not None:
                self.model = event.model
            self.service_tier = event.service_tier
            self.templates.clear()
            raw = same(event.raw, self.codec.id)
            if raw is not None and raw.get("system_fingerprint") is not None:
                self.extra["system_fingerprint"] = raw["system_fingerprint"]
            if event.usage is not None:
                self.usage = merge_usage(self.usage, event.usage)
        elif cls is ResponseEnd:
            assert isinstance(event, ResponseEnd)
            out.extend(self._ensure(event.choice))
            finish = _finish_of(
                event.stop_reason,
                event.stop_raw,
                self.conv,
                f"$.choices[{event.choice}].stop_reason",
            )
            out.append(self._delta(event.choice, {}, finish))
            if event.usage is not None:
                self.usage = merge_usage(self.usage, event.usage)
        elif cls is UsageUpdate:
            assert isinstance(event, UsageUpdate)
            self.usage = merge_usage(self.usage, event.usage)
        elif cls is SummaryDelta or cls is SignatureDelta or cls is CitationDelta:
            self.lose(f"$.parts[{event.index}]", f"chat streams cannot carry {cls.__name__}")  # type: ignore[union-attr]
        elif cls is StreamError:
            assert isinstance(event, StreamError)
            self.closed = True
            out.extend(self._usage_chunk())  # what was used before the failure still counts
            out.append(SSEEvent(dumps({"error": error_body_of(event)})))
        return out

    def _start(self, event: PartStart) -> list[SSEEvent]:
        out = self._ensure(event.choice)
        p = event.part
        path = f"$.parts[{event.index}]"
        if isinstance(p, ToolCallPart):
            tindex = self.tool_counts.get(event.choice, 0)
            self.tool_counts[event.choice] = tindex + 1
            op = _OpenPart("tool", event.choice, tindex)
            self.parts[event.index] = op
            args = p.arguments if p.arguments != "{}" else ""
            op.empty_args = p.arguments == "{}"
            call = {
                "index": tindex,
                "id": p.id,
                "type": "function",
                "function": {"name": p.name, "arguments": args},
            }
            op.sent.append(args)
            out.append(self._delta(event.choice, {"tool_calls": [call]}))
            return out
        if isinstance(p, TextPart):
            op = _OpenPart("text", event.choice)
            if p.citations:
                self.lose(f"{path}.citations", "chat streams carry no annotations")
            initial = p.text
        elif isinstance(p, RefusalPart):
            op = _OpenPart("refusal", event.choice)
            initial = p.text
        elif isinstance(p, ReasoningPart):
            field = self.codec._reasoning_field(p)
            op = _OpenPart("reasoning" if field else "none", event.choice)
            if field is None:
                self.lose(
                    path,
                    "chat completions carries no reasoning (set reasoning_field for servers that do)",
                )
            initial = p.text
        else:
            op = _OpenPart("none", event.choice)
            self.lose(path, f"chat streams cannot carry {p.type} parts")
            initial = ""
        self.parts[event.index] = op
        if initial:
            out.extend(self._emit(op, initial, path))
        return out

    def _emit(self, op: _OpenPart, text: str, path: str) -> list[SSEEvent]:
        if op.kind == "none" or not text:
            return []
        op.sent.append(text)
        if op.kind == "tool":
            return [
                self._delta(
                    op.choice,
                    {"tool_calls": [{"index": op.tool_index, "function": {"arguments": text}}]},
                )
            ]
        if op.kind == "reasoning":
            return [self._delta(op.choice, {self.codec.reasoning_field or "reasoning": text})]
        if op.kind == "text":
            return [self._text_chunk(op.choice, text)]
        return [self._delta(op.choice, {"refusal": text})]

    def _text_chunk(self, choice: int, text: str) -> SSEEvent:
        """A content delta chunk: the same bytes as ``_delta`` writes, from a template
        rendered once per choice (the chunk's other fields change only at ResponseStart)."""
        template = self.templates.get(choice)
        if template is None:
            rendered = self._delta(choice, {"content": _MARK}).data
            head, _, tail = rendered.partition(_MARK_JSON)
            template = self.templates[choice] = (head, tail)
        return SSEEvent(template[0] + dumps(text) + template[1])

    def _final(self, op: _OpenPart, part: Part, path: str) -> list[SSEEvent]:
        """PartEnd with the authoritative part: send what the deltas missed, if it only
        extends what was sent; anything else cannot be taken back."""
        if isinstance(part, ToolCallPart):
            final = part.arguments
        elif isinstance(part, (TextPart, RefusalPart, ReasoningPart)):
            final = part.text
        else:
            return []
        sent = "".join(op.sent)
        if op.kind == "tool" and final == "{}" and not sent:
            op.empty_args = True
            return []
        if final == sent:
            return []
        if final.startswith(sent):
            return self._emit(op, final[len(sent) :], path)
        self.lose(path, "the final part differs from what was already streamed")
        return []

    def close(self) -> list[SSEEvent]:
        if self.closed:
            return []
        self.closed = True
        return [*self._usage_chunk(), SSEEvent("[DONE]")]

    def _usage_chunk(self) -> list[SSEEvent]:
        if not self.include_usage or self.usage is None:
            return []
        usage = encode_usage(
            self.usage, None, always_cache_write=False, lose=self.lose, **_USAGE_KEYS
        )
        return [self._chunk([], usage)]
