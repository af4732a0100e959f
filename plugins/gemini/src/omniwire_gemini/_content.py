"""Gemini ``Content``/``Part``/``Tool`` objects <-> canonical messages, parts and tools.

Shared by every Gemini codec that carries contents (generate, count tokens).

Conventions this module fixes (see the plugin README):

* ``thoughtSignature`` on a ``thought`` part is ``ReasoningPart.signature``. On any other
  part (text, functionCall, inlineData...) it is the signature of the reasoning that
  produced that part: it decodes to a signature-only ``ReasoningPart`` placed right
  before the part, and a signature-only ``ReasoningPart`` followed by such a part encodes
  back onto it. Another protocol sees an ordinary reasoning signature (and reports a loss
  if it has no slot for it).
* A ``functionCall``/``functionResponse`` without ``id`` gets a deterministic id; the raw
  object remembers it was synthesised, so a same-protocol round trip does not add one.
  A response without id takes the id of the oldest unanswered call of the same name.
* ``functionResponse.response`` <-> ``ToolResultPart`` text: ``{"output": s}`` is ``s``,
  ``{"error": s}`` is ``s`` with ``is_error``, ``{"output": [s1, s2, ...]}`` several
  texts, any other object its compact JSON text. ``functionResponse.parts`` (inline or
  file media) follow the text in ``content``.
"""

from __future__ import annotations

import json
import mimetypes
from collections import deque
from typing import Any, Mapping

import attrs
from omniwire.errors import ProtocolError
from omniwire.model import (
    AudioPart,
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
    TextPart,
    Tool,
    ToolCallPart,
    ToolResultPart,
)
from omniwire.report import Conversion
from omniwire.wire import type_name

from ._keys import CONTENT_PROTOCOL, MARK, camel, field, items, key_of, obj_at, restore

__all__ = [
    "BUILTIN_TOOLS",
    "ContentDecoder",
    "ContentEncoder",
    "compact",
    "decode_tools",
    "encode_tools",
]

SYNTH_ID = MARK + "synthetic_id"
"""Raw key: the id this plugin made up for a call/response that had none."""
DETACHED = MARK + "detached_signature"
"""Raw key: this signature-only ReasoningPart came from a non-thought part's signature."""

DATA_KEYS = frozenset(
    {
        "text",
        "inlineData",
        "fileData",
        "functionCall",
        "functionResponse",
        "executableCode",
        "codeExecutionResult",
    }
)
OPAQUE_KINDS = frozenset({"executableCode", "codeExecutionResult"})
SIG = "thoughtSignature"

BUILTIN_TOOLS = frozenset(
    {
        "googleSearch",
        "googleSearchRetrieval",
        "codeExecution",
        "urlContext",
        "googleMaps",
        "fileSearch",
        "computerUse",
        "retrieval",
        "enterpriseWebSearch",
        "parallelAiSearch",
        "mcpServers",
        "exaAiSearch",
    }
)
"""Tool keys Gemini knows besides ``functionDeclarations``."""

_ROLES = {"user": Role.USER, "model": Role.ASSISTANT, "function": Role.TOOL, "tool": Role.TOOL}


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _is_gemini(protocol: str) -> bool:
    return protocol == CONTENT_PROTOCOL or protocol.startswith("gemini.")


def _raw(part: Any) -> Mapping[str, Any] | None:
    raw = getattr(part, "raw", None)
    if raw is None or not _is_gemini(raw.protocol) or not isinstance(raw.data, Mapping):
        return None
    return raw.data


def _sub(raw: Mapping[str, Any] | None, name: str) -> Mapping[str, Any] | None:
    if raw is None:
        return None
    key = key_of(raw, name)
    value = raw.get(key) if key else None
    return value if isinstance(value, Mapping) else None


# -- decoding ---------------------------------------------------------------------------


class ContentDecoder:
    """Decodes the contents of one payload. Holds the id bookkeeping for calls and
    responses that carry no id, so a request's calls and results still pair up."""

    __slots__ = ("conv", "prefix", "protocol", "_pending", "_count")

    def __init__(
        self, conv: Conversion, prefix: str = "call_", protocol: str = CONTENT_PROTOCOL
    ) -> None:
        self.conv = conv
        self.prefix = prefix
        self.protocol = protocol
        self._pending: dict[str, deque[str]] = {}
        self._count = 0

    def _new_id(self) -> str:
        self._count += 1
        return f"{self.prefix}{self._count}"

    def message(self, content: Any, path: str, *, system: bool = False) -> Message:
        content = obj_at(content, path)
        role_word = field(content, "role", str, path)
        if system:
            role = Role.SYSTEM
        elif role_word is None:
            role = Role.USER
        elif role_word in _ROLES:
            role = _ROLES[role_word]
        else:
            raise ProtocolError(
                f'expected "user" or "model", got "{role_word}"', path=f"{path}.role"
            )
        parts = self.parts(content, path)
        return Message(role, parts, raw=Raw(CONTENT_PROTOCOL, content))

    def parts(self, content: Mapping[str, Any], path: str) -> list[Part]:
        out: list[Part] = []
        for p_path, part in items(content, "parts", path):
            out.extend(self.part(part, p_path))
        return out

    def part(self, obj: Any, path: str) -> list[Part]:
        """One wire part -> one canonical part, or two when a non-thought part carries a
        signature (the signature-only ReasoningPart first)."""
        obj = obj_at(obj, path)
        kinds = [k for k in obj if camel(k) in DATA_KEYS]
        if len(kinds) > 1:
            raise ProtocolError(
                f"a part holds one kind of data, found {kinds[0]} and {kinds[1]}", path=path
            )
        thought = field(obj, "thought", bool, path)
        sig = field(obj, SIG, str, path)
        raw = Raw(CONTENT_PROTOCOL, obj)
        if not kinds:
            unknown = [k for k in obj if camel(k) not in _PART_META]
            if unknown:
                return [OpaquePart(self.protocol, unknown[0], obj)]
            if sig is None:
                return [OpaquePart(self.protocol, "empty", obj)]
            return [ReasoningPart(signature=sig, raw=raw)]
        kind = camel(kinds[0])
        if kind in OPAQUE_KINDS:
            return [OpaquePart(self.protocol, kind, obj)]
        if kind == "text":
            text = field(obj, "text", str, path, required=True)
            if thought:
                return [ReasoningPart(text, signature=sig, raw=raw)]
            part: Part = TextPart(text, raw=raw)
        elif kind in ("inlineData", "fileData"):
            part = media_part(obj, path, raw)
        elif kind == "functionCall":
            part = self._call(obj, path)
        else:
            part = self._result(obj, path)
        if sig is None:
            return [part]
        detached = {SIG: sig, DETACHED: True}
        return [ReasoningPart(signature=sig, raw=Raw(CONTENT_PROTOCOL, detached)), part]

    def _call(self, obj: Mapping[str, Any], path: str) -> ToolCallPart:
        key = key_of(obj, "functionCall") or "functionCall"
        f_path = f"{path}.{key}"
        fc = obj_at(obj[key], f_path)
        name = field(fc, "name", str, f_path, required=True)
        args = field(fc, "args", dict, f_path)
        call_id = field(fc, "id", str, f_path)
        raw_obj: Mapping[str, Any] = obj
        if call_id is None:
            call_id = self._new_id()
            self._pending.setdefault(name, deque()).append(call_id)
            raw_obj = {**obj, SYNTH_ID: call_id}
        return ToolCallPart(
            call_id,
            name,
            compact(args if args is not None else {}),
            raw=Raw(CONTENT_PROTOCOL, raw_obj),
        )

    def _result(self, obj: Mapping[str, Any], path: str) -> ToolResultPart:
        key = key_of(obj, "functionResponse") or "functionResponse"
        f_path = f"{path}.{key}"
        fr = obj_at(obj[key], f_path)
        name = field(fr, "name", str, f_path)
        response = field(fr, "response", dict, f_path)
        result_id = field(fr, "id", str, f_path)
        raw_obj: Mapping[str, Any] = obj
        if result_id is None:
            queue = self._pending.get(name or "")
            result_id = queue.popleft() if queue else self._new_id()
            raw_obj = {**obj, SYNTH_ID: result_id}
        content: list[Part] = []
        is_error = False
        if response:
            texts, is_error = result_text(response)
            content.extend(TextPart(t) for t in texts)
        for m_path, m in items(fr, "parts", f_path):
            m = obj_at(m, m_path)
            content.append(media_part(m, m_path, Raw(CONTENT_PROTOCOL, m)))
        return ToolResultPart(
            result_id, tuple(content), is_error, name, raw=Raw(CONTENT_PROTOCOL, raw_obj)
        )


_PART_META = frozenset({"thought", SIG, "videoMetadata", "mediaResolution", "partMetadata"})


def media_part(obj: Mapping[str, Any], path: str, raw: Raw) -> Part:
    """``inlineData``/``fileData`` -> ImagePart, AudioPart or FilePart by MIME type."""
    inline_key = key_of(obj, "inlineData")
    if inline_key is not None:
        b_path = f"{path}.{inline_key}"
        blob = obj_at(obj[inline_key], b_path)
        mime = field(blob, "mimeType", str, b_path, required=True)
        data = field(blob, "data", str, b_path, required=True)
        source = MediaSource(data=data, media_type=mime)
    else:
        file_key = key_of(obj, "fileData")
        if file_key is None:
            raise ProtocolError("expected inlineData or fileData", path=path)
        f_path = f"{path}.{file_key}"
        fd = obj_at(obj[file_key], f_path)
        mime = field(fd, "mimeType", str, f_path)
        uri = field(fd, "fileUri", str, f_path, required=True)
        source = MediaSource(url=uri, media_type=mime)
    if mime and mime.startswith("image/"):
        return ImagePart(source, raw=raw)
    if mime and mime.startswith("audio/"):
        return AudioPart(source, format=AUDIO_FORMATS.get(mime), raw=raw)
    return FilePart(source, raw=raw)


AUDIO_FORMATS = {
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/mp3": "mp3",
    "audio/mpeg": "mp3",
    "audio/ogg": "ogg",
    "audio/flac": "flac",
    "audio/aac": "aac",
    "audio/aiff": "aiff",
    "audio/webm": "webm",
    "audio/opus": "opus",
}
"""MIME type -> the short audio format name (``AudioPart.format``) a decoder sets."""
_AUDIO_MIMES = {"wav": "audio/wav", "mp3": "audio/mp3"}


def result_text(response: Mapping[str, Any]) -> tuple[list[str], bool]:
    """A functionResponse ``response`` object -> (texts, is_error). ``{"output": s}`` is
    one text, ``{"output": [s1, s2, ...]}`` (two or more strings) several; ``error`` the
    same with ``is_error``; any other object is one text, its compact JSON."""
    if len(response) == 1:
        ((k, v), *_) = response.items()
        if k in ("output", "error"):
            if isinstance(v, str):
                return [v], k == "error"
            if isinstance(v, list) and len(v) > 1 and all(isinstance(x, str) for x in v):
                return list(v), k == "error"
    return [compact(response)], False


def result_object(texts: list[str], is_error: bool) -> dict[str, Any]:
    """The inverse of :func:`result_text`."""
    value: Any = texts[0] if len(texts) == 1 else list(texts)
    if is_error:
        return {"error": value}
    if len(texts) == 1:
        try:
            parsed = json.loads(texts[0])
        except ValueError:
            parsed = None
        if (
            isinstance(parsed, dict)
            and parsed
            and compact(parsed) == texts[0]
            and result_text(parsed) == (texts, False)
        ):
            return parsed
    return {"output": value}


# -- encoding ---------------------------------------------------------------------------


def _detachable(p: Part) -> bool:
    return (
        isinstance(p, ReasoningPart)
        and p.signature is not None
        and not p.text
        and not p.summary
        and p.encrypted is None
        and not p.redacted
    )


_ATTACHABLE = (TextPart, ImagePart, AudioPart, FilePart, ToolCallPart, ToolResultPart, RefusalPart)


class ContentEncoder:
    """Encodes the messages of one request (or the parts of one response)."""

    __slots__ = ("conv", "call_names", "hidden_ids")

    def __init__(self, conv: Conversion, messages: tuple[Message, ...] = ()) -> None:
        self.conv = conv
        self.call_names: dict[str, str] = {}
        self.hidden_ids: set[str] = set()
        for m in messages:
            for p in m.content:
                if isinstance(p, ToolCallPart):
                    self.call_names.setdefault(p.id, p.name)
                    raw = _raw(p)
                    if raw is not None and raw.get(SYNTH_ID) == p.id:
                        self.hidden_ids.add(p.id)

    def messages(
        self, messages: tuple[Message, ...], path: str = "$.messages"
    ) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """-> (systemInstruction, contents)."""
        lose = self.conv.lose
        system: dict[str, Any] | None = None
        contents: list[dict[str, Any]] = []
        leading = True
        tool_turn: dict[str, Any] | None = None
        for i, m in enumerate(messages):
            m_path = f"{path}[{i}]"
            if m.name is not None:
                lose(f"{m_path}.name", "Gemini contents carry no participant name")
            if m.cache is not None:
                lose(f"{m_path}.cache", "Gemini has no cache hints (use cachedContent)")
            parts = self.parts(m.content, f"{m_path}.content")
            if m.role in (Role.SYSTEM, Role.DEVELOPER):
                if m.role is Role.DEVELOPER:
                    lose(f"{m_path}.role", "Gemini has no developer role; sent as system")
                if leading:
                    if system is None:
                        system = {"parts": parts}
                        restore(system, _raw(m), {"parts"})
                    else:
                        # a message disappears: every later index shifts
                        lose(path, f"Gemini has one systemInstruction; {m_path} is merged into it")
                        system["parts"].extend(parts)
                    continue
                lose(
                    f"{m_path}.role",
                    "Gemini cannot place a system message mid-conversation; sent as a user turn",
                )
            leading = False
            raw = _raw(m)
            if m.role is Role.TOOL and tool_turn is not None and raw is None:
                tool_turn["parts"].extend(parts)
                continue
            word = "model" if m.role is Role.ASSISTANT else "user"
            raw_role = raw.get("role") if raw is not None else None
            if isinstance(raw_role, str) and _ROLES.get(raw_role) is m.role:
                word = raw_role
            content: dict[str, Any] = {"role": word, "parts": parts}
            restore(content, raw, {"role", "parts"})
            if raw is not None and "role" not in raw and m.role is Role.USER:
                del content["role"]
            contents.append(content)
            tool_turn = content if m.role is Role.TOOL else None
        return system, contents

    def parts(self, parts: tuple[Part, ...], path: str) -> list[dict[str, Any]]:
        encoded = [self.part(p, f"{path}[{j}]") for j, p in enumerate(parts)]
        out: list[dict[str, Any]] = []
        pending: tuple[str, str] | None = None
        n = len(parts)
        for j, p in enumerate(parts):
            if _detachable(p):
                assert isinstance(p, ReasoningPart) and p.signature is not None
                raw = _raw(p)
                if p.id is not None:
                    self.conv.lose(f"{path}[{j}].id", "Gemini parts carry no reasoning id")
                standalone = raw is not None and not raw.get(DETACHED)
                nxt = j + 1
                if (
                    not standalone
                    and nxt < n
                    and isinstance(parts[nxt], _ATTACHABLE)
                    and encoded[nxt] is not None
                ):
                    nxt_raw = _raw(parts[nxt])
                    snake_key = nxt_raw is not None and "thought_signature" in nxt_raw
                    pending = ("thought_signature" if snake_key else SIG, p.signature)
                    continue
                lone: dict[str, Any] = {"text": "", SIG: p.signature}
                if raw is None or key_of(raw, "thought") is not None:
                    lone["thought"] = True
                out.append(restore(lone, raw, {"text", "thought", SIG}))
                continue
            wire = encoded[j]
            if wire is None:
                continue
            if pending is not None:
                wire[pending[0]] = pending[1]
                pending = None
            out.append(wire)
        return out

    def drop(self, path: str, reason: str) -> None:
        """A part that cannot be sent at all: the parts after it shift, so the loss names
        the list it was in (``$.messages[1].content``), and the reason names the part."""
        parent, _, last = path.rpartition("[")
        self.conv.lose(parent, f"[{last} dropped: {reason}")

    def part(self, p: Part, path: str) -> dict[str, Any] | None:
        lose = self.conv.lose
        raw = _raw(p)
        if getattr(p, "cache", None) is not None:
            lose(f"{path}.cache", "Gemini has no cache hints (use cachedContent)")
        if isinstance(p, TextPart):
            if p.citations:
                lose(f"{path}.citations", "Gemini parts carry no citations")
            return restore({"text": p.text}, raw, {"text", "thought", SIG})
        if isinstance(p, ReasoningPart):
            if _detachable(p):
                return None  # placed by parts()
            if p.summary:
                lose(f"{path}.summary", "Gemini has no reasoning summaries")
            if p.encrypted is not None or p.redacted:
                lose(f"{path}.encrypted", "Gemini has no encrypted or redacted reasoning")
            if p.id is not None:
                lose(f"{path}.id", "Gemini parts carry no reasoning id")
            if not p.text and p.signature is None:
                self.drop(path, "Gemini can send reasoning only as text or a signature")
                return None
            out: dict[str, Any] = {"text": p.text, "thought": True}
            if p.signature is not None:
                out[SIG] = p.signature
            return restore(out, raw, {"text", "thought", SIG})
        if isinstance(p, RefusalPart):
            lose(path, "Gemini has no refusal part; sent as text")
            return {"text": p.text}
        if isinstance(p, (ImagePart, AudioPart, FilePart)):
            return self.media(p, path, raw)
        if isinstance(p, ToolCallPart):
            return self.call(p, path, raw)
        if isinstance(p, ToolResultPart):
            return self.result(p, path, raw)
        if isinstance(p, OpaquePart):
            if _is_gemini(p.protocol):
                return dict(p.data)
            self.drop(path, f"a {p.protocol} {p.kind} block means nothing to Gemini")
            return None
        self.drop(path, f"Gemini cannot carry a {type(p).__name__}")
        return None

    def media(
        self, p: ImagePart | AudioPart | FilePart, path: str, raw: Mapping[str, Any] | None
    ) -> dict[str, Any] | None:
        lose = self.conv.lose
        src = p.source
        if isinstance(p, ImagePart):
            prefix, fallback = "image/", "image/png"
            if p.detail is not None:
                lose(f"{path}.detail", "Gemini sets media resolution per request, not image detail")
        elif isinstance(p, AudioPart):
            prefix, fallback = "audio/", "audio/wav"
            if p.format is not None:
                fallback = _AUDIO_MIMES.get(p.format, f"audio/{p.format}")
                given = src.media_type or fallback
                if AUDIO_FORMATS.get(given) != p.format:
                    lose(
                        f"{path}.format", f"Gemini carries the MIME type {given}, not a format name"
                    )
                elif src.media_type is None:
                    src = attrs.evolve(src, media_type=fallback)
            if p.transcript is not None:
                lose(f"{path}.transcript", "Gemini audio parts carry no transcript")
            if p.id is not None:
                lose(f"{path}.id", "Gemini audio parts carry no id")
        else:
            prefix, fallback = "", "application/octet-stream"
            for name in ("filename", "title", "context", "citations"):
                if getattr(p, name) is not None:
                    lose(f"{path}.{name}", f"Gemini file parts carry no {name}")
        if src.file_id is not None:
            self.drop(path, "a provider file id means nothing to Gemini")
            return None
        mime = src.media_type
        data, url = src.data, src.url
        if url is not None and url.startswith("data:") and ";base64," in url:
            inline = MediaSource.from_data_url(url)
            data, url, mime = inline.data, None, mime or inline.media_type
        if mime is None and (prefix or data is not None):
            guess = mimetypes.guess_type(url)[0] if url is not None else None
            mime = guess if guess and guess.startswith(prefix) else fallback
            lose(f"{path}.source.media_type", f"Gemini needs a MIME type; sent {mime}")
        if mime is not None:
            kind = (
                "image/"
                if mime.startswith("image/")
                else "audio/"
                if mime.startswith("audio/")
                else ""
            )
            if kind != prefix:
                lose(
                    f"{path}.source.media_type",
                    f"Gemini reads the part kind from the MIME type {mime}",
                )
        out: dict[str, Any]
        if data is not None:
            blob = {"mimeType": mime, "data": data}
            out = {"inlineData": restore(blob, _sub(raw, "inlineData"), {"mimeType", "data"})}
        else:
            fd: dict[str, Any] = {"fileUri": url}
            if mime is not None:
                fd["mimeType"] = mime
            out = {"fileData": restore(fd, _sub(raw, "fileData"), {"mimeType", "fileUri"})}
        return restore(out, raw, {"inlineData", "fileData", SIG})

    def call(self, p: ToolCallPart, path: str, raw: Mapping[str, Any] | None) -> dict[str, Any]:
        try:
            args = json.loads(p.arguments) if p.arguments.strip() else {}
        except ValueError as exc:
            raise ProtocolError(
                f"arguments are not valid JSON ({exc})", path=f"{path}.arguments"
            ) from None
        if not isinstance(args, dict):
            raise ProtocolError(
                f"Gemini function call arguments must be an object, got {type_name(args)}",
                path=f"{path}.arguments",
            )
        fc: dict[str, Any] = {"name": p.name, "args": args}
        if p.id not in self.hidden_ids and not (raw is not None and raw.get(SYNTH_ID) == p.id):
            fc = {"id": p.id, **fc}
        fc = restore(fc, _sub(raw, "functionCall"), {"id", "name", "args"})
        return restore({"functionCall": fc}, raw, {"functionCall", SIG})

    def result(self, p: ToolResultPart, path: str, raw: Mapping[str, Any] | None) -> dict[str, Any]:
        lose = self.conv.lose
        name = p.name or self.call_names.get(p.tool_call_id)
        if name is None:
            raise ProtocolError(
                "Gemini needs the function name of a tool result, and no earlier call has "
                f"id {p.tool_call_id!r}",
                path=f"{path}.name",
            )
        texts: list[str] = []
        media: list[dict[str, Any]] = []
        for k, c in enumerate(p.content):
            c_path = f"{path}.content[{k}]"
            if isinstance(c, TextPart):
                if media:
                    lose(c_path, "Gemini puts a tool result's text before its media")
                texts.append(c.text)
            elif isinstance(c, (ImagePart, AudioPart, FilePart)):
                m = self.media(c, c_path, _raw(c))
                if m is not None:
                    media.append(m)
            else:
                lose(c_path, f"Gemini tool results cannot hold a {type(c).__name__}")
        fr: dict[str, Any] = {"name": name}
        if p.tool_call_id not in self.hidden_ids and not (
            raw is not None and raw.get(SYNTH_ID) == p.tool_call_id
        ):
            fr = {"id": p.tool_call_id, **fr}
        if texts or not media:
            if not texts and p.is_error:
                lose(f"{path}.is_error", "an empty Gemini tool result cannot be marked as an error")
            fr["response"] = result_object(texts, p.is_error) if texts else {}
        else:
            fr["response"] = {}
            if p.is_error:
                lose(f"{path}.is_error", "a Gemini tool result of media only cannot be an error")
        if media:
            fr["parts"] = media
        fr = restore(fr, _sub(raw, "functionResponse"), {"id", "name", "response", "parts"})
        return restore({"functionResponse": fr}, raw, {"functionResponse", SIG})


# -- tools ----------------------------------------------------------------------------------

TOOL_GROUP = MARK + "tool_group"
DECL_KEY = MARK + "declarations_key"


def decode_tools(tools: list[tuple[str, Any]]) -> list[Tool]:
    """``tools[]`` -> one Tool per function declaration and per built-in tool key."""
    out: list[Tool] = []
    for g, (t_path, t) in enumerate(tools):
        t = obj_at(t, t_path)
        for key, value in t.items():
            ck = camel(key)
            if ck == "functionDeclarations":
                for d_path, d in items(t, "functionDeclarations", t_path):
                    d = obj_at(d, d_path)
                    name = field(d, "name", str, d_path, required=True)
                    description = field(d, "description", str, d_path)
                    params = field(d, "parameters", dict, d_path)
                    json_params = field(d, "parametersJsonSchema", dict, d_path)
                    if params is not None and json_params is not None:
                        raise ProtocolError(
                            "give parameters or parametersJsonSchema, not both", path=d_path
                        )
                    out.append(
                        Tool(
                            name,
                            description,
                            params if params is not None else json_params,
                            raw=Raw(CONTENT_PROTOCOL, {**d, TOOL_GROUP: g, DECL_KEY: key}),
                        )
                    )
            else:
                config = value if isinstance(value, dict) else {"value": value}
                raw = {key: value, TOOL_GROUP: g}
                out.append(Tool(ck, kind=ck, config=config, raw=Raw(CONTENT_PROTOCOL, raw)))
    return out


def encode_tools(
    tools: tuple[Tool, ...], conv: Conversion, path: str = "$.tools"
) -> list[dict[str, Any]]:
    """Tools -> ``tools[]``. Tools decoded from one Tool object go back into one; other
    function tools share one object per consecutive run; other built-ins get their own."""
    out: list[dict[str, Any]] = []
    groups: dict[Any, dict[str, Any]] = {}
    run: dict[str, Any] | None = None
    for i, tool in enumerate(tools):
        t_path = f"{path}[{i}]"
        raw = _raw(tool)
        group = raw.get(TOOL_GROUP) if raw is not None else None
        if tool.strict is not None:
            conv.lose(f"{t_path}.strict", "Gemini has no strict flag on function declarations")
        if tool.cache is not None:
            conv.lose(f"{t_path}.cache", "Gemini has no cache hints (use cachedContent)")
        target: dict[str, Any] | None
        if group is not None:
            run = None
            target = groups.get(group)
            if target is None:
                target = groups[group] = {}
                out.append(target)
        else:
            target = None
        if tool.kind == "function":
            decl: dict[str, Any] = {"name": tool.name}
            if tool.description is not None:
                decl["description"] = tool.description
            if tool.parameters is not None:
                use_json = raw is None or key_of(raw, "parameters") is None
                decl["parametersJsonSchema" if use_json else "parameters"] = dict(tool.parameters)
            decl = restore(decl, raw, {"name", "description", "parameters", "parametersJsonSchema"})
            if target is None:
                if run is None:
                    run = {}
                    out.append(run)
                target = run
            list_key = raw.get(DECL_KEY, "functionDeclarations") if raw else "functionDeclarations"
            target.setdefault(list_key, []).append(decl)
            continue
        run = None
        if tool.kind not in BUILTIN_TOOLS and raw is None:
            conv.lose(t_path, f"Gemini has no built-in tool {tool.kind!r}")
            continue
        config: Any = dict(tool.config or {})
        if set(config) == {"value"} and not isinstance(config["value"], dict):
            config = config["value"]
        key = tool.kind
        if raw is not None:
            key = next((k for k in raw if camel(k) == tool.kind), key)
        if target is None:
            out.append({key: config})
        else:
            target[key] = config
    return out
