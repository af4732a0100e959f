"""``openai.audio.transcriptions``: speech to text, ``POST /v1/audio/transcriptions``.

The request is multipart/form-data (:class:`omniwire.wire.MultipartBody`): the audio in
the ``file`` part, every parameter a text field. The answer depends on
``response_format``: ``json`` and ``verbose_json`` are JSON objects, ``text``, ``srt``
and ``vtt`` are plain text. ``decode_response`` therefore takes a parsed JSON object,
or a ``str`` (or ``bytes``) body for the text formats, which becomes the transcription
text as is; ``encode_response`` returns a ``str`` for those formats (send it as
``text/plain``) and a dict otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omniwire.codec import Family
from omniwire.errors import ProtocolError
from omniwire.model import Raw, TranscriptionRequest, TranscriptionResponse, Usage
from omniwire.report import Conversion
from omniwire.wire import MultipartBody, WireRequest, expect, opt, type_name

from ._common import OpenAICodec, iter_list, restore, same
from ._common import flatten_field as _flatten

__all__ = ["OpenAITranscriptions"]

_TEXT_FORMATS = frozenset({"text", "srt", "vtt"})
_GRANULARITIES = "timestamp_granularities[]"
_FIELDS = (
    "model",
    "language",
    "prompt",
    "response_format",
    "temperature",
    _GRANULARITIES,
    "timestamp_granularities",
)


class OpenAITranscriptions(OpenAICodec):
    id = "openai.audio.transcriptions"
    family = Family.TRANSCRIBE
    routes = ("/v1/audio/transcriptions",)
    # the kit's words for this family (contrib/testing features.py FAMILY_WORDS)
    features = frozenset(
        {
            "temperature",
            "media_type",
            "language",
            "prompt",
            "response_format",
            "duration",
            "segments",
            "words",
            "usage",
        }
    )

    def encode_request(self, request: TranscriptionRequest, conv: Conversion) -> WireRequest:
        fields: dict[str, str] = {"model": request.model}
        for key in ("language", "prompt", "response_format"):
            if getattr(request, key) is not None:
                fields[key] = getattr(request, key)
        if request.temperature is not None:
            fields["temperature"] = repr(float(request.temperature))
        grans = request.timestamp_granularities
        if grans:
            fields[_GRANULARITIES] = grans[0]
            if len(grans) > 1:
                conv.lose(
                    "$.timestamp_granularities",
                    "a MultipartBody field holds one value; only the first granularity was sent",
                )
        for key, value in self._extra(request.extra, request.raw, conv).items():
            _flatten(key, value, fields, conv)
        files = {"file": (request.filename, request.audio, request.media_type)}
        return WireRequest("/audio/transcriptions", MultipartBody(fields, files))

    def decode_request(
        self, body: Any, conv: Conversion, *, params: Mapping[str, str] | None = None
    ) -> TranscriptionRequest:
        """``body`` is a MultipartBody (or a mapping of fields with ``file`` as
        ``(filename, bytes, media_type)``)."""
        if isinstance(body, MultipartBody):
            fields: Mapping[str, Any] = body.fields
            files: Mapping[str, Any] = body.files
        elif isinstance(body, Mapping):
            fields, files = body, body
        else:
            raise ProtocolError(f"expected multipart form, got {type_name(body)}", path="$")
        upload = files.get("file")
        if upload is None:
            raise ProtocolError("required field is missing", path="$.file")
        if not (
            isinstance(upload, tuple)
            and len(upload) == 3
            and isinstance(upload[1], (bytes, bytearray))
        ):
            raise ProtocolError("expected a file upload", path="$.file")
        filename, audio, media_type = upload
        temperature = None
        if fields.get("temperature") is not None:
            try:
                temperature = float(fields["temperature"])
            except (TypeError, ValueError):
                raise ProtocolError("expected number", path="$.temperature") from None
        grans: list[str] = []
        for key in (_GRANULARITIES, "timestamp_granularities"):
            value = fields.get(key)
            if isinstance(value, str):
                grans.extend(g.strip() for g in value.split(",") if g.strip())
            elif isinstance(value, (list, tuple)):
                for i, g in enumerate(value):
                    if not isinstance(g, str):
                        raise ProtocolError(
                            f"expected string, got {type_name(g)}", path=f"$.{key}[{i}]"
                        )
                    grans.append(g)
            elif value is not None:
                raise ProtocolError(f"expected string, got {type_name(value)}", path=f"$.{key}")
        extra = {k: v for k, v in fields.items() if k not in _FIELDS and k != "file"}
        return TranscriptionRequest(
            model=expect(fields, "model", str),
            audio=bytes(audio),
            filename=filename if isinstance(filename, str) else "audio",
            media_type=media_type if isinstance(media_type, str) else None,
            language=opt(fields, "language", str),
            prompt=opt(fields, "prompt", str),
            response_format=opt(fields, "response_format", str),
            temperature=temperature,
            timestamp_granularities=tuple(grans),
            extra=extra or None,
            raw=Raw(self.id, dict(fields)),
        )

    def decode_response(self, body: Any, conv: Conversion) -> TranscriptionResponse:
        if isinstance(body, (bytes, bytearray)):
            body = bytes(body).decode("utf-8")
        if isinstance(body, str):
            return TranscriptionResponse(text=body, raw=Raw(self.id, {"format": "text"}))
        if not isinstance(body, Mapping):
            raise ProtocolError(f"expected object or text, got {type_name(body)}", path="$")
        segments = [
            s
            for _, s, p in iter_list(opt(body, "segments", list) or [], "$.segments")
            if _obj(s, p)
        ]
        words = [
            w for _, w, p in iter_list(opt(body, "words", list) or [], "$.words") if _obj(w, p)
        ]
        return TranscriptionResponse(
            text=expect(body, "text", str),
            language=opt(body, "language", str),
            duration=opt(body, "duration", float),
            segments=tuple(segments),
            words=tuple(words),
            usage=self._usage(body.get("usage"), strict=True),
            raw=Raw(self.id, body),
        )

    def encode_response(
        self, response: TranscriptionResponse, conv: Conversion, *, request: Any = None
    ) -> Any:
        """``request`` (the TranscriptionRequest answered) picks the format; without it,
        the format the response was decoded from, else JSON (verbose when it has more
        than text)."""
        raw = same(response.raw, self.id)
        fmt = request.response_format if isinstance(request, TranscriptionRequest) else None
        if fmt is None and raw is not None:
            fmt = (
                "text"
                if raw.get("format") == "text" and "text" not in raw
                else ("verbose_json" if "segments" in raw or "duration" in raw else "json")
            )
        verbose = fmt == "verbose_json" or (
            fmt is None
            and (
                response.segments
                or response.words
                or response.duration is not None
                or response.language
            )
        )
        if fmt in _TEXT_FORMATS:
            for key in ("language", "duration", "segments", "words", "usage"):
                if getattr(response, key):
                    conv.lose(f"$.{key}", f"the {fmt} format carries only the text")
            return response.text
        out: dict[str, Any] = {}
        if verbose:
            out["task"] = "transcribe"
            out["language"] = response.language
            out["duration"] = response.duration
        else:
            for key in ("language", "duration", "segments", "words"):
                if getattr(response, key):
                    conv.lose(f"$.{key}", "the json format carries only text and usage")
        out["text"] = response.text
        if verbose:
            if response.segments or raw is None or "segments" in raw:
                out["segments"] = [dict(s) for s in response.segments]
            if response.words:
                out["words"] = [dict(w) for w in response.words]
        if response.usage is not None:
            u = response.usage
            usage: dict[str, Any] = {
                "type": "tokens",
                "input_tokens": u.input_tokens,
                "output_tokens": u.output_tokens,
                "total_tokens": u.total_tokens,
            }
            details = {k[6:]: v for k, v in (u.details or {}).items() if k.startswith("input_")}
            if details:
                usage["input_token_details"] = details
            raw_usage = (
                raw.get("usage")
                if raw is not None and isinstance(raw.get("usage"), Mapping)
                else None
            )
            out["usage"] = restore(
                usage,
                raw_usage,
                ("type", "input_tokens", "output_tokens", "total_tokens", "input_token_details"),
            )
        elif (
            raw is not None
            and isinstance(raw.get("usage"), Mapping)
            and raw["usage"].get("type") != "tokens"
        ):
            out["usage"] = raw["usage"]  # duration-billed usage has no canonical form
        return restore(
            out, raw, ("task", "language", "duration", "text", "segments", "words", "usage")
        )

    def _usage(self, u: Any, *, strict: bool = False) -> Usage | None:
        if u is None:
            return None
        try:
            if not isinstance(u, Mapping):
                raise ProtocolError(f"expected object, got {type_name(u)}", path="$.usage")
            if u.get("type", "tokens") != "tokens":
                return None  # duration-billed usage ({type: duration, seconds}) stays in raw
            details = opt(u, "input_token_details", dict, "$.usage") or {}
            return Usage(
                input_tokens=opt(u, "input_tokens", int, "$.usage") or 0,
                output_tokens=opt(u, "output_tokens", int, "$.usage") or 0,
                details={f"input_{k}": v for k, v in details.items() if isinstance(v, int)} or None,
            )
        except ProtocolError:
            if strict:
                raise
            return None

    def usage_of(self, body: Any) -> Usage | None:
        return self._usage(body.get("usage")) if isinstance(body, Mapping) else None


def _obj(value: Any, path: str) -> bool:
    if not isinstance(value, Mapping):
        raise ProtocolError(f"expected object, got {type_name(value)}", path=path)
    return True
