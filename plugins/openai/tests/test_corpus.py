"""Every recorded OpenAI payload in the shared corpus decodes and re-encodes with no
unexplained difference.

Documented normalisations (the only differences these tests forgive):

* Chat SSE vs the non-streamed completion (built here by ``accumulate_chat``): none.
* Responses SSE vs the terminal event's response object:
  - ``service_tier``: ``response.created`` says ``auto``, ``response.completed`` the tier
    actually used; ResponseStart carries the first and no stream event can update it
    (kernel gap), so the fold takes the terminal object's value.
  - opaque tokens (reasoning ``encrypted_content``, a ``program`` item's ``fingerprint``):
    OpenAI re-mints them between ``output_item.done`` and ``response.completed``; the fold
    keeps the ``output_item.done`` value. Both must be present (or both absent).
* Re-encoded streams compare by fold, not byte for byte (ids, obfuscation and chunking are
  the encoder's own).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest
from oai_helpers import (
    accumulate_chat,
    chunks_of,
    corpus_files,
    meta_of,
    need,
    run_decoder,
    run_encoder,
    sse_text,
)
from omniwire.errors import RateLimited, UpstreamError
from omniwire.model import OpaquePart, ReasoningPart, Response, StreamError, fold
from omniwire.normalize import normalize
from omniwire.report import Conversion
from omniwire_openai.chat import OpenAIChat
from omniwire_openai.responses import OpenAIResponses

CHAT, RESPONSES = OpenAIChat(), OpenAIResponses()
CODECS = {"openai_chat": CHAT, "openai_responses": RESPONSES}

JSON_RESPONSES = corpus_files("openai_chat", "response.json") + corpus_files(
    "openai_responses", "response.json"
)
ERROR_BODIES = [
    p for p in JSON_RESPONSES if p.values[0] is None or p.values[0].parent.parent.name == "error"
]
JSON_RESPONSES = [p for p in JSON_RESPONSES if p not in ERROR_BODIES or p.values[0] is None]
REQUESTS = corpus_files("openai_chat", "request.json") + corpus_files(
    "openai_responses", "request.json"
)
STREAMS = corpus_files("openai_chat", "response.sse") + corpus_files(
    "openai_responses", "response.sse"
)


def _codec(path: Path) -> Any:
    return CODECS[path.parent.parent.parent.name]


def _bucket(path: Path) -> str:
    return path.parent.parent.name


# -- JSON responses ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", JSON_RESPONSES)
def test_json_response_roundtrip(path: Path | None) -> None:
    path = need(path)
    body = json.loads(path.read_text())
    codec, conv = _codec(path), Conversion()
    decoded = codec.decode_response(body, conv)
    assert codec.encode_response(decoded, conv) == body
    assert conv.losses == []
    assert codec.usage_of(body) == decoded.usage


@pytest.mark.parametrize("path", REQUESTS)
def test_request_roundtrip(path: Path | None) -> None:
    path = need(path)
    body = json.loads(path.read_text())
    codec, conv = _codec(path), Conversion()
    wire = codec.encode_request(codec.decode_request(body, conv), conv)
    assert wire.body == body
    assert wire.stream == bool(body.get("stream"))
    assert conv.losses == []


# -- errors -------------------------------------------------------------------------------------

# sample id -> (HTTP status to assume when the recording has none, kernel error, upstream kind)
ERRORS = {
    "pai__test_model_name_suggestion-openai-chat__i0": (
        404,
        UpstreamError,
        "invalid_request_error",
    ),
    "pai__test_multimodal_tool_return_matrix-direct-binary-audio-openai_chat__i1": (
        400,
        UpstreamError,
        "invalid_request_error",
    ),
    "pai__test_openai_web_search_tool_model_not_supported__i0": (
        400,
        UpstreamError,
        "invalid_request_error",
    ),
    "vai__reasoning-model-legacy-parameter-error": (400, UpstreamError, "invalid_request_error"),
    "pai__test_inferred_model_name_suggestion__i0": (400, UpstreamError, "invalid_request_error"),
    "pai__test_model_name_suggestion-openai-responses__i0": (
        400,
        UpstreamError,
        "invalid_request_error",
    ),
    "vai__openai-error.1": (429, RateLimited, "insufficient_quota"),
    "vai__reasoning-model-temperature-error": (400, UpstreamError, "invalid_request_error"),
}
# sample id -> (StreamError kind, status)
STREAM_ERRORS = {
    "pai__test_openrouter_stream_error__i0": (None, 400),
    "pai__test_tool_use_failed_error_streaming__i0": ("invalid_request_error", 400),
    "pai__test_tool_use_failed_error_streaming_with_text__i0": ("invalid_request_error", 400),
    "vai__openai-error.1": ("insufficient_quota", 429),
}


@pytest.mark.parametrize("path", ERROR_BODIES)
def test_error_sample(path: Path | None) -> None:
    path = need(path)
    sample = path.parent.name
    status, cls, kind = ERRORS[sample]
    status = meta_of(path).get("http_status") or status
    body = path.read_bytes()
    codec = _codec(path)
    err = codec.decode_error(status, {"retry-after-ms": "1500"} if status == 429 else {}, body)
    assert type(err) is cls
    assert err.status == status
    assert err.message == json.loads(body)["error"]["message"]
    assert err.retryable is (status == 429)
    if isinstance(err, UpstreamError):
        assert err.upstream_kind == kind
    else:
        assert err.retry_after == 1.5 and kind in (err.cause or "")
    # and back: our error body names the same type and message
    out_status, out = codec.encode_error(err)
    assert out_status == status
    assert out["error"]["message"] == err.message


# -- streams ------------------------------------------------------------------------------------


def _reference(path: Path, codec: Any, sse: str) -> Response | None:
    """The non-streamed semantics of a recorded stream."""
    if codec is CHAT:
        return CHAT.decode_response(accumulate_chat(chunks_of(sse)), Conversion())
    terminal = [
        c
        for c in chunks_of(sse)
        if c.get("type") in ("response.completed", "response.incomplete", "response.failed")
    ]
    return RESPONSES.decode_response(terminal[-1]["response"], Conversion()) if terminal else None


_REMINTED = ("encrypted_content", "fingerprint")


def _forgive(folded: Response, expected: Response) -> Response:
    """Apply the documented Responses normalisations to ``folded``."""
    folded = attrs.evolve(folded, service_tier=expected.service_tier)
    choices = []
    for c, e in zip(folded.choices, expected.choices):
        content = list(c.content)
        for i, (p, q) in enumerate(zip(content, e.content)):
            if isinstance(p, ReasoningPart) and isinstance(q, ReasoningPart):
                assert (p.encrypted is None) == (q.encrypted is None)
                content[i] = attrs.evolve(p, encrypted=q.encrypted)
            elif isinstance(p, OpaquePart) and isinstance(q, OpaquePart):
                data = dict(p.data)
                for key in _REMINTED:
                    assert (key in p.data) == (key in q.data)
                    if key in q.data:
                        data[key] = q.data[key]
                content[i] = attrs.evolve(p, data=data)
        choices.append(attrs.evolve(c, content=tuple(content)))
    return attrs.evolve(folded, choices=tuple(choices) + folded.choices[len(choices) :])


@pytest.mark.parametrize("path", STREAMS)
def test_stream_fold_matches_non_streamed(path: Path | None) -> None:
    path = need(path)
    codec, sse = _codec(path), path.read_text()
    events = run_decoder(codec, sse)
    errors = [e for e in events if isinstance(e, StreamError)]
    folded = fold(e for e in events if not isinstance(e, StreamError))
    if _bucket(path) == "streaming_error":
        kind, status = STREAM_ERRORS[path.parent.name]
        assert len(errors) == 1
        assert (errors[0].kind, errors[0].status) == (kind, status)
        assert errors[0].message
    else:
        assert errors == []
    expected = _reference(path, codec, sse)
    if codec is RESPONSES:
        folded = _forgive(folded, expected)
    assert normalize(folded) == normalize(expected)


@pytest.mark.parametrize("path", STREAMS)
def test_stream_reencode(path: Path | None) -> None:
    """decode -> our stream encoder -> SSE text -> decode again: same fold, same error."""
    path = need(path)
    codec = _codec(path)
    events = run_decoder(codec, path.read_text())
    conv = Conversion()
    text = sse_text(run_encoder(codec, events, conv))
    again = run_decoder(codec, text)
    assert fold(again) == fold(events)
    assert [e for e in again if isinstance(e, StreamError)] == [
        e for e in events if isinstance(e, StreamError)
    ]
    assert conv.losses == []


@pytest.mark.parametrize("path", STREAMS)
def test_stream_losses_are_reported(path: Path | None) -> None:
    """Decoding never drops a field silently: what the fold cannot hold is a named loss,
    and nothing a plain OpenAI stream sends is lost."""
    path = need(path)
    codec, conv = _codec(path), Conversion()
    run_decoder(codec, path.read_text(), conv)
    sample = path.parent.name
    if sample.startswith("oaipy__") and codec is CHAT:
        assert {r.path for r in conv.losses} <= {"$.choices[0].logprobs"}
    if sample == "pai__test_openrouter_stream_error__i0":
        assert {r.path for r in conv.losses} >= {
            "$.provider",
            "$.choices[0].delta.reasoning_details",
            "$.usage.cost",
        }
    assert len({r.path for r in conv.losses}) == len(conv.losses)  # once per field


def test_corpus_is_covered() -> None:
    """The parametrization above really saw the corpus (guards against a moved folder)."""
    if any(p.values[0] is None for p in JSON_RESPONSES + STREAMS):
        need(None)
    assert (
        len(JSON_RESPONSES) + len(ERROR_BODIES) >= 30 and len(STREAMS) >= 25 and len(REQUESTS) >= 25
    )
