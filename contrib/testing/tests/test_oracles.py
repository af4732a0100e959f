"""The official-SDK oracles, run on recorded provider payloads."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from omniwire_testing import oracles

CORPUS = Path(os.environ.get("OMNIWIRE_CORPUS", oracles.repo_root().parent / "shared" / "corpus"))


def sample(protocol: str, bucket: str, sample_id: str, name: str = "response.json"):
    path = CORPUS / protocol / bucket / sample_id / name
    if not path.is_file():
        pytest.skip(f"corpus sample {path} is missing")
    return path.read_text() if name.endswith(".sse") else json.loads(path.read_text())


def test_locations_come_from_the_checkout():
    assert oracles.repo_root() is not None and (oracles.repo_root() / "pyproject.toml").is_file()
    assert oracles.python_for("new").parts[-3:] == ("new", "bin", "python")
    with pytest.raises(ValueError):
        oracles.python_for("ancient")


def test_unavailable_when_nothing_is_installed(monkeypatch, tmp_path):
    monkeypatch.setenv("OMNIWIRE_ORACLE_VENVS", str(tmp_path))
    assert not oracles.available("new")
    with pytest.raises(oracles.OracleUnavailable):
        oracles.validate_many([("validate_chat_completion", {})])


@pytest.mark.parametrize("generation", ["new", "old"])
def test_corpus_payloads_pass_and_broken_ones_fail(oracle_sdks, generation):
    if not oracle_sdks.available(generation):
        pytest.skip(f"no {generation} oracle venv")
    chat = sample("openai_chat", "plain", "vai__openai-text")
    message = sample("anthropic", "plain", "vai__anthropic-text")
    gemini = sample("gemini", "plain", "vai__google-text")
    stream = sample("openai_chat", "streaming_plain", "oaipy__173417d55340", "response.sse")
    broken = dict(
        chat,
        choices=[{"index": 0, "finish_reason": "not-a-reason", "message": {"role": "assistant"}}],
    )
    results = oracle_sdks.validate_many(
        [
            ("validate_chat_completion", chat),
            ("validate_anthropic_message", message),
            ("validate_gemini_response", gemini),
            ("accumulate_chat_sse", stream),
            ("validate_chat_completion", broken),
            ("validate_anthropic_message", message, {"beta": True}),
            ("no_such_validator", {}),
            ("accumulate_chat_sse", "data: [DONE]\n\n"),
        ],
        generation,
    )
    ok, msg, gem, sse, bad, beta, unknown, empty = results
    assert ok["ok"] and ok["hard"] == [], ok
    assert msg["ok"] and gem["ok"] and beta["ok"], (msg, gem, beta)
    assert sse["ok"], sse
    assert not bad["ok"] and any("finish_reason" in h for h in bad["hard"]), bad
    assert "no function 'no_such_validator'" in unknown["error"]
    assert "StreamError" in empty["error"]  # no chunks at all
