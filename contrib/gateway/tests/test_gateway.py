"""The gateway over real HTTP: errors in each inbound protocol's shape, streams that
break, security, listing, loss reports, persistence."""

from __future__ import annotations

import json
import sqlite3
import time

import httpx
import pytest
from gateway_support import GATEWAY_KEY, UPSTREAMS

AUTH = {"authorization": f"Bearer {GATEWAY_KEY}"}
CHAT = "/v1/chat/completions"
MESSAGES = "/v1/messages"
GEMINI = "/v1beta/models/via-chat:generateContent"


def post(gw, path, body, headers=AUTH, **kw):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return httpx.post(
        gw.url + path,
        content=data,
        headers={"content-type": "application/json", **headers},
        timeout=30,
        **kw,
    )


def chat(model="via-chat", text="hello", **extra):
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


def anthropic(model="via-chat", text="hello", **extra):
    return {
        "model": model,
        "max_tokens": 64,
        "messages": [{"role": "user", "content": text}],
        **extra,
    }


# -- bad requests, in each inbound protocol's own error shape --------------------------


@pytest.mark.parametrize(
    ("path", "body", "status", "needle"),
    [
        (CHAT, b"{not json", 400, "not valid JSON"),
        (CHAT, b"", 400, "empty"),
        (CHAT, {"messages": []}, 400, "$.model"),
        (CHAT, {"model": 5, "messages": []}, 400, "expected string"),
        (CHAT, chat(model="no-such-model"), 404, "unknown model 'no-such-model'"),
        (MESSAGES, {"model": "via-chat", "messages": []}, 400, "max_tokens"),
        (MESSAGES, b"[1,2", 400, "not valid JSON"),
        (MESSAGES, anthropic(model="no-such-model"), 404, "unknown model"),
        (GEMINI, {"contents": "nope"}, 400, "contents"),
        (
            "/v1beta/models/no-such:generateContent",
            {"contents": [{"role": "user", "parts": [{"text": "x"}]}]},
            404,
            "unknown model",
        ),
    ],
)
def test_bad_requests_get_protocol_shaped_errors(gateway, path, body, status, needle):
    r = post(gateway, path, body, headers={**AUTH, "x-api-key": GATEWAY_KEY})
    assert r.status_code == status, r.text
    data = r.json()
    if path.startswith("/v1beta"):
        assert (
            set(data["error"]) >= {"code", "message", "status"} and data["error"]["code"] == status
        )
        message = data["error"]["message"]
    elif path == MESSAGES:
        expected = "not_found_error" if status == 404 else "invalid_request_error"
        assert data["type"] == "error" and data["error"]["type"] == expected
        message = data["error"]["message"]
    else:
        assert data["error"]["type"] in ("invalid_request_error", "model_not_found")
        message = data["error"]["message"]
    assert needle in message
    assert "Traceback" not in r.text


@pytest.mark.parametrize(
    "headers", [{}, {"authorization": "Bearer wrong"}, {"x-api-key": "sk-gw-test-key-000001"}]
)
def test_wrong_or_missing_key(gateway, headers):
    r = post(gateway, CHAT, chat(), headers=headers)
    assert r.status_code == 401 and r.json()["error"]["type"] in (
        "authentication_error",
        "invalid_request_error",
    )
    r = post(gateway, MESSAGES, anthropic(), headers=headers)
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
    r = post(gateway, GEMINI, {"contents": []}, headers=headers)
    assert r.status_code == 401 and r.json()["error"]["status"] == "UNAUTHENTICATED"


def test_oversize_body(upstream, tmp_path):
    from gateway_support import gateway_config
    from omniwire_gateway.testing import RunningGateway

    with RunningGateway(
        gateway_config(upstream),
        workdir=tmp_path,
        keys=(GATEWAY_KEY,),
        env={"OMNIWIRE_MAX_BODY_MB": "1"},
    ) as gw:
        r = post(gw, CHAT, chat(text="x" * (2 * 1024 * 1024)))
        assert r.status_code == 413 and "exceeds the limit" in r.json()["error"]["message"]
        assert post(gw, CHAT, chat()).status_code == 200


def test_upstream_errors_map_to_status(fresh_gateway, upstream):
    gateway = fresh_gateway
    upstream.fail(503)
    r = post(gateway, CHAT, chat())
    assert r.status_code == 502 and r.json()["error"]["message"]
    upstream.fail(400, body={"error": {"message": "bad thing", "type": "invalid_request_error"}})
    r = post(gateway, CHAT, chat())
    assert r.status_code == 400
    upstream.fail(429, retry_after=7)
    r = post(gateway, MESSAGES, anthropic(), headers={"x-api-key": GATEWAY_KEY})
    assert r.status_code == 429 and r.json()["error"]["type"] == "rate_limit_error"
    assert r.headers["retry-after"] == "7"
    upstream.clear()


def test_upstream_key_never_echoed(fresh_gateway, upstream):
    gateway = fresh_gateway
    secret = "up-key-oa-0001"
    upstream.fail(
        401,
        body={
            "error": {
                "message": f"Incorrect API key provided: {secret}",
                "type": "invalid_request_error",
            }
        },
    )
    r = post(gateway, CHAT, chat())
    assert r.status_code == 401 and secret not in r.text
    upstream.clear()


# -- streams that break -----------------------------------------------------------------


def sse_events(text: str) -> list[tuple[str | None, str]]:
    out, event = [], None
    for line in text.splitlines():
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            out.append((event, line[5:].strip()))
            event = None
    return out


@pytest.mark.parametrize(
    ("path", "body", "check"),
    [
        (
            CHAT,
            chat(text="one two three four five six seven eight nine ten", stream=True),
            lambda ev: any('"error"' in d for _, d in ev),
        ),
        (
            MESSAGES,
            anthropic(text="one two three four five six seven eight nine ten", stream=True),
            lambda ev: any(e == "error" for e, _ in ev),
        ),
        (
            "/v1beta/models/via-chat:streamGenerateContent?alt=sse",
            {
                "contents": [
                    {"role": "user", "parts": [{"text": "one two three four five six seven eight"}]}
                ]
            },
            lambda ev: any('"error"' in d for _, d in ev),
        ),
    ],
)
def test_upstream_killed_mid_stream_gives_error_event(gateway, upstream, path, body, check):
    upstream.clear()
    upstream.cut_stream(after_events=2)
    r = post(gateway, path, body, headers={**AUTH, "x-api-key": GATEWAY_KEY})
    assert r.status_code == 200
    events = sse_events(r.text)
    assert check(events), r.text
    for _, data in events:
        if data != "[DONE]":
            json.loads(data)  # every event is well-formed JSON
    assert post(gateway, CHAT, chat()).status_code == 200  # still serving


def test_stream_is_flushed_event_by_event(gateway, upstream):
    upstream.clear()
    upstream.delay(0.05, times=None, event_delay=0.005)  # events arrive apart in time
    try:
        with httpx.stream(
            "POST",
            gateway.url + CHAT,
            json=chat(text=" ".join(["w"] * 40), stream=True),
            headers=AUTH,
            timeout=30,
        ) as r:
            stamps = [time.perf_counter() for _ in r.iter_raw()]
    finally:
        upstream.clear()
    assert len(stamps) > 3


def test_client_disconnect_keeps_gateway_healthy(gateway, upstream):
    upstream.clear()
    with httpx.stream(
        "POST",
        gateway.url + CHAT,
        json=chat(text="a b c d e f", stream=True),
        headers=AUTH,
        timeout=30,
    ) as r:
        next(r.iter_raw())
    assert post(gateway, CHAT, chat()).status_code == 200


def test_client_leaving_mid_stream_is_no_server_error(gateway, upstream, caplog):
    """A client that closes its connection while events are still coming is recorded as
    499, with no traceback in the server's log."""
    import socket

    upstream.clear()
    upstream.delay(0.0, times=None, event_delay=0.01)
    payload = json.dumps(chat(text=" ".join(["w"] * 60), stream=True)).encode()
    host, port = gateway.url.split("//", 1)[1].split(":")
    head = (
        f"POST {CHAT} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n"
        f"authorization: Bearer {GATEWAY_KEY}\r\ncontent-length: {len(payload)}\r\n\r\n"
    ).encode()
    try:
        with caplog.at_level("INFO", logger="aiohttp"):
            for _ in range(3):
                sock = socket.create_connection((host, int(port)))
                sock.sendall(head + payload)
                assert b"200" in sock.recv(1024)
                sock.close()  # as a load generator stopping mid-response does
            time.sleep(1.0)
    finally:
        upstream.clear()
    errors = [r.getMessage() for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
    assert not errors, errors
    assert post(gateway, CHAT, chat()).status_code == 200
    deadline = time.monotonic() + 5
    found: list = []
    while time.monotonic() < deadline and len(found) < 3:
        db = sqlite3.connect(gateway.database)
        found = db.execute(
            "SELECT status FROM requests WHERE error = 'client_disconnected'"
        ).fetchall()
        db.close()
        time.sleep(0.1)
    assert len(found) >= 3 and {s for (s,) in found} == {499}


# -- listing, health, CORS, loss -----------------------------------------------------------


def test_models_health_metrics(gateway):
    r = httpx.get(gateway.url + "/v1/models", headers=AUTH)
    ids = [m["id"] for m in r.json()["data"]]
    assert set(UPSTREAMS) <= set(ids)
    r = httpx.get(gateway.url + "/v1/models", headers={**AUTH, "anthropic-version": "2023-06-01"})
    assert r.json()["data"][0]["type"] == "model"
    r = httpx.get(gateway.url + "/v1beta/models", headers={"x-goog-api-key": GATEWAY_KEY})
    assert r.json()["models"][0]["name"].startswith("models/")
    assert httpx.get(gateway.url + "/v1/models").status_code == 401
    health = httpx.get(gateway.url + "/health").json()
    assert health["status"] == "ok" and {p["name"] for p in health["providers"]} == {
        "oa",
        "oar",
        "an",
        "ge",
    }
    assert "up-key" not in json.dumps(health)
    assert health["pool"]  # the resilience plugin reports breaker and limit state
    assert httpx.get(gateway.url + "/healthz").text == "ok"
    assert "omniwire_gateway_requests_total" in httpx.get(gateway.url + "/metrics").text


def test_cors_only_for_localhost(gateway):
    ok = httpx.options(gateway.url + CHAT, headers={"origin": "http://localhost:3000"})
    assert (
        ok.status_code == 204
        and ok.headers["access-control-allow-origin"] == "http://localhost:3000"
    )
    bad = httpx.options(gateway.url + CHAT, headers={"origin": "https://evil.example"})
    assert bad.status_code == 403 and "access-control-allow-origin" not in bad.headers


def test_loss_header_and_strict_mode(gateway):
    body = anthropic(model="via-chat", top_k=5)  # openai.chat has no top_k
    r = post(gateway, MESSAGES, body, headers={"x-api-key": GATEWAY_KEY})
    assert r.status_code == 200 and "top_k" in r.headers["omniwire-conversion-loss"]
    r = post(gateway, MESSAGES, body, headers={"x-api-key": GATEWAY_KEY, "omniwire-strict": "true"})
    assert r.status_code == 400 and "top_k" in r.json()["error"]["message"]


def test_unknown_path(gateway):
    r = httpx.get(gateway.url + "/v2/nothing", headers=AUTH)
    assert r.status_code == 404 and "no such endpoint" in r.json()["error"]["message"]


def test_request_log_and_usage_command(gateway, tmp_path, capsys):
    from omniwire import cli

    assert post(gateway, CHAT, chat(text="logged call")).status_code == 200
    gateway.gateway.log.flush()
    time.sleep(0.3)
    db = sqlite3.connect(gateway.database)
    rows = db.execute(
        "SELECT key_alias, model, status, input_tokens, content FROM requests"
    ).fetchall()
    assert any(r[1] == "via-chat" and r[2] == 200 and r[3] for r in rows)
    assert all(r[4] is None for r in rows)  # content off by default
    assert GATEWAY_KEY not in json.dumps(rows)
    assert cli.main(["usage", "--database", gateway.database, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert any(r["model"] == "via-chat" and r["requests"] >= 1 for r in report)


def test_ssrf_guard_refuses_internal_upstreams(tmp_path):
    from omniwire import ConfigError
    from omniwire_gateway.testing import RunningGateway

    config = (
        '[[providers]]\nname = "x"\nprotocol = "openai.chat"\nbase_url = "http://127.0.0.1:9/v1"\n'
    )
    with pytest.raises(ConfigError, match="internal address"):
        RunningGateway(config, workdir=tmp_path, flags={"allow_local_upstreams": False}).start()
    config = '[[providers]]\nname = "x"\nprotocol = "openai.chat"\nbase_url = "http://169.254.169.254/v1"\n'
    with pytest.raises(ConfigError, match="internal address"):
        RunningGateway(config, workdir=tmp_path, flags={"allow_local_upstreams": False}).start()


def test_budget_refusal_is_429_in_each_protocol(upstream, tmp_path):
    from gateway_support import gateway_config
    from omniwire_gateway.testing import RunningGateway

    config = gateway_config(upstream) + (
        '[[models]]\nname = "capped"\ntargets = ["oa:up-model"]\nbudget_usd = 0.0001\n'
        "price = { input_per_mtok = 1000.0, output_per_mtok = 1000.0 }\n"
    )
    upstream.clear()
    with RunningGateway(config, workdir=tmp_path, keys=(GATEWAY_KEY,)) as gw:
        r = post(gw, CHAT, chat(model="capped", max_tokens=1000))
        assert r.status_code == 429 and "budget" in r.json()["error"]["message"]
        assert "spent" in r.json()["error"]["message"] or "exceed" in r.json()["error"]["message"]
        r = post(gw, MESSAGES, anthropic(model="capped"), headers={"x-api-key": GATEWAY_KEY})
        assert r.status_code == 429 and r.json()["type"] == "error"
        r = post(
            gw,
            "/v1beta/models/capped:generateContent",
            {"contents": [{"role": "user", "parts": [{"text": "x"}]}]},
            headers={"x-goog-api-key": GATEWAY_KEY},
        )
        assert r.status_code == 429 and r.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert upstream.requests == []  # nothing was sent for a refused call


def test_images_speech_and_transcriptions(gateway, upstream):
    upstream.clear()
    r = post(
        gateway,
        "/v1/images/generations",
        {"model": "via-chat", "prompt": "a cat", "n": 2, "response_format": "b64_json"},
    )
    assert r.status_code == 200, r.text
    assert len(r.json()["data"]) == 2 and r.json()["data"][0]["b64_json"]
    r = post(
        gateway, "/v1/audio/speech", {"model": "via-chat", "input": "say this", "voice": "alloy"}
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("audio/")
    assert r.content == b"say this"  # the fake upstream speaks the input back as bytes
    r = httpx.post(
        gateway.url + "/v1/audio/transcriptions",
        headers=AUTH,
        timeout=30,
        data={"model": "via-chat"},
        files={"file": ("a.wav", b"RIFF0000WAVEfmt ", "audio/wav")},
    )
    assert r.status_code == 200, r.text
    assert r.json()["text"] == "transcribed 16 bytes"
    assert upstream.last_request.path.endswith("/audio/transcriptions")
