"""Embeddings, images, transcriptions, speech; and how the plugin registers."""

from __future__ import annotations

import json
import struct
import subprocess
import sys

import pytest
from omniwire.model import (
    Embedding,
    EmbeddingRequest,
    EmbeddingResponse,
    Raw,
    SpeechResponse,
    TranscriptionRequest,
    TranscriptionResponse,
    Usage,
)
from omniwire.plugins import PluginManager
from omniwire.report import Conversion
from omniwire.wire import MultipartBody
from omniwire_openai.embeddings import OpenAIEmbeddings, pack_floats, unpack_floats
from omniwire_openai.images import OpenAIImages
from omniwire_openai.speech import OpenAISpeech, sniff_audio
from omniwire_openai.transcriptions import OpenAITranscriptions

EMB, IMG, STT, TTS = OpenAIEmbeddings(), OpenAIImages(), OpenAITranscriptions(), OpenAISpeech()


def _same(codec: object, body: object) -> None:
    conv = Conversion()
    wire = codec.encode_request(codec.decode_request(body, conv), conv)  # type: ignore[attr-defined]
    assert wire.body == body and conv.losses == []


# -- embeddings ----------------------------------------------------------------------------------


def test_base64_is_little_endian_float32() -> None:
    data = pack_floats((1.0, -2.5, 0.0))
    assert data == "AACAPwAAIMAAAAAA"
    assert base64_bytes(data) == struct.pack("<3f", 1.0, -2.5, 0.0)
    assert unpack_floats(data, "$") == (1.0, -2.5, 0.0)


def base64_bytes(data: str) -> bytes:
    import base64

    return base64.b64decode(data)


@pytest.mark.parametrize(
    "body",
    [
        {"model": "text-embedding-3-small", "input": "hello"},
        {
            "model": "m",
            "input": ["a", "b"],
            "encoding_format": "base64",
            "dimensions": 256,
            "user": "u",
        },
        {"model": "m", "input": [1, 2, 3]},
        {"model": "m", "input": [[1, 2], [3]]},
    ],
    ids=["string", "strings", "tokens", "token-lists"],
)
def test_embedding_request_shapes(body: dict[str, object]) -> None:
    _same(EMB, body)
    assert (
        EMB.encode_request(EMB.decode_request(body, Conversion()), Conversion()).path
        == "/embeddings"
    )


def test_embedding_response_base64_both_ways() -> None:
    body = {
        "object": "list",
        "model": "m",
        "usage": {"prompt_tokens": 2, "total_tokens": 2},
        "data": [{"object": "embedding", "index": 0, "embedding": pack_floats((0.5, -1.0))}],
    }
    resp = EMB.decode_response(body, Conversion())
    assert resp.embeddings == (Embedding((0.5, -1.0), 0),) and resp.usage == Usage(2)
    assert EMB.encode_response(resp, Conversion()) == body  # came as base64, goes back as base64
    fresh = EmbeddingResponse("m", (Embedding((0.5, -1.0)),))
    assert EMB.encode_response(fresh, Conversion())["data"][0]["embedding"] == [0.5, -1.0]
    asked = EmbeddingRequest("m", ("x",), encoding_format="base64")
    assert EMB.encode_response(fresh, Conversion(), request=asked)["data"][0][
        "embedding"
    ] == pack_floats((0.5, -1.0))


def test_embedding_task_is_a_loss() -> None:
    conv = Conversion()
    EMB.encode_request(
        EmbeddingRequest("m", ("x",), task="RETRIEVAL_QUERY", raw=Raw("gemini.embed_content", {})),
        conv,
    )
    assert conv.report().paths == ("$.task",)


# -- images ---------------------------------------------------------------------------------------


def test_image_request_and_response() -> None:
    _same(IMG, {"prompt": "a cat", "n": 2, "size": "1024x1024", "moderation": "low"})
    _same(
        IMG,
        {
            "model": "gpt-image-1",
            "prompt": "a cat",
            "background": "transparent",
            "output_format": "webp",
            "quality": "high",
        },
    )
    body = {
        "created": 1713833628,
        "background": "transparent",
        "output_format": "png",
        "size": "1024x1024",
        "data": [
            {"b64_json": "iVBORw0KGgo="},
            {"url": "https://x/y.png", "revised_prompt": "a fluffy cat"},
        ],
        "usage": {
            "input_tokens": 50,
            "output_tokens": 272,
            "total_tokens": 322,
            "input_tokens_details": {"text_tokens": 10, "image_tokens": 40},
        },
    }
    resp = IMG.decode_response(body, Conversion())
    assert resp.usage == Usage(50, 272, details={"input_text_tokens": 10, "input_image_tokens": 40})
    assert resp.images[1].revised_prompt == "a fluffy cat"
    assert IMG.encode_response(resp, Conversion()) == body
    assert IMG.encode_request(
        IMG.decode_request({"prompt": "p"}, Conversion()), Conversion()
    ).path == ("/images/generations")


# -- transcriptions -------------------------------------------------------------------------------


def test_transcription_multipart() -> None:
    req = TranscriptionRequest(
        "whisper-1",
        b"RIFF....WAVE",
        filename="a.wav",
        media_type="audio/wav",
        language="en",
        response_format="verbose_json",
        temperature=0.2,
        timestamp_granularities=("word", "segment"),
        extra={"chunking_strategy": {"type": "server_vad", "threshold": 0.5}, "stream": False},
    )
    conv = Conversion()
    wire = STT.encode_request(req, conv)
    assert wire.path == "/audio/transcriptions"
    assert isinstance(wire.body, MultipartBody)
    assert wire.body.files == {"file": ("a.wav", b"RIFF....WAVE", "audio/wav")}
    assert wire.body.fields == {
        "model": "whisper-1",
        "language": "en",
        "response_format": "verbose_json",
        "temperature": "0.2",
        "timestamp_granularities[]": "word",
        "chunking_strategy[type]": "server_vad",
        "chunking_strategy[threshold]": "0.5",
        "stream": "false",
    }
    assert conv.report().paths == (
        "$.timestamp_granularities",
    )  # MultipartBody holds one value per field


def test_transcription_formats() -> None:
    verbose = {
        "task": "transcribe",
        "language": "english",
        "duration": 8.47,
        "text": "The beach was quiet.",
        "segments": [
            {
                "id": 0,
                "seek": 0,
                "start": 0.0,
                "end": 3.3,
                "text": "The beach was quiet.",
                "tokens": [50364],
                "temperature": 0.0,
                "avg_logprob": -0.29,
                "compression_ratio": 1.2,
                "no_speech_prob": 0.01,
            }
        ],
        "usage": {"type": "duration", "seconds": 9},
    }
    resp = STT.decode_response(verbose, Conversion())
    assert resp.language == "english" and resp.duration == 8.47 and resp.usage is None
    assert STT.encode_response(resp, Conversion()) == verbose
    plain = {
        "text": "hi",
        "usage": {
            "type": "tokens",
            "input_tokens": 14,
            "output_tokens": 45,
            "total_tokens": 59,
            "input_token_details": {"text_tokens": 0, "audio_tokens": 14},
        },
    }
    resp = STT.decode_response(plain, Conversion())
    assert resp.usage == Usage(14, 45, details={"input_text_tokens": 0, "input_audio_tokens": 14})
    assert STT.encode_response(resp, Conversion()) == plain
    srt = "1\n00:00:00,000 --> 00:00:01,000\nhi\n"
    resp = STT.decode_response(srt.encode(), Conversion())
    assert resp == TranscriptionResponse(srt)
    assert STT.encode_response(resp, Conversion()) == srt  # a text body goes back as text
    asked = TranscriptionRequest("whisper-1", b"", response_format="text")
    conv = Conversion()
    assert (
        STT.encode_response(TranscriptionResponse("x", language="en"), conv, request=asked) == "x"
    )
    assert conv.report().paths == ("$.language",)


# -- speech ---------------------------------------------------------------------------------------


def test_speech_request_and_audio() -> None:
    _same(
        TTS,
        {
            "model": "gpt-4o-mini-tts",
            "input": "hi",
            "voice": "alloy",
            "response_format": "wav",
            "instructions": "cheerful",
            "speed": 1.25,
            "stream_format": "audio",
        },
    )
    _same(TTS, {"model": "m", "input": "hi", "voice": {"id": "voice_123"}})
    assert (
        TTS.binary_response
        and TTS.encode_request(
            TTS.decode_request({"model": "m", "input": "x", "voice": "nova"}, Conversion()),
            Conversion(),
        ).path
        == "/audio/speech"
    )
    for data, media in (
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "audio/wav"),
        (b"ID3\x04\x00", "audio/mpeg"),
        (b"\xff\xfb\x90\x00", "audio/mpeg"),  # no strong signature: mp3, OpenAI's default
        (b"OggS\x00\x02", "audio/ogg"),
        (b"fLaC\x00", "audio/flac"),
    ):
        assert sniff_audio(data) == media
        assert TTS.decode_response(data, Conversion()) == SpeechResponse(data, media)
    assert TTS.encode_response(SpeechResponse(b"abc"), Conversion()) == b"abc"
    assert OpenAISpeech.media_type_of("opus") == "audio/ogg"


# -- the plugin ---------------------------------------------------------------------------------


def test_plugin_registers_every_codec() -> None:
    codecs = PluginManager().codecs
    ids = {
        "openai.chat",
        "openai.responses",
        "openai.embeddings",
        "openai.images",
        "openai.audio.transcriptions",
        "openai.audio.speech",
    }
    assert ids <= set(codecs)
    for cid in ids:
        codec = codecs[cid]
        assert codec.provider == "openai" and codec.routes and codec.routes[0].startswith("/v1/")
    assert {codecs[c].family for c in ids} == {"generate", "embed", "image", "transcribe", "speech"}


def test_plugin_import_is_light() -> None:
    code = (
        "import sys, omniwire_openai; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('omniwire_openai'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", "import json; " + code], capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == ["omniwire_openai"]
