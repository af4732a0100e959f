"""Every recorded Anthropic payload in the shared corpus survives decode and re-encode.

* ``request.json``: ``encode_request(decode_request(x)).body == x``.
* ``response.json``: ``encode_response(decode_response(x)) == x`` (no normalisation was
  needed: nulls, absent keys and unknown fields all come back through ``raw``); error
  bodies map to the right kernel error instead.
* ``response.sse``: the decoded stream folds to what ``decode_response`` makes of the
  message the SDK would accumulate from the same events (tool arguments compared after
  ``normalize``, since a stream carries the model's own spacing); re-encoding with our
  stream encoder and decoding again folds to the same response.
* ``response.chunks.jsonl`` (the same events without ``event:`` lines) decodes like the SSE.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from omniwire.errors import RateLimited, UpstreamError
from omniwire.model import Response, fold
from omniwire.normalize import normalize
from omniwire.report import Conversion
from omniwire.sse import SSEEvent, parse_sse
from omniwire_anthropic.messages import AnthropicMessages

REPO = Path(__file__).resolve().parents[3]
CORPUS = Path(os.environ.get("OMNIWIRE_CORPUS", REPO.parent / "shared" / "corpus")) / "anthropic"
CODEC = AnthropicMessages()

if not CORPUS.is_dir():
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"the shared corpus is missing at {CORPUS}")
    pytest.skip(f"no corpus at {CORPUS}", allow_module_level=True)


def _files(name: str) -> list[Any]:
    return [
        pytest.param(p, id=f"{p.parent.parent.name}/{p.parent.name}")
        for p in sorted(CORPUS.glob(f"*/*/{name}"))
    ]


def _meta(path: Path) -> dict[str, Any]:
    return json.loads((path.parent / "meta.json").read_text())


REQUESTS = _files("request.json")
RESPONSES = _files("response.json")
STREAMS = _files("response.sse")
CHUNKS = _files("response.chunks.jsonl")


def test_corpus_is_covered() -> None:
    assert len(REQUESTS) >= 15 and len(RESPONSES) >= 15 and len(STREAMS) >= 10


@pytest.mark.parametrize("path", REQUESTS)
def test_request(path: Path) -> None:
    body = json.loads(path.read_text())
    conv = Conversion()
    request = CODEC.decode_request(body, conv)
    assert conv.losses == []
    out = CODEC.encode_request(request, Conversion(strict=True))
    assert out.body == body
    assert out.stream is bool(body.get("stream"))


@pytest.mark.parametrize("path", RESPONSES)
def test_response(path: Path) -> None:
    body = json.loads(path.read_text())
    status = _meta(path)["http_status"]
    if status != 200:
        error = CODEC.decode_error(status, {"request-id": "req_header"}, path.read_bytes())
        kind = body["error"]["type"]
        assert isinstance(error, UpstreamError) and not isinstance(error, RateLimited)
        assert (error.status, error.upstream_kind, error.retryable) == (status, kind, False)
        assert error.message == body["error"]["message"]
        assert error.request_id == body["request_id"]  # type: ignore[attr-defined]
        assert CODEC.encode_error(error) == (status, body)  # and back, exactly
        return
    conv = Conversion(strict=True)
    response = CODEC.decode_response(body, conv)
    assert CODEC.encode_response(response, Conversion(strict=True)) == body
    assert CODEC.usage_of(body) == response.usage


def accumulate(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The message an SDK accumulates from wire events (written from the grammar, to
    check the codec's stream decoder against its non-stream decoder)."""
    message: dict[str, Any] = {}
    partial: dict[int, str] = {}
    for data in events:
        kind = data["type"]
        if kind == "message_start":
            message = json.loads(json.dumps(data["message"]))
        elif kind == "content_block_start":
            assert data["index"] == len(message["content"])
            message["content"].append(dict(data["content_block"]))
        elif kind == "content_block_delta":
            block, delta = message["content"][data["index"]], data["delta"]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            elif delta["type"] == "thinking_delta":
                block["thinking"] += delta["thinking"]
            elif delta["type"] == "signature_delta":
                block["signature"] = delta["signature"]
            elif delta["type"] == "citations_delta":
                block.setdefault("citations", []).append(delta["citation"])
            elif delta["type"] == "input_json_delta":
                partial[data["index"]] = partial.get(data["index"], "") + delta["partial_json"]
        elif kind == "content_block_stop":
            text = partial.pop(data["index"], "")
            if text.strip():
                message["content"][data["index"]]["input"] = json.loads(text)
        elif kind == "message_delta":
            message["stop_reason"] = data["delta"].get("stop_reason")
            for key, value in data.get("usage", {}).items():
                if value is not None:
                    message["usage"][key] = value
    return message


def _decode_stream(events: list[SSEEvent]) -> tuple[Response, list[Any], Conversion]:
    conv = Conversion()
    decoder = CODEC.stream_decoder(conv)
    out = [e for event in events for e in decoder.feed(event)] + decoder.close()
    return fold(out), out, conv


@pytest.mark.parametrize("path", STREAMS)
def test_stream(path: Path) -> None:
    sse = parse_sse(path.read_bytes())
    folded, events, conv = _decode_stream(sse)
    for loss in conv.losses:  # only what no canonical stream event can carry
        assert loss.path.split(".")[-1] in ("iterations", "container"), loss
    wire = [json.loads(e.data) for e in sse if e.event != "ping"]
    expected = CODEC.decode_response(accumulate(wire), Conversion())
    assert normalize(folded) == normalize(expected)
    assert folded.choices[0].stop_raw == expected.choices[0].stop_raw

    encoder = CODEC.stream_encoder(Conversion(strict=True))
    again = [e for event in events for e in encoder.feed(event)] + encoder.close()
    text = b"".join(e.encode() for e in again)
    refolded, _, _ = _decode_stream(parse_sse(text))
    assert normalize(refolded) == normalize(folded)
    # pass-through usage: the last usage-bearing event gives the final counts
    usages = [u for u in map(CODEC.usage_of_event, sse) if u is not None]
    assert usages[-1].output_tokens == folded.usage.output_tokens  # type: ignore[union-attr]


@pytest.mark.parametrize("path", CHUNKS)
def test_chunks(path: Path) -> None:
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    from_chunks, _, _ = _decode_stream([SSEEvent(line) for line in lines])
    from_sse, _, _ = _decode_stream(parse_sse((path.parent / "response.sse").read_bytes()))
    assert from_chunks == from_sse
