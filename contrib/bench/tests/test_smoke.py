"""The harness in smoke mode (what CI runs so it cannot rot), and its parts."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from omniwire_bench.procs import Proc, python, run_json, script


def test_smoke_run_writes_the_report(tmp_path: Path) -> None:
    out = tmp_path / "benchmarks.md"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "omniwire_bench", "run", "--smoke", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=170,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr[-3000:]
    text = out.read_text()
    for heading in (
        "## Targets",
        "## Import time",
        "## Library, non-streaming",
        "## Library, streaming",
        "## Gateway",
        "## Memory",
        "## Transcoding",
    ):
        assert heading in text, heading
    results = json.loads(out.with_suffix(".json").read_text())
    assert results["mode"] == "smoke"
    clients = results["library"]["clients"]
    for name in (
        "raw-aiohttp",
        "raw-httpx",
        "omniwire-aiohttp",
        "omniwire-httpx",
        "omniwire-x-aiohttp",
        "omniwire-x-httpx",
    ):
        assert clients[name]["seq"]["p50_ms"] > 0, name
        assert clients[name]["conc"]["calls_per_s"] > 0, name
        assert clients[name]["stream"]["chunks"] == 200, name
    servers = results["gateway"]["servers"]
    for name in ("direct", "relay", "omniwire", "omniwire-transcoding"):
        for mode in ("json", "stream"):
            assert servers[name]["summary"][mode]["rps"] > 0, (name, mode)
            assert servers[name]["summary"][mode]["errors"] == 0, (name, mode)
    assert results["gateway"]["soak"]["omniwire"]["requests"] >= 2000
    assert all(d["per_s"] > 0 for d in results["transcoding"]["directions"].values())
    if results["plot"]:
        assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # timing never fails the run; only the budget of the smoke mode itself is checked
    assert elapsed < 90, f"smoke mode took {elapsed:.0f} s"


@pytest.fixture(scope="module")
def upstream():
    with Proc([python(), script("upstream"), "--max-seconds", "120"], ready_line=True) as up:
        yield up.port


@pytest.mark.parametrize("stream", [False, True])
def test_loadgen_is_bounded_and_parses_answers(upstream: int, tmp_path: Path, stream: bool):
    body = tmp_path / "b.json"
    body.write_text(json.dumps({"model": "m20", "messages": [], "stream": stream}))
    result = run_json(
        [
            python(),
            script("loadgen"),
            "--port",
            str(upstream),
            "--body-file",
            str(body),
            "--connections",
            "4",
            "--seconds",
            "5",
            "--requests",
            "300",
        ],
        timeout=60,
    )
    assert result["requests"] == 300 and result["errors"] == 0
    assert result["statuses"] == {"200": 300}
    paced = run_json(
        [
            python(),
            script("loadgen"),
            "--port",
            str(upstream),
            "--body-file",
            str(body),
            "--connections",
            "2",
            "--seconds",
            "0.5",
            "--rate",
            "100",
        ],
        timeout=60,
    )
    assert 30 <= paced["requests"] <= 60 and paced["errors"] == 0


def test_loadgen_refuses_other_hosts() -> None:
    done = subprocess.run(
        [python(), script("loadgen"), "--host", "10.0.0.1", "--port", "80"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode != 0 and "loopback" in done.stderr


def test_upstream_answers_openai_shapes(upstream: int) -> None:
    import httpx

    url = f"http://127.0.0.1:{upstream}/v1/chat/completions"
    plain = httpx.post(url, json={"model": "m3", "messages": []}).json()
    assert plain["choices"][0]["message"]["content"] == "Hello there!"
    assert plain["usage"]["completion_tokens"] == 3
    streamed = httpx.post(url, json={"model": "m3", "stream": True}).text
    datas = [ln[6:] for ln in streamed.split("\n") if ln.startswith("data: ")]
    assert datas[-1] == "[DONE]" and len(datas) == 3 + 2 + 1
    assert json.loads(datas[-2])["usage"]["total_tokens"] == 15
