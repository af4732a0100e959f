"""Issue 7's stream fallback as clients see it: the upstream cuts a stream before its
first event; the gateway answers with a non-streamed call re-streamed locally, and each
official SDK's own stream helper gets a complete, well-formed stream."""

from __future__ import annotations

import json

import pytest
from gateway_support import UPSTREAMS, run_sdk

INBOUND = ("chat", "responses", "messages", "gemini")


def asked_stream(recorded) -> bool:
    body = recorded.json if isinstance(recorded.json, dict) else {}
    return ":streamGenerateContent" in recorded.path or bool(body.get("stream"))


@pytest.mark.parametrize("model", ["via-chat", "via-anthropic", "via-gemini"])
@pytest.mark.parametrize("inbound", INBOUND)
def test_sdk_streams_survive_a_stream_cut_before_its_first_event(gateway, upstream, inbound, model):
    upstream.clear()
    upstream.cut_stream(0, times=1)  # the first upstream stream dies before any event
    prompt = f"fallback {inbound} {model}"
    case = {"inbound": inbound, "model": model, "mode": "stream", "prompt": prompt}
    [result] = run_sdk("new", gateway.url, [case])
    assert result["ok"], (result["error"], [(r.path, r.json) for r in upstream.requests])
    assert result["result"]["text"] == f"echo: {prompt}"
    provider = UPSTREAMS[model][0]
    sent = [r for r in upstream.requests if r.key == f"up-key-{provider}-0001"]
    assert [asked_stream(r) for r in sent] == [True, False], [
        (r.path, json.dumps(r.json)[:80]) for r in sent
    ]
