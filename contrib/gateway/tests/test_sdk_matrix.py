"""The official SDKs, as real clients of the gateway, across every inbound x upstream
protocol pair: plain, streamed (the SDKs' own stream helpers) and tool calls."""

from __future__ import annotations

import pytest
from gateway_support import UPSTREAMS, run_sdk

INBOUND = ("chat", "responses", "messages", "gemini")
MODES = ("plain", "stream", "tools")


def cases() -> list[dict]:
    out = []
    for inbound in INBOUND:
        for model in UPSTREAMS:
            for mode in MODES:
                prompt = (
                    "please call tool get_weather"
                    if mode == "tools"
                    else f"hi {inbound} {model} {mode}"
                )
                out.append({"inbound": inbound, "model": model, "mode": mode, "prompt": prompt})
    return out


THINKING = [  # reasoning where both sides can carry it
    {"inbound": inbound, "model": model, "mode": "thinking", "prompt": f"think {inbound} {model}"}
    for inbound in ("messages", "responses")
    for model in ("via-anthropic", "via-gemini", "via-responses")
]


EMBEDDINGS = [
    {"inbound": inbound, "model": model, "mode": "embed", "prompt": "embed me"}
    for inbound in ("chat", "gemini")
    for model in ("via-chat", "via-gemini")
]


def check(results: list[dict]) -> list[str]:
    problems = []
    for r in results:
        case = r["case"]
        label = f"{case['inbound']} -> {case['model']} ({case['mode']})"
        if not r["ok"]:
            problems.append(f"{label}: {r['error']}")
            continue
        res = r["result"]
        if case["mode"] == "embed":
            want = 2 if case["inbound"] == "chat" else 1
            if len(res.get("vectors", [])) != want or not all(res["vectors"]):
                problems.append(f"{label}: embeddings {res}")
            continue
        if case["mode"] == "thinking":
            if res.get("thinking") != "Let me think about that." or not res.get("signature"):
                problems.append(f"{label}: reasoning lost: {res}")
            if res.get("text") != f"echo: {case['prompt']}":
                problems.append(f"{label}: text {res.get('text')!r}")
            continue
        if case["mode"] == "tools":
            if res.get("tool") != "get_weather":
                problems.append(f"{label}: no tool call: {res}")
            if case["inbound"] == "chat" and res.get("tool_plain") != "get_weather":
                problems.append(f"{label}: no tool call without streaming: {res}")
        elif res.get("text") != f"echo: {case['prompt']}":
            problems.append(f"{label}: text {res.get('text')!r}")
    return problems


@pytest.mark.parametrize("generation", ["new", "old"])
def test_every_inbound_to_every_upstream(gateway, generation):
    results = run_sdk(generation, gateway.url, cases() + THINKING + EMBEDDINGS)
    assert len(results) == len(INBOUND) * len(UPSTREAMS) * len(MODES) + len(THINKING) + len(
        EMBEDDINGS
    )
    problems = check(results)
    assert not problems, "\n".join(problems)
