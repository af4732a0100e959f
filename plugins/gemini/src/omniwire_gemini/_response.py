"""Response metadata shared by whole responses and stream chunks: finish reasons,
timestamps and ``usageMetadata``."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Mapping

from omniwire.errors import ProtocolError
from omniwire.model import StopReason, Usage
from omniwire.report import Conversion

from ._keys import field, items, key_of, obj_at, restore

__all__ = [
    "UNSPECIFIED",
    "decode_finish",
    "decode_time",
    "decode_usage",
    "encode_finish",
    "encode_time",
    "encode_usage",
]

_CF = StopReason.CONTENT_FILTER
_ERR = StopReason.ERROR
_FINISH: dict[str, StopReason] = {
    "STOP": StopReason.END_TURN,
    "MAX_TOKENS": StopReason.MAX_TOKENS,
    "SAFETY": _CF,
    "RECITATION": _CF,
    "BLOCKLIST": _CF,
    "PROHIBITED_CONTENT": _CF,
    "SPII": _CF,
    "IMAGE_SAFETY": _CF,
    "IMAGE_PROHIBITED_CONTENT": _CF,
    "IMAGE_RECITATION": _CF,
    "MODEL_ARMOR": _CF,
    "MALFORMED_FUNCTION_CALL": _ERR,
    "UNEXPECTED_TOOL_CALL": _ERR,
    "TOO_MANY_TOOL_CALLS": _ERR,
    "MISSING_THOUGHT_SIGNATURE": _ERR,
    "MALFORMED_RESPONSE": _ERR,
}
"""Everything else (OTHER, LANGUAGE, NO_IMAGE, unknown words...) is StopReason.OTHER."""

_WORD: dict[StopReason, str] = {
    StopReason.END_TURN: "STOP",
    StopReason.TOOL_CALLS: "STOP",
    StopReason.MAX_TOKENS: "MAX_TOKENS",
    StopReason.CONTENT_FILTER: "SAFETY",
    StopReason.ERROR: "MALFORMED_FUNCTION_CALL",
    StopReason.OTHER: "OTHER",
    StopReason.STOP_SEQUENCE: "STOP",
    StopReason.REFUSAL: "SAFETY",
    StopReason.PAUSE_TURN: "OTHER",
}


UNSPECIFIED = "FINISH_REASON_UNSPECIFIED"


def decode_finish(word: str, has_calls: bool) -> StopReason | None:
    """Gemini says STOP after function calls too; canonically that is TOOL_CALLS.
    FINISH_REASON_UNSPECIFIED is no reason (None); it ends a stream that has none."""
    if word.upper() == UNSPECIFIED:
        return None
    reason = _FINISH.get(word.upper(), StopReason.OTHER)
    if reason is StopReason.END_TURN and has_calls:
        return StopReason.TOOL_CALLS
    return reason


def encode_finish(
    reason: StopReason | None, raw_word: str | None, has_calls: bool, conv: Conversion, path: str
) -> str:
    # the provider's own word comes back only if it is Gemini's (upper case), not
    # another protocol's ("stop", "end_turn") that happens to mean the same
    if raw_word is not None and raw_word.isupper() and decode_finish(raw_word, has_calls) is reason:
        return raw_word
    word = UNSPECIFIED if reason is None else _WORD.get(reason, "OTHER")
    if decode_finish(word, has_calls) is not reason:
        conv.lose(path, f"Gemini has no finish reason for {reason} here; sent {word}")
    return word


_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d)$")


def decode_time(value: str | None, path: str) -> int | None:
    """An RFC 3339 timestamp -> Unix seconds (the sub-second part is dropped; the raw
    string restores it)."""
    if value is None:
        return None
    m = _TIME.match(value)
    if m is None:
        raise ProtocolError(f"expected an RFC 3339 timestamp, got {value!r}", path=path)
    zone = "+00:00" if m.group(2) == "Z" else m.group(2)
    return int(datetime.fromisoformat(m.group(1) + zone).timestamp())


def encode_time(created: int, raw_value: Any) -> str:
    if isinstance(raw_value, str):
        try:
            if decode_time(raw_value, "$") == created:
                return raw_value
        except ProtocolError:
            pass
    return datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- usage ----------------------------------------------------------------------------------

_BREAKDOWNS = (
    ("promptTokensDetails", "input"),
    ("cacheTokensDetails", "cache_read"),
    ("candidatesTokensDetails", "output"),
    ("toolUsePromptTokensDetails", "tool_use_prompt"),
)
_MODALITIES = frozenset({"modality_unspecified", "text", "image", "video", "audio", "document"})
_DETAIL = re.compile(r"^(input|cache_read|output|tool_use_prompt)_([a-z_]+?)_tokens$")
TOOL_USE = "tool_use_prompt_tokens"
TOTAL = "total_tokens"
USAGE_MODELED = frozenset(
    {
        "promptTokenCount",
        "candidatesTokenCount",
        "cachedContentTokenCount",
        "thoughtsTokenCount",
        "toolUsePromptTokenCount",
        "totalTokenCount",
        "serviceTier",
        *(name for name, _ in _BREAKDOWNS),
    }
)


def _count(obj: Mapping[str, Any], name: str, path: str) -> int:
    value = field(obj, name, int, path)
    if value is not None and value < 0:
        raise ProtocolError("expected a count, got a negative number", path=f"{path}.{name}")
    return value or 0


def decode_usage(um: Any, path: str) -> tuple[Usage | None, str | None]:
    """``usageMetadata`` -> (Usage, serviceTier); no counts at all is no Usage.

    input = promptTokenCount (cached tokens included) + toolUsePromptTokenCount;
    output = candidatesTokenCount + thoughtsTokenCount; reasoning = thoughtsTokenCount;
    cache_read = cachedContentTokenCount. ``details`` keeps the per-modality breakdowns
    (``input_audio_tokens``, ``cache_read_video_tokens``, ``output_text_tokens``...), the
    tool-use prompt count, and ``total_tokens`` only when it disagrees with the sum.
    """
    um = obj_at(um, path)
    if not any(key_of(um, name) for name in USAGE_MODELED - {"serviceTier"}):
        return None, field(um, "serviceTier", str, path)
    prompt = _count(um, "promptTokenCount", path)
    candidates = _count(um, "candidatesTokenCount", path)
    cached = _count(um, "cachedContentTokenCount", path)
    thoughts = _count(um, "thoughtsTokenCount", path)
    tool_use = _count(um, "toolUsePromptTokenCount", path)
    total = field(um, "totalTokenCount", int, path)
    details: dict[str, int] = {}
    for name, prefix in _BREAKDOWNS:
        for e_path, entry in items(um, name, path):
            entry = obj_at(entry, e_path)
            modality = field(entry, "modality", str, e_path) or "MODALITY_UNSPECIFIED"
            key = f"{prefix}_{modality.lower()}_tokens"
            details[key] = details.get(key, 0) + _count(entry, "tokenCount", e_path)
    if tool_use:
        details[TOOL_USE] = tool_use
    usage_in = prompt + tool_use
    usage_out = candidates + thoughts
    if total is not None and total != usage_in + usage_out:
        details[TOTAL] = total
    tier = field(um, "serviceTier", str, path)
    return Usage(usage_in, usage_out, cached, 0, thoughts, details or None), tier


def encode_usage(
    usage: Usage | None,
    tier: str | None,
    conv: Conversion,
    path: str,
    raw: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The inverse of :func:`decode_usage`; zero counts are omitted, as the API does."""
    out: dict[str, Any] = {}
    if usage is not None:
        details = dict(usage.details or {})
        tool_use = details.pop(TOOL_USE, 0)
        total = details.pop(TOTAL, None)
        prompt = usage.input_tokens - tool_use
        candidates = usage.output_tokens - usage.reasoning_tokens
        if prompt < 0:
            conv.lose(f"{path}.details.{TOOL_USE}", "more tool-use tokens than input tokens")
            prompt = 0
        if candidates < 0:
            conv.lose(f"{path}.reasoning_tokens", "more reasoning tokens than output tokens")
            candidates = 0
        if usage.cache_write_tokens:
            conv.lose(f"{path}.cache_write_tokens", "Gemini reports no cache writes")
        for name, value in (
            ("promptTokenCount", prompt),
            ("candidatesTokenCount", candidates),
            ("cachedContentTokenCount", usage.cache_read_tokens),
            ("thoughtsTokenCount", usage.reasoning_tokens),
            ("toolUsePromptTokenCount", tool_use),
            ("totalTokenCount", total if total is not None else usage.total_tokens),
        ):
            if value:
                out[name] = value
        if not out:
            out["totalTokenCount"] = 0  # a Usage of zeros, not an absent one
        lists: dict[str, list[dict[str, Any]]] = {}
        for key, value in details.items():
            m = _DETAIL.match(key)
            if m is None or m.group(2) not in _MODALITIES:
                conv.lose(f"{path}.details.{key}", "Gemini has no such usage count")
                continue
            name = next(n for n, prefix in _BREAKDOWNS if prefix == m.group(1))
            entry: dict[str, Any] = {"modality": m.group(2).upper()}
            if value:
                entry["tokenCount"] = value
            lists.setdefault(name, []).append(entry)
        out.update(lists)
    if tier is not None:
        out["serviceTier"] = tier
    return restore(out, raw, USAGE_MODELED)
