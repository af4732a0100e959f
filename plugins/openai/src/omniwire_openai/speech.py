"""``openai.audio.speech``: text to speech, ``POST /v1/audio/speech``.

JSON request, binary answer: the response body is the audio itself. Its media type is
read from the audio's own magic bytes (the codec never sees the HTTP headers).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omniwire.codec import Family
from omniwire.errors import ProtocolError
from omniwire.model import Raw, SpeechRequest, SpeechResponse
from omniwire.report import Conversion
from omniwire.wire import WireRequest, expect, opt, type_name

from ._common import OpenAICodec, restore, same

__all__ = ["OpenAISpeech", "sniff_audio"]

_REQUEST_KEYS = ("model", "input", "voice", "response_format", "speed", "instructions")
_FORMATS = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}


def sniff_audio(data: bytes, default: str = "audio/mpeg") -> str:
    """The media type of encoded audio, from its first bytes (only signatures that
    cannot happen by chance; otherwise ``default``, mp3 being OpenAI's default)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data[:4] == b"OggS":
        return "audio/ogg"
    if data[:4] == b"fLaC":
        return "audio/flac"
    if data[:3] == b"ID3":
        return "audio/mpeg"
    return default


class OpenAISpeech(OpenAICodec):
    id = "openai.audio.speech"
    family = Family.SPEECH
    binary_response = True
    routes = ("/v1/audio/speech",)
    # the kit's words for this family (contrib/testing features.py FAMILY_WORDS)
    # media_type is not carried: it travels in the Content-Type header, which codecs never see
    features = frozenset({"response_format", "speed", "instructions"})

    def decode_request(
        self, body: Any, conv: Conversion, *, params: Mapping[str, str] | None = None
    ) -> SpeechRequest:
        if not isinstance(body, Mapping):
            raise ProtocolError(f"expected object, got {type_name(body)}", path="$")
        voice = expect(body, "voice", (str, dict))
        if isinstance(voice, Mapping):  # custom voice: {"id": "voice_..."}
            voice = expect(voice, "id", str, "$.voice")
        extra = {k: v for k, v in body.items() if k not in _REQUEST_KEYS}
        return SpeechRequest(
            model=expect(body, "model", str),
            input=expect(body, "input", str),
            voice=voice,
            response_format=opt(body, "response_format", str),
            speed=opt(body, "speed", float),
            instructions=opt(body, "instructions", str),
            extra=extra or None,
            raw=Raw(self.id, body),
        )

    def encode_request(self, request: SpeechRequest, conv: Conversion) -> WireRequest:
        raw = same(request.raw, self.id)
        voice: Any = request.voice
        if (
            raw is not None
            and isinstance(raw.get("voice"), Mapping)
            and raw["voice"].get("id") == voice
        ):
            voice = raw["voice"]
        body: dict[str, Any] = {"model": request.model, "input": request.input, "voice": voice}
        for key in ("response_format", "speed", "instructions"):
            if getattr(request, key) is not None:
                body[key] = getattr(request, key)
        for key, value in self._extra(request.extra, request.raw, conv).items():
            body.setdefault(key, value)
        return WireRequest("/audio/speech", restore(body, raw, _REQUEST_KEYS))

    def decode_response(self, body: Any, conv: Conversion) -> SpeechResponse:
        if isinstance(body, bytearray):
            body = bytes(body)
        if not isinstance(body, bytes):
            raise ProtocolError(f"expected audio bytes, got {type_name(body)}", path="$")
        return SpeechResponse(body, sniff_audio(body))

    def encode_response(
        self, response: SpeechResponse, conv: Conversion, *, request: Any = None
    ) -> bytes:
        """The audio bytes; the media type belongs in the Content-Type header (see
        ``media_type_of``), so one the bytes do not show is reported."""
        if sniff_audio(response.audio) != response.media_type:
            conv.lose(
                "$.media_type", "the body carries no media type; send it as the Content-Type header"
            )
        return response.audio

    @staticmethod
    def media_type_of(response_format: str | None) -> str:
        """The Content-Type OpenAI answers for a ``response_format``."""
        return _FORMATS.get(response_format or "mp3", "application/octet-stream")
