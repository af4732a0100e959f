"""Block-level translation shared by the anthropic codecs.

Anthropic's Messages grammar (content blocks, tools, usage, stop reasons) is the same in
``/v1/messages`` and ``/v1/messages/count_tokens``, so both codecs build on these
functions. Decoders read untrusted JSON with exact paths (``$.messages[2].content[0]``);
encoders report losses at canonical paths. Parts, messages and tools decoded here keep
``raw=Raw("anthropic.messages", block)`` so a same-protocol encoder restores the fields
the canonical model does not describe (``caller``, ``defer_loading``, ``citations: null``).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from typing import Any, Collection, Mapping, Sequence

import attrs
from omniwire.errors import ProtocolError
from omniwire.model import (
    AudioPart,
    CacheHint,
    FilePart,
    ImagePart,
    MediaSource,
    Message,
    OpaquePart,
    Part,
    Raw,
    ReasoningPart,
    RefusalPart,
    Role,
    StopReason,
    TextPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    Usage,
)
from omniwire.report import Conversion
from omniwire.wire import expect, opt, type_name

__all__ = [
    "ANTHROPIC_VERSION",
    "PROTOCOL",
    "PROTOCOLS",
    "decode_block",
    "decode_content",
    "decode_message",
    "decode_system",
    "decode_tool",
    "decode_tool_choice",
    "decode_usage",
    "dumps",
    "encode_conversation",
    "encode_part",
    "encode_tool",
    "encode_tool_choice",
    "encode_usage",
    "new_message_id",
    "raw_data",
    "restore",
    "stop_from_wire",
    "stop_to_wire",
]

PROTOCOL = "anthropic.messages"
"""The protocol named in the ``Raw`` and ``OpaquePart`` of decoded blocks by default."""

PROTOCOLS = ("anthropic.messages", "anthropic.count_tokens")
"""Both codecs speak the same block grammar: raw objects and opaque blocks from either
are restored by both."""

ANTHROPIC_VERSION = "2023-06-01"
"""The ``anthropic-version`` header sent when the canonical request names none."""

_SERVER_TOOL_KIND = re.compile(r"^[a-z][a-z0-9_]*_\d{8}$")
"""Anthropic's built-in tool types are versioned by date (``web_search_20250305``)."""


# -- small helpers ------------------------------------------------------------------------


def new_message_id() -> str:
    """An id for a message the canonical response did not name (Anthropic requires one)."""
    return "msg_" + uuid.uuid4().hex[:24]


def dumps(value: Any) -> str:
    """Compact JSON text, the form every codec uses for tool arguments."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def raw_data(raw: Raw | None, protocols: Collection[str] = PROTOCOLS) -> Mapping[str, Any] | None:
    """The raw object when it came from one of ``protocols``, else None."""
    if raw is None or raw.protocol not in protocols or not isinstance(raw.data, Mapping):
        return None
    return raw.data


def neutral(value: Any) -> bool:
    """A value that means "nothing" on the wire (null, false, empty string/array/object)."""
    return value is None or value is False or (isinstance(value, (str, list, dict)) and not value)


def deep_neutral(value: Any) -> bool:
    """Neutral, or an object/array made only of neutral values."""
    if isinstance(value, Mapping):
        return all(deep_neutral(v) for v in value.values())
    if isinstance(value, list):
        return all(deep_neutral(v) for v in value)
    return neutral(value)


def restore(
    out: dict[str, Any],
    source: Mapping[str, Any] | None,
    modeled: Collection[str],
    *,
    drop_if_absent: Collection[str] = (),
) -> dict[str, Any]:
    """Complete ``out`` (the canonical encoding) from the original wire object.

    Keys the canonical model does not describe come back as they were. A modeled key the
    encoder left out comes back only with a neutral value (``"citations": null``,
    ``"is_error": false``): those decode to the same canonical value, so restoring them
    can never contradict the canonical content. Keys in ``drop_if_absent`` that the
    encoder wrote with a neutral value are removed when the original did not have them.
    The result follows the original's key order.
    """
    if source is None:
        return out
    for key, value in source.items():
        if key not in out and (key not in modeled or neutral(value)):
            out[key] = value
    for key in drop_if_absent:
        if key in out and key not in source and neutral(out[key]):
            del out[key]
    ordered = {k: out[k] for k in source if k in out}
    ordered.update((k, v) for k, v in out.items() if k not in ordered)
    return ordered


def _cache(block: Mapping[str, Any], path: str) -> CacheHint | None:
    cc = opt(block, "cache_control", dict, path)
    if cc is None:
        return None
    return CacheHint(opt(cc, "ttl", str, f"{path}.cache_control"))


def _cache_control(hint: CacheHint) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "ephemeral"}
    if hint.ttl is not None:
        out["ttl"] = hint.ttl
    return out


def _b64_text(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _text_of_b64(data: str) -> str | None:
    try:
        return base64.b64decode(data.encode("ascii"), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        return None


# -- decoding: blocks ---------------------------------------------------------------------


def _decode_source(src: Any, path: str, *, document: bool, conv: Conversion) -> MediaSource | None:
    """A wire ``source`` -> MediaSource; None for a source type the model cannot hold."""
    if not isinstance(src, Mapping):
        raise ProtocolError(f"expected object, got {type_name(src)}", path=path)
    kind = expect(src, "type", str, path)
    if kind == "base64":
        return MediaSource(
            data=expect(src, "data", str, path), media_type=opt(src, "media_type", str, path)
        )
    if kind == "url":
        return MediaSource(url=expect(src, "url", str, path))
    if kind == "file":
        return MediaSource(file_id=expect(src, "file_id", str, path))
    if document and kind == "text":
        text = expect(src, "data", str, path)
        return MediaSource(
            data=_b64_text(text), media_type=opt(src, "media_type", str, path) or "text/plain"
        )
    if document and kind == "content":
        content = src.get("content")
        if isinstance(content, str):
            return MediaSource(data=_b64_text(content), media_type="text/plain")
        if not isinstance(content, list):
            raise ProtocolError(
                f"expected string or array, got {type_name(content)}", path=f"{path}.content"
            )
        texts: list[str] = []
        for i, block in enumerate(content):
            bpath = f"{path}.content[{i}]"
            if isinstance(block, Mapping) and block.get("type") == "text":
                texts.append(expect(block, "text", str, bpath))
            else:
                conv.lose(bpath, "only the text of a custom-content document has a canonical form")
        return MediaSource(data=_b64_text("".join(texts)), media_type="text/plain")
    return None


def decode_block(block: Any, path: str, conv: Conversion, protocol: str = PROTOCOL) -> Part:
    """One content block -> one canonical part (unknown blocks become OpaquePart)."""
    if not isinstance(block, Mapping):
        raise ProtocolError(f"expected object, got {type_name(block)}", path=path)
    kind = expect(block, "type", str, path)
    raw = Raw(protocol, block)
    if kind == "text":
        citations = opt(block, "citations", list, path)
        return TextPart(
            expect(block, "text", str, path),
            citations=tuple(citations or ()),
            cache=_cache(block, path),
            raw=raw,
        )
    if kind == "thinking":
        return ReasoningPart(
            text=expect(block, "thinking", str, path),
            signature=opt(block, "signature", str, path) or None,
            raw=raw,
        )
    if kind == "redacted_thinking":
        return ReasoningPart(redacted=True, encrypted=expect(block, "data", str, path), raw=raw)
    if kind == "tool_use":
        return ToolCallPart(
            expect(block, "id", str, path),
            expect(block, "name", str, path),
            dumps(expect(block, "input", dict, path)),
            cache=_cache(block, path),
            raw=raw,
        )
    if kind == "tool_result":
        return ToolResultPart(
            expect(block, "tool_use_id", str, path),
            decode_content(
                block.get("content"), f"{path}.content", conv, optional=True, protocol=protocol
            ),
            is_error=bool(opt(block, "is_error", bool, path)),
            cache=_cache(block, path),
            raw=raw,
        )
    if kind == "image":
        source = _decode_source(
            expect(block, "source", dict, path), f"{path}.source", document=False, conv=conv
        )
        if source is not None:
            return ImagePart(source, cache=_cache(block, path), raw=raw)
    elif kind == "document":
        source = _decode_source(
            expect(block, "source", dict, path), f"{path}.source", document=True, conv=conv
        )
        if source is not None:
            cites = opt(block, "citations", dict, path)
            return FilePart(
                source,
                title=opt(block, "title", str, path),
                context=opt(block, "context", str, path),
                citations=None
                if cites is None
                else opt(cites, "enabled", bool, f"{path}.citations"),
                cache=_cache(block, path),
                raw=raw,
            )
    return OpaquePart(protocol, kind, block, raw=raw)


def decode_content(
    content: Any,
    path: str,
    conv: Conversion,
    *,
    optional: bool = False,
    protocol: str = PROTOCOL,
) -> tuple[Part, ...]:
    """``content`` as a string (one TextPart) or an array of blocks."""
    if content is None and optional:
        return ()
    if isinstance(content, str):
        return (TextPart(content),)
    if not isinstance(content, list):
        raise ProtocolError(f"expected string or array, got {type_name(content)}", path=path)
    return tuple(decode_block(b, f"{path}[{i}]", conv, protocol) for i, b in enumerate(content))


_ROLES = {"user": Role.USER, "assistant": Role.ASSISTANT, "system": Role.SYSTEM}


def decode_message(message: Any, path: str, conv: Conversion, protocol: str = PROTOCOL) -> Message:
    if not isinstance(message, Mapping):
        raise ProtocolError(f"expected object, got {type_name(message)}", path=path)
    role = expect(message, "role", str, path)
    if role not in _ROLES:
        raise ProtocolError(
            f"expected one of user, assistant, system, got {role!r}", path=f"{path}.role"
        )
    if "content" not in message:
        raise ProtocolError("required field is missing", path=f"{path}.content")
    parts = decode_content(message["content"], f"{path}.content", conv, protocol=protocol)
    return Message(_ROLES[role], parts, raw=Raw(protocol, message))


def decode_system(
    system: Any, path: str, conv: Conversion, protocol: str = PROTOCOL
) -> list[Message]:
    """``system`` (a string or text blocks) -> one leading SYSTEM message, one part per
    block; an empty array gives no message."""
    if system is None:
        return []
    if isinstance(system, str):
        return [Message(Role.SYSTEM, (TextPart(system),))]
    if not isinstance(system, list):
        raise ProtocolError(f"expected string or array, got {type_name(system)}", path=path)
    if not system:
        return []
    return [Message(Role.SYSTEM, decode_content(system, path, conv, protocol=protocol))]


def decode_tool(tool: Any, path: str, protocol: str = PROTOCOL) -> Tool:
    """A custom tool -> Tool(kind="function"); a built-in tool -> Tool(kind=<type>,
    config=<the whole definition but cache_control>)."""
    if not isinstance(tool, Mapping):
        raise ProtocolError(f"expected object, got {type_name(tool)}", path=path)
    kind = opt(tool, "type", str, path)
    name = expect(tool, "name", str, path)
    cache = _cache(tool, path)
    raw = Raw(protocol, tool)
    if kind is None or kind == "custom":
        return Tool(
            name,
            description=opt(tool, "description", str, path),
            parameters=expect(tool, "input_schema", dict, path),
            strict=opt(tool, "strict", bool, path),
            cache=cache,
            raw=raw,
        )
    config = {k: v for k, v in tool.items() if k != "cache_control"}
    return Tool(name, kind=kind, config=config, cache=cache, raw=raw)


def decode_tool_choice(choice: Any, path: str) -> ToolChoice:
    if not isinstance(choice, Mapping):
        raise ProtocolError(f"expected object, got {type_name(choice)}", path=path)
    kind = expect(choice, "type", str, path)
    disable = opt(choice, "disable_parallel_tool_use", bool, path)
    parallel = None if disable is None else not disable
    if kind == "auto":
        return ToolChoice("auto", parallel=parallel)
    if kind == "any":
        return ToolChoice("required", parallel=parallel)
    if kind == "none":
        return ToolChoice("none", parallel=parallel)
    if kind == "tool":
        return ToolChoice("tool", expect(choice, "name", str, path), parallel=parallel)
    raise ProtocolError(f"expected one of auto, any, tool, none, got {kind!r}", path=f"{path}.type")


# -- usage and stop reasons ---------------------------------------------------------------

TTL_DETAILS = {
    "ephemeral_5m_input_tokens": "cache_write_5m_tokens",
    "ephemeral_1h_input_tokens": "cache_write_1h_tokens",
}
"""``usage.cache_creation`` keys -> ``Usage.details`` keys (the cache-write TTL split)."""


def decode_usage(usage: Mapping[str, Any], path: str) -> Usage:
    """Anthropic counts cache reads and writes apart from ``input_tokens``; the canonical
    ``input_tokens`` is their sum. ``details`` keeps the cache-write TTL split
    (``cache_write_5m_tokens``, ``cache_write_1h_tokens``) and server tool request counts
    (``web_search_requests``, ``web_fetch_requests``)."""
    inp = opt(usage, "input_tokens", int, path) or 0
    out = opt(usage, "output_tokens", int, path) or 0
    read = opt(usage, "cache_read_input_tokens", int, path) or 0
    write = opt(usage, "cache_creation_input_tokens", int, path) or 0
    details: dict[str, int] = {}
    creation = opt(usage, "cache_creation", dict, path)
    if creation is not None:
        for wire_key, key in TTL_DETAILS.items():
            value = opt(creation, wire_key, int, f"{path}.cache_creation")
            if value is not None:
                details[key] = value
    reasoning = 0
    out_details = opt(usage, "output_tokens_details", dict, path)
    if out_details is not None:
        reasoning = opt(out_details, "thinking_tokens", int, f"{path}.output_tokens_details") or 0
    server = opt(usage, "server_tool_use", dict, path)
    if server is not None:
        for key, value in server.items():
            if isinstance(value, int) and not isinstance(value, bool):
                details[key] = value
    return Usage(inp + read + write, out, read, write, reasoning, details or None)


def encode_usage(
    usage: Usage | None,
    conv: Conversion,
    path: str,
    *,
    service_tier: str | None = None,
    source: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Canonical usage -> Anthropic's arithmetic. ``source`` is the original wire usage
    (same protocol): its extra keys and its choice of optional keys come back."""
    u = usage or Usage()
    read, write = u.cache_read_tokens, u.cache_write_tokens
    inp = u.input_tokens - read - write
    if inp < 0:
        conv.lose(f"{path}.input_tokens", "input_tokens is smaller than cache reads plus writes")
        inp = 0
    out: dict[str, Any] = {
        "input_tokens": inp,
        "cache_creation_input_tokens": write,
        "cache_read_input_tokens": read,
    }
    details = dict(u.details or {})
    ttl = {wire: details.pop(key) for wire, key in TTL_DETAILS.items() if key in details}
    if ttl:
        out["cache_creation"] = {wire: ttl.get(wire, 0) for wire in TTL_DETAILS}
    out["output_tokens"] = u.output_tokens
    if u.reasoning_tokens:
        out["output_tokens_details"] = {"thinking_tokens": u.reasoning_tokens}
    server = {k: details.pop(k) for k in list(details) if k.endswith("_requests")}
    if server:
        out["server_tool_use"] = server
    for key in details:
        conv.lose(f"{path}.details.{key}", "Anthropic usage has no field for this count")
    if service_tier is not None:
        out["service_tier"] = service_tier
    if source is None:
        return out
    for key in ("output_tokens_details", "server_tool_use", "cache_creation"):
        original = source.get(key)
        if not isinstance(original, Mapping):
            continue
        if key in out:
            out[key] = restore(dict(out[key]), original, out[key].keys())
        elif all(v == 0 or neutral(v) for v in original.values()):
            out[key] = original  # decodes to nothing, like our omission
    modeled = {
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
        "cache_creation",
        "output_tokens_details",
        "server_tool_use",
        "service_tier",
    }
    out = restore(out, source, modeled)
    for key in ("cache_creation_input_tokens", "cache_read_input_tokens"):
        if key not in source and out.get(key) == 0:
            del out[key]
    return out


_STOPS = {
    "end_turn": StopReason.END_TURN,
    "max_tokens": StopReason.MAX_TOKENS,
    "stop_sequence": StopReason.STOP_SEQUENCE,
    "tool_use": StopReason.TOOL_CALLS,
    "pause_turn": StopReason.PAUSE_TURN,
    "refusal": StopReason.REFUSAL,
    "model_context_window_exceeded": StopReason.MAX_TOKENS,
}
_STOP_WORDS = {
    StopReason.END_TURN: "end_turn",
    StopReason.MAX_TOKENS: "max_tokens",
    StopReason.STOP_SEQUENCE: "stop_sequence",
    StopReason.TOOL_CALLS: "tool_use",
    StopReason.PAUSE_TURN: "pause_turn",
    StopReason.REFUSAL: "refusal",
}


def stop_from_wire(word: str | None) -> StopReason | None:
    if word is None:
        return None
    return _STOPS.get(word, StopReason.OTHER)


def stop_to_wire(
    reason: StopReason | None, raw_word: str | None, conv: Conversion, path: str
) -> str | None:
    """The provider's own word when it is Anthropic's and still means ``reason``."""
    if raw_word in _STOPS and _STOPS[raw_word] is reason:
        return raw_word
    if reason is None:
        return None
    word = _STOP_WORDS.get(reason)
    if word is not None:
        return word
    if reason is StopReason.CONTENT_FILTER:
        conv.lose(path, "Anthropic reports a content filter stop as refusal")
        return "refusal"
    conv.lose(path, f"Anthropic has no stop reason for {reason.value}; sent end_turn")
    return "end_turn"


# -- encoding: parts ----------------------------------------------------------------------

_TEXT_KEYS = frozenset({"type", "text", "citations", "cache_control"})
_IMAGE_KEYS = frozenset({"type", "source", "cache_control"})
_DOC_KEYS = frozenset({"type", "source", "title", "context", "citations", "cache_control"})
_TOOL_USE_KEYS = frozenset({"type", "id", "name", "input", "cache_control"})
_TOOL_RESULT_KEYS = frozenset({"type", "tool_use_id", "content", "is_error", "cache_control"})
_THINKING_KEYS = frozenset({"type", "thinking", "signature"})
_REDACTED_KEYS = frozenset({"type", "data"})


def plain_text(part: Part) -> bool:
    """A TextPart that a bare JSON string can carry."""
    return isinstance(part, TextPart) and not part.citations and part.cache is None


def _encode_source(
    source: MediaSource,
    path: str,
    conv: Conversion,
    *,
    document: bool,
    original: Any = None,
) -> dict[str, Any]:
    if isinstance(original, Mapping):
        try:
            same = _decode_source(original, path, document=document, conv=Conversion()) == source
        except ProtocolError:
            same = False
        if same:
            return dict(original)  # exact: custom-content documents, unknown source keys
    if source.file_id is not None:
        if source.media_type is not None:
            conv.lose(f"{path}.media_type", "Anthropic file sources carry no media type")
        return {"type": "file", "file_id": source.file_id}
    if source.url is not None:
        if source.media_type is not None:
            conv.lose(f"{path}.media_type", "Anthropic URL sources carry no media type")
        return {"type": "url", "url": source.url}
    assert source.data is not None
    if document and source.media_type == "text/plain":
        text = _text_of_b64(source.data)
        if text is not None:
            return {"type": "text", "media_type": "text/plain", "data": text}
    out: dict[str, Any] = {"type": "base64"}
    if source.media_type is not None:
        out["media_type"] = source.media_type
    out["data"] = source.data
    return out


def _arguments(part: ToolCallPart, path: str) -> dict[str, Any]:
    try:
        value = part.input
    except ValueError:
        raise ProtocolError("tool arguments are not valid JSON", path=f"{path}.arguments") from None
    if not isinstance(value, dict):
        raise ProtocolError(
            f"tool arguments must be a JSON object, got {type_name(value)}",
            path=f"{path}.arguments",
        )
    return value


def encode_part(
    part: Part, path: str, conv: Conversion, *, request: bool = True
) -> dict[str, Any] | None:
    """One canonical part -> one content block, or None (with a loss) when Anthropic cannot
    carry it. ``request`` is False when encoding a response (thinking without a signature
    is then still a valid block)."""
    source = raw_data(part.raw)
    if isinstance(part, TextPart):
        out: dict[str, Any] = {"type": "text", "text": part.text}
        if part.citations:
            out["citations"] = [dict(c) for c in part.citations]
        if part.cache is not None:
            out["cache_control"] = _cache_control(part.cache)
        return restore(out, source, _TEXT_KEYS)
    if isinstance(part, ToolCallPart):
        out = {
            "type": "tool_use",
            "id": part.id,
            "name": part.name,
            "input": _arguments(part, path),
        }
        if part.cache is not None:
            out["cache_control"] = _cache_control(part.cache)
        return restore(out, source, _TOOL_USE_KEYS)
    if isinstance(part, ToolResultPart):
        return _encode_tool_result(part, path, conv, source)
    if isinstance(part, ReasoningPart):
        return _encode_reasoning(part, path, conv, source, request=request)
    if isinstance(part, ImagePart):
        original = source.get("source") if source else None
        out = {
            "type": "image",
            "source": _encode_source(
                part.source, f"{path}.source", conv, document=False, original=original
            ),
        }
        if part.detail is not None:
            conv.lose(f"{path}.detail", "Anthropic images have no detail setting")
        if part.cache is not None:
            out["cache_control"] = _cache_control(part.cache)
        return restore(out, source, _IMAGE_KEYS)
    if isinstance(part, FilePart):
        original = source.get("source") if source else None
        out = {
            "type": "document",
            "source": _encode_source(
                part.source, f"{path}.source", conv, document=True, original=original
            ),
        }
        if part.title is not None:
            out["title"] = part.title
        if part.context is not None:
            out["context"] = part.context
        if part.citations is not None:
            out["citations"] = {"enabled": part.citations}
        if part.filename is not None:
            conv.lose(f"{path}.filename", "Anthropic documents have no file name (see title)")
        if part.cache is not None:
            out["cache_control"] = _cache_control(part.cache)
        return restore(out, source, _DOC_KEYS)
    if isinstance(part, OpaquePart):
        if part.protocol in PROTOCOLS:
            return dict(part.data)
        conv.lose(path, f"{part.protocol} block {part.kind!r} has no Anthropic form")
        return None
    if isinstance(part, RefusalPart):
        conv.lose(path, "Anthropic has no refusal block; sent as text")
        return {"type": "text", "text": part.text}
    if isinstance(part, AudioPart):
        conv.lose(path, "Anthropic does not accept audio content")
        return None
    raise ProtocolError(f"not a content part: {type(part).__name__}", path=path)


def _encode_tool_result(
    part: ToolResultPart, path: str, conv: Conversion, source: Mapping[str, Any] | None
) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "tool_result", "tool_use_id": part.tool_call_id}
    content = part.content
    original = source.get("content") if source else None
    if len(content) == 1 and plain_text(content[0]) and not isinstance(original, list):
        out["content"] = content[0].text  # type: ignore[union-attr]
    elif content or isinstance(original, list):
        blocks = [encode_part(p, f"{path}.content[{i}]", conv) for i, p in enumerate(content)]
        out["content"] = [b for b in blocks if b is not None]
    if part.is_error:
        out["is_error"] = True
    if part.name is not None:
        conv.lose(f"{path}.name", "Anthropic tool results carry no tool name")
    if part.cache is not None:
        out["cache_control"] = _cache_control(part.cache)
    return restore(out, source, _TOOL_RESULT_KEYS)


def _encode_reasoning(
    part: ReasoningPart,
    path: str,
    conv: Conversion,
    source: Mapping[str, Any] | None,
    *,
    request: bool,
) -> dict[str, Any] | None:
    if part.summary:
        conv.lose(f"{path}.summary", "Anthropic thinking has no summaries")
    if part.id is not None:
        conv.lose(f"{path}.id", "Anthropic thinking blocks have no id")
    if part.redacted:
        if part.text:
            conv.lose(f"{path}.text", "redacted thinking carries no visible text")
        if part.signature is not None:
            conv.lose(f"{path}.signature", "redacted thinking carries no signature")
        if part.encrypted is None:
            conv.lose(path, "redacted thinking without its data cannot be sent")
            return None
        return restore(
            {"type": "redacted_thinking", "data": part.encrypted}, source, _REDACTED_KEYS
        )
    if part.encrypted is not None:
        conv.lose(f"{path}.encrypted", "Anthropic thinking has no slot for an encrypted payload")
    if request and source is None:  # an Anthropic block as it came is sent as it came
        if part.raw is not None and part.signature is not None:
            conv.lose(path, f"a {part.raw.protocol} signature is not valid for Anthropic")
            return None
        if part.signature is None:
            conv.lose(path, "Anthropic rejects thinking blocks without a signature")
            return None
    out = {"type": "thinking", "thinking": part.text, "signature": part.signature or ""}
    return restore(out, source, _THINKING_KEYS)


def _encode_indexed(
    parts: Sequence[tuple[int, Part]], path: str, conv: Conversion
) -> list[tuple[int, dict[str, Any]]]:
    """Blocks for ``(canonical index, part)`` pairs, keeping the index of each block."""
    out = []
    for i, part in parts:
        block = encode_part(part, f"{path}[{i}]", conv)
        if block is not None:
            out.append((i, block))
    return out


_CACHEABLE = frozenset({"text", "image", "document", "tool_use", "tool_result", "search_result"})


def _apply_message_cache(
    blocks: list[tuple[int, dict[str, Any]]], message: Message, path: str, conv: Conversion
) -> None:
    """Anthropic caches blocks: a message-level hint goes on the message's last block
    when that block takes one (reported twice: the message loses it, the block gains it)."""
    if message.cache is None:
        return
    conv.lose(f"{path}.cache", "Anthropic caches blocks, not messages")
    if blocks:
        i, block = blocks[-1]
        if block.get("type") in _CACHEABLE and "cache_control" not in block:
            block["cache_control"] = _cache_control(message.cache)
            conv.lose(f"{path}.content[{i}]", "carries the message's cache hint")


def _system_texts(message: Message, path: str, conv: Conversion) -> list[tuple[int, TextPart]]:
    kept: list[tuple[int, TextPart]] = []
    for i, p in enumerate(message.content):
        if isinstance(p, TextPart):
            kept.append((i, p))
        else:
            conv.lose(f"{path}.content[{i}]", "Anthropic system prompts hold text only")
    return kept


def _from_messages_array(message: Message) -> bool:
    data = raw_data(message.raw)
    return data is not None and data.get("role") == "system"


def encode_conversation(
    messages: Sequence[Message], conv: Conversion, *, original_system: Any = None
) -> tuple[str | list[dict[str, Any]] | None, list[dict[str, Any]]]:
    """Canonical messages -> (``system``, ``messages``).

    Leading SYSTEM/DEVELOPER messages become ``system`` (a string when it is one plain
    text, or when the original request used a string; else text blocks). Later ones become
    ``role: system`` messages. TOOL messages merge into the following user turn (or form
    their own user turn), tool results first.
    """
    system_parts: list[tuple[str, Part]] = []
    start = 0
    while start < len(messages):
        message = messages[start]
        if message.role not in (Role.SYSTEM, Role.DEVELOPER) or _from_messages_array(message):
            break
        path = f"$.messages[{start}]"
        if message.role is Role.DEVELOPER:
            conv.lose(f"{path}.role", "Anthropic has no developer role; sent as system")
        if message.name is not None:
            conv.lose(f"{path}.name", "Anthropic messages have no name")
        texts = _system_texts(message, path, conv)
        if not message.content:
            conv.lose(path, "an empty system message has no Anthropic form")
        if start == 1:  # the list loses a message: every later index shifts
            conv.lose("$.messages", "Anthropic has one system prompt: leading ones merged")
        if message.cache is not None:
            conv.lose(f"{path}.cache", "Anthropic caches blocks, not messages")
            if texts and texts[-1][1].cache is None:
                i, last = texts[-1]
                texts[-1] = (i, attrs.evolve(last, cache=message.cache))
                conv.lose(f"{path}.content[{i}]", "carries the message's cache hint")
        system_parts.extend((f"{path}.content[{i}]", p) for i, p in texts)
        start += 1

    system: str | list[dict[str, Any]] | None = None
    if system_parts:
        only = system_parts[0][1] if len(system_parts) == 1 else None
        as_string = (
            only is not None
            and plain_text(only)
            and (original_system is None or isinstance(original_system, str))
        )
        if as_string:
            system = only.text  # type: ignore[union-attr]
        else:
            encoded = (encode_part(p, where, conv) for where, p in system_parts)
            system = [b for b in encoded if b is not None]

    out: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    for index in range(start, len(messages)):
        message = messages[index]
        path = f"$.messages[{index}]"
        if message.name is not None:
            conv.lose(f"{path}.name", "Anthropic messages have no name")
        if message.role is Role.TOOL:
            if not message.content:
                conv.lose(path, "an empty tool message has no Anthropic form")
            indexed = _encode_indexed(list(enumerate(message.content)), f"{path}.content", conv)
            _apply_message_cache(indexed, message, path, conv)
            pending.extend(b for _, b in indexed)
            continue
        if message.role is Role.USER and pending:
            indexed = _encode_indexed(list(enumerate(message.content)), f"{path}.content", conv)
            _apply_message_cache(indexed, message, path, conv)
            if not indexed:  # it joins the tool results before it with nothing of its own
                conv.lose(path, "nothing in this message has an Anthropic form: dropped")
            blocks = pending + [b for _, b in indexed]
            pending = []
            out.append(
                restore(
                    {"role": "user", "content": blocks}, raw_data(message.raw), ("role", "content")
                )
            )
            continue
        if pending:
            out.append({"role": "user", "content": pending})
            pending = []
        out.append(_encode_message(message, path, conv))
    if pending:
        out.append({"role": "user", "content": pending})
    return system, out


def _encode_message(message: Message, path: str, conv: Conversion) -> dict[str, Any]:
    source = raw_data(message.raw)
    parts: Sequence[tuple[int, Part]]
    if message.role in (Role.SYSTEM, Role.DEVELOPER):
        if message.role is Role.DEVELOPER:
            conv.lose(f"{path}.role", "Anthropic has no developer role; sent as system")
        role = "system"
        parts = _system_texts(message, path, conv)
    else:
        role = "user" if message.role is Role.USER else "assistant"
        parts = list(enumerate(message.content))
    content: str | list[dict[str, Any]]
    if (
        source is not None
        and isinstance(source.get("content"), str)
        and len(parts) == 1
        and plain_text(parts[0][1])
        and message.cache is None
    ):
        content = parts[0][1].text  # type: ignore[union-attr]
    else:
        indexed = _encode_indexed(parts, f"{path}.content", conv)
        _apply_message_cache(indexed, message, path, conv)
        content = [b for _, b in indexed]
        if parts and not content:
            conv.lose(path, "nothing in this message has an Anthropic form: sent empty")
    return restore({"role": role, "content": content}, source, ("role", "content"))


# -- encoding: tools ----------------------------------------------------------------------

_TOOL_KEYS = frozenset({"name", "description", "input_schema", "strict", "cache_control"})


def encode_tool(tool: Tool, path: str, conv: Conversion) -> dict[str, Any] | None:
    source = raw_data(tool.raw)
    if tool.kind == "function":
        out: dict[str, Any] = {"name": tool.name}
        if tool.description is not None:
            out["description"] = tool.description
        out["input_schema"] = (
            dict(tool.parameters)
            if tool.parameters is not None
            else {"type": "object", "properties": {}}
        )
        if tool.strict is not None:
            out["strict"] = tool.strict
        if tool.config is not None:
            conv.lose(f"{path}.config", "Anthropic custom tools take no extra configuration")
        if tool.cache is not None:
            out["cache_control"] = _cache_control(tool.cache)
        return restore(out, source, _TOOL_KEYS)
    if source is None and (
        (tool.raw is not None and tool.raw.protocol not in PROTOCOLS)
        or not _SERVER_TOOL_KIND.match(tool.kind)
    ):
        conv.lose(path, f"built-in tool {tool.kind!r} is not an Anthropic tool")
        return None
    out = dict(tool.config or {})
    out["type"] = tool.kind
    out["name"] = tool.name
    for field in ("description", "parameters", "strict"):
        if getattr(tool, field) is not None:
            conv.lose(f"{path}.{field}", "Anthropic built-in tools are configured by config only")
    if tool.cache is not None:
        out["cache_control"] = _cache_control(tool.cache)
    elif source is not None and "cache_control" in source and neutral(source["cache_control"]):
        out["cache_control"] = source["cache_control"]
    return out


def encode_tool_choice(choice: ToolChoice, conv: Conversion) -> dict[str, Any]:
    kind = {"auto": "auto", "required": "any", "tool": "tool", "none": "none"}[choice.mode]
    out: dict[str, Any] = {"type": kind}
    if choice.name is not None:
        out["name"] = choice.name
    if choice.parallel is not None:
        if kind == "none":
            conv.lose("$.tool_choice.parallel", "Anthropic's none tool choice has no parallel flag")
        else:
            out["disable_parallel_tool_use"] = not choice.parallel
    return out


CONVERSATION_FEATURES = frozenset(
    {
        "system",
        "text",
        "image",
        "file",
        "tool_calls",
        "tool_results",
        "reasoning",
        "reasoning_signature",
        "reasoning_redacted",
        "citations",
        "opaque",
        "cache_hints",
        "tools",
    }
)
"""The kit's feature words for what a conversation carries (messages and count_tokens
share the conversation encoding)."""
