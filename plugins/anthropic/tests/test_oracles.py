"""The official Anthropic SDKs judge what we write.

Encoded responses, streams and error bodies go through ``validators.py`` (the SDK's own
models and stream accumulator, plus the grammar checks the SDK skips) in each oracle venv,
one subprocess per SDK generation. Output generated from canonical values must come back
with no hard error, nothing missing and no unknown key. Corpus payloads re-encoded by us
must do no worse than the recordings themselves.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from anthropic_strategies import responses, streams
from hypothesis import given, settings
from omniwire.errors import (
    BudgetExceeded,
    CircuitOpen,
    ConfigError,
    NoAvailableKey,
    OmniwireError,
    ProtocolError,
    RateLimited,
    Timeout,
    UpstreamError,
)
from omniwire.model import Response, StreamEvent
from omniwire.report import Conversion
from omniwire.sse import parse_sse
from omniwire_anthropic.messages import AnthropicMessages

REPO = Path(__file__).resolve().parents[3]
ORACLES = Path(os.environ.get("OMNIWIRE_ORACLES", REPO / ".oracles"))
VALIDATORS = Path(os.environ.get("OMNIWIRE_VALIDATORS", REPO.parent / "shared" / "oracles"))
CORPUS = Path(os.environ.get("OMNIWIRE_CORPUS", REPO.parent / "shared" / "corpus")) / "anthropic"
WORKER = Path(__file__).with_name("oracle_worker.py")
GENERATIONS = ("new", "old")
CODEC = AnthropicMessages()


def _sse_text(events: list[StreamEvent]) -> str:
    encoder = CODEC.stream_encoder(Conversion(strict=True))
    out = [e for event in events for e in encoder.feed(event)] + encoder.close()
    return b"".join(e.encode() for e in out).decode()


def _generated() -> list[tuple[str, str, Any]]:
    """(id, kind, payload) for output built from canonical values (deterministic)."""
    cases: list[tuple[str, str, Any]] = []

    @settings(max_examples=25, derandomize=True, database=None, deadline=None)
    @given(responses())
    def collect_responses(response: Response) -> None:
        body = CODEC.encode_response(response, Conversion(strict=True))
        cases.append((f"response-{len(cases)}", "message", body))

    @settings(max_examples=25, derandomize=True, database=None, deadline=None)
    @given(streams())
    def collect_streams(case: tuple[Response, list[StreamEvent]]) -> None:
        cases.append((f"stream-{len(cases)}", "sse", _sse_text(case[1])))

    collect_responses()
    collect_streams()
    errors: list[OmniwireError] = [
        ProtocolError("bad field", path="$.messages[0]"),
        ConfigError("unknown model"),
        RateLimited("slow down", retry_after=3),
        BudgetExceeded("budget spent"),
        Timeout("deadline passed"),
        NoAvailableKey("no key"),
        CircuitOpen("open"),
        UpstreamError("upstream said no", status=401),
        UpstreamError("forbidden", status=403),
        UpstreamError("gone", status=404),
        UpstreamError("boom", status=502),
        UpstreamError("Overloaded", status=529, upstream_kind="overloaded_error"),
        OmniwireError("internal"),
    ]
    for error in errors:
        cases.append(
            (f"error-{type(error).__name__}-{error.status}", "error", CODEC.encode_error(error)[1])
        )
    return cases


def _corpus() -> list[tuple[str, str, Any, Any]]:
    """(id, kind, original payload, our re-encoding) for corpus samples."""
    out: list[tuple[str, str, Any, Any]] = []
    for path in sorted(CORPUS.glob("*/*/response.json")):
        body = json.loads(path.read_text())
        if body.get("type") == "error":
            continue
        ours = CODEC.encode_response(CODEC.decode_response(body, Conversion()), Conversion())
        out.append((f"corpus-{path.parent.name}.json", "message", body, ours))
    for path in sorted(CORPUS.glob("*/*/response.sse")):
        text = path.read_text()
        decoder = CODEC.stream_decoder(Conversion())
        events = [e for sse in parse_sse(text) for e in decoder.feed(sse)] + decoder.close()
        out.append((f"corpus-{path.parent.name}.sse", "sse", text, _sse_text(events)))
    return out


GENERATED = _generated()
CORPUS_CASES = _corpus() if CORPUS.is_dir() else []


def _python(generation: str) -> Path:
    return ORACLES / generation / "bin" / "python"


_results: dict[str, dict[str, Any]] = {}


def _run(generation: str) -> dict[str, Any]:
    """All cases of one generation through one subprocess (cached for the session)."""
    if generation in _results:
        return _results[generation]
    python = _python(generation)
    if not python.exists() or not (VALIDATORS / "validators.py").exists():
        if os.environ.get("CI") == "true":
            raise RuntimeError(f"oracle venv {python} or validators missing")
        pytest.skip(f"oracle venv {generation} not installed")
    cases: list[dict[str, Any]] = [{"kind": k, "data": d} for _, k, d in GENERATED]
    for _, kind, original, ours in CORPUS_CASES:
        cases += [{"kind": kind, "data": original}, {"kind": kind, "data": ours}]
    job = json.dumps({"validators": str(VALIDATORS), "cases": cases})
    proc = subprocess.run(
        [str(python), str(WORKER)], input=job, capture_output=True, text=True, timeout=120
    )
    if proc.returncode != 0:
        raise RuntimeError(f"oracle worker failed:\n{proc.stderr[-3000:]}")
    reply = json.loads(proc.stdout)
    results = reply["results"]
    by_id: dict[str, Any] = {"sdk": reply["sdk"]}
    for (case_id, _, _), result in zip(GENERATED, results):
        by_id[case_id] = result
    rest = results[len(GENERATED) :]
    for i, (case_id, *_rest) in enumerate(CORPUS_CASES):
        by_id[case_id] = (rest[2 * i], rest[2 * i + 1])
    _results[generation] = by_id
    return by_id


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("case_id", [c[0] for c in GENERATED])
def test_generated_output_is_clean(generation: str, case_id: str) -> None:
    result = _run(generation)[case_id]
    assert result == {"hard": [], "missing": [], "extras": [], "error": None}, (
        f"anthropic {_run(generation)['sdk']}: {result}"
    )


def _unnumbered(items: list[str]) -> set[str]:
    """Stream reports name events by position; compare what, not where."""
    return {re.sub(r"^event\d+", "event", item) for item in items}


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("case_id", [c[0] for c in CORPUS_CASES])
def test_corpus_output_no_worse_than_recording(generation: str, case_id: str) -> None:
    original, ours = _run(generation)[case_id]
    if original["error"] is not None:
        return  # the recording itself is beyond this SDK generation
    assert ours["error"] is None, ours
    for key in ("hard", "missing", "extras"):
        assert _unnumbered(ours[key]) <= _unnumbered(original[key]), (key, ours, original)
