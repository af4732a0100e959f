"""Our own output, judged by the official openai SDKs (both pinned generations).

Everything is encoded here, sent as one JSON batch to the oracle venv's python (which
runs ``validators.py``), and each payload must come back with no ``hard`` failures, no
``missing`` required fields and no ``extras`` (unknown keys), except the documented
generation gap below. SSE streams are also replayed through the SDK's own accumulators,
and what the SDK accumulates must decode back to the response we streamed.

Every corpus recording is validated too, in the same batch: one the SDK rejects (an
item type it does not know) cannot judge our re-encoding of it and is skipped.
Extras forgiven: those the original recording already had (fields of provider items we
pass through untouched, e.g. an ``image_generation_call``'s ``size``), and one known
generation gap: Responses ``usage.input_tokens_details
.cache_write_tokens`` is *required* by openai 3.x and *unknown* to openai 1.x; we emit it
(the newer contract), so the old SDK reports it as an extra.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from oai_helpers import (
    CORPUS,
    REPO_ROOT,
    UNDER_CI,
    events_of,
    run_decoder,
    run_encoder,
    sse_text,
    strip_raw,
)
from omniwire.errors import ProtocolError, RateLimited, Timeout, UpstreamError
from omniwire.model import (
    Choice,
    ReasoningPart,
    RefusalPart,
    Response,
    StopReason,
    StreamError,
    TextPart,
    ToolCallPart,
    Usage,
    fold,
)
from omniwire.normalize import normalize
from omniwire.report import Conversion
from omniwire_openai.chat import OpenAIChat
from omniwire_openai.responses import OpenAIResponses

CHAT, RESPONSES = OpenAIChat(), OpenAIResponses()
ORACLES = Path(os.environ.get("OMNIWIRE_ORACLES") or REPO_ROOT.parent / "shared" / "oracles")
VENVS = {"new": REPO_ROOT / ".oracles" / "new", "old": REPO_ROOT / ".oracles" / "old"}
FORGIVEN_EXTRAS = {"old": ("usage.input_tokens_details.cache_write_tokens",)}

_SCRIPT = r"""
import json, sys, traceback
sys.path.insert(0, sys.argv[1])
import validators as V
out = []
for job in json.load(sys.stdin):
    try:
        fn = getattr(V, job["fn"])
        r = fn(job["payload"])
        obj = r.obj.to_dict() if hasattr(r.obj, "to_dict") else None
        out.append({"hard": r.hard, "missing": r.missing, "extras": r.extras, "obj": obj})
    except Exception as exc:
        out.append({"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()[-800:]})
json.dump(out, sys.stdout)
"""

# -- what we send --------------------------------------------------------------------------------

USAGE = Usage(1200, 340, cache_read_tokens=1024, reasoning_tokens=128)
CALL = ToolCallPart("call_abc", "get_weather", '{"city":"Paris"}')
URL_CITE = {
    "type": "url_citation",
    "start_index": 0,
    "end_index": 5,
    "title": "Paris",
    "url": "https://example.com/p",
}


def _response(
    *choices: Choice, usage: Usage | None = USAGE, tier: str | None = "default"
) -> Response:
    return Response("resp_test1", "gpt-test", choices, usage, created=1700000000, service_tier=tier)


CHAT_CASES = {
    "text": _response(Choice((TextPart("Hello there"),), StopReason.END_TURN)),
    "citations": _response(Choice((TextPart("Paris is nice", (URL_CITE,)),), StopReason.END_TURN)),
    "refusal": _response(Choice((RefusalPart("I can't help with that."),), StopReason.END_TURN)),
    "tools": _response(
        Choice(
            (TextPart("Let me check."), CALL, ToolCallPart("call_2", "noop", "{}")),
            StopReason.TOOL_CALLS,
        )
    ),
    "length": _response(
        Choice((TextPart("truncat"),), StopReason.MAX_TOKENS), usage=None, tier=None
    ),
    "n3": _response(
        *(Choice((TextPart(f"answer {i}"),), StopReason.END_TURN, index=i) for i in range(3))
    ),
    "usage-details": _response(
        Choice((TextPart("ok"),), StopReason.END_TURN),
        usage=Usage(10, 5, details={"input_audio_tokens": 3, "output_audio_tokens": 2}),
    ),
}
# validated as JSON only: validators.accumulate_chat_sse reads ``e.completion`` of
# ContentFilterFinishReasonError, which openai 1.x does not have (a validators.py bug)
CHAT_JSON_ONLY = {"content-filter": _response(Choice((TextPart("x"),), StopReason.CONTENT_FILTER))}
RESPONSES_CASES = {
    "text": _response(Choice((TextPart("Hello there"),), StopReason.END_TURN)),
    "citations": _response(
        Choice(
            (TextPart("Paris is nice", (URL_CITE,)), RefusalPart("no more")), StopReason.END_TURN
        )
    ),
    "reasoning-tools": _response(
        Choice(
            (
                ReasoningPart(
                    "thinking hard", summary=("Plan", "Check"), encrypted="gAAAAenc", id="rs_1"
                ),
                TextPart("Let me check."),
                CALL,
            ),
            StopReason.TOOL_CALLS,
        )
    ),
    "incomplete": _response(
        Choice((TextPart("truncat"),), StopReason.MAX_TOKENS), usage=None, tier=None
    ),
    "two-messages": _response(
        Choice((TextPart("a"), ReasoningPart(id="rs_2"), TextPart("b")), StopReason.END_TURN)
    ),
}


def _unnumbered(path: str) -> str:
    """An extra's path reduced to what identifies the field across events: for fields of
    output items (``event9.item.size``, ``event15.response.output[1].size``) the field
    name, else the path without event/chunk numbers and indexes."""
    path = re.sub(r"\[\d+\]", "[]", re.sub(r"^(event|chunk)\d+\.?|^\$\.?", "", path))
    m = re.match(r"^(?:item|response\.output\[\]|output\[\])\.(\w+)$", path)
    return f"item.{m.group(1)}" if m else path


def _corpus(protocol: str) -> list[tuple[str, Any, Any, Any]]:
    """(name, original payload, fresh canonical response | None, canonical events | None)
    for every non-error corpus sample."""
    codec = CHAT if protocol == "openai_chat" else RESPONSES
    out = []
    for path in sorted((CORPUS / protocol).glob("*/*/response.*")):
        bucket, sample = path.parent.parent.name, path.parent.name
        if bucket in ("error", "streaming_error") or path.suffix not in (".json", ".sse"):
            continue
        if path.suffix == ".json":
            original = json.loads(path.read_text())
            response = strip_raw(codec.decode_response(original, Conversion()))
            out.append((f"{bucket}/{sample}", original, response, None))
        else:
            original = path.read_text()
            events = [strip_raw(e) for e in run_decoder(codec, original)]
            out.append((f"{bucket}/{sample}", original, None, events))
    return out


def _jobs() -> tuple[list[dict[str, Any]], list[tuple[str, Any]]]:
    """The batch for one SDK generation, and what each job must decode back to."""
    jobs: list[dict[str, Any]] = []
    expect: list[tuple[str, Any]] = []

    def add(name: str, fn: str, payload: Any, expected: Any = None) -> None:
        jobs.append({"fn": fn, "payload": payload})
        expect.append((f"{fn}:{name}", expected))

    for name, r in CHAT_JSON_ONLY.items():
        add(name, "validate_chat_completion", CHAT.encode_response(r, Conversion(strict=True)))
    for name, r in CHAT_CASES.items():
        conv = Conversion(strict=True)
        add(name, "validate_chat_completion", CHAT.encode_response(r, conv))
        if name != "citations":  # chat deltas have no annotations (a reported loss)
            add(
                name,
                "accumulate_chat_sse",
                sse_text(run_encoder(CHAT, events_of(r, [3, 7]), conv)),
                r,
            )
    for name, r in RESPONSES_CASES.items():
        conv = Conversion(strict=True)
        add(name, "validate_response", RESPONSES.encode_response(r, conv))
        sse = run_encoder(RESPONSES, events_of(r, [2, 5]), conv)
        if r.choices[0].stop_reason in (StopReason.END_TURN, StopReason.TOOL_CALLS):
            add(name, "accumulate_responses_sse", sse_text(sse), r)
        else:  # ends with response.incomplete, which get_final_response() refuses by policy
            assert json.loads(sse[-1].data)["type"] == "response.incomplete"
            for k, ev in enumerate(sse):
                add(f"{name}#{k}", "validate_response_event", json.loads(ev.data))
    for protocol, codec, fn_json, fn_sse in (
        ("openai_chat", CHAT, "validate_chat_completion", "accumulate_chat_sse"),
        ("openai_responses", RESPONSES, "validate_response", "accumulate_responses_sse"),
    ):
        for name, original, response, events in _corpus(protocol):
            fn = fn_json if response is not None else fn_sse
            add(name, fn, original, "original")  # what the SDK thinks of the recording itself
            if response is not None:
                add(name, fn, codec.encode_response(response, Conversion()))
            else:
                add(name, fn, sse_text(run_encoder(codec, events)), fold(events))
    for err in (
        ProtocolError("expected string, got integer", path="$.messages[2].content"),
        RateLimited("slow down", retry_after=2.0),
        UpstreamError("bad gateway", status=502, upstream_kind="server_error"),
        Timeout("read timeout"),
    ):
        add(type(err).__name__, "validate_openai_error", CHAT.encode_error(err)[1])
    # an in-stream error must make the SDK raise
    broken = [
        *events_of(CHAT_CASES["text"])[:3],
        StreamError("upstream fell over", "server_error", 500),
    ]
    add("stream-error", "accumulate_chat_sse", sse_text(run_encoder(CHAT, broken)), "raises")
    add(
        "stream-error",
        "accumulate_responses_sse",
        sse_text(run_encoder(RESPONSES, broken)),
        "raises",
    )
    return jobs, expect


def _run(sdk: str, jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    python = VENVS[sdk] / "bin" / "python"
    if not python.exists() or not (ORACLES / "validators.py").exists():
        if UNDER_CI:
            pytest.fail(f"oracle venv {python} or {ORACLES}/validators.py missing (CI=true)")
        pytest.skip(f"oracle venv {python} missing")
    proc = subprocess.run(
        [str(python), "-c", _SCRIPT, str(ORACLES)],
        input=json.dumps(jobs),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize("sdk", ["new", "old"])
def test_sdk_accepts_our_output(sdk: str) -> None:
    jobs, expect = _jobs()
    results = _run(sdk, jobs)
    # a recording the SDK itself rejects cannot judge our re-encoding of it; the extras
    # it already had are provider fields we pass through untouched
    originals = {name: r for (name, expected), r in zip(expect, results) if expected == "original"}
    problems = []
    for (name, expected), result in zip(expect, results):
        if expected == "original":
            continue
        original = originals.get(name)
        if original is not None and ("error" in original or original["hard"]):
            continue
        passed_through = {_unnumbered(e) for e in (original or {}).get("extras", [])}
        if expected == "raises":
            if "error" not in result or "StreamError" not in result["error"]:
                problems.append(f"{name}: the SDK did not raise on the in-stream error: {result}")
            continue
        if "error" in result:
            problems.append(f"{name}: {result['error']}\n{result.get('trace', '')}")
            continue
        extras = [
            e
            for e in result["extras"]
            if not e.endswith(FORGIVEN_EXTRAS.get(sdk, ())) and _unnumbered(e) not in passed_through
        ]
        if result["hard"] or result["missing"] or extras:
            problems.append(
                f"{name}: hard={result['hard'][:3]} missing={result['missing'][:3]} extras={extras[:5]}"
            )
            continue
        if isinstance(expected, Response) and result.get("obj") is not None:
            codec = CHAT if name.startswith("accumulate_chat") else RESPONSES
            got = codec.decode_response(result["obj"], Conversion())
            if normalize(_comparable(got)) != normalize(_comparable(expected)):
                problems.append(
                    f"{name}: the SDK accumulated\n  {got}\nbut we streamed\n  {expected}"
                )
    assert not problems, "\n".join(problems)


def _comparable(r: Response) -> Response:
    """What an SDK accumulation can be compared on: the content and stop of each choice
    (the SDK's snapshot keeps the usage chunk apart, and drops nothing else we check)."""
    return Response(
        choices=tuple(Choice(c.content, c.stop_reason, index=c.index) for c in r.choices)
    )
