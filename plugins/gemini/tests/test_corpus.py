"""Recorded Gemini traffic (``shared/corpus/gemini``) survives decode + re-encode exactly,
and what we re-encode passes the official SDKs' own validation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from gemini_support import corpus_root, skip_or_fail
from omniwire.endpoint import Endpoint
from omniwire.errors import RateLimited, UpstreamError
from omniwire.model import StreamEvent, fold
from omniwire.report import Conversion
from omniwire.sse import SSEEvent, parse_sse
from omniwire_gemini.generate_content import GeminiGenerateContent, route_params
from omniwire_gemini.vertex import VertexProfile

codec = GeminiGenerateContent()
ROOT = corpus_root() / "gemini"


def _samples(name: str, *, errors: bool = False) -> list[Any]:
    if not ROOT.is_dir():
        return [pytest.param(None, id="corpus-missing")]
    found = [
        p for p in sorted(ROOT.glob(f"*/*/{name}")) if (p.parent.parent.name == "error") == errors
    ]
    return [pytest.param(p, id=f"{p.parent.parent.name}/{p.parent.name}") for p in found]


def _need(path: Path | None) -> Path:
    if path is None:
        skip_or_fail(f"the Gemini corpus is missing ({ROOT}); set OMNIWIRE_CORPUS")
    assert path is not None
    return path


def _meta(path: Path) -> dict[str, Any]:
    return json.loads((path.parent / "meta.json").read_text())


def _decode_stream(chunks: list[SSEEvent], conv: Conversion | None = None) -> list[StreamEvent]:
    dec = codec.stream_decoder(conv or Conversion())
    events: list[StreamEvent] = []
    for c in chunks:
        events += dec.feed(c)
    return events + dec.close()


def _reencode(events: list[StreamEvent], conv: Conversion | None = None) -> list[SSEEvent]:
    enc = codec.stream_encoder(conv or Conversion())
    out: list[SSEEvent] = []
    for e in events:
        out += enc.feed(e)
    return out + enc.close()


def _stream_chunks(path: Path) -> list[SSEEvent]:
    if path.suffix == ".sse":
        return parse_sse(path.read_bytes())
    return [SSEEvent(json.dumps(c)) for c in json.loads(path.read_text())]


# -- requests ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", _samples("request.json") + _samples("request.json", errors=True))
def test_request_round_trip(path):
    path = _need(path)
    body = json.loads(path.read_text())
    uri = _meta(path)["recorded_uri"]
    url = urlsplit(uri)
    model, method = url.path.rsplit("/models/", 1)[1].split(":")
    params = {"model": model, "stream": "true" if method == "streamGenerateContent" else "false"}
    conv = Conversion()
    request = codec.decode_request(body, conv, params=params)
    assert conv.losses == [] or all("allowedFunctionNames" in r.path for r in conv.losses)
    wire = codec.encode_request(request, Conversion())
    assert wire.body == body
    assert "key" not in wire.query
    if url.netloc.startswith("generativelanguage"):
        assert wire.path == url.path
        assert route_params(wire.path)["model"] == model
    else:  # a Vertex AI recording: the profile rebuilds the same URL
        parts = url.path.split("/")
        endpoint = Endpoint(
            "vertex",
            codec.id,
            f"{url.scheme}://{url.netloc}",
            profile="gemini.vertex",
            options={"project": parts[3], "location": parts[5], "api_version": parts[1]},
        )
        got = VertexProfile().url(endpoint, wire)
        assert got.split("?")[0] == f"{url.scheme}://{url.netloc}{url.path}"
    if wire.stream:
        assert wire.query == {"alt": "sse"}


# -- responses --------------------------------------------------------------------------


@pytest.mark.parametrize("path", _samples("response.json"))
def test_response_round_trip(path):
    path = _need(path)
    body = json.loads(path.read_text())
    conv = Conversion()
    if isinstance(body, list):  # streamGenerateContent without alt=sse: a JSON array
        folded = codec.decode_response(body, conv)
        events = _decode_stream(_stream_chunks(path))
        assert fold(events) == folded
        again = fold(_decode_stream(_reencode(events)))
        assert again == folded
        return
    response = codec.decode_response(body, conv)
    assert conv.losses == []
    assert codec.encode_response(response, Conversion()) == body
    assert codec.usage_of(body) == response.usage


@pytest.mark.parametrize("path", _samples("response.sse"))
def test_stream_round_trip(path):
    path = _need(path)
    chunks = _stream_chunks(path)
    events = _decode_stream(chunks)
    folded = fold(events)
    enc_conv = Conversion()
    again = _decode_stream(_reencode(events, enc_conv))
    assert enc_conv.losses == []
    assert fold(again) == folded
    # the whole-response form of the stream says the same
    whole = codec.decode_response(codec.encode_response(folded, Conversion()), Conversion())
    assert whole == folded
    # pass-through usage: the last chunk's running total is the stream's usage
    usages = [u for u in map(codec.usage_of_event, chunks) if u is not None]
    assert usages and usages[-1] == folded.usage


# -- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", _samples("response.json", errors=True))
def test_error_samples(path):
    path = _need(path)
    raw = path.read_bytes()
    body = json.loads(raw)
    status = _meta(path)["http_status"] or body["error"]["code"]
    err = codec.decode_error(status, {}, raw)
    if status == 429:
        assert isinstance(err, RateLimited) and err.retryable
        assert err.retry_after == 34.4
    else:
        assert isinstance(err, UpstreamError)
        assert err.status == status and err.upstream_kind == body["error"]["status"]
        assert err.retryable is (status >= 500)
    assert err.message == body["error"]["message"]
    back_status, back = codec.encode_error(err)
    assert back_status == status
    assert back["error"]["status"] == body["error"]["status"]
    assert codec.decode_error(back_status, {}, json.dumps(back).encode()).retryable == err.retryable
