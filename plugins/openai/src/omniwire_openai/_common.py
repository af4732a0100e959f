"""Helpers shared by the OpenAI codecs: raw restoration, usage arithmetic, errors.

OpenAI's protocols share an error envelope, rate-limit headers and most of their usage
shape, so the pieces live here once instead of in every codec.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from omniwire.codec import Codec
from omniwire.errors import (
    BudgetExceeded,
    CircuitOpen,
    NoAvailableKey,
    OmniwireError,
    ProtocolError,
    RateLimited,
    Timeout,
    UpstreamError,
)
from omniwire.model import CacheHint, Raw, StreamError, Usage
from omniwire.report import Conversion
from omniwire.wire import FileUpload, MultipartBody, loads, opt, type_name

__all__ = [
    "PROVIDER",
    "OpenAICodec",
    "decode_cache_hint",
    "decode_error",
    "drop_absent",
    "dumps",
    "encode_cache_hint",
    "encode_error",
    "gen_id",
    "loads_event",
    "now",
    "restore",
    "retry_after",
    "same",
    "stream_error",
]

PROVIDER = "openai"

_EMPTY: tuple[Any, ...] = (None, "", (), [], {})


def same(raw: Raw | None, protocol: str) -> Mapping[str, Any] | None:
    """The raw object when it was decoded by ``protocol`` (and is an object), else None."""
    if raw is None or raw.protocol != protocol or not isinstance(raw.data, Mapping):
        return None
    return raw.data


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, (str, list, dict, tuple)) and not value)


def restore(
    out: dict[str, Any], data: Mapping[str, Any] | None, owned: Collection[str]
) -> dict[str, Any]:
    """Add back what a same-protocol original had and the canonical model does not own.

    Keys the codec models (``owned``) come from the canonical value; only their *empty*
    forms (``null``, ``[]``, ``""``) are restored when the canonical value produced
    nothing, since those carry presence but no meaning.
    """
    if data is None:
        return out
    for key, value in data.items():
        if key in out:
            continue
        if key not in owned or _is_empty(value):
            out[key] = value
    return out


def drop_absent(
    out: dict[str, Any], data: Mapping[str, Any] | None, defaults: Mapping[str, Any]
) -> None:
    """Remove keys the encoder emits by default (``"refusal": null``) when the original
    object did not have them and the value is still the default."""
    if data is None:
        return
    for key, default in defaults.items():
        if key in out and key not in data and out[key] == default:
            del out[key]


def dumps(obj: Any) -> str:
    """Compact JSON for SSE data lines (SSE data is text by definition)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def loads_event(data: str, path: str = "$") -> Any:
    try:
        return loads(data)
    except ValueError as exc:
        raise ProtocolError(f"SSE data is not JSON: {exc}", path=path) from None


def gen_id(prefix: str) -> str:
    """A fresh provider-style id, for objects the canonical value did not name."""
    return f"{prefix}{uuid.uuid4().hex}"


def now() -> int:
    return int(time.time())


# -- prompt-cache breakpoints --------------------------------------------------------------


def decode_cache_hint(part: Mapping[str, Any], path: str) -> CacheHint | None:
    """``prompt_cache_breakpoint: {"mode": "explicit", "ttl"?}`` -> CacheHint."""
    bp = part.get("prompt_cache_breakpoint")
    if bp is None:
        return None
    if not isinstance(bp, Mapping):
        raise ProtocolError(
            f"expected object, got {type_name(bp)}", path=f"{path}.prompt_cache_breakpoint"
        )
    ttl = bp.get("ttl")
    if ttl is not None and not isinstance(ttl, str):
        raise ProtocolError(
            f"expected string, got {type_name(ttl)}", path=f"{path}.prompt_cache_breakpoint.ttl"
        )
    return CacheHint(ttl)


def encode_cache_hint(out: dict[str, Any], hint: CacheHint | None) -> None:
    if hint is None:
        return
    bp: dict[str, Any] = {"mode": "explicit"}
    if hint.ttl is not None:
        bp["ttl"] = hint.ttl
    out["prompt_cache_breakpoint"] = bp


# -- usage ---------------------------------------------------------------------------------


def _int_details(obj: Any, prefix: str, skip: Collection[str], details: dict[str, int]) -> None:
    if not isinstance(obj, Mapping):
        return
    for key, value in obj.items():
        if key in skip or isinstance(value, bool) or not isinstance(value, int):
            continue
        details[f"{prefix}{key}"] = value


def _count(obj: Mapping[str, Any], key: str, path: str) -> int:
    value = obj.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError(f"expected integer, got {type_name(value)}", path=f"{path}.{key}")
    return value


def decode_usage(
    u: Any,
    path: str,
    *,
    input_key: str,
    output_key: str,
    input_details: str,
    output_details: str,
) -> Usage:
    """OpenAI usage (chat: prompt/completion; responses: input/output) -> Usage.

    ``cached_tokens`` -> cache reads, ``cache_write_tokens`` -> cache writes,
    ``reasoning_tokens`` -> reasoning; every other integer detail lands in
    ``Usage.details`` as ``input_<key>`` / ``output_<key>``.
    """
    if not isinstance(u, Mapping):
        raise ProtocolError(f"expected object, got {type_name(u)}", path=path)
    ind = u.get(input_details)
    outd = u.get(output_details)
    if (ind is None or ind == {}) and (outd is None or outd == {}):
        # no details (or empty ones): two counts, nothing else
        return Usage(_count(u, input_key, path), _count(u, output_key, path))
    for key, obj in ((input_details, ind), (output_details, outd)):
        if obj is not None and not isinstance(obj, Mapping):
            raise ProtocolError(f"expected object, got {type_name(obj)}", path=f"{path}.{key}")
    details: dict[str, int] = {}
    _int_details(ind, "input_", ("cached_tokens", "cache_write_tokens"), details)
    _int_details(outd, "output_", ("reasoning_tokens",), details)
    return Usage(
        input_tokens=_count(u, input_key, path),
        output_tokens=_count(u, output_key, path),
        cache_read_tokens=_count(ind or {}, "cached_tokens", f"{path}.{input_details}"),
        cache_write_tokens=_count(ind or {}, "cache_write_tokens", f"{path}.{input_details}"),
        reasoning_tokens=_count(outd or {}, "reasoning_tokens", f"{path}.{output_details}"),
        details=details or None,
    )


def _shape_details(
    out: dict[str, Any], raw: Any, defaults: Collection[str]
) -> dict[str, Any] | None:
    """Shape a details object like the original: drop zero defaults it lacked."""
    if raw is None:
        return None if all(not v for v in out.values()) else out
    if not isinstance(raw, Mapping):
        return out
    for key in defaults:
        if key in out and key not in raw and not out[key]:
            del out[key]
    restore(out, raw, ())
    return out


def encode_usage(
    usage: Usage,
    raw_usage: Mapping[str, Any] | None,
    *,
    input_key: str,
    output_key: str,
    input_details: str,
    output_details: str,
    always_cache_write: bool,
    lose: Callable[[str, str], None] | None = None,
) -> dict[str, Any]:
    """Usage -> OpenAI usage; ``raw_usage`` (a same-protocol original) decides which zero
    details were present, so a round trip is exact. ``Usage.details`` keys travel as
    ``input_<key>`` / ``output_<key>``; any other key is reported to ``lose``."""
    ind: dict[str, Any] = {"cached_tokens": usage.cache_read_tokens}
    if usage.cache_write_tokens or always_cache_write:
        ind["cache_write_tokens"] = usage.cache_write_tokens
    outd: dict[str, Any] = {"reasoning_tokens": usage.reasoning_tokens}
    for key, value in (usage.details or {}).items():
        side, _, name = key.partition("_")
        target = ind if side == "input" else outd if side == "output" else None
        if target is None or not name or name in target:
            if lose is not None:
                lose(
                    f"$.usage.details.{key}",
                    "OpenAI usage details are input_<count> or output_<count>",
                )
            continue
        target[name] = value
    total = usage.input_tokens + usage.output_tokens
    out: dict[str, Any] = {input_key: usage.input_tokens, output_key: usage.output_tokens}
    if raw_usage is not None:
        raw_total = raw_usage.get("total_tokens")
        same_counts = raw_usage.get(input_key) == usage.input_tokens and (
            raw_usage.get(output_key) == usage.output_tokens
        )
        if isinstance(raw_total, int) and same_counts:
            total = raw_total
        if "total_tokens" in raw_usage:
            out["total_tokens"] = total
        raw_ind = raw_usage.get(input_details)
        if isinstance(raw_ind, Mapping) and "cache_write_tokens" in raw_ind:
            ind["cache_write_tokens"] = usage.cache_write_tokens
        for key, obj, defaults in (
            (input_details, ind, ("cached_tokens", "cache_write_tokens")),
            (output_details, outd, ("reasoning_tokens",)),
        ):
            if key in raw_usage:
                shaped = _shape_details(obj, raw_usage[key], defaults)
                out[key] = shaped if shaped is not None else raw_usage[key]
            elif any(obj.values()):
                out[key] = obj
        restore(
            out, raw_usage, (input_key, output_key, "total_tokens", input_details, output_details)
        )
        return out
    out["total_tokens"] = total
    out[input_details] = ind
    out[output_details] = outd
    return out


# -- errors --------------------------------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def _duration(value: str) -> float | None:
    """``6m0s``, ``1.5s``, ``20ms``, ``1h2m`` -> seconds (OpenAI's reset headers)."""
    value = value.strip()
    try:
        return float(value)
    except ValueError:
        pass
    pos, total, matched = 0, 0.0, False
    for m in _DURATION.finditer(value):
        if m.start() != pos:
            return None
        pos = m.end()
        matched = True
        n = float(m.group(1))
        total += {"ms": n / 1000, "s": n, "m": n * 60, "h": n * 3600}[m.group(2)]
    return total if matched and pos == len(value) else None


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait, from ``retry-after-ms``, ``retry-after`` (seconds or HTTP date) or
    the ``x-ratelimit-reset-*`` header of the exhausted limit."""
    h = {k.lower(): v for k, v in headers.items()}
    ms = h.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    ra = h.get("retry-after")
    if ra is not None:
        try:
            return max(0.0, float(ra))
        except ValueError:
            when = email.utils.parsedate_to_datetime(ra) if ra.strip() else None
            if when is not None:
                return max(0.0, when.timestamp() - time.time())
    waits: list[float] = []
    kinds = ("requests", "tokens")
    exhausted = [k for k in kinds if h.get(f"x-ratelimit-remaining-{k}", "").strip() == "0"]
    for kind in exhausted or kinds:
        value = h.get(f"x-ratelimit-reset-{kind}")
        if value is not None:
            seconds = _duration(value)
            if seconds is not None:
                waits.append(seconds)
    return max(waits) if waits else None


def _error_object(body: bytes | str | Any) -> tuple[str | None, Mapping[str, Any] | None]:
    """(text, error object) from an error body in whatever form it came."""
    data: Any = body
    if isinstance(body, (bytes, bytearray)):
        body = bytes(body).decode("utf-8", errors="replace")
    if isinstance(body, str):
        try:
            data = json.loads(body)
        except ValueError:
            return body.strip()[:500] or None, None
    if isinstance(data, Mapping):
        err = data.get("error")
        if isinstance(err, Mapping):
            return None, err
        if isinstance(err, str):
            return err, None
        if isinstance(data.get("message"), str):
            return None, data
    return None, None


def decode_error(
    status: int, headers: Mapping[str, str], body: bytes | str | Any, provider: str = PROVIDER
) -> OmniwireError:
    """``{"error": {"message", "type", "param", "code"}}`` + status -> kernel error.

    429 is RateLimited (with the wait the headers ask for); other statuses are
    UpstreamError, retryable for 5xx (and 408/409/425), not for other 4xx.
    """
    text, err = _error_object(body)
    kind: str | None = None
    cause_bits: list[str] = []
    if err is not None:
        message = err.get("message")
        text = message if isinstance(message, str) and message else text
        etype, code, param = err.get("type"), err.get("code"), err.get("param")
        if isinstance(etype, str) and etype:
            kind = etype
        elif isinstance(code, str) and code:
            kind = code
        if code is not None:
            cause_bits.append(f"code={code}")
        if param is not None:
            cause_bits.append(f"param={param}")
    message = text or f"upstream answered HTTP {status}"
    cause = ", ".join(cause_bits) or None
    wait = retry_after(headers)
    if status == 429:
        if kind:
            cause = f"type={kind}" + (f", {cause}" if cause else "")
        return RateLimited(message, retry_after=wait, status=429, provider=provider, cause=cause)
    return UpstreamError(
        message,
        status=status,
        upstream_kind=kind,
        retry_after=wait,
        provider=provider,
        cause=cause,
    )


_ERROR_TYPES: dict[type[OmniwireError], tuple[str, str | None]] = {
    ProtocolError: ("invalid_request_error", None),
    RateLimited: ("rate_limit_error", "rate_limit_exceeded"),
    BudgetExceeded: ("insufficient_quota", "insufficient_quota"),
    NoAvailableKey: ("server_error", "no_available_key"),
    CircuitOpen: ("server_error", "circuit_open"),
    Timeout: ("timeout", "timeout"),
}


def encode_error(error: OmniwireError) -> tuple[int, dict[str, Any]]:
    """Kernel error -> (status, OpenAI error body). ``param`` names the offending field
    of a ProtocolError in OpenAI's style (``messages[3].content``)."""
    etype, code = error.kind, None
    for cls in type(error).__mro__:
        if cls in _ERROR_TYPES:
            etype, code = _ERROR_TYPES[cls]
            break
    if isinstance(error, UpstreamError) and error.upstream_kind:
        etype = error.upstream_kind
    param = None
    if isinstance(error, ProtocolError) and error.path:
        param = error.path[2:] if error.path.startswith("$.") else error.path
    return error.status, {
        "error": {"message": error.message, "type": etype, "param": param, "code": code}
    }


_STATUS_OF_KIND = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "invalid_api_key": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "model_not_found": 404,
    "rate_limit_exceeded": 429,
    "rate_limit_error": 429,
    "insufficient_quota": 429,
    "server_error": 500,
    "internal_error": 500,
    "service_unavailable": 503,
}


def stream_error(err: Any, default: str = "error in stream") -> StreamError:
    """An in-stream error object (``{"message", "type"|"code", "status_code"?}``) ->
    StreamError; the status is what the error would have been as an HTTP answer."""
    if not isinstance(err, Mapping):
        return StreamError(str(err) if err else default)
    message = err.get("message")
    etype, code = err.get("type"), err.get("code")
    kind = etype if isinstance(etype, str) and etype else code if isinstance(code, str) else None
    status: int | None = None
    for key in ("status_code", "status"):
        value = err.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            status = value
            break
    if status is None and isinstance(code, int) and not isinstance(code, bool) and code >= 400:
        status = code
    if status is None:
        for word in (code, etype):
            if isinstance(word, str) and word in _STATUS_OF_KIND:
                status = _STATUS_OF_KIND[word]
                break
    return StreamError(message if isinstance(message, str) and message else default, kind, status)


def error_body_of(event: StreamError) -> dict[str, Any]:
    """StreamError -> the error object OpenAI-compatible servers put inside chat streams
    (``status_code`` as Groq sends it, so the status survives)."""
    body: dict[str, Any] = {
        "message": event.message,
        "type": event.kind,
        "param": None,
        "code": None,
    }
    if event.status is not None:
        body["status_code"] = event.status
    return body


class LossOnce:
    """Report each stream-level loss once per path (streams repeat the same field in
    every chunk; one reason per field is what a reader wants)."""

    __slots__ = ("conv", "seen")

    def __init__(self, conv: Any) -> None:
        self.conv = conv
        self.seen: set[str] = set()

    def __call__(self, path: str, reason: str) -> None:
        if path not in self.seen:
            self.seen.add(path)
            self.conv.lose(path, reason)


# -- multipart forms ----------------------------------------------------------------------


def field_text(value: Any) -> str:
    """A form field's text: strings as they are, booleans ``true``/``false``, other
    values as compact JSON (``2``, ``0.5``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def flatten_field(key: str, value: Any, out: dict[str, str], conv: Conversion) -> None:
    """Form fields the way the SDK sends nested values: ``key[sub]``, ``key[]``."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            flatten_field(f"{key}[{k}]", v, out, conv)
    elif isinstance(value, (list, tuple)):
        if len(value) > 1:
            conv.lose(
                f"$.extra.{key}", "a MultipartBody field holds one value; only the first was sent"
            )
        if value:
            flatten_field(f"{key}[]", value[0], out, conv)
    else:
        out[key] = field_text(value)


def _is_upload(value: Any) -> bool:
    return isinstance(value, tuple) and len(value) == 3 and isinstance(value[1], (bytes, bytearray))


def form_parts(body: Any) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """(text fields, file parts) of a multipart request body: a MultipartBody, or a
    mapping holding both (uploads as ``(filename, bytes, media_type)`` tuples)."""
    if isinstance(body, MultipartBody):
        return body.fields, body.files
    if not isinstance(body, Mapping):
        raise ProtocolError(f"expected a multipart form, got {type_name(body)}", path="$")
    files = {
        k: v
        for k, v in body.items()
        if _is_upload(v) or (isinstance(v, list) and v and all(_is_upload(u) for u in v))
    }
    return {k: v for k, v in body.items() if k not in files}, files


def form_uploads(value: Any, path: str) -> list[FileUpload]:
    """The uploads of one file part name (several when the form repeats it)."""
    uploads = value if isinstance(value, list) else [value]
    for upload in uploads:
        if not _is_upload(upload):
            raise ProtocolError("expected a file upload", path=path)
    return [(f, bytes(c), m) for f, c, m in uploads]


def form_int(fields: Mapping[str, Any], key: str) -> int | None:
    """An integer form field (``"2"`` on the wire; an int in a mapping body)."""
    value = fields.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip()):
        return int(value)
    raise ProtocolError(f"expected integer, got {value!r}", path=f"$.{key}")


def form_str(fields: Mapping[str, Any], key: str) -> str | None:
    value = fields.get(key)
    if value is None or isinstance(value, str):
        return value
    raise ProtocolError(f"expected string, got {type_name(value)}", path=f"$.{key}")


def iter_list(value: Any, path: str) -> Iterable[tuple[int, Any, str]]:
    if not isinstance(value, list):
        raise ProtocolError(f"expected array, got {type_name(value)}", path=path)
    for i, item in enumerate(value):
        yield i, item, f"{path}[{i}]"


class OpenAICodec(Codec):
    """What every OpenAI codec shares: the provider name, the error envelope, and how
    request ``extra`` parameters travel (sent to the same protocol, lost elsewhere)."""

    provider = PROVIDER

    def decode_error(self, status: int, headers: Mapping[str, str], body: bytes) -> OmniwireError:
        return decode_error(status, headers, body, self.provider)

    def encode_error(self, error: OmniwireError) -> tuple[int, Any]:
        return encode_error(error)

    def _extra(self, extra: Mapping[str, Any] | None, raw: Raw | None, conv: Any) -> dict[str, Any]:
        """The extra parameters to send; each is a loss when they came from another
        protocol (a user-built request without raw sends them as given)."""
        if not extra:
            return {}
        if raw is not None and raw.protocol != self.id:
            for key in extra:
                conv.lose(
                    f"$.extra.{key}",
                    f"{raw.protocol} parameter {key!r} has no {self.id} equivalent",
                )
            return {}
        return dict(extra)


def timestamp(obj: Mapping[str, Any], key: str, path: str = "$") -> int | None:
    """A Unix time; integral floats (the SDK's ``created_at: float``) are accepted."""
    value = opt(obj, key, float, path)
    if isinstance(value, float):
        if not value.is_integer():
            raise ProtocolError("expected integer, got number", path=f"{path}.{key}")
        return int(value)
    return value  # type: ignore[no-any-return]


def same_value(raw: Mapping[str, Any] | None, key: str, value: Any) -> Any:
    """``raw[key]`` when it equals ``value`` (keeps ``1.0`` vs ``1`` as it came)."""
    if raw is not None and key in raw and raw[key] == value and type(raw[key]) is not bool:
        return raw[key]
    return value


def audio_media_type(fmt: str | None) -> str | None:
    """The media type an input-audio ``format`` implies, canonically ``audio/<format>``."""
    return f"audio/{fmt}" if fmt else None


def audio_format(media_type: str | None) -> str | None:
    """The input-audio ``format`` for a media type (``audio/wav`` -> ``wav``)."""
    if media_type is None:
        return None
    sub = media_type.split("/", 1)[-1].split(";", 1)[0].lower()
    return {"mpeg": "mp3", "x-wav": "wav", "wave": "wav"}.get(sub, sub)
