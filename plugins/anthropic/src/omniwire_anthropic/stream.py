"""Anthropic's stream grammar, both ways.

``message_start`` (the message with empty content and the input usage), then per block
``content_block_start`` / ``content_block_delta``* / ``content_block_stop``, then
``message_delta`` (stop reason, cumulative usage) and ``message_stop``; ``ping`` may come
anywhere and ``error`` ends a broken stream. The wire block index is the canonical part
index.

The decoder keeps the SDK's semantics where they differ from a plain append:
``signature_delta`` *sets* the signature (emitted once, at the block's stop), usage
counts are cumulative (a wire snapshot is kept and converted whole), and a built-in tool
block's streamed ``input`` is folded into the OpaquePart given with its PartEnd.

The encoder writes blocks strictly one after another, as the SDKs require: a part that
starts while another is open is held back, with its deltas, until the open one ends.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from omniwire.errors import ProtocolError
from omniwire.model import (
    ArgumentsDelta,
    CitationDelta,
    OpaquePart,
    Part,
    PartEnd,
    PartStart,
    Raw,
    ReasoningDelta,
    ReasoningPart,
    RefusalPart,
    ResponseEnd,
    ResponseStart,
    SignatureDelta,
    StreamError,
    StreamEvent,
    SummaryDelta,
    TextDelta,
    TextPart,
    ToolCallPart,
    Usage,
    UsageUpdate,
)
from omniwire.model.stream import merge_usage
from omniwire.report import Conversion
from omniwire.sse import SSEEvent
from omniwire.wire import expect, loads, opt, type_name

from . import convert as cv
from . import errors

__all__ = ["MessagesStreamDecoder", "MessagesStreamEncoder", "usage_in_event"]

_USAGE_OVERWRITES = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "cache_creation",
    "output_tokens_details",
    "server_tool_use",
)
"""``message_delta.usage`` keys that replace the running snapshot (cumulative totals)."""


def _parse(event: SSEEvent, path: str) -> dict[str, Any]:
    try:
        data = loads(event.data)
    except ValueError:
        raise ProtocolError("SSE data is not valid JSON", path=path) from None
    if not isinstance(data, dict):
        raise ProtocolError(f"expected object, got {type_name(data)}", path=path)
    return data


def usage_in_event(event: SSEEvent) -> Usage | None:
    """Usage carried by one native event (pass-through budgets)."""
    try:
        data = json.loads(event.data)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    usage: Any = None
    if data.get("type") == "message_start" and isinstance(data.get("message"), Mapping):
        usage = data["message"].get("usage")
    elif data.get("type") == "message_delta":
        usage = data.get("usage")
    if not isinstance(usage, Mapping):
        return None
    try:
        return cv.decode_usage(usage, "$.usage")
    except ProtocolError:
        return None


class _Open:
    """A wire block being decoded."""

    __slots__ = ("kind", "block", "json", "signature")

    def __init__(self, kind: str, block: Mapping[str, Any]) -> None:
        self.kind = kind  # text | thinking | redacted | tool_use | opaque
        self.block = block
        self.json: list[str] = []
        self.signature: str | None = None


class MessagesStreamDecoder:
    """Client side: Anthropic SSE events in, canonical stream events out."""

    def __init__(self, conv: Conversion) -> None:
        self.conv = conv
        self._n = -1
        self._started = False
        self._done = False
        self._failed = False
        self._open: dict[int, _Open] = {}
        self._seen: set[int] = set()
        self._usage: dict[str, Any] = {}

    def feed(self, event: SSEEvent) -> list[StreamEvent]:
        self._n += 1
        path = f"$.events[{self._n}]"
        if event.event == "ping" or (not event.data.strip() and event.event is None):
            return []
        data = _parse(event, path)
        kind = data.get("type", event.event)
        if not isinstance(kind, str):
            raise ProtocolError(f"expected string, got {type_name(kind)}", path=f"{path}.type")
        if self._done or self._failed:
            if kind == "ping":
                return []
            raise ProtocolError(f"{kind} after the end of the stream", path=path)
        if kind == "ping":
            return []
        if kind == "error":
            return self._error(data, path)
        if kind == "message_start":
            return self._message_start(data, path)
        if not self._started:
            raise ProtocolError(f"{kind} before message_start", path=path)
        if kind == "content_block_start":
            return self._block_start(data, path)
        if kind == "content_block_delta":
            return self._block_delta(data, path)
        if kind == "content_block_stop":
            return self._block_stop(data, path)
        if kind == "message_delta":
            return self._message_delta(data, path)
        if kind == "message_stop":
            self._done = True
            return []
        self.conv.lose(path, f"unknown stream event {kind!r}")
        return []

    def close(self) -> list[StreamEvent]:
        if self._done or self._failed:
            return []
        raise ProtocolError("the stream ended before message_stop", path="$")

    # -- events ---------------------------------------------------------------------------

    def _error(self, data: Mapping[str, Any], path: str) -> list[StreamEvent]:
        self._failed = True
        inner = data.get("error")
        kind = message = None
        if isinstance(inner, Mapping):
            kind = inner.get("type") if isinstance(inner.get("type"), str) else None
            message = inner.get("message") if isinstance(inner.get("message"), str) else None
        return [StreamError(message or "upstream stream error", kind, errors.status_of_kind(kind))]

    def _message_start(self, data: Mapping[str, Any], path: str) -> list[StreamEvent]:
        if self._started:
            raise ProtocolError("message_start twice", path=path)
        self._started = True
        message = expect(data, "message", dict, path)
        mpath = f"{path}.message"
        if opt(message, "content", list, mpath):
            self.conv.lose(f"{mpath}.content", "content in message_start is not streamed")
        usage = opt(message, "usage", dict, mpath)
        self._usage = dict(usage or {})
        return [
            ResponseStart(
                id=opt(message, "id", str, mpath),
                model=opt(message, "model", str, mpath),
                usage=cv.decode_usage(usage, f"{mpath}.usage") if usage is not None else None,
                service_tier=opt(usage, "service_tier", str, f"{mpath}.usage") if usage else None,
                raw=Raw(cv.PROTOCOL, message),
            )
        ]

    def _block_start(self, data: Mapping[str, Any], path: str) -> list[StreamEvent]:
        index = expect(data, "index", int, path)
        if index in self._seen:
            raise ProtocolError(f"block {index} started twice", path=f"{path}.index")
        block = expect(data, "content_block", dict, path)
        part = cv.decode_block(block, f"{path}.content_block", self.conv)
        if isinstance(part, TextPart):
            kind = "text"
        elif isinstance(part, ReasoningPart):
            kind = "redacted" if part.redacted else "thinking"
        elif isinstance(part, ToolCallPart):
            kind = "tool_use"
        else:
            kind = "opaque"
        self._seen.add(index)
        self._open[index] = _Open(kind, block)
        return [PartStart(index, part)]

    def _block(self, data: Mapping[str, Any], path: str) -> tuple[int, _Open]:
        index = expect(data, "index", int, path)
        block = self._open.get(index)
        if block is None:
            raise ProtocolError(f"block {index} is not open", path=f"{path}.index")
        return index, block

    def _block_delta(self, data: Mapping[str, Any], path: str) -> list[StreamEvent]:
        index, block = self._block(data, path)
        delta = expect(data, "delta", dict, path)
        dpath = f"{path}.delta"
        kind = expect(delta, "type", str, dpath)
        if kind == "text_delta" and block.kind == "text":
            text = expect(delta, "text", str, dpath)
            return [TextDelta(index, text)] if text else []
        if kind == "thinking_delta" and block.kind == "thinking":
            text = expect(delta, "thinking", str, dpath)
            return [ReasoningDelta(index, text)] if text else []
        if kind == "signature_delta" and block.kind == "thinking":
            block.signature = expect(delta, "signature", str, dpath)
            return []
        if kind == "input_json_delta" and block.kind in ("tool_use", "opaque"):
            fragment = expect(delta, "partial_json", str, dpath)
            if block.kind == "opaque":
                block.json.append(fragment)
                return []
            return [ArgumentsDelta(index, fragment)] if fragment else []
        if kind == "citations_delta" and block.kind == "text":
            return [CitationDelta(index, expect(delta, "citation", dict, dpath))]
        self.conv.lose(dpath, f"{kind} has no canonical form on a {block.kind} block")
        return []

    def _block_stop(self, data: Mapping[str, Any], path: str) -> list[StreamEvent]:
        index, block = self._block(data, path)
        del self._open[index]
        out: list[StreamEvent] = []
        if block.signature:
            out.append(SignatureDelta(index, block.signature))
        if block.kind == "opaque" and "".join(block.json).strip():
            text = "".join(block.json)
            try:
                value = json.loads(text)
            except ValueError:
                raise ProtocolError(
                    "streamed input is not valid JSON", path=f"{path}.index"
                ) from None
            final = {**block.block, "input": value}
            out.append(
                PartEnd(
                    index,
                    OpaquePart(cv.PROTOCOL, final["type"], final, raw=Raw(cv.PROTOCOL, final)),
                )
            )
        else:
            out.append(PartEnd(index))
        return out

    def _message_delta(self, data: Mapping[str, Any], path: str) -> list[StreamEvent]:
        delta = expect(data, "delta", dict, path)
        dpath = f"{path}.delta"
        stop_raw = opt(delta, "stop_reason", str, dpath)
        sequence = opt(delta, "stop_sequence", str, dpath)
        if sequence is not None:
            self.conv.lose(f"{dpath}.stop_sequence", "canonical streams have no stop sequence slot")
        for key, value in delta.items():
            if key not in ("stop_reason", "stop_sequence") and not cv.deep_neutral(value):
                self.conv.lose(f"{dpath}.{key}", "no canonical stream event carries it")
        for key, value in data.items():
            if key not in ("type", "delta", "usage") and not cv.deep_neutral(value):
                self.conv.lose(f"{path}.{key}", "no canonical stream event carries it")
        usage = opt(data, "usage", dict, path)
        if usage is not None:
            for key, value in usage.items():
                if key in _USAGE_OVERWRITES:
                    if value is not None:
                        self._usage[key] = value
                elif not cv.deep_neutral(value):
                    self.conv.lose(f"{path}.usage.{key}", "no canonical usage field carries it")
        return [
            ResponseEnd(
                cv.stop_from_wire(stop_raw),
                stop_raw,
                cv.decode_usage(self._usage, f"{path}.usage"),
            )
        ]


# -- encoder ------------------------------------------------------------------------------


class _Block:
    """A canonical part on its way to the wire."""

    __slots__ = (
        "kind",
        "index",
        "part",
        "path",
        "pending",
        "ended",
        "live",
        "chunks",
        "signature",
        "encrypted",
        "citations",
    )

    def __init__(self, kind: str, index: int, part: Part, path: str) -> None:
        self.kind = kind  # text | thinking | tool_use | redacted | opaque
        self.index = index  # the wire block index
        self.part = part
        self.path = path
        self.pending: list[dict[str, Any]] = []
        self.ended = False
        self.live = False
        self.chunks: list[str] = []  # what was streamed (text, thinking, arguments)
        self.signature: list[str] = []
        self.encrypted: list[str] = []
        self.citations = 0


def _sse(payload: dict[str, Any]) -> SSEEvent:
    return SSEEvent(cv.dumps(payload), payload["type"])


class MessagesStreamEncoder:
    """Server side: canonical stream events in, Anthropic SSE events out."""

    def __init__(self, conv: Conversion, request: Any = None) -> None:
        self.conv = conv
        self.request = request
        self._started = False
        self._ended = False
        self._stop: str | None = None
        self._failed = False
        self._start_usage: dict[str, Any] | None = None
        self._usage: Usage | None = None
        self._blocks: dict[int, _Block] = {}
        self._queue: list[_Block] = []
        self._live: _Block | None = None
        self._next_index = 0
        self._out: list[dict[str, Any]] = []
        self._lost_choices: set[int] = set()

    # -- plumbing -------------------------------------------------------------------------

    def _flush(self) -> list[SSEEvent]:
        out = [_sse(p) for p in self._out]
        self._out = []
        return out

    def _emit(self, block: _Block, payload: dict[str, Any]) -> None:
        (self._out if block.live else block.pending).append(payload)

    def _ensure_started(self, start: ResponseStart | None = None) -> None:
        if self._started:
            return
        self._started = True
        model = start.model if start is not None else None
        if model is None and self.request is not None:
            model = getattr(self.request, "model", None)
        raw = cv.raw_data(start.raw) if start is not None else None
        raw_usage = raw.get("usage") if raw else None
        usage = start.usage if start is not None else None
        self._usage = usage
        wire_usage = cv.encode_usage(
            usage,
            self.conv,
            "$.usage",
            service_tier=start.service_tier if start is not None else None,
            source=raw_usage if isinstance(raw_usage, Mapping) else None,
        )
        self._start_usage = wire_usage
        message: dict[str, Any] = {
            "id": start.id if start is not None and start.id is not None else cv.new_message_id(),
            "type": "message",
            "role": "assistant",
            "model": model or "",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": wire_usage,
        }
        if raw is not None:
            message = cv.restore(
                message,
                {
                    k: v
                    for k, v in raw.items()
                    if k not in ("content", "stop_reason", "stop_sequence")
                },
                ("id", "type", "role", "model", "usage"),
            )
        self._out.append({"type": "message_start", "message": message})
        if start is not None and start.created is not None:
            self.conv.lose("$.created", "Anthropic messages carry no creation time")

    def _open_block(self, block: _Block) -> None:
        """The first payloads of a block (its start, for the kinds streamed live)."""
        part = block.part
        if block.kind == "text":
            start: dict[str, Any] = {"type": "text", "text": ""}
            self._emit(block, self._start_payload(block, start))
            assert isinstance(part, (TextPart, RefusalPart))
            if isinstance(part, TextPart):
                for citation in part.citations:
                    self._citation(block, citation)
            if part.text:
                self._text(block, part.text)
        elif block.kind == "thinking":
            assert isinstance(part, ReasoningPart)
            self._emit(
                block,
                self._start_payload(block, {"type": "thinking", "thinking": "", "signature": ""}),
            )
            if part.text:
                self._text(block, part.text)
            if part.signature:
                block.signature.append(part.signature)
        elif block.kind == "tool_use":
            assert isinstance(part, ToolCallPart)
            start = {"type": "tool_use", "id": part.id, "name": part.name, "input": {}}
            self._emit(block, self._start_payload(block, start))
            if part.arguments not in ("", "{}"):
                self._text(block, part.arguments)
        elif block.kind == "redacted":
            assert isinstance(part, ReasoningPart)
            if part.encrypted:
                block.encrypted.append(part.encrypted)

    def _start_payload(self, block: _Block, content_block: dict[str, Any]) -> dict[str, Any]:
        source = cv.raw_data(block.part.raw)
        if source is not None:  # fields we do not model (``caller``...) come back
            content_block.update(
                (k, v) for k, v in source.items() if k not in content_block and k not in _STREAMED
            )
        return {"type": "content_block_start", "index": block.index, "content_block": content_block}

    def _text(self, block: _Block, text: str) -> None:
        block.chunks.append(text)
        if block.kind == "text":
            delta = {"type": "text_delta", "text": text}
        elif block.kind == "thinking":
            delta = {"type": "thinking_delta", "thinking": text}
        else:
            delta = {"type": "input_json_delta", "partial_json": text}
        self._emit(block, {"type": "content_block_delta", "index": block.index, "delta": delta})

    def _citation(self, block: _Block, citation: Mapping[str, Any]) -> None:
        block.citations += 1
        self._emit(
            block,
            {
                "type": "content_block_delta",
                "index": block.index,
                "delta": {"type": "citations_delta", "citation": dict(citation)},
            },
        )

    def _close_block(self, block: _Block, final: Part | None) -> None:
        """Trailing payloads of a block: what the final form adds, signature, stop."""
        if final is not None:
            self._reconcile(block, final)
        if block.kind == "thinking" and block.signature:
            self._emit(
                block,
                {
                    "type": "content_block_delta",
                    "index": block.index,
                    "delta": {"type": "signature_delta", "signature": "".join(block.signature)},
                },
            )
        if block.kind == "redacted":
            payload = "".join(block.encrypted)
            if not payload:
                self.conv.lose(block.path, "redacted thinking without its data cannot be sent")
            start = {"type": "redacted_thinking", "data": payload}
            self._emit(block, self._start_payload(block, start))
        elif block.kind == "opaque":
            part = final if isinstance(final, OpaquePart) else block.part
            assert isinstance(part, OpaquePart)
            data = dict(part.data)
            tool_input = data.get("input")
            if isinstance(tool_input, dict) and tool_input:
                data["input"] = {}
                self._emit(
                    block,
                    {"type": "content_block_start", "index": block.index, "content_block": data},
                )
                self._text(block, cv.dumps(tool_input))
            else:
                self._emit(
                    block,
                    {"type": "content_block_start", "index": block.index, "content_block": data},
                )
        self._emit(block, {"type": "content_block_stop", "index": block.index})
        block.ended = True

    def _reconcile(self, block: _Block, final: Part) -> None:
        """A PartEnd with the authoritative part: stream what it adds to what was sent."""
        if block.kind in ("text", "thinking", "tool_use"):
            if isinstance(final, (TextPart, RefusalPart, ReasoningPart)):
                text = final.text
            elif isinstance(final, ToolCallPart):
                text = final.arguments
            else:
                self.conv.lose(block.path, "the part changed kind at its end")
                return
            sent = "".join(block.chunks)
            if block.kind == "tool_use" and text in ("", "{}") and not sent:
                pass
            elif text.startswith(sent):
                if text[len(sent) :]:
                    self._text(block, text[len(sent) :])
            else:
                self.conv.lose(block.path, "the final part contradicts what was already streamed")
            if isinstance(final, TextPart):
                for citation in final.citations[block.citations :]:
                    self._citation(block, citation)
            if isinstance(final, ReasoningPart) and final.signature is not None:
                block.signature = [final.signature]
        elif block.kind == "redacted" and isinstance(final, ReasoningPart) and final.encrypted:
            block.encrypted = [final.encrypted]

    def _advance(self) -> None:
        """The live block ended: bring the next held-back block on, with its backlog."""
        self._live = None
        while self._queue:
            block = self._queue.pop(0)
            block.live = True
            self._live = block
            self._out.extend(block.pending)
            block.pending = []
            if not block.ended:
                return
            self._live = None

    def _finish_all(self) -> None:
        for block in list(self._blocks.values()):
            if not block.ended:
                if block.live:
                    self._close_block(block, None)
                    self._advance()
                else:
                    self._close_block(block, None)
        while self._live is not None or self._queue:
            self._advance()

    # -- canonical events -----------------------------------------------------------------

    def feed(self, event: StreamEvent) -> list[SSEEvent]:
        if self._failed:
            return []
        if self._ended and not isinstance(event, (UsageUpdate, ResponseEnd, StreamError)):
            self.conv.lose("$", f"{type(event).__name__} after the end of the response")
            return []
        if isinstance(event, ResponseStart):
            if self._started:
                self.conv.lose("$", "a second response start")
            self._ensure_started(event)
            return self._flush()
        self._ensure_started()
        if isinstance(event, PartStart):
            self._part_start(event)
        elif isinstance(event, PartEnd):
            block = self._blocks.get(event.index)
            if block is not None and not block.ended:
                self._close_block(block, event.part)
                if block.live:
                    self._advance()
        elif isinstance(event, (TextDelta, ReasoningDelta, ArgumentsDelta)):
            block = self._blocks.get(event.index)
            if block is not None and not block.ended:
                text = event.fragment if isinstance(event, ArgumentsDelta) else event.text
                if block.kind in ("text", "thinking", "tool_use"):
                    self._text(block, text)
                elif text:
                    self.conv.lose(block.path, f"{type(event).__name__} on a {block.kind} block")
        elif isinstance(event, SignatureDelta):
            block = self._blocks.get(event.index)
            if block is not None and not block.ended:
                if event.encrypted and block.kind == "redacted":
                    block.encrypted.append(event.signature)
                elif not event.encrypted and block.kind == "thinking":
                    block.signature.append(event.signature)
                else:
                    self.conv.lose(
                        f"{block.path}.encrypted", "Anthropic thinking has no slot for it"
                    )
        elif isinstance(event, CitationDelta):
            block = self._blocks.get(event.index)
            if block is not None and not block.ended and block.kind == "text":
                self._citation(block, event.citation)
        elif isinstance(event, SummaryDelta):
            block = self._blocks.get(event.index)
            if block is not None:
                self.conv.lose(f"{block.path}.summary", "Anthropic thinking has no summaries")
        elif isinstance(event, UsageUpdate):
            self._usage = merge_usage(self._usage, event.usage)
        elif isinstance(event, ResponseEnd):
            self._response_end(event)
        elif isinstance(event, StreamError):
            self._stream_error(event)
        return self._flush()

    def close(self) -> list[SSEEvent]:
        """``message_delta`` waits for the close: usage may follow the stop reason (OpenAI
        sends it in a chunk after ``finish_reason``)."""
        if self._failed:
            return []
        self._ensure_started()
        if not self._ended:
            self._response_end(ResponseEnd())
        self._message_delta()
        self._out.append({"type": "message_stop"})
        self._failed = True  # nothing more after message_stop
        return self._flush()

    def _part_start(self, event: PartStart) -> None:
        path = f"$.choices[{event.choice}].content[{event.index}]"
        if event.choice != 0:
            if event.choice not in self._lost_choices:
                self._lost_choices.add(event.choice)
                self.conv.lose(f"$.choices[{event.choice}]", "Anthropic streams one choice")
            return
        if event.index in self._blocks:
            self.conv.lose(path, "the part started twice")
            return
        part = event.part
        kind: str
        if isinstance(part, TextPart):
            kind = "text"
        elif isinstance(part, RefusalPart):
            self.conv.lose(path, "Anthropic has no refusal block; sent as text")
            kind = "text"
        elif isinstance(part, ReasoningPart):
            kind = "redacted" if part.redacted else "thinking"
            if part.summary:
                self.conv.lose(f"{path}.summary", "Anthropic thinking has no summaries")
            if part.id is not None:
                self.conv.lose(f"{path}.id", "Anthropic thinking blocks have no id")
            if not part.redacted and part.encrypted is not None:
                self.conv.lose(f"{path}.encrypted", "Anthropic thinking has no slot for it")
        elif isinstance(part, ToolCallPart):
            kind = "tool_use"
        elif isinstance(part, OpaquePart) and part.protocol in cv.PROTOCOLS:
            kind = "opaque"
        else:
            what = part.kind if isinstance(part, OpaquePart) else type(part).__name__
            self.conv.lose(path, f"{what} cannot be streamed by Anthropic")
            return
        block = _Block(kind, self._next_index, part, path)
        self._next_index += 1
        self._blocks[event.index] = block
        if self._live is None and not self._queue:
            block.live = True
            self._live = block
        else:
            self._queue.append(block)
        self._open_block(block)

    def _response_end(self, event: ResponseEnd) -> None:
        if event.choice != 0:
            if event.choice not in self._lost_choices:
                self._lost_choices.add(event.choice)
                self.conv.lose(f"$.choices[{event.choice}]", "Anthropic streams one choice")
            return
        if self._ended:
            self.conv.lose("$.choices[0]", "a second end of the response")
            return
        self._finish_all()
        self._usage = merge_usage(self._usage, event.usage)
        self._stop = cv.stop_to_wire(
            event.stop_reason, event.stop_raw, self.conv, "$.choices[0].stop_reason"
        )
        self._ended = True

    def _message_delta(self) -> None:
        sequence = None
        stops = tuple(getattr(self.request, "stop", None) or ())
        if self._stop == "stop_sequence" and len(stops) == 1:
            sequence = stops[0]  # the only one it can be
        usage = cv.encode_usage(self._usage, self.conv, "$.usage")
        delta_usage: dict[str, Any] = {
            k: usage[k]
            for k in (
                "input_tokens",
                "cache_creation_input_tokens",
                "cache_read_input_tokens",
                "output_tokens",
                "output_tokens_details",
                "server_tool_use",
            )
            if k in usage
        }
        start_creation = (self._start_usage or {}).get("cache_creation")
        if "cache_creation" in usage and usage["cache_creation"] != start_creation:
            delta_usage["cache_creation"] = usage["cache_creation"]
        self._out.append(
            {
                "type": "message_delta",
                "delta": {"stop_reason": self._stop, "stop_sequence": sequence},
                "usage": delta_usage,
            }
        )

    def _stream_error(self, event: StreamError) -> None:
        kind = event.kind if event.kind in errors.ERROR_STATUS else None
        if kind is None:
            kind = "overloaded_error" if event.status in (503, 529) else "api_error"
        self._out.append(errors.error_body(kind, event.message))
        self._failed = True


_STREAMED = frozenset({"text", "thinking", "signature", "input", "data", "citations"})
"""Block fields the stream carries in deltas, never restored into a block start."""
