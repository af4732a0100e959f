"""The official google-genai models judge what we encode, offline: one subprocess per SDK
generation validates our re-encodings of the recorded corpus and a batch of generated
responses and streams (``shared/oracles/validators.py``)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from gemini_strategies import jsonable, responses, streams
from gemini_support import corpus_root, run_oracle
from hypothesis import given, settings
from omniwire.model import StreamEvent
from omniwire.report import Conversion
from omniwire.sse import SSEEvent, parse_sse
from omniwire_gemini.generate_content import GeminiGenerateContent

codec = GeminiGenerateContent()


def _sse(events: list[StreamEvent]) -> str:
    enc = codec.stream_encoder(Conversion())
    out = [s for e in events for s in enc.feed(e)] + enc.close()
    return b"".join(s.encode() for s in out).decode()


def _decode(chunks: list[SSEEvent]) -> list[StreamEvent]:
    dec = codec.stream_decoder(Conversion())
    return [e for c in chunks for e in dec.feed(c)] + dec.close()


def _corpus() -> tuple[list[tuple[str, Any, Any]], list[tuple[str, str, str]]]:
    """(name, recorded, ours) for every recorded response body and stream."""
    bodies, texts = [], []
    root = corpus_root() / "gemini"
    for path in sorted(root.glob("*/*/response.*")):
        if path.parent.parent.name == "error" or path.suffix not in (".json", ".sse"):
            continue
        if path.suffix == ".sse":
            chunks = parse_sse(path.read_bytes())
        else:
            body = json.loads(path.read_text())
            if isinstance(body, dict):
                ours = codec.encode_response(
                    codec.decode_response(body, Conversion()), Conversion()
                )
                bodies.append((path.parent.name, body, ours))
                continue
            chunks = [SSEEvent(json.dumps(c)) for c in body]
        recorded = "".join(c.encode().decode() for c in chunks)
        texts.append((path.parent.name, recorded, _sse(_decode(chunks))))
    return bodies, texts


def _keys(paths: list[str]) -> set[str]:
    """Extra-key paths without the chunk number (we may send more chunks)."""
    return {p.split(".", 1)[1] if p.startswith("chunk") else p for p in paths}


@pytest.mark.parametrize("generation", ["new", "old"])
def test_official_sdk_accepts_our_output(generation):
    generated_bodies: list[Any] = []
    generated_texts: list[str] = []

    @settings(max_examples=60, derandomize=True, database=None, deadline=None)
    @given(responses(), streams())
    def collect(response, events):
        generated_bodies.append(jsonable(codec.encode_response(response, Conversion())))
        generated_texts.append(_sse(events))

    collect()
    corpus_bodies, corpus_texts = _corpus() if (corpus_root() / "gemini").is_dir() else ([], [])
    report = run_oracle(
        generation,
        generated_bodies + [b for _, recorded, ours in corpus_bodies for b in (recorded, ours)],
        generated_texts + [t for _, recorded, ours in corpus_texts for t in (recorded, ours)],
    )
    got_bodies, got_texts = report["responses"], report["streams"]
    n, m = len(generated_bodies), len(generated_texts)

    # generated output: nothing wrong, nothing missing, nothing unknown
    for kind, results, inputs in (
        ("response", got_bodies[:n], generated_bodies),
        ("stream", got_texts[:m], generated_texts),
    ):
        for r, src in zip(results, inputs):
            assert not (r["hard"] or r["missing"] or r["extras"]), f"{kind} {src!r:.600}: {r}"

    # corpus: our re-encoding validates like the recording (usageMetadata.serviceTier is
    # newer than both SDKs, so a recording may already carry that unknown key)
    pairs = list(
        zip([name for name, *_ in corpus_bodies], got_bodies[n::2], got_bodies[n + 1 :: 2])
    )
    pairs += zip([name for name, *_ in corpus_texts], got_texts[m::2], got_texts[m + 1 :: 2])
    assert len(pairs) == len(corpus_bodies) + len(corpus_texts)
    for name, theirs, mine in pairs:
        assert mine["hard"] == [] and mine["missing"] == [], f"{name}: {mine}"
        assert _keys(mine["extras"]) <= _keys(theirs["extras"]), f"{name}: {mine['extras']}"
