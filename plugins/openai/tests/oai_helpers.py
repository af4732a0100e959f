"""Test helpers for the OpenAI plugin: corpus discovery, an independent chat-chunk
accumulator (the reference the stream decoder is checked against), and small utilities."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

import attrs
import pytest
from hypothesis import HealthCheck, settings
from omniwire.model import (
    ArgumentsDelta,
    PartEnd,
    PartStart,
    ReasoningDelta,
    ReasoningPart,
    RefusalPart,
    Response,
    ResponseEnd,
    ResponseStart,
    StreamEvent,
    SummaryDelta,
    TextDelta,
    TextPart,
    ToolCallPart,
    UsageUpdate,
)
from omniwire.report import Conversion
from omniwire.sse import SSEEvent, SSEParser

REPO_ROOT = Path(__file__).resolve().parents[3]
CORPUS = Path(os.environ.get("OMNIWIRE_CORPUS") or REPO_ROOT.parent / "shared" / "corpus")
UNDER_CI = os.environ.get("CI", "").lower() == "true"

# Moderate example counts keep the whole plugin suite well under a minute;
# OMNIWIRE_OPENAI_EXAMPLES=2000 runs the properties harder.
_EXAMPLES = int(os.environ.get("OMNIWIRE_OPENAI_EXAMPLES", "60"))
PROFILE = settings(
    max_examples=_EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)
# the cross-codec properties reject what the target reports as lost: fewer, costlier examples
CROSS = settings(PROFILE, max_examples=max(10, _EXAMPLES // 2))


def corpus_files(protocol: str, filename: str) -> list[Any]:
    """pytest params for every ``<protocol>/<bucket>/<id>/<filename>``, ids naming the
    file. A missing corpus is one param that skips (or fails under CI=true)."""
    base = CORPUS / protocol
    if not base.is_dir():
        return [pytest.param(None, id=f"{protocol}-corpus-missing")]
    return [
        pytest.param(p, id=f"{protocol}/{p.parent.parent.name}/{p.parent.name}/{filename}")
        for p in sorted(base.glob(f"*/*/{filename}"))
    ]


def need(path: Path | None) -> Path:
    if path is None:
        if UNDER_CI:
            pytest.fail(f"corpus folder {CORPUS} is missing (CI=true)")
        pytest.skip(f"corpus folder {CORPUS} is missing")
    return path


def meta_of(path: Path) -> dict[str, Any]:
    meta = path.parent / "meta.json"
    return json.loads(meta.read_text()) if meta.exists() else {}


def run_decoder(codec: Any, sse: str | bytes, conv: Conversion | None = None) -> list[StreamEvent]:
    conv = conv if conv is not None else Conversion()
    parser, decoder = SSEParser(), codec.stream_decoder(conv)
    out: list[StreamEvent] = []
    for ev in parser.feed(sse) + parser.close():
        out.extend(decoder.feed(ev))
    out.extend(decoder.close())
    return out


def run_encoder(
    codec: Any, events: Iterable[StreamEvent], conv: Conversion | None = None, request: Any = None
) -> list[SSEEvent]:
    conv = conv if conv is not None else Conversion()
    encoder = codec.stream_encoder(conv, request)
    out: list[SSEEvent] = []
    for ev in events:
        out.extend(encoder.feed(ev))
    out.extend(encoder.close())
    return out


def sse_text(events: Iterable[SSEEvent]) -> str:
    return b"".join(e.encode() for e in events).decode()


def strip_raw(value: Any) -> Any:
    """A canonical value without any Raw: what a *fresh* encoding (no same-protocol
    memory) starts from."""
    if isinstance(value, (list, tuple)):
        return type(value)(strip_raw(v) for v in value)
    if attrs.has(type(value)):
        changes = {}
        for f in attrs.fields(type(value)):
            if not f.init:
                continue
            v = getattr(value, f.name)
            if f.name == "raw":
                changes["raw"] = None
            elif isinstance(v, (list, tuple)) or attrs.has(type(v)):
                changes[f.name] = strip_raw(v)
        return attrs.evolve(value, **changes)
    return value


# -- the reference accumulator for chat streams ----------------------------------------------


def accumulate_chat(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """Fold chat.completion.chunk objects into the chat.completion they describe, the
    simple way (independent of the codec's stream decoder)."""
    out: dict[str, Any] | None = None
    choices: dict[int, dict[str, Any]] = {}
    for ch in chunks:
        if "choices" not in ch:
            continue
        if out is None:
            out = {
                k: v for k, v in ch.items() if k not in ("choices", "usage", "obfuscation", "error")
            }
            out["object"] = "chat.completion"
        for c in ch.get("choices") or []:
            st = choices.setdefault(
                c["index"],
                {
                    "index": c["index"],
                    "message": {"role": "assistant", "content": None},
                    "finish_reason": None,
                },
            )
            d = c.get("delta") or {}
            msg = st["message"]
            for key in ("content", "refusal", "reasoning", "reasoning_content"):
                if d.get(key):
                    msg[key] = (msg.get(key) or "") + d[key]
            for tc in d.get("tool_calls") or []:
                calls = msg.setdefault("tool_calls", [])
                while len(calls) <= tc["index"]:
                    calls.append(
                        {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
                    )
                call = calls[tc["index"]]
                call["id"] = tc.get("id") or call["id"]
                fn = tc.get("function") or {}
                call["function"]["name"] = fn.get("name") or call["function"]["name"]
                call["function"]["arguments"] += fn.get("arguments") or ""
            if c.get("finish_reason") and st["finish_reason"] is None:
                st["finish_reason"] = c["finish_reason"]
        if ch.get("usage"):
            out["usage"] = ch["usage"]
    assert out is not None, "no chunk"
    out["choices"] = [choices[i] for i in sorted(choices)]
    return out


def chunks_of(sse: str) -> list[dict[str, Any]]:
    parser = SSEParser()
    out = []
    for ev in parser.feed(sse) + parser.close():
        if ev.data.strip() and ev.data.strip() != "[DONE]":
            out.append(json.loads(ev.data))
    return out


# -- canonical response -> stream events ------------------------------------------------------


def _pieces(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    return [text[a:b] for a, b in zip(points, points[1:]) if text[a:b]]


def events_of(response: Response, cuts: list[int] | None = None) -> list[StreamEvent]:
    """A canonical event stream that folds to ``response``: every text split at
    ``cuts``, parts opened empty and grown by deltas."""
    cuts = cuts or []
    out: list[StreamEvent] = [
        ResponseStart(
            response.id, response.model, response.created, service_tier=response.service_tier
        )
    ]
    index = 0
    for choice in response.choices:
        for p in choice.content:
            if isinstance(p, (TextPart, RefusalPart)):
                out.append(PartStart(index, attrs.evolve(p, text=""), choice.index))
                out.extend(TextDelta(index, t) for t in _pieces(p.text, cuts))
                out.append(PartEnd(index))
            elif isinstance(p, ToolCallPart):
                first = attrs.evolve(p, arguments="{}" if p.arguments == "{}" else "")
                out.append(PartStart(index, first, choice.index))
                if p.arguments != "{}":
                    out.extend(ArgumentsDelta(index, t) for t in _pieces(p.arguments, cuts))
                out.append(PartEnd(index))
            elif isinstance(p, ReasoningPart):
                out.append(PartStart(index, attrs.evolve(p, text="", summary=()), choice.index))
                for k, s in enumerate(p.summary):
                    out.append(SummaryDelta(index, "", k))
                    out.extend(SummaryDelta(index, t, k) for t in _pieces(s, cuts))
                out.extend(ReasoningDelta(index, t) for t in _pieces(p.text, cuts))
                out.append(PartEnd(index))
            else:
                out.append(PartStart(index, p, choice.index))
                out.append(PartEnd(index))
            index += 1
        out.append(ResponseEnd(choice.stop_reason, choice.stop_raw, choice=choice.index))
    if response.usage is not None:
        out.append(UsageUpdate(response.usage))
    return out
