"""streamGenerateContent (``alt=sse``) both ways.

Every ``data:`` line is a whole GenerateContentResponse holding the *new* parts; function
calls arrive whole, ``usageMetadata`` is the running total, ``finishReason`` marks the
last chunk of a candidate, and there is no ``[DONE]``. Text continuing the part kind
before it extends that part; a new kind opens a new part.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import attrs
from omniwire.errors import ProtocolError
from omniwire.model import (
    ArgumentsDelta,
    AudioPart,
    CitationDelta,
    FilePart,
    ImagePart,
    PartEnd,
    PartStart,
    Raw,
    ReasoningDelta,
    ReasoningPart,
    RefusalPart,
    ResponseEnd,
    ResponseStart,
    SignatureDelta,
    StopReason,
    StreamError,
    StreamEvent,
    SummaryDelta,
    TextDelta,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    Usage,
    UsageUpdate,
)
from omniwire.model.stream import merge_usage
from omniwire.report import Conversion
from omniwire.sse import SSEEvent
from omniwire.wire import loads

from ._base import error_from_body
from ._content import DETACHED, SIG, ContentDecoder, ContentEncoder, _raw, compact
from ._keys import camel, field, items, key_of, obj_at, raw_data
from ._response import (
    decode_finish,
    decode_time,
    decode_usage,
    encode_finish,
    encode_time,
    encode_usage,
)

if TYPE_CHECKING:
    from omniwire.model import Part

    from .generate_content import GeminiGenerateContent

__all__ = ["GeminiStreamDecoder", "GeminiStreamEncoder"]


class _Candidate:
    """Decoder state of one candidate: the open part and the call-id bookkeeping."""

    __slots__ = ("decoder", "open", "kind", "signed", "has_calls", "ended", "args")

    def __init__(self, decoder: ContentDecoder) -> None:
        self.decoder = decoder
        self.open: int | None = None
        self.kind: str | None = None
        self.signed = False
        self.has_calls = False
        self.ended = False
        self.args: dict[str, Any] = {}


class GeminiStreamDecoder:
    """Chunks in, canonical stream events out."""

    def __init__(self, codec: GeminiGenerateContent, conv: Conversion) -> None:
        self.codec = codec
        self.conv = conv
        self.started = False
        self.rid: str | None = None
        self.next_index = 0
        self.candidates: dict[int, _Candidate] = {}
        self.usage: Usage | None = None
        self.blocked = False
        self.failed = False

    def feed(self, event: SSEEvent) -> list[StreamEvent]:
        data = event.data.strip()
        if not data:
            return []
        try:
            obj = loads(data)
        except ValueError as exc:
            raise ProtocolError(f"stream chunk is not valid JSON ({exc})", path="$") from None
        return self.chunk(obj)

    def chunk(self, obj: Any, path: str = "$") -> list[StreamEvent]:
        obj = obj_at(obj, path)
        out: list[StreamEvent] = []
        if "error" in obj and "candidates" not in obj:
            err = error_from_body(None, {}, obj, self.codec.provider)
            kind = getattr(err, "upstream_kind", None) or (
                "RESOURCE_EXHAUSTED" if err.status == 429 else None
            )
            self.failed = True
            return [StreamError(err.message, kind, err.status)]
        um_key = key_of(obj, "usageMetadata")
        usage, tier = None, None
        if um_key is not None and obj[um_key] is not None:
            usage, tier = decode_usage(obj[um_key], f"{path}.{um_key}")
        if not self.started:
            self.started = True
            self.rid = field(obj, "responseId", str, path)
            out.append(
                ResponseStart(
                    id=self.rid,
                    model=field(obj, "modelVersion", str, path),
                    created=decode_time(field(obj, "createTime", str, path), f"{path}.createTime"),
                    service_tier=tier,
                    raw=Raw(self.codec.id, obj),
                )
            )
        if usage is not None and usage != self.usage:
            self.usage = usage
            out.append(UsageUpdate(usage))
        for position, (c_path, cand) in enumerate(items(obj, "candidates", path)):
            cand = obj_at(cand, c_path)
            index = field(cand, "index", int, c_path)
            index = position if index is None else index
            state = self.candidates.get(index)
            if state is None:
                from .generate_content import call_prefix

                state = self.candidates[index] = _Candidate(
                    ContentDecoder(self.conv, prefix=call_prefix(self.rid, index))
                )
            content_key = key_of(cand, "content")
            content = field(cand, "content", dict, c_path)
            if content is not None:
                for p_path, part in items(content, "parts", f"{c_path}.{content_key}"):
                    self._part(state, index, part, p_path, out)
            word = field(cand, "finishReason", str, c_path)
            if word is not None and not state.ended:
                self._close(state, out)
                state.ended = True
                out.append(ResponseEnd(decode_finish(word, state.has_calls), word, choice=index))
        pf = field(obj, "promptFeedback", dict, path)
        if pf is not None and not self.candidates:
            block = field(pf, "blockReason", str, f"{path}.promptFeedback")
            if block is not None and not self.blocked:
                self.blocked = True
                out.append(ResponseEnd(StopReason.CONTENT_FILTER, block))
        return out

    def _part(
        self, state: _Candidate, choice: int, obj: Any, path: str, out: list[StreamEvent]
    ) -> None:
        obj = obj_at(obj, path)
        text = field(obj, "text", str, path)
        thought = field(obj, "thought", bool, path)
        sig = field(obj, SIG, str, path)
        plain = text is not None and len(obj) == 1
        if plain and state.kind == "text":
            if text:
                out.append(TextDelta(state.open, text))  # type: ignore[arg-type]
            return
        if (
            thought
            and text is not None
            and state.kind == "thought"
            and not state.signed
            and set(map(camel, obj)) <= {"text", "thought", SIG}
        ):
            if text:
                out.append(ReasoningDelta(state.open, text))  # type: ignore[arg-type]
            if sig is not None:
                out.append(SignatureDelta(state.open, sig))  # type: ignore[arg-type]
                state.signed = True
            return
        fc_key = key_of(obj, "functionCall")
        fc = obj.get(fc_key) if fc_key is not None else None
        if fc_key is not None and isinstance(fc, dict):
            f_path = f"{path}.{fc_key}"
            if state.kind == "args" and key_of(fc, "name") is None:
                _apply_partial(state.args, fc, f_path)
                if not field(fc, "willContinue", bool, f_path):
                    self._close(state, out)
                return
            if field(fc, "willContinue", bool, f_path):
                self._close(state, out)
                self._stream_call(state, choice, obj, fc_key, fc, path, out)
                return
        self._close(state, out)
        for part in state.decoder.part(obj, path):
            index = self.next_index
            self.next_index += 1
            if isinstance(part, TextPart):
                out.append(PartStart(index, attrs.evolve(part, text=""), choice))
                if part.text:
                    out.append(TextDelta(index, part.text))
                state.open, state.kind = index, "text"
            elif isinstance(part, ReasoningPart) and not _is_detached(part):
                out.append(PartStart(index, attrs.evolve(part, text="", signature=None), choice))
                if part.text:
                    out.append(ReasoningDelta(index, part.text))
                if part.signature is not None:
                    out.append(SignatureDelta(index, part.signature))
                state.open, state.kind, state.signed = index, "thought", part.signature is not None
            elif isinstance(part, ToolCallPart):
                state.has_calls = True
                out.append(PartStart(index, attrs.evolve(part, arguments=""), choice))
                out.append(ArgumentsDelta(index, part.arguments))
                out.append(PartEnd(index))
            else:
                out.append(PartStart(index, part, choice))
                out.append(PartEnd(index))

    def _stream_call(
        self,
        state: _Candidate,
        choice: int,
        obj: dict[str, Any],
        fc_key: str,
        fc: dict[str, Any],
        path: str,
        out: list[StreamEvent],
    ) -> None:
        """A call whose arguments follow as ``partialArgs`` (Vertex
        ``streamFunctionCallArguments``): open it now, send its arguments whole at the
        end (the chunk whose functionCall no longer says ``willContinue``)."""
        head = {k: v for k, v in fc.items() if camel(k) not in ("willContinue", "partialArgs")}
        for part in state.decoder.part({**obj, fc_key: head}, path):
            index = self.next_index
            self.next_index += 1
            if isinstance(part, ToolCallPart):
                state.has_calls = True
                out.append(PartStart(index, attrs.evolve(part, arguments=""), choice))
                state.open, state.kind, state.args = index, "args", {}
            else:
                out.append(PartStart(index, part, choice))
                out.append(PartEnd(index))
        _apply_partial(state.args, fc, f"{path}.{fc_key}")

    @staticmethod
    def _close(state: _Candidate, out: list[StreamEvent]) -> None:
        if state.open is not None:
            if state.kind == "args":
                out.append(ArgumentsDelta(state.open, compact(state.args)))
            out.append(PartEnd(state.open))
        state.open, state.kind, state.signed = None, None, False

    def close(self) -> list[StreamEvent]:
        if self.failed or self.blocked:
            return []
        if not self.started:
            raise ProtocolError("the stream ended before its first chunk", path="$")
        open_ = [i for i, c in self.candidates.items() if not c.ended]
        if open_ or not self.candidates:
            raise ProtocolError(
                "the stream ended before a finishReason", path=f"$.candidates[{(open_ or [0])[0]}]"
            )
        return []


_STEP = re.compile(
    r"\.([^.\[\]]+)|\[(\d+)\]|\[\s*'((?:[^'\\]|\\.)*)'\s*\]|\[\s*\"((?:[^\"\\]|\\.)*)\"\s*\]"
)
_VALUES = ("stringValue", "numberValue", "boolValue", "nullValue", "structValue", "listValue")


def _apply_partial(args: dict[str, Any], fc: dict[str, Any], path: str) -> None:
    """Fold ``functionCall.partialArgs`` into ``args``: each entry sets the value at its
    ``jsonPath``; string fragments append to the string already there."""
    for a_path, entry in items(fc, "partialArgs", path):
        entry = obj_at(entry, a_path)
        json_path = field(entry, "jsonPath", str, a_path, required=True)
        steps: list[str | int] = []
        pos = 1 if json_path.startswith("$") else len(json_path) + 1
        while pos < len(json_path):
            m = _STEP.match(json_path, pos)
            if m is None:
                break
            name = m.group(1) or m.group(3) or m.group(4)
            steps.append(int(m.group(2)) if m.group(2) is not None else name)
            pos = m.end()
        if pos != len(json_path) or not steps:
            raise ProtocolError(f"unsupported JSON path {json_path!r}", path=f"{a_path}.jsonPath")
        value_key = next((k for k in entry if camel(k) in _VALUES), None)
        if value_key is None:
            continue
        value = None if camel(value_key) == "nullValue" else entry[value_key]
        container: Any = args
        for step, nxt in zip(steps, steps[1:]):
            fresh: Any = [] if isinstance(nxt, int) else {}
            container = _slot(container, step, fresh, a_path)
        last = steps[-1]
        old = _get(container, last)
        if isinstance(value, str) and isinstance(old, str):
            value = old + value
        _slot(container, last, value, a_path, replace=True)


def _get(container: Any, step: str | int) -> Any:
    if isinstance(container, dict):
        return container.get(step)
    if isinstance(container, list) and isinstance(step, int) and step < len(container):
        return container[step]
    return None


def _slot(container: Any, step: str | int, value: Any, path: str, *, replace: bool = False) -> Any:
    if isinstance(container, dict) and isinstance(step, str):
        if replace or step not in container:
            container[step] = value
        return container[step]
    if isinstance(container, list) and isinstance(step, int):
        while len(container) <= step:
            container.append(None)
        if replace or container[step] is None:
            container[step] = value
        return container[step]
    raise ProtocolError("partialArgs paths disagree about the arguments' shape", path=path)


def _is_detached(part: ReasoningPart) -> bool:
    return part.raw is not None and bool(part.raw.data.get(DETACHED))


# -- encoder ------------------------------------------------------------------------------

_ATTACHABLE = (TextPart, RefusalPart, ImagePart, AudioPart, FilePart, ToolCallPart, ToolResultPart)


class _Open:
    """Encoder state of one part between PartStart and PartEnd."""

    __slots__ = ("part", "choice", "kind", "ordinal", "emitted", "fragments", "signature")

    def __init__(self, part: Part, choice: int, kind: str, ordinal: int) -> None:
        self.part = part
        self.choice = choice
        self.kind = kind
        self.ordinal = ordinal
        self.emitted = False
        self.fragments: list[str] = []
        self.signature: list[str] = []


class GeminiStreamEncoder:
    """Canonical stream events in, chunks out. Tool-call arguments are buffered until
    PartEnd so each functionCall goes out whole; usage rides on every chunk."""

    def __init__(self, codec: GeminiGenerateContent, conv: Conversion) -> None:
        self.codec = codec
        self.conv = conv
        self.enc = ContentEncoder(conv)
        self.meta: dict[str, Any] = {}
        self.tier: str | None = None
        self.usage: Usage | None = None
        self.usage_wire: dict[str, Any] | None = None
        self.usage_sent: dict[str, Any] | None = None
        self.parts: dict[int, _Open] = {}
        self.counts: dict[int, int] = {}
        self.pending: dict[int, str] = {}
        self.last: dict[int, str] = {}
        self.has_calls: set[int] = set()

    # chunk building

    def _set_usage(self, usage: Usage | None) -> None:
        merged = merge_usage(self.usage, usage)
        if merged is not self.usage:
            self.usage = merged
            self.usage_wire = encode_usage(merged, self.tier, self.conv, "$.usage")

    def _chunk(
        self, choice: int | None, parts: list[dict[str, Any]] | None, finish: str | None = None
    ) -> SSEEvent:
        obj: dict[str, Any] = {}
        if choice is not None:
            cand: dict[str, Any] = {}
            if parts is not None:
                cand["content"] = {"parts": parts, "role": "model"}
            if finish is not None:
                cand["finishReason"] = finish
            cand["index"] = choice
            obj["candidates"] = [cand]
        if self.usage_wire is not None:
            obj["usageMetadata"] = self.usage_wire
            self.usage_sent = self.usage_wire
        obj.update(self.meta)
        return SSEEvent(compact(obj))

    def _emit(self, st: _Open, wire: dict[str, Any], out: list[SSEEvent]) -> None:
        """Send one part of ``st``; its first chunk carries a pending signature, or else
        is checked for merging into the part before it."""
        if not st.emitted:
            sig = self.pending.pop(st.choice, None)
            if sig is not None:
                wire[SIG] = sig
            else:
                self._adjacent(st.choice, st.kind)
        st.emitted = True
        out.append(self._chunk(st.choice, [wire]))

    def _flush_pending(self, choice: int, out: list[SSEEvent]) -> None:
        """A signature with no part after it to ride on goes out as a thought part."""
        sig = self.pending.pop(choice, None)
        if sig is not None:
            self._adjacent(choice, "thought")
            out.append(self._chunk(choice, [{"text": "", "thought": True, SIG: sig}]))
            self.last[choice] = "signed"

    def _path(self, st: _Open) -> str:
        return f"$.choices[{st.choice}].content[{st.ordinal}]"

    def _adjacent(self, choice: int, kind: str) -> None:
        if kind in ("text", "thought") and self.last.get(choice) == kind:
            self.conv.lose(
                f"$.choices[{choice}].content", f"Gemini streams merge adjacent {kind} parts"
            )

    # events

    def feed(self, event: StreamEvent) -> list[SSEEvent]:
        out: list[SSEEvent] = []
        cls = type(event)
        if cls is TextDelta or cls is ReasoningDelta:
            st = self.parts[event.index]  # type: ignore[union-attr]
            text = event.text  # type: ignore[union-attr]
            if text and st.kind in ("text", "thought"):
                wire: dict[str, Any] = {"text": text}
                if st.kind == "thought":
                    wire["thought"] = True
                self._emit(st, wire, out)
        elif cls is ArgumentsDelta:
            self.parts[event.index].fragments.append(event.fragment)  # type: ignore[union-attr]
        elif cls is PartStart:
            assert isinstance(event, PartStart)
            self._start(event, out)
        elif cls is PartEnd:
            assert isinstance(event, PartEnd)
            self._end(event, out)
        elif cls is SignatureDelta:
            assert isinstance(event, SignatureDelta)
            st = self.parts[event.index]
            if event.encrypted:
                self.conv.lose(f"{self._path(st)}.encrypted", "Gemini has no encrypted reasoning")
            else:
                st.signature.append(event.signature)
        elif cls is SummaryDelta:
            assert isinstance(event, SummaryDelta)
            self.conv.lose(
                f"{self._path(self.parts[event.index])}.summary",
                "Gemini has no reasoning summaries",
            )
        elif cls is CitationDelta:
            assert isinstance(event, CitationDelta)
            self.conv.lose(
                f"{self._path(self.parts[event.index])}.citations",
                "Gemini parts carry no citations",
            )
        elif cls is UsageUpdate:
            self._set_usage(event.usage)  # type: ignore[union-attr]
        elif cls is ResponseStart:
            assert isinstance(event, ResponseStart)
            self._begin(event)
        elif cls is ResponseEnd:
            assert isinstance(event, ResponseEnd)
            self._finish(event, out)
        elif cls is StreamError:
            assert isinstance(event, StreamError)
            status, body = self.codec.encode_error(_stream_error(event))
            out.append(SSEEvent(compact(body)))
        return out

    def _begin(self, event: ResponseStart) -> None:
        raw = raw_data(event.raw, self.codec.id)
        self.tier = event.service_tier
        if event.model is not None:
            self.meta["modelVersion"] = event.model
        if event.created is not None:
            self.meta["createTime"] = encode_time(
                event.created, raw.get("createTime") if raw else None
            )
        if event.id is not None:
            self.meta["responseId"] = event.id
        if event.usage is not None or self.tier is not None:
            self.usage_wire = encode_usage(event.usage, self.tier, self.conv, "$.usage")
            self.usage = event.usage

    def _start(self, event: PartStart, out: list[SSEEvent]) -> None:
        part, choice = event.part, event.choice
        ordinal = self.counts.get(choice, 0)
        self.counts[choice] = ordinal + 1
        if isinstance(part, (TextPart, RefusalPart)):
            kind = "text"
        elif isinstance(part, ReasoningPart):
            kind = "thought"
        elif isinstance(part, ToolCallPart):
            kind = "call"
        else:
            kind = "whole"
        st = self.parts[event.index] = _Open(part, choice, kind, ordinal)
        if choice in self.pending and not isinstance(part, _ATTACHABLE):
            self._flush_pending(choice, out)
        if kind == "text":
            if isinstance(part, RefusalPart):
                self.conv.lose(self._path(st), "Gemini has no refusal part; sent as text")
            elif part.citations:  # type: ignore[union-attr]
                self.conv.lose(f"{self._path(st)}.citations", "Gemini parts carry no citations")
            if part.text:  # type: ignore[union-attr]
                self._emit(st, {"text": part.text}, out)  # type: ignore[union-attr]
        elif kind == "thought":
            assert isinstance(part, ReasoningPart)
            if part.signature is not None:
                st.signature.append(part.signature)
            if part.text:
                self._emit(st, {"text": part.text, "thought": True}, out)

    def _end(self, event: PartEnd, out: list[SSEEvent]) -> None:
        st = self.parts.pop(event.index)
        path = self._path(st)
        choice = st.choice
        if st.kind == "text":
            if not st.emitted:
                self._emit(st, {"text": ""}, out)
            self.last[choice] = "text"
        elif st.kind == "thought":
            self._end_reasoning(st, event, path, out)
        elif st.kind == "call":
            part = event.part if event.part is not None else self._built_call(st)
            assert isinstance(part, ToolCallPart)
            wire = self.enc.call(part, path, _raw(part))
            self.has_calls.add(choice)
            self._emit(st, wire, out)
            self.last[choice] = "call"
        else:
            part = event.part if event.part is not None else st.part
            wire_part = self.enc.part(part, path)
            if wire_part is not None:
                if isinstance(part, _ATTACHABLE):
                    self._emit(st, wire_part, out)
                else:
                    st.emitted = True
                    out.append(self._chunk(choice, [wire_part]))
            self.last[choice] = "whole"

    def _end_reasoning(self, st: _Open, event: PartEnd, path: str, out: list[SSEEvent]) -> None:
        """Thought text went out as it came; the signature goes last (a thought chunk with
        a signature ends the part for the decoder). A signature-only part waits for the
        next part of the choice and rides on it, as in a whole response."""
        choice = st.choice
        part = st.part
        text = ""
        if isinstance(event.part, ReasoningPart) and not st.emitted:
            part = event.part
            text = event.part.text
            sig = event.part.signature
        else:
            sig = "".join(st.signature) if st.signature else None
        assert isinstance(part, ReasoningPart)
        if part.summary:
            self.conv.lose(f"{path}.summary", "Gemini has no reasoning summaries")
        if part.encrypted is not None or part.redacted:
            self.conv.lose(f"{path}.encrypted", "Gemini has no encrypted or redacted reasoning")
        if part.id is not None:
            self.conv.lose(f"{path}.id", "Gemini parts carry no reasoning id")
        if not st.emitted and not text:
            if sig is None:
                self.conv.lose(path, "an empty reasoning part has nothing to send")
                return
            raw = _raw(part)
            if raw is None or raw.get(DETACHED):
                self._flush_pending(choice, out)
                self.pending[choice] = sig
                return
        wire: dict[str, Any] = {"text": text, "thought": True}
        if sig is not None:
            wire[SIG] = sig
        if text or sig is not None:
            self._emit(st, wire, out)
        self.last[choice] = "signed" if sig is not None else "thought"

    @staticmethod
    def _built_call(st: _Open) -> ToolCallPart:
        part = st.part
        assert isinstance(part, ToolCallPart)
        if not st.fragments:
            return part
        base = part.arguments if part.arguments not in ("", "{}") else ""
        return attrs.evolve(part, arguments=base + "".join(st.fragments))

    def _finish(self, event: ResponseEnd, out: list[SSEEvent]) -> None:
        choice = event.choice
        self._set_usage(event.usage)
        self._flush_pending(choice, out)
        for index in [i for i, st in self.parts.items() if st.choice == choice]:
            self._end(PartEnd(index), out)
        finish = encode_finish(
            event.stop_reason,
            event.stop_raw,
            choice in self.has_calls,
            self.conv,
            f"$.choices[{choice}].stop_reason",
        )
        out.append(self._chunk(choice, None, finish))

    def close(self) -> list[SSEEvent]:
        out: list[SSEEvent] = []
        for choice in list(self.pending):
            self._flush_pending(choice, out)
        if self.usage_wire is not None and self.usage_wire is not self.usage_sent:
            out.append(self._chunk(None, None))
        return out


def _stream_error(event: StreamError) -> Any:
    from omniwire.errors import UpstreamError

    return UpstreamError(event.message, status=event.status or 500, upstream_kind=event.kind)
