"""``openai.responses``: the Responses protocol (``POST /v1/responses``).

Responses speaks in *items* rather than messages: a function call, a reasoning trace and
an assistant message are siblings. Canonically, consecutive assistant-side items form one
ASSISTANT message (a new one starts where two message items meet); each function-call
output is a TOOL message; ``instructions`` is the leading SYSTEM message. Text parts of
assistant message items remember their item (``raw.data["item"]``), so the encoder splits
and names items exactly as they came.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omniwire.codec import Family
from omniwire.errors import ProtocolError
from omniwire.model import (
    ArgumentsDelta,
    AudioPart,
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
from .envelope import foreign, seal, unseal

__all__ = ["OpenAIResponses"]

_USAGE_KEYS = {
    "input_key": "input_tokens",
    "output_key": "output_tokens",
    "input_details": "input_tokens_details",
    "output_details": "output_tokens_details",
}
_REQUEST_KEYS = frozenset(
    {
        "model",
        "input",
        "instructions",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "max_output_tokens",
        "temperature",
        "top_p",
        "top_logprobs",
        "text",
        "reasoning",
        "prompt_cache_key",
        "prompt_cache_retention",
        "metadata",
        "user",
        "service_tier",
        "stream",
    }
)
_RESPONSE_OWNED = (
    "id",
    "object",
    "created_at",
    "status",
    "model",
    "output",
    "usage",
    "service_tier",
    "incomplete_details",
    "error",
)
# request parameters a response object repeats back
_ECHO = (
    "instructions",
    "max_output_tokens",
    "metadata",
    "parallel_tool_calls",
    "previous_response_id",
    "reasoning",
    "store",
    "temperature",
    "text",
    "tool_choice",
    "tools",
    "top_p",
    "truncation",
    "user",
)
_ANNOTATION_TYPES = frozenset(
    {"file_citation", "url_citation", "container_file_citation", "file_path"}
)
_INCOMPLETE = {
    "max_output_tokens": StopReason.MAX_TOKENS,
    "content_filter": StopReason.CONTENT_FILTER,
}
_INCOMPLETE_OUT = {v: k for k, v in _INCOMPLETE.items()}


def _is_content_kind(kind: str) -> bool:
    """Opaque *content parts* (inside a message item) vs opaque *items*."""
    return kind.startswith(("input_", "output_"))


def _stop_of(
    status: str | None, incomplete: Any, has_calls: bool
) -> tuple[StopReason | None, str | None]:
    if status == "completed":
        return (StopReason.TOOL_CALLS if has_calls else StopReason.END_TURN), status
    if status == "incomplete":
        reason = incomplete.get("reason") if isinstance(incomplete, Mapping) else None
        if isinstance(reason, str):
            return _INCOMPLETE.get(reason, StopReason.OTHER), reason
        return StopReason.OTHER, status
    if status == "failed":
        return StopReason.ERROR, status
    if status == "cancelled":
        return StopReason.OTHER, status
    return None, status


def _item_meta(raw: Raw | None, protocol: str) -> Mapping[str, Any] | None:
    data = same(raw, protocol)
    if data is not None and isinstance(data.get("item"), Mapping) and "part" in data:
        return data["item"]  # type: ignore[no-any-return]
    return None


def _part_obj(raw: Raw | None, protocol: str) -> Mapping[str, Any] | None:
    data = same(raw, protocol)
    if data is None:
        return None
    if isinstance(data.get("item"), Mapping) and isinstance(data.get("part"), Mapping):
        return data["part"]  # type: ignore[no-any-return]
    return data


class OpenAIResponses(OpenAICodec):
    """The Responses API codec (items in, items out, typed SSE events)."""

    id = "openai.responses"
    family = Family.GENERATE
    routes = ("/v1/responses",)
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
            "reasoning",
            "reasoning_encrypted",
            "reasoning_summary",
            "refusal",
            "citations",
            "opaque",
            "tools",
            "tool_choice",
            "parallel_tool_calls",
            "max_tokens",
            "temperature",
            "top_p",
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
            "tool_strict",
            "image_detail",
            "media_url",
            "file_name",
            "reasoning_id",
            "json_schema_name",
            "response_created",
            "multi_part_output",
        }
    )

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
        instructions = opt(body, "instructions", str)
        if instructions is not None:
            messages.append(
                Message(
                    Role.SYSTEM,
                    (TextPart(instructions),),
                    raw=Raw(self.id, {"instructions": instructions}),
                )
            )
        inp = body.get("input")
        if isinstance(inp, str):
            messages.append(Message(Role.USER, (TextPart(inp),)))
        elif inp is not None:
            messages.extend(self._decode_items(inp, "$.input", conv))
        tools = tuple(
            self._decode_tool(t, p)
            for _, t, p in iter_list(opt(body, "tools", list) or [], "$.tools")
        )
        extra: dict[str, Any] = {k: v for k, v in body.items() if k not in _REQUEST_KEYS}
        tool_choice = self._decode_tool_choice(body, extra)
        response_format = None
        text = opt(body, "text", dict)
        if text is not None:
            fmt = opt(text, "format", dict, "$.text")
            if fmt is not None:
                response_format = self._decode_format(fmt, "$.text.format")
            rest = {k: v for k, v in text.items() if k != "format"}
            if rest or fmt is None:
                extra["text"] = rest
        reasoning = None
        r = opt(body, "reasoning", dict)
        if r is not None:
            reasoning = Reasoning(
                effort=opt(r, "effort", str, "$.reasoning"),
                summary=opt(r, "summary", str, "$.reasoning"),
            )
            rest = {k: v for k, v in r.items() if k not in ("effort", "summary")}
            if rest:
                extra["reasoning"] = rest
        metadata = opt(body, "metadata", dict)
        if metadata is not None:
            for k in metadata:
                opt(metadata, k, str, "$.metadata")
        key, retention = (
            opt(body, "prompt_cache_key", str),
            opt(body, "prompt_cache_retention", str),
        )
        return Request(
            model=model,
            messages=tuple(messages),
            tools=tools,
            tool_choice=tool_choice,
            max_tokens=opt(body, "max_output_tokens", int),
            temperature=opt(body, "temperature", float),
            top_p=opt(body, "top_p", float),
            top_logprobs=opt(body, "top_logprobs", int),
            response_format=response_format,
            reasoning=reasoning,
            cache=PromptCache(key=key, retention=retention) if key or retention else None,
            metadata=metadata,
            user=opt(body, "user", str),
            service_tier=opt(body, "service_tier", str),
            stream=bool(opt(body, "stream", bool)),
            extra=extra or None,
            raw=Raw(self.id, body),
        )

    def _decode_tool(self, t: Any, path: str) -> Tool:
        ttype = expect(t, "type", str, path)
        if ttype != "function":
            name = t.get("name")
            return Tool(
                name if isinstance(name, str) else ttype, kind=ttype, config=t, raw=Raw(self.id, t)
            )
        return Tool(
            name=expect(t, "name", str, path),
            description=opt(t, "description", str, path),
            parameters=opt(t, "parameters", dict, path),
            strict=opt(t, "strict", bool, path),
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
        if expect(tc, "type", str, "$.tool_choice") == "function":
            return ToolChoice("tool", expect(tc, "name", str, "$.tool_choice"), parallel=parallel)
        extra["tool_choice"] = tc  # built-in tool, allowed_tools, mcp, custom
        return ToolChoice("auto", parallel=parallel) if parallel is not None else None

    def _decode_format(self, fmt: Mapping[str, Any], path: str) -> ResponseFormat:
        ftype = expect(fmt, "type", str, path)
        if ftype != "json_schema":
            return ResponseFormat(ftype)
        return ResponseFormat(
            "json_schema",
            schema=opt(fmt, "schema", dict, path),
            name=expect(fmt, "name", str, path),
            strict=opt(fmt, "strict", bool, path),
            description=opt(fmt, "description", str, path),
        )

    # -- items -> messages ---------------------------------------------------------------

    def _decode_items(self, items: Any, path: str, conv: Conversion) -> list[Message]:
        out: list[Message] = []
        group: list[Part] | None = None
        last_message_item = False

        def flush() -> None:
            nonlocal group
            if group is not None:
                out.append(Message(Role.ASSISTANT, tuple(group)))
                group = None

        for _, item, p in iter_list(items, path):
            if not isinstance(item, Mapping):
                raise ProtocolError(f"expected object, got {type_name(item)}", path=p)
            itype = item.get("type")
            if itype is None and "role" in item:
                itype = "message"
            if not isinstance(itype, str):
                itype = expect(item, "type", str, p)
            assistant_message = itype == "message" and expect(item, "role", str, p) == "assistant"
            if assistant_message:
                if group is None or last_message_item:
                    flush()
                    group = []
                group.extend(self._decode_output_item(item, p))
            elif itype == "message":
                flush()
                role = item["role"]
                if role not in ("user", "system", "developer"):
                    raise ProtocolError(f"unknown role {role!r}", path=f"{p}.role")
                if "content" not in item:
                    raise ProtocolError("required field is missing", path=f"{p}.content")
                parts = self._decode_input_content(item["content"], f"{p}.content")
                out.append(Message(Role(role), tuple(parts), raw=Raw(self.id, item)))
            elif itype == "function_call_output":
                flush()
                call_id = expect(item, "call_id", str, p)
                if item.get("output") is None:
                    raise ProtocolError("required field is missing", path=f"{p}.output")
                content = self._decode_input_content(item["output"], f"{p}.output")
                result = ToolResultPart(call_id, tuple(content), raw=Raw(self.id, item))
                out.append(Message(Role.TOOL, (result,), raw=Raw(self.id, item)))
            elif itype.endswith(("_output", "_response")):
                flush()  # results of built-in tools: sent by the client's side
                out.append(Message(Role.USER, (OpaquePart(self.id, itype, item),)))
            else:  # function_call, reasoning and other model-side items
                if group is None:
                    group = []
                group.extend(self._decode_output_item(item, p))
            last_message_item = assistant_message
        flush()
        return out

    def _decode_input_content(self, content: Any, path: str) -> list[Part]:
        if isinstance(content, str):
            return [TextPart(content)]
        if not isinstance(content, list):
            raise ProtocolError(f"expected string or array, got {type_name(content)}", path=path)
        out: list[Part] = []
        for _, part, p in iter_list(content, path):
            ptype = expect(part, "type", str, p)
            raw = Raw(self.id, part)
            if ptype == "input_text":
                out.append(
                    TextPart(
                        expect(part, "text", str, p), cache=decode_cache_hint(part, p), raw=raw
                    )
                )
            elif ptype == "input_image":
                url, file_id = opt(part, "image_url", str, p), opt(part, "file_id", str, p)
                if url is not None:
                    source = MediaSource.from_data_url(url)
                elif file_id is not None:
                    source = MediaSource(file_id=file_id)
                else:
                    raise ProtocolError("input_image needs image_url or file_id", path=p)
                out.append(
                    ImagePart(
                        source,
                        detail=opt(part, "detail", str, p),
                        cache=decode_cache_hint(part, p),
                        raw=raw,
                    )
                )
            elif ptype == "input_file":
                data, file_id, url = (
                    opt(part, k, str, p) for k in ("file_data", "file_id", "file_url")
                )
                if data is not None:
                    source = (
                        MediaSource.from_data_url(data)
                        if data.startswith("data:")
                        else MediaSource(data=data)
                    )
                elif file_id is not None:
                    source = MediaSource(file_id=file_id)
                elif url is not None:
                    source = MediaSource(url=url)
                else:
                    raise ProtocolError("input_file needs file_data, file_id or file_url", path=p)
                out.append(
                    FilePart(
                        source,
                        filename=opt(part, "filename", str, p),
                        cache=decode_cache_hint(part, p),
                        raw=raw,
                    )
                )
            elif ptype == "input_audio":
                ia = expect(part, "input_audio", dict, p)
                out.append(
                    AudioPart(
                        MediaSource(
                            data=expect(ia, "data", str, f"{p}.input_audio"),
                            media_type=audio_media_type(opt(ia, "format", str, f"{p}.input_audio")),
                        ),
                        format=opt(ia, "format", str, f"{p}.input_audio"),
                        raw=raw,
                    )
                )
            else:
                out.append(OpaquePart(self.id, ptype, part))
        return out

    def _decode_output_item(self, item: Mapping[str, Any], path: str) -> list[Part]:
        """One output item (or assistant-side input item) -> its parts."""
        itype = item.get("type", "message")
        if itype == "message":
            meta = {k: v for k, v in item.items() if k != "content"}
            content = item.get("content")
            if isinstance(content, str):
                meta["content"] = ""  # remembers the easy (string) form
                return [TextPart(content, raw=Raw(self.id, {"item": meta, "part": {}}))]
            parts: list[Part] = []
            for _, part, p in iter_list(expect(item, "content", list, path), f"{path}.content"):
                parts.append(self._decode_output_content(part, p, meta))
            return parts
        if itype == "function_call":
            return [
                ToolCallPart(
                    expect(item, "call_id", str, path),
                    expect(item, "name", str, path),
                    expect(item, "arguments", str, path),
                    raw=Raw(self.id, item),
                )
            ]
        if itype == "reasoning":
            summary = []
            for _, s, p in iter_list(opt(item, "summary", list, path) or [], f"{path}.summary"):
                summary.append(expect(s, "text", str, p))
            texts = []
            for _, c, p in iter_list(opt(item, "content", list, path) or [], f"{path}.content"):
                texts.append(expect(c, "text", str, p))
            sealed = unseal(
                opt(item, "encrypted_content", str, path), "".join(texts), tuple(summary)
            )
            if sealed is not None:  # another provider's reasoning coming home
                return [sealed]
            return [
                ReasoningPart(
                    "".join(texts),
                    summary=tuple(summary),
                    encrypted=opt(item, "encrypted_content", str, path),
                    id=opt(item, "id", str, path),
                    raw=Raw(self.id, item),
                )
            ]
        return [OpaquePart(self.id, str(itype), item)]

    def _decode_output_content(self, part: Any, path: str, meta: Mapping[str, Any]) -> Part:
        ptype = expect(part, "type", str, path)
        raw = Raw(self.id, {"item": meta, "part": part})
        if ptype == "output_text":
            annotations = opt(part, "annotations", list, path) or []
            for i, a in enumerate(annotations):
                if not isinstance(a, Mapping):
                    raise ProtocolError(
                        f"expected object, got {type_name(a)}", path=f"{path}.annotations[{i}]"
                    )
            return TextPart(expect(part, "text", str, path), tuple(annotations), raw=raw)
        if ptype == "refusal":
            return RefusalPart(expect(part, "refusal", str, path), raw=raw)
        if ptype == "input_text":  # assistant history sent back as input text
            return TextPart(expect(part, "text", str, path), raw=raw)
        return OpaquePart(self.id, ptype, part, raw=raw)

    # -- encoding requests ---------------------------------------------------------------

    def encode_request(self, request: Request, conv: Conversion) -> WireRequest:
        raw = same(request.raw, self.id)
        body: dict[str, Any] = {"model": request.model}
        messages = list(request.messages)
        start = 0
        if messages and self._is_instructions(messages[0]):
            body["instructions"] = messages[0].content[0].text  # type: ignore[union-attr]
            start = 1
        rest = messages[start:]
        raw_input = raw.get("input") if raw is not None else None
        if (
            isinstance(raw_input, str)
            and len(rest) == 1
            and rest[0].role == Role.USER
            and len(rest[0].content) == 1
            and isinstance(rest[0].content[0], TextPart)
            and rest[0].content[0] == TextPart(rest[0].content[0].text)
            and rest[0].name is None
            and rest[0].cache is None
        ):
            body["input"] = rest[0].content[0].text
        elif rest or raw is None or "input" in raw:
            body["input"] = self._encode_messages(rest, start, conv)
        if request.tools:
            body["tools"] = [
                self._encode_tool(t, f"$.tools[{i}]", conv) for i, t in enumerate(request.tools)
            ]
        tc = request.tool_choice
        if tc is not None:
            if not (tc.mode == "auto" and raw is not None and "tool_choice" not in raw):
                body["tool_choice"] = (
                    {"type": "function", "name": tc.name} if tc.mode == "tool" else tc.mode
                )
            if tc.parallel is not None:
                body["parallel_tool_calls"] = tc.parallel
        if request.max_tokens is not None:
            body["max_output_tokens"] = request.max_tokens
        for key in ("temperature", "top_p", "top_logprobs", "user", "service_tier"):
            value = getattr(request, key)
            if value is not None:
                body[key] = value
        if request.metadata is not None:
            body["metadata"] = dict(request.metadata)
        for key, what in (
            ("top_k", "top_k"),
            ("n", "n"),
            ("seed", "seed"),
            ("presence_penalty", "presence_penalty"),
            ("frequency_penalty", "frequency_penalty"),
            ("logit_bias", "logit_bias"),
            ("logprobs", "logprobs (ask with include=['message.output_text.logprobs'])"),
        ):
            if getattr(request, key) is not None:
                conv.lose(f"$.{key}", f"the Responses API has no {what}")
        if request.stop:
            conv.lose("$.stop", "the Responses API has no stop sequences")
        extra = dict(request.extra or {})
        foreign_extra = request.raw is not None and request.raw.protocol != self.id
        text_extra = extra.pop("text", None) if not foreign_extra else None
        reasoning_extra = extra.pop("reasoning", None) if not foreign_extra else None
        if request.response_format is not None or isinstance(text_extra, Mapping):
            text: dict[str, Any] = dict(text_extra) if isinstance(text_extra, Mapping) else {}
            raw_text = (
                raw.get("text")
                if raw is not None and isinstance(raw.get("text"), Mapping)
                else None
            )
            if request.response_format is not None:
                fmt = self._encode_format(request.response_format, conv)
                if raw_text is not None and isinstance(raw_text.get("format"), Mapping):
                    restore(
                        fmt, raw_text["format"], ("type", "name", "description", "schema", "strict")
                    )
                text["format"] = fmt
            body["text"] = restore(text, raw_text, ("format",))
        r = request.reasoning
        if r is not None or isinstance(reasoning_extra, Mapping):
            reasoning: dict[str, Any] = (
                dict(reasoning_extra) if isinstance(reasoning_extra, Mapping) else {}
            )
            if r is not None:
                if r.effort is not None:
                    reasoning["effort"] = r.effort
                if r.summary is not None:
                    reasoning["summary"] = r.summary
                for key in ("budget_tokens", "include_thoughts", "enabled"):
                    if getattr(r, key) is not None:
                        conv.lose(f"$.reasoning.{key}", f"the Responses API has no reasoning {key}")
            raw_r = (
                raw.get("reasoning")
                if raw is not None and isinstance(raw.get("reasoning"), Mapping)
                else None
            )
            body["reasoning"] = restore(reasoning, raw_r, ("effort", "summary"))
        c = request.cache
        if c is not None:
            if c.key is not None:
                body["prompt_cache_key"] = c.key
            if c.retention is not None:
                body["prompt_cache_retention"] = c.retention
            if c.cached_content is not None:
                conv.lose(
                    "$.cache.cached_content", "the Responses API cannot reference cached content"
                )
        if request.stream:
            body["stream"] = True
        elif raw is not None and "stream" in raw and not raw["stream"]:
            body["stream"] = raw["stream"]  # an explicit false (or null) stays; true never
        if extra:
            if request.raw is not None and foreign_extra:
                for key in extra:
                    conv.lose(
                        f"$.extra.{key}",
                        f"{request.raw.protocol} parameter {key!r} has no Responses equivalent",
                    )
            else:
                for key, value in extra.items():
                    body.setdefault(key, value)
        restore(body, raw, _REQUEST_KEYS)
        return WireRequest("/responses", body, stream=request.stream)

    def _is_instructions(self, m: Message) -> bool:
        if (
            m.role != Role.SYSTEM
            or len(m.content) != 1
            or m.name is not None
            or m.cache is not None
        ):
            return False
        p = m.content[0]
        if not isinstance(p, TextPart) or p != TextPart(p.text):
            return False
        raw = same(m.raw, self.id)
        return raw is None or "instructions" in raw

    def _encode_tool(self, tool: Tool, path: str, conv: Conversion) -> dict[str, Any]:
        raw = same(tool.raw, self.id)
        if tool.cache is not None:
            conv.lose(f"{path}.cache", "the Responses API has no cache breakpoints on tools")
        if tool.kind != "function":
            if raw is not None:
                return dict(raw)
            if tool.raw is None and tool.config is not None:
                return dict(tool.config)
            conv.lose(
                path,
                f"built-in tool {tool.kind!r} of {tool.raw.protocol if tool.raw else 'another protocol'} is not available in the Responses API",
            )
            return {"type": "function", "name": tool.name, "parameters": {"type": "object"}}
        out: dict[str, Any] = {"type": "function", "name": tool.name}
        if tool.description is not None:
            out["description"] = tool.description
        if tool.parameters is not None:
            out["parameters"] = tool.parameters
        if tool.strict is not None:
            out["strict"] = tool.strict
        return restore(out, raw, ("type", "name", "description", "parameters", "strict"))

    def _encode_format(self, rf: ResponseFormat, conv: Conversion) -> dict[str, Any]:
        if rf.type != "json_schema":
            for key in ("schema", "name", "strict", "description"):
                if getattr(rf, key) is not None:
                    conv.lose(f"$.response_format.{key}", f"a {rf.type!r} format carries no {key}")
            return {"type": rf.type}
        out: dict[str, Any] = {"type": "json_schema", "name": rf.name or "response"}
        if rf.description is not None:
            out["description"] = rf.description
        if rf.schema is not None:
            out["schema"] = rf.schema
        if rf.strict is not None:
            out["strict"] = rf.strict
        return out

    def _encode_messages(
        self, messages: list[Message], offset: int, conv: Conversion
    ) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        prev_assistant_ends_with_message: bool | None = None
        for k, m in enumerate(messages):
            path = f"$.messages[{offset + k}]"
            if m.name is not None:
                conv.lose(f"{path}.name", "Responses items carry no name")
            if m.cache is not None:
                conv.lose(f"{path}.cache", "Responses items have no message-level cache breakpoint")
            if m.role == Role.ASSISTANT:
                new = self._assistant_items(m.content, path, conv, output=False)
                if not new:
                    conv.lose(path, "an empty assistant turn has no Responses item")
                if prev_assistant_ends_with_message is not None and new:
                    starts_with_message = new[0].get("type", "message") == "message"
                    if not (prev_assistant_ends_with_message and starts_with_message):
                        conv.lose(
                            path,
                            "merged into the previous assistant turn (Responses items carry no turn boundary)",
                        )
                items.extend(new)
                if new:
                    prev_assistant_ends_with_message = new[-1].get("type", "message") == "message"
                continue
            prev_assistant_ends_with_message = None
            items.extend(self._input_items(m, path, conv))
        return items

    def _input_items(self, m: Message, path: str, conv: Conversion) -> list[dict[str, Any]]:
        """A SYSTEM/DEVELOPER/USER/TOOL message -> function_call_output items (tool
        results first), opaque items, then the message item."""
        raw = same(m.raw, self.id)
        results: list[dict[str, Any]] = []
        content: list[dict[str, Any]] = []
        for j, p in enumerate(m.content):
            pp = f"{path}.content[{j}]"
            if isinstance(p, ToolResultPart):
                results.append(self._tool_output(p, pp, conv))
            elif m.role == Role.TOOL:
                conv.lose(pp, f"a tool message cannot carry {p.type} parts")
            elif (
                isinstance(p, OpaquePart) and p.protocol == self.id and not _is_content_kind(p.kind)
            ):
                results.append(dict(p.data))
            else:
                enc = self._input_part(p, pp, conv, allow_media=m.role == Role.USER)
                if enc is not None:
                    content.append(enc)
        if m.role == Role.TOOL or (not content and results):
            return results
        item: dict[str, Any] = {"type": "message", "role": m.role.value, "content": content}
        raw_content = raw.get("content") if raw is not None else None
        if (
            isinstance(raw_content, str)
            and len(content) == 1
            and content[0].get("type") == "input_text"
            and set(content[0]) == {"type", "text"}
        ):
            item["content"] = content[0]["text"]
        drop_absent(item, raw, {"type": "message"})
        return [*results, restore(item, raw, ("type", "role", "content"))]

    def _input_part(
        self, p: Part, path: str, conv: Conversion, *, allow_media: bool
    ) -> dict[str, Any] | None:
        raw = _part_obj(p.raw, self.id)
        out: dict[str, Any]
        if isinstance(p, TextPart):
            out = {"type": "input_text", "text": p.text}
            if p.citations:
                conv.lose(f"{path}.citations", "input text carries no citations")
            encode_cache_hint(out, p.cache)
            owned: tuple[str, ...] = ("type", "text", "prompt_cache_breakpoint")
        elif isinstance(p, ImagePart) and allow_media:
            out = {"type": "input_image"}
            if p.source.file_id is not None:
                out["file_id"] = p.source.file_id
                if p.source.media_type is not None:
                    conv.lose(f"{path}.source.media_type", "a file id carries no media type")
            else:
                out["image_url"] = p.source.as_url()
                if p.source.url is not None and p.source.media_type is not None:
                    conv.lose(f"{path}.source.media_type", "an image URL carries no media type")
            if p.detail is not None:
                out["detail"] = p.detail
            encode_cache_hint(out, p.cache)
            owned = ("type", "image_url", "file_id", "detail", "prompt_cache_breakpoint")
        elif isinstance(p, FilePart) and allow_media:
            out = {"type": "input_file"}
            src = p.source
            if src.file_id is not None:
                out["file_id"] = src.file_id
            elif src.data is not None:
                out["file_data"] = src.as_url() if src.media_type else src.data
            else:
                out["file_url"] = src.url
            if (src.file_id is not None or src.url is not None) and src.media_type is not None:
                conv.lose(f"{path}.source.media_type", "a file reference carries no media type")
            if p.filename is not None:
                out["filename"] = p.filename
            for key in ("title", "context", "citations"):
                if getattr(p, key) is not None:
                    conv.lose(f"{path}.{key}", f"input files have no {key}")
            encode_cache_hint(out, p.cache)
            owned = (
                "type",
                "file_data",
                "file_id",
                "file_url",
                "filename",
                "prompt_cache_breakpoint",
            )
        elif isinstance(p, AudioPart) and allow_media:
            if p.source.data is None:
                conv.lose(path, "input audio must be inline data")
                return None
            fmt = p.format or audio_format(p.source.media_type)
            if fmt is None:
                conv.lose(f"{path}.format", "input audio needs a format (wav, mp3)")
                fmt = "wav"
            for key in ("transcript", "id"):
                if getattr(p, key) is not None:
                    conv.lose(f"{path}.{key}", f"input audio has no {key}")
            if p.source.media_type not in (None, audio_media_type(fmt)):
                conv.lose(f"{path}.source.media_type", f"sent as the audio format {fmt!r} only")
            ia: dict[str, Any] = {"data": p.source.data, "format": fmt}
            if raw is not None and isinstance(raw.get("input_audio"), Mapping):
                restore(ia, raw["input_audio"], ("data", "format"))
            out = {"type": "input_audio", "input_audio": ia}
            owned = ("type", "input_audio")
        elif isinstance(p, OpaquePart) and p.protocol == self.id:
            return dict(p.data)
        else:
            conv.lose(path, f"{p.type} parts cannot be sent here in the Responses API")
            return None
        return restore(out, raw, owned)

    def _tool_output(self, p: ToolResultPart, path: str, conv: Conversion) -> dict[str, Any]:
        raw = same(p.raw, self.id)
        parts = []
        for k, c in enumerate(p.content):
            enc = self._input_part(c, f"{path}.content[{k}]", conv, allow_media=True)
            if enc is not None:
                parts.append(enc)
        raw_list = raw is not None and isinstance(raw.get("output"), list)
        output: Any = parts
        if not raw_list:
            if not parts:
                output = ""
            elif (
                len(parts) == 1
                and parts[0].get("type") == "input_text"
                and set(parts[0]) == {"type", "text"}
            ):
                output = parts[0]["text"]
        if p.is_error:
            conv.lose(f"{path}.is_error", "function call outputs have no error flag")
        if p.name is not None:
            conv.lose(f"{path}.name", "function call outputs carry no tool name")
        if p.cache is not None:
            conv.lose(f"{path}.cache", "function call outputs have no cache breakpoint")
        out = {"type": "function_call_output", "call_id": p.tool_call_id, "output": output}
        return restore(out, raw, ("type", "call_id", "output"))

    # -- assistant-side items (input history and response output) ------------------------

    def _assistant_items(
        self, parts: tuple[Part, ...], path: str, conv: Conversion, *, output: bool
    ) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        run: list[tuple[int, Part]] = []

        def flush() -> None:
            if run:
                items.append(self._message_item(run, path, conv, output=output))
                run.clear()

        for j, p in enumerate(parts):
            pp = f"{path}.content[{j}]"
            if isinstance(p, (TextPart, RefusalPart)) or (
                isinstance(p, OpaquePart) and p.protocol == self.id and _is_content_kind(p.kind)
            ):
                if run and _item_meta(run[-1][1].raw, self.id) is not _item_meta(p.raw, self.id):
                    flush()
                run.append((j, p))
                continue
            flush()
            if isinstance(p, ToolCallPart):
                items.append(self._call_item(p, pp, conv, output=output))
            elif isinstance(p, ReasoningPart):
                item = self._reasoning_item(p, pp, conv, output=output)
                if item is not None:
                    items.append(item)
            elif isinstance(p, OpaquePart) and p.protocol == self.id:
                items.append(dict(p.data))
            else:
                conv.lose(pp, f"{p.type} parts have no Responses output item")
        flush()
        return items

    def _message_item(
        self, run: list[tuple[int, Part]], path: str, conv: Conversion, *, output: bool
    ) -> dict[str, Any]:
        meta = _item_meta(run[0][1].raw, self.id)
        content: list[dict[str, Any]] = []
        for j, p in run:
            pp = f"{path}.content[{j}]"
            raw = _part_obj(p.raw, self.id)
            if isinstance(p, TextPart):
                annotations = []
                for k, c in enumerate(p.citations):
                    if c.get("type") in _ANNOTATION_TYPES:
                        annotations.append(c)
                    else:
                        conv.lose(
                            f"{pp}.citations[{k}]",
                            f"citation type {c.get('type')!r} is no Responses annotation",
                        )
                if p.cache is not None:
                    conv.lose(f"{pp}.cache", "output text has no cache breakpoint")
                part = {"type": "output_text", "text": p.text, "annotations": annotations}
                content.append(restore(part, raw, ("type", "text", "annotations")))
            elif isinstance(p, RefusalPart):
                content.append(
                    restore({"type": "refusal", "refusal": p.text}, raw, ("type", "refusal"))
                )
            else:
                assert isinstance(p, OpaquePart)
                content.append(dict(p.data))
        if meta is None:
            item: dict[str, Any] = {"type": "message", "role": "assistant", "content": content}
            if output:
                item = {
                    "id": gen_id("msg_"),
                    "type": "message",
                    "status": "completed",
                    "role": "assistant",
                    "content": content,
                }
            return item
        item = {"type": "message", "role": "assistant", "content": content}
        if (
            isinstance(meta.get("content"), str)
            and len(content) == 1
            and content[0].get("type") == "output_text"
            and not content[0]["annotations"]
        ):
            item["content"] = content[0]["text"]
        drop_absent(item, meta, {"type": "message"})
        return restore(item, meta, ("type", "role", "content"))

    def _call_item(
        self, p: ToolCallPart, path: str, conv: Conversion, *, output: bool
    ) -> dict[str, Any]:
        raw = same(p.raw, self.id)
        if p.cache is not None:
            conv.lose(f"{path}.cache", "function calls have no cache breakpoint")
        item: dict[str, Any] = {
            "type": "function_call",
            "call_id": p.id,
            "name": p.name,
            "arguments": p.arguments,
        }
        if raw is None and output:
            item = {"id": gen_id("fc_"), "type": "function_call", "status": "completed", **item}
            item["type"] = "function_call"
        return restore(item, raw, ("type", "call_id", "name", "arguments"))

    def _reasoning_item(
        self, p: ReasoningPart, path: str, conv: Conversion, *, output: bool
    ) -> dict[str, Any] | None:
        raw = same(p.raw, self.id)
        if p.id is None and raw is None and not output:
            conv.lose(
                path, "reasoning without an OpenAI item id cannot be sent back to the Responses API"
            )
            return None
        if output and raw is None and foreign(p):
            # a Responses client echoes encrypted_content: the origin's signature rides in it
            item = {
                "id": p.id or gen_id("rs_"),
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": s} for s in p.summary],
                "encrypted_content": seal(p),
            }
            if p.text:
                item["content"] = [{"type": "reasoning_text", "text": p.text}]
            return item
        if p.signature is not None:
            conv.lose(f"{path}.signature", "Responses reasoning carries no signature")
        if p.redacted:
            conv.lose(f"{path}.redacted", "Responses reasoning cannot be marked redacted")
        if p.id is None and raw is None:
            conv.lose(f"{path}.id", "Responses reasoning items need an id; one was made up")
        item: dict[str, Any] = {
            "id": p.id if p.id is not None else gen_id("rs_"),
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": s} for s in p.summary],
        }
        if p.encrypted is not None:
            item["encrypted_content"] = p.encrypted
        if p.text:
            raw_content = raw.get("content") if raw is not None else None
            joined = (
                "".join(c.get("text", "") for c in raw_content if isinstance(c, Mapping))
                if isinstance(raw_content, list)
                else None
            )
            item["content"] = (
                raw_content if joined == p.text else [{"type": "reasoning_text", "text": p.text}]
            )
        if raw is not None and p.id is None:
            del item["id"]
        return restore(item, raw, ("id", "type", "summary", "encrypted_content", "content"))

    # =====================================================================================
    # responses
    # =====================================================================================

    def decode_response(self, body: Any, conv: Conversion) -> Response:
        if not isinstance(body, Mapping):
            raise ProtocolError(f"expected object, got {type_name(body)}", path="$")
        content: list[Part] = []
        for _, item, p in iter_list(expect(body, "output", list), "$.output"):
            if not isinstance(item, Mapping):
                raise ProtocolError(f"expected object, got {type_name(item)}", path=p)
            expect(item, "type", str, p)
            content.extend(self._decode_output_item(item, p))
        has_calls = any(isinstance(p, ToolCallPart) for p in content)
        stop, stop_raw = _stop_of(
            opt(body, "status", str), opt(body, "incomplete_details", dict), has_calls
        )
        usage = body.get("usage")
        return Response(
            id=opt(body, "id", str),
            model=opt(body, "model", str),
            choices=(Choice(tuple(content), stop, stop_raw),),
            usage=decode_usage(usage, "$.usage", **_USAGE_KEYS) if usage is not None else None,
            created=timestamp(body, "created_at"),
            service_tier=opt(body, "service_tier", str),
            raw=Raw(self.id, body),
        )

    def encode_response(
        self, response: Response, conv: Conversion, *, request: Any = None
    ) -> dict[str, Any]:
        raw = same(response.raw, self.id)
        for i in range(1, len(response.choices)):
            conv.lose(f"$.choices[{i}]", "a Responses response has a single output")
        choice = response.choices[0] if response.choices else Choice()
        output = self._assistant_items(choice.content, "$.choices[0]", conv, output=True)
        out: dict[str, Any] = {
            "id": response.id if response.id is not None else gen_id("resp_"),
            "object": "response",
            "created_at": same_value(raw, "created_at", response.created)
            if response.created is not None
            else now(),
            "model": response.model or "",
            "output": output,
        }
        out.update(self._status(choice.stop_reason, choice.stop_raw, choice.content, raw, conv))
        raw_usage = (
            raw.get("usage") if raw is not None and isinstance(raw.get("usage"), Mapping) else None
        )
        out["usage"] = (
            encode_usage(
                response.usage,
                raw_usage,
                always_cache_write=raw is None,
                lose=conv.lose,
                **_USAGE_KEYS,
            )
            if response.usage is not None
            else None
        )
        if response.service_tier is not None:
            out["service_tier"] = response.service_tier
        if raw is None:
            out.update({"parallel_tool_calls": True, "tool_choice": "auto", "tools": []})
        drop_absent(
            out, raw, {"usage": None, "error": None, "incomplete_details": None, "status": None}
        )
        return restore(out, raw, _RESPONSE_OWNED)

    def _status(
        self,
        stop: StopReason | None,
        stop_raw: str | None,
        content: tuple[Part, ...],
        raw: Mapping[str, Any] | None,
        conv: Conversion,
    ) -> dict[str, Any]:
        """status / incomplete_details / error for a canonical stop reason; the original
        object's when it says the same thing."""
        has_calls = any(isinstance(p, ToolCallPart) for p in content)
        if raw is not None:
            status, incomplete = raw.get("status"), raw.get("incomplete_details")
            if (
                _stop_of(status if isinstance(status, str) else None, incomplete, has_calls)[0]
                == stop
            ):
                return {
                    "status": status,
                    "incomplete_details": incomplete,
                    "error": raw.get("error"),
                }
        out: dict[str, Any] = {"status": "completed", "incomplete_details": None, "error": None}
        if stop in _INCOMPLETE_OUT:
            out["status"] = "incomplete"
            out["incomplete_details"] = {"reason": _INCOMPLETE_OUT[stop]}
        elif stop == StopReason.ERROR:
            out["status"] = "failed"
            out["error"] = {"code": "server_error", "message": stop_raw or "the response failed"}
        elif stop is None:
            pass
        elif stop not in (StopReason.END_TURN, StopReason.TOOL_CALLS) or (
            (stop == StopReason.TOOL_CALLS) != has_calls
        ):
            conv.lose(
                "$.choices[0].stop_reason",
                f"stop reason {stop.value!r} reads back as how the output ends",
            )
        return out

    # =====================================================================================
    # streams, errors, usage
    # =====================================================================================

    def stream_decoder(self, conv: Conversion) -> _ResponsesStreamDecoder:
        return _ResponsesStreamDecoder(self, conv)

    def stream_encoder(self, conv: Conversion, request: Any = None) -> _ResponsesStreamEncoder:
        return _ResponsesStreamEncoder(self, conv, request)

    def usage_of(self, body: Any) -> Usage | None:
        if isinstance(body, Mapping) and isinstance(body.get("usage"), Mapping):
            try:
                return decode_usage(body["usage"], "$.usage", **_USAGE_KEYS)
            except ProtocolError:
                return None
        return None

    def usage_of_event(self, event: SSEEvent) -> Usage | None:
        if '"usage"' not in event.data:
            return None
        try:
            data = loads_event(event.data)
        except ProtocolError:
            return None
        if isinstance(data, Mapping) and isinstance(data.get("response"), Mapping):
            return self.usage_of(data["response"])
        return None


# =========================================================================================
# stream decoding
# =========================================================================================


class _ResponsesStreamDecoder:
    """Typed Responses events -> canonical stream events. Part indexes are assigned as
    items (and message content parts) open; ``output_item.done`` / ``content_part.done``
    carry the authoritative final part."""

    _IGNORED = frozenset(
        {
            "response.in_progress",
            "response.queued",
            "response.output_text.done",
            "response.refusal.done",
            "response.function_call_arguments.done",
            "response.reasoning_summary_part.done",
            "response.reasoning_summary_text.done",
            "response.reasoning_text.done",
        }
    )

    def __init__(self, codec: OpenAIResponses, conv: Conversion) -> None:
        self.codec = codec
        self.lose = LossOnce(conv)
        self.next_index = 0
        self.items: dict[int, int] = {}  # output_index -> part index (non-message items)
        self.kinds: dict[int, str] = {}  # output_index -> item type
        self.item_ids: set[str] = set()
        self.metas: dict[int, dict[str, Any]] = {}  # output_index -> message item meta
        self.content: dict[tuple[int, int], int] = {}  # (output_index, content_index) -> part index
        self.ended: set[int] = set()
        self.has_calls = False
        self.started = False
        self.finished = False
        self.errored = False

    def _new(self, part: Part) -> tuple[int, PartStart]:
        index = self.next_index
        self.next_index += 1
        return index, PartStart(index, part)

    def feed(self, event: SSEEvent) -> list[StreamEvent]:
        data = event.data.strip()
        if not data or data == "[DONE]":
            return []
        ev = loads_event(data)
        if not isinstance(ev, Mapping):
            raise ProtocolError(f"expected object, got {type_name(ev)}", path="$")
        etype = ev.get("type", event.event)
        if not isinstance(etype, str):
            raise ProtocolError("required field is missing", path="$.type")
        handler = getattr(self, "_on_" + etype.replace(".", "_"), None)
        if handler is not None:
            return handler(ev)  # type: ignore[no-any-return]
        if etype in self._IGNORED:
            return []
        oi = ev.get("output_index")
        if isinstance(oi, int) and self.kinds.get(oi) not in (
            None,
            "message",
            "function_call",
            "reasoning",
        ):
            return []  # progress of an opaque item; its final form arrives with output_item.done
        self.lose(f"$[type={etype}]", f"stream event {etype!r} has no canonical meaning")
        return []

    # lifecycle -------------------------------------------------------------------------

    def _on_response_created(self, ev: Mapping[str, Any]) -> list[StreamEvent]:
        resp = expect(ev, "response", dict)
        self.started = True
        usage = resp.get("usage")
        return [
            ResponseStart(
                id=opt(resp, "id", str, "$.response"),
                model=opt(resp, "model", str, "$.response"),
                created=timestamp(resp, "created_at", "$.response"),
                usage=decode_usage(usage, "$.response.usage", **_USAGE_KEYS)
                if usage is not None
                else None,
                service_tier=opt(resp, "service_tier", str, "$.response"),
                raw=Raw(self.codec.id, resp),
            )
        ]

    def _finish(self, ev: Mapping[str, Any]) -> list[StreamEvent]:
        resp = expect(ev, "response", dict)
        out: list[StreamEvent] = []
        # items the stream never showed (or never finished): take them from the final object
        for pos, item, p in iter_list(resp.get("output") or [], "$.response.output"):
            if not isinstance(item, Mapping):
                raise ProtocolError(f"expected object, got {type_name(item)}", path=p)
            item_id = item.get("id")
            seen = item_id in self.item_ids if isinstance(item_id, str) else pos < len(self.kinds)
            if not seen:
                self.kinds[max(self.kinds, default=-1) + 1] = str(item.get("type"))
                for part in self.codec._decode_output_item(item, p):
                    index, start = self._new(part)
                    out += [start, PartEnd(index)]
                    self.ended.add(index)
                    self.has_calls |= isinstance(part, ToolCallPart)
        out.extend(PartEnd(i) for i in range(self.next_index) if i not in self.ended)
        self.ended.update(range(self.next_index))
        usage = resp.get("usage")
        stop, stop_raw = _stop_of(
            opt(resp, "status", str, "$.response"), resp.get("incomplete_details"), self.has_calls
        )
        self.finished = True
        out.append(
            ResponseEnd(
                stop,
                stop_raw,
                decode_usage(usage, "$.response.usage", **_USAGE_KEYS) if usage else None,
            )
        )
        return out

    _on_response_completed = _finish
    _on_response_incomplete = _finish

    def _on_response_failed(self, ev: Mapping[str, Any]) -> list[StreamEvent]:
        out = self._finish(ev)
        if not self.errored:
            self.errored = True
            resp = ev.get("response")
            err = resp.get("error") if isinstance(resp, Mapping) else None
            out.append(stream_error(err, "the response failed"))
        return out

    def _on_error(self, ev: Mapping[str, Any]) -> list[StreamEvent]:
        self.errored = True
        err = ev.get("error")
        if not isinstance(err, Mapping):  # the documented flat form: {type: error, code, message}
            err = {k: v for k, v in ev.items() if k != "type"}
        return [stream_error(err)]

    # items -----------------------------------------------------------------------------

    def _on_response_output_item_added(self, ev: Mapping[str, Any]) -> list[StreamEvent]:
        oi = expect(ev, "output_index", int)
        item = expect(ev, "item", dict)
        itype = expect(item, "type", str, "$.item")
        self.kinds[oi] = itype
        if isinstance(item.get("id"), str):
            self.item_ids.add(item["id"])
        if itype == "message":
            self.metas[oi] = {k: v for k, v in item.items() if k != "content"}
            out: list[StreamEvent] = []
            for ci, content, p in iter_list(item.get("content") or [], "$.item.content"):
                out.extend(self._content_start(oi, ci, content, p))
            return out
        if itype == "function_call":
            self.has_calls = True
            part: Part = ToolCallPart(
                expect(item, "call_id", str, "$.item"),
                expect(item, "name", str, "$.item"),
                opt(item, "arguments", str, "$.item") or "",
                raw=Raw(self.codec.id, item),
            )
        elif itype == "reasoning":
            part = self.codec._decode_output_item(item, "$.item")[0]
        else:
            part = OpaquePart(self.codec.id, itype, item)
        index, start = self._new(part)
        self.items[oi] = index
        return [start]

    def _on_response_output_item_done(self, ev: Mapping[str, Any]) -> list[StreamEvent]:
        oi = expect(ev, "output_index", int)
        item = expect(ev, "item", dict)
        itype = expect(item, "type", str, "$.item")
        out: list[StreamEvent] = []
        if oi not in self.kinds:
            out.extend(self._on_response_output_item_added(ev))
        if itype == "message":
            meta = self.metas.setdefault(oi, {})
            meta.clear()
            meta.update({k: v for k, v in item.items() if k != "content"})
            for ci, part, p in iter_list(item.get("content") or [], "$.item.content"):
                if (oi, ci) not in self.content:
                    out.extend(self._content_start(oi, ci, part, p))
                index = self.content[(oi, ci)]
                if index not in self.ended:
                    self.ended.add(index)
                    out.append(PartEnd(index, self.codec._decode_output_content(part, p, meta)))
            return out
        index = self.items[oi]
        if index not in self.ended:
            self.ended.add(index)
            final = self.codec._decode_output_item(item, "$.item")
            out.append(PartEnd(index, final[0] if final else None))
        return out

    def _content_start(self, oi: int, ci: int, part: Any, path: str) -> list[StreamEvent]:
        meta = self.metas.setdefault(oi, {})
        first = self.codec._decode_output_content(part, path, meta)
        index, start = self._new(first)
        self.content[(oi, ci)] = index
        return [start]

    def _on_response_content_part_added(self, ev: Mapping[str, Any]) -> list[StreamEvent]:
        oi, ci = expect(ev, "output_index", int), expect(ev, "content_index", int)
        part = expect(ev, "part", dict)
        if self.kinds.get(oi) != "message":
            return []  # reasoning_text parts of a reasoning item: deltas follow
        if (oi, ci) in self.content:
            return []
        return self._content_start(oi, ci, part, "$.part")

    def _on_response_content_part_done(self, ev: Mapping[str, Any]) -> list[StreamEvent]:
        oi, ci = expect(ev, "output_index", int), expect(ev, "content_index", int)
        part = expect(ev, "part", dict)
        index = self.content.get((oi, ci))
        if index is None or index in self.ended:
            return []
        self.ended.add(index)
        return [
            PartEnd(
                index, self.codec._decode_output_content(part, "$.part", self.metas.get(oi, {}))
            )
        ]

    def _text(self, ev: Mapping[str, Any]) -> list[StreamEvent]:
        oi, ci = expect(ev, "output_index", int), expect(ev, "content_index", int)
        delta = expect(ev, "delta", str)
        index = self.content.get((oi, ci))
        if index is None:
            raise ProtocolError(
                f"delta for content part {ci} of output {oi} that was never added", path="$"
            )
        if ev.get("logprobs"):
            self.lose("$.logprobs", "streamed logprobs have no canonical stream event")
        return [TextDelta(index, delta)] if delta else []

    _on_response_output_text_delta = _text
    _on_response_refusal_delta = _text

    def _on_response_output_text_annotation_added(self, ev: Mapping[str, Any]) -> list[StreamEvent]:
        oi, ci = expect(ev, "output_index", int), expect(ev, "content_index", int)
        index = self.content.get((oi, ci))
        annotation = expect(ev, "annotation", dict)
        return [CitationDelta(index, annotation)] if index is not None else []

    def _item_index(self, ev: Mapping[str, Any]) -> int:
        oi = expect(ev, "output_index", int)
        index = self.items.get(oi)
        if index is None:
            raise ProtocolError(
                f"event for output {oi} that was never added", path="$.output_index"
            )
        return index

    def _on_response_function_call_arguments_delta(
        self, ev: Mapping[str, Any]
    ) -> list[StreamEvent]:
        delta = expect(ev, "delta", str)
        return [ArgumentsDelta(self._item_index(ev), delta)] if delta else []

    def _on_response_reasoning_summary_part_added(self, ev: Mapping[str, Any]) -> list[StreamEvent]:
        return [SummaryDelta(self._item_index(ev), "", expect(ev, "summary_index", int))]

    def _on_response_reasoning_summary_text_delta(self, ev: Mapping[str, Any]) -> list[StreamEvent]:
        delta = expect(ev, "delta", str)
        return [SummaryDelta(self._item_index(ev), delta, expect(ev, "summary_index", int))]

    def _on_response_reasoning_text_delta(self, ev: Mapping[str, Any]) -> list[StreamEvent]:
        delta = expect(ev, "delta", str)
        return [ReasoningDelta(self._item_index(ev), delta)] if delta else []

    def close(self) -> list[StreamEvent]:
        if self.finished or self.errored:
            return []
        raise ProtocolError("stream ended before response.completed", path="$")


# =========================================================================================
# stream encoding
# =========================================================================================


class _Item:
    """An output item being streamed: its final dict grows as events go out."""

    __slots__ = (
        "oi",
        "item",
        "kind",
        "meta",
        "text",
        "summary",
        "reasoning",
        "encrypted",
        "done",
        "empty_args",
        "origin",
        "signature",
    )

    def __init__(self, oi: int, item: dict[str, Any], kind: str, meta: Any = None) -> None:
        self.oi = oi
        self.item = item
        self.kind = kind
        self.meta = meta
        self.text: list[str] = []  # function call arguments
        self.summary: list[list[str]] = []
        self.reasoning: list[str] = []
        self.encrypted: list[str] | None = None
        self.origin: ReasoningPart | None = None  # another provider's reasoning, to seal
        self.signature: list[str] = []
        self.done = False
        self.empty_args = False  # a call whose arguments are "{}" unless fragments follow


class _Content:
    __slots__ = ("item", "ci", "kind", "text", "annotations", "raw")

    def __init__(self, item: _Item, ci: int, kind: str, raw: Mapping[str, Any] | None) -> None:
        self.item = item
        self.ci = ci
        self.kind = kind  # output_text | refusal
        self.text: list[str] = []
        self.annotations: list[Any] = []
        self.raw = raw


class _ResponsesStreamEncoder:
    """Canonical stream events -> Responses SSE events (``event:`` name equal to
    ``type``, increasing ``sequence_number``), in the grammar the official SDK's
    ``responses.stream()`` accumulator replays: created, in_progress, per item
    added/deltas/done, then completed / incomplete / failed with the whole response."""

    def __init__(self, codec: OpenAIResponses, conv: Conversion, request: Any) -> None:
        self.codec = codec
        self.conv = conv
        self.lose = LossOnce(conv)
        self.seq = 0
        self.base: dict[str, Any] = {}
        if isinstance(request, Request):
            body = codec.encode_request(request, Conversion()).body
            self.base = {
                k: body.get(k) for k in _ECHO if k in body or k in ("instructions", "metadata")
            }
            self.base.setdefault("tools", [])
            self.base.setdefault("tool_choice", "auto")
            self.base.setdefault("parallel_tool_calls", True)
        self.id = gen_id("resp_")
        self.created = now()
        self.model = request.model if isinstance(request, Request) else ""
        self.service_tier: str | None = None
        self.items: list[_Item] = []
        self.open_message: _Item | None = None
        self.parts: dict[int, _Item | _Content | None] = {}
        self.stop: StopReason | None = None
        self.stop_raw: str | None = None
        self.usage: Usage | None = None
        self.has_calls = False
        self.started = False
        self.closed = False
        self.error: StreamError | None = None

    # -- plumbing ------------------------------------------------------------------------

    def _ev(self, etype: str, **fields: Any) -> SSEEvent:
        obj = {"type": etype, "sequence_number": self.seq, **fields}
        self.seq += 1
        return SSEEvent(dumps(obj), event=etype)

    def _response(self, status: str, *, final: bool) -> dict[str, Any]:
        resp: dict[str, Any] = {
            "id": self.id,
            "object": "response",
            "created_at": self.created,
            "status": status,
            "model": self.model,
            "output": [it.item for it in self.items] if final else [],
            "usage": None,
            "error": None,
            "incomplete_details": None,
        }
        if not self.base:
            resp.update({"parallel_tool_calls": True, "tool_choice": "auto", "tools": []})
        for key, value in self.base.items():
            if key not in resp:
                resp[key] = value
        if self.service_tier is not None:
            resp["service_tier"] = self.service_tier
        if final and self.usage is not None:
            raw_usage = (
                self.base.get("usage") if isinstance(self.base.get("usage"), Mapping) else None
            )
            resp["usage"] = encode_usage(
                self.usage, raw_usage, always_cache_write=True, lose=self.lose, **_USAGE_KEYS
            )
        return resp

    def _start(self) -> list[SSEEvent]:
        if self.started:
            return []
        self.started = True
        return [
            self._ev("response.created", response=self._response("in_progress", final=False)),
            self._ev("response.in_progress", response=self._response("in_progress", final=False)),
        ]

    def _add_item(
        self, item: dict[str, Any], kind: str, meta: Any = None
    ) -> tuple[_Item, SSEEvent]:
        it = _Item(len(self.items), item, kind, meta)
        self.items.append(it)
        return it, self._ev("response.output_item.added", output_index=it.oi, item=dict(item))

    def _close_message(self) -> list[SSEEvent]:
        it = self.open_message
        if it is None:
            return []
        self.open_message = None
        out: list[SSEEvent] = []
        for key, c in list(self.parts.items()):
            if isinstance(c, _Content) and c.item is it:
                out.extend(self._end_content(c, None))
                self.parts[key] = None
        it.item["status"] = (
            "completed" if it.item.get("status") in (None, "in_progress") else it.item["status"]
        )
        it.done = True
        out.append(self._ev("response.output_item.done", output_index=it.oi, item=it.item))
        return out

    # -- events --------------------------------------------------------------------------

    def feed(self, event: StreamEvent) -> list[SSEEvent]:
        if self.closed:
            return []
        cls = type(event)
        out: list[SSEEvent] = []
        if cls is ResponseStart:
            assert isinstance(event, ResponseStart)
            raw = same(event.raw, self.codec.id)
            if raw is not None:
                self.base.update(
                    {k: v for k, v in raw.items() if k not in _RESPONSE_OWNED or k == "usage"}
                )
            if event.id is not None:
                self.id = event.id
            if event.created is not None:
                self.created = event.created
            if event.model is not None:
                self.model = event.model
            self.service_tier = event.service_tier
            self.usage = merge_usage(self.usage, event.usage)
            return self._start()
        out.extend(self._start())
        if cls is TextDelta:
            assert isinstance(event, TextDelta)
            c = self.parts.get(event.index)
            if isinstance(c, _Content):
                out.extend(self._content_delta(c, event.text))
            elif c is None and event.index not in self.parts:
                raise ProtocolError(f"delta for part {event.index} that was never started")
        elif cls is ArgumentsDelta:
            assert isinstance(event, ArgumentsDelta)
            it = self.parts.get(event.index)
            if isinstance(it, _Item) and it.kind == "function_call" and event.fragment:
                it.text.append(event.fragment)
                out.append(
                    self._ev(
                        "response.function_call_arguments.delta",
                        item_id=it.item["id"],
                        output_index=it.oi,
                        delta=event.fragment,
                    )
                )
        elif cls is ReasoningDelta:
            assert isinstance(event, ReasoningDelta)
            it = self.parts.get(event.index)
            if isinstance(it, _Item) and it.kind == "reasoning":
                out.extend(self._reasoning_delta(it, event.text))
        elif cls is SummaryDelta:
            assert isinstance(event, SummaryDelta)
            it = self.parts.get(event.index)
            if isinstance(it, _Item) and it.kind == "reasoning":
                out.extend(self._summary_delta(it, event.summary_index, event.text))
        elif cls is SignatureDelta:
            assert isinstance(event, SignatureDelta)
            it = self.parts.get(event.index)
            if isinstance(it, _Item) and it.kind == "reasoning" and event.encrypted:
                it.encrypted = (it.encrypted or []) + [event.signature]
            elif isinstance(it, _Item) and it.kind == "reasoning" and it.origin is not None:
                it.signature.append(event.signature)
            else:
                self.lose(
                    f"$.parts[{event.index}].signature", "Responses reasoning carries no signature"
                )
        elif cls is CitationDelta:
            assert isinstance(event, CitationDelta)
            c = self.parts.get(event.index)
            if isinstance(c, _Content) and event.citation.get("type") in _ANNOTATION_TYPES:
                c.annotations.append(event.citation)
                out.append(
                    self._ev(
                        "response.output_text.annotation.added",
                        item_id=c.item.item["id"],
                        output_index=c.item.oi,
                        content_index=c.ci,
                        annotation_index=len(c.annotations) - 1,
                        annotation=event.citation,
                    )
                )
            else:
                self.lose(
                    f"$.parts[{event.index}].citations", "citation is no Responses annotation"
                )
        elif cls is PartStart:
            assert isinstance(event, PartStart)
            out.extend(self._part_start(event))
        elif cls is PartEnd:
            assert isinstance(event, PartEnd)
            out.extend(self._part_end(event))
        elif cls is UsageUpdate:
            assert isinstance(event, UsageUpdate)
            self.usage = merge_usage(self.usage, event.usage)
        elif cls is ResponseEnd:
            assert isinstance(event, ResponseEnd)
            if event.choice != 0:
                self.lose(f"$.choices[{event.choice}]", "a Responses response has a single output")
            else:
                self.stop, self.stop_raw = event.stop_reason, event.stop_raw
            self.usage = merge_usage(self.usage, event.usage)
            out.extend(self._close_message())
        elif cls is StreamError:
            assert isinstance(event, StreamError)
            out.extend(self._close_message())
            if (
                event.status is not None
                and stream_error({"code": event.kind}).status != event.status
            ):
                self.lose(
                    "$.status",
                    f"an error event says no status; {event.kind!r} reads back as another",
                )
            out.append(self._ev("error", code=event.kind, message=event.message, param=None))
            self.error = event
            out.extend(self._terminal())
        return out

    def _part_start(self, event: PartStart) -> list[SSEEvent]:
        p = event.part
        path = f"$.parts[{event.index}]"
        if event.choice != 0:
            self.lose(path, "a Responses response has a single output")
            self.parts[event.index] = None
            return []
        out: list[SSEEvent] = []
        if isinstance(p, (TextPart, RefusalPart)):
            meta = _item_meta(p.raw, self.codec.id)
            if (
                self.open_message is not None
                and meta is not None
                and self.open_message.meta is not meta
            ):
                out.extend(self._close_message())
            if self.open_message is None:
                item: dict[str, Any] = {
                    "id": gen_id("msg_"),
                    "type": "message",
                    "status": "in_progress",
                    "content": [],
                    "role": "assistant",
                }
                if meta is not None:
                    item.update({k: v for k, v in meta.items() if k not in ("content", "status")})
                    item["status"] = "in_progress"
                it, ev = self._add_item(item, "message", meta)
                out.append(ev)
                self.open_message = it
            it = self.open_message
            kind = "output_text" if isinstance(p, TextPart) else "refusal"
            c = _Content(it, len(it.item["content"]), kind, _part_obj(p.raw, self.codec.id))
            self.parts[event.index] = c
            part: dict[str, Any] = (
                {"type": "output_text", "annotations": [], "text": ""}
                if kind == "output_text"
                else {"type": "refusal", "refusal": ""}
            )
            if c.raw is not None and kind == "output_text" and "logprobs" in c.raw:
                part["logprobs"] = []
            it.item["content"].append(part)
            out.append(
                self._ev(
                    "response.content_part.added",
                    item_id=it.item["id"],
                    output_index=it.oi,
                    content_index=c.ci,
                    part=dict(part),
                )
            )
            if isinstance(p, TextPart):
                if p.cache is not None:
                    self.lose(f"{path}.cache", "output text has no cache breakpoint")
                for cit in p.citations:
                    out.extend(self.feed(CitationDelta(event.index, cit)))
            if p.text:
                out.extend(self._content_delta(c, p.text))
            return out
        out.extend(self._close_message())
        if isinstance(p, ToolCallPart):
            self.has_calls = True
            raw = same(p.raw, self.codec.id)
            item = {
                "id": gen_id("fc_"),
                "type": "function_call",
                "status": "in_progress",
                "arguments": "",
                "call_id": p.id,
                "name": p.name,
            }
            if raw is not None:
                item.update(
                    {
                        k: v
                        for k, v in raw.items()
                        if k not in ("arguments", "call_id", "name", "status")
                    }
                )
            it, ev = self._add_item(item, "function_call")
            out.append(ev)
            self.parts[event.index] = it
            if p.arguments and p.arguments != "{}":
                out.extend(self.feed(ArgumentsDelta(event.index, p.arguments)))
            elif p.arguments == "{}":
                it.empty_args = True
        elif isinstance(p, ReasoningPart):
            if p.id is None:
                self.lose(f"{path}.id", "Responses reasoning items need an id; one was made up")
            item = {"id": p.id or gen_id("rs_"), "type": "reasoning", "summary": []}
            if p.encrypted is not None:
                item["encrypted_content"] = p.encrypted
            it, ev = self._add_item(item, "reasoning", same(p.raw, self.codec.id))
            out.append(ev)
            self.parts[event.index] = it
            origin = p.raw.protocol if p.raw is not None else None
            if origin is None or not origin.startswith("openai."):
                it.origin = p  # sealed into encrypted_content when done, if it is signed
            if p.encrypted is not None:
                it.encrypted = [p.encrypted]
            for k, s in enumerate(p.summary):
                out.extend(self._summary_delta(it, k, s))
            if p.text:
                out.extend(self._reasoning_delta(it, p.text))
            if p.signature is not None and it.origin is None:
                self.lose(f"{path}.signature", "Responses reasoning carries no signature")
        elif (
            isinstance(p, OpaquePart)
            and p.protocol == self.codec.id
            and not _is_content_kind(p.kind)
        ):
            it, ev = self._add_item(dict(p.data), "opaque")
            out.append(ev)
            self.parts[event.index] = it
        else:
            self.lose(path, f"{p.type} parts have no Responses output item")
            self.parts[event.index] = None
        return out

    def _content_delta(self, c: _Content, text: str) -> list[SSEEvent]:
        if not text:
            return []
        c.text.append(text)
        if c.kind == "output_text":
            return [
                self._ev(
                    "response.output_text.delta",
                    item_id=c.item.item["id"],
                    output_index=c.item.oi,
                    content_index=c.ci,
                    delta=text,
                    logprobs=[],
                )
            ]
        return [
            self._ev(
                "response.refusal.delta",
                item_id=c.item.item["id"],
                output_index=c.item.oi,
                content_index=c.ci,
                delta=text,
            )
        ]

    def _summary_delta(self, it: _Item, k: int, text: str) -> list[SSEEvent]:
        out: list[SSEEvent] = []
        while len(it.summary) <= k:
            it.summary.append([])
            out.append(
                self._ev(
                    "response.reasoning_summary_part.added",
                    item_id=it.item["id"],
                    output_index=it.oi,
                    summary_index=len(it.summary) - 1,
                    part={"type": "summary_text", "text": ""},
                )
            )
        if text:
            it.summary[k].append(text)
            out.append(
                self._ev(
                    "response.reasoning_summary_text.delta",
                    item_id=it.item["id"],
                    output_index=it.oi,
                    summary_index=k,
                    delta=text,
                )
            )
        return out

    def _reasoning_delta(self, it: _Item, text: str) -> list[SSEEvent]:
        out: list[SSEEvent] = []
        if not it.reasoning:
            out.append(
                self._ev(
                    "response.content_part.added",
                    item_id=it.item["id"],
                    output_index=it.oi,
                    content_index=0,
                    part={"type": "reasoning_text", "text": ""},
                )
            )
        if text:
            it.reasoning.append(text)
            out.append(
                self._ev(
                    "response.reasoning_text.delta",
                    item_id=it.item["id"],
                    output_index=it.oi,
                    content_index=0,
                    delta=text,
                )
            )
        return out

    def _end_content(self, c: _Content, final: Part | None) -> list[SSEEvent]:
        it = c.item
        text = "".join(c.text)
        if isinstance(final, (TextPart, RefusalPart)):
            text = final.text
            if isinstance(final, TextPart):
                c.annotations = [a for a in final.citations if a.get("type") in _ANNOTATION_TYPES]
        part: dict[str, Any]
        if c.kind == "output_text":
            part = {"type": "output_text", "annotations": c.annotations, "text": text}
            if c.raw is not None:
                restore(part, c.raw, ("type", "annotations", "text"))
            out = [
                self._ev(
                    "response.output_text.done",
                    item_id=it.item["id"],
                    output_index=it.oi,
                    content_index=c.ci,
                    text=text,
                    logprobs=[],
                )
            ]
        else:
            part = {"type": "refusal", "refusal": text}
            out = [
                self._ev(
                    "response.refusal.done",
                    item_id=it.item["id"],
                    output_index=it.oi,
                    content_index=c.ci,
                    refusal=text,
                )
            ]
        it.item["content"][c.ci] = part
        out.append(
            self._ev(
                "response.content_part.done",
                item_id=it.item["id"],
                output_index=it.oi,
                content_index=c.ci,
                part=part,
            )
        )
        return out

    def _part_end(self, event: PartEnd) -> list[SSEEvent]:
        target = self.parts.get(event.index)
        if target is None:
            return []
        if isinstance(target, _Content):
            self.parts[event.index] = None
            return self._end_content(target, event.part)
        it = target
        if it.done:
            return []
        it.done = True
        self.parts[event.index] = None
        final = event.part
        out: list[SSEEvent] = []
        if it.kind == "function_call":
            args = "".join(it.text) or ("{}" if it.empty_args else "")
            if isinstance(final, ToolCallPart):
                args = final.arguments
            it.item["arguments"] = args
            it.item["status"] = "completed"
            out.append(
                self._ev(
                    "response.function_call_arguments.done",
                    item_id=it.item["id"],
                    output_index=it.oi,
                    arguments=args,
                )
            )
        elif it.kind == "reasoning":
            summary = ["".join(s) for s in it.summary]
            text = "".join(it.reasoning)
            encrypted = "".join(it.encrypted) if it.encrypted is not None else None
            if isinstance(final, ReasoningPart):
                summary, text, encrypted = list(final.summary), final.text, final.encrypted
            if it.origin is not None:
                signature = "".join(it.signature) or it.origin.signature
                if isinstance(final, ReasoningPart) and final.signature is not None:
                    signature = final.signature
                base = final if isinstance(final, ReasoningPart) else it.origin
                sealed = ReasoningPart(
                    text, tuple(summary), signature, encrypted, base.redacted, raw=it.origin.raw
                )
                if foreign(sealed):
                    encrypted = seal(sealed)
            for k, s in enumerate(summary):
                if k >= len(it.summary):
                    out.extend(self._summary_delta(it, k, ""))
                out.append(
                    self._ev(
                        "response.reasoning_summary_text.done",
                        item_id=it.item["id"],
                        output_index=it.oi,
                        summary_index=k,
                        text=s,
                    )
                )
                out.append(
                    self._ev(
                        "response.reasoning_summary_part.done",
                        item_id=it.item["id"],
                        output_index=it.oi,
                        summary_index=k,
                        part={"type": "summary_text", "text": s},
                    )
                )
            it.item["summary"] = [{"type": "summary_text", "text": s} for s in summary]
            if encrypted is not None:
                it.item["encrypted_content"] = encrypted
            if text:
                if not it.reasoning:
                    out.extend(self._reasoning_delta(it, ""))
                out.append(
                    self._ev(
                        "response.reasoning_text.done",
                        item_id=it.item["id"],
                        output_index=it.oi,
                        content_index=0,
                        text=text,
                    )
                )
                it.item["content"] = [{"type": "reasoning_text", "text": text}]
            if it.meta is not None and isinstance(final, ReasoningPart):
                rebuilt = self.codec._reasoning_item(final, "$", Conversion(), output=True)
                if rebuilt is not None:
                    it.item = {**rebuilt, "id": it.item["id"]}
                    self.items[it.oi] = it
        elif it.kind == "opaque" and isinstance(final, OpaquePart):
            it.item = dict(final.data)
        out.append(self._ev("response.output_item.done", output_index=it.oi, item=it.item))
        return out

    def _terminal(self) -> list[SSEEvent]:
        self.closed = True
        out = self._close_message()
        for it in self.items:
            if not it.done:
                it.done = True
                out.append(self._ev("response.output_item.done", output_index=it.oi, item=it.item))
        content = tuple(ToolCallPart("", "") for _ in range(int(self.has_calls)))
        if self.error is not None:
            resp = self._response("failed", final=True)
            resp["error"] = {
                "code": self.error.kind or "server_error",
                "message": self.error.message,
            }
            out.append(self._ev("response.failed", response=resp))
            return out
        status = self.codec._status(self.stop, self.stop_raw, content, None, self.conv)
        resp = self._response(status["status"], final=True)
        resp.update(status)
        name = {"completed": "response.completed", "incomplete": "response.incomplete"}.get(
            status["status"], "response.failed"
        )
        out.append(self._ev(name, response=resp))
        return out

    def close(self) -> list[SSEEvent]:
        if self.closed:
            return []
        return self._start() + self._terminal()
