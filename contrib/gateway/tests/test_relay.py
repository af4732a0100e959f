"""Same protocol in and out: the gateway answers with the upstream's own bytes (decoded
on the way for usage, budgets and the request log, never re-encoded); across protocols,
or with ``relay = false``, it transcodes as before."""

from __future__ import annotations

import json
import sqlite3
import time

import httpx
from gateway_support import GATEWAY_KEY, gateway_config
from omniwire_testing.upstream import RawResponse

AUTH = {"authorization": f"Bearer {GATEWAY_KEY}", "content-type": "application/json"}
CHAT = "/v1/chat/completions"
SSE = {"content-type": "text/event-stream"}

PLAIN = (
    b'{"id":"chatcmpl-relay","object":"chat.completion","created":1700000001,'
    b'"model":"up-model","choices":[{"index":0,"message":{"role":"assistant",'
    b'"content":"relayed as it came"},"logprobs":null,"finish_reason":"stop"}],'
    b'"usage":{"prompt_tokens":11,"completion_tokens":4,"total_tokens":15},'
    b'"system_fingerprint":"fp_relay","x_vendor":{"kept":[1,2,3]}}'
)


#: the same answer as the upstream might space it: the codec would write it compactly
SPACED = json.dumps(json.loads(PLAIN)).encode()


def chunk(delta: dict, finish: str | None = None, **extra) -> bytes:
    body = {
        "id": "chatcmpl-relay",
        "object": "chat.completion.chunk",
        "created": 1700000001,
        "model": "up-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }
    return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"


STREAM = (
    chunk({"role": "assistant", "content": ""})
    + chunk({"content": "relayed "})
    + chunk({"content": "stream"})
    + chunk({}, "stop")
    + b'data: {"id":"chatcmpl-relay","object":"chat.completion.chunk","created":1700000001,'
    b'"model":"up-model","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,'
    b'"total_tokens":11}}\n\n' + b"data: [DONE]\n\n"
)


def body(stream: bool = False, model: str = "via-chat") -> dict:
    out = {"model": model, "messages": [{"role": "user", "content": "relay me"}]}
    if stream:
        out["stream"] = True
    return out


def logged(gateway, tokens: tuple[int, int]) -> bool:
    """The request log got the call's usage, read from the relayed answer."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        db = sqlite3.connect(gateway.database)
        try:
            rows = db.execute("SELECT input_tokens, output_tokens FROM requests").fetchall()
        finally:
            db.close()
        if tokens in rows:
            return True
        time.sleep(0.1)
    return False


def test_plain_answer_goes_out_byte_for_byte(gateway, upstream):
    upstream.clear()
    upstream.script(RawResponse(body=SPACED, headers={"content-type": "application/json"}))
    r = httpx.post(gateway.url + CHAT, json=body(), headers=AUTH, timeout=30)
    assert r.status_code == 200
    assert r.content == SPACED
    assert r.headers["content-type"].startswith("application/json")
    assert logged(gateway, (11, 4))


def test_stream_goes_out_byte_for_byte_even_split_mid_event(gateway, upstream):
    upstream.clear()
    pieces = [STREAM[i : i + 45] for i in range(0, len(STREAM), 45)]
    upstream.script(RawResponse(headers=SSE, chunks=pieces))
    with httpx.stream(
        "POST", gateway.url + CHAT, json=body(stream=True), headers=AUTH, timeout=30
    ) as r:
        assert r.status_code == 200
        got = b"".join(r.iter_raw())
    assert got == STREAM
    assert logged(gateway, (9, 2))


def test_an_upstream_error_event_reaches_the_client_once(gateway, upstream):
    upstream.clear()
    error = b'data: {"error":{"message":"overloaded now","type":"server_error"}}\n\n'
    opening = b"".join(e + b"\n\n" for e in STREAM.split(b"\n\n")[:3])  # with some text
    upstream.script(RawResponse(headers=SSE, chunks=[opening, error], chunk_delay=0.05))
    with httpx.stream(
        "POST", gateway.url + CHAT, json=body(stream=True), headers=AUTH, timeout=30
    ) as r:
        got = b"".join(r.iter_raw())
    assert got == opening + error  # once: not a second error event of ours


def test_a_cut_mid_event_ends_in_one_well_formed_error_event(gateway, upstream):
    upstream.clear()
    cut = STREAM.index(b"data: ", STREAM.index(b"relayed ")) + 30  # inside the third event
    upstream.script(RawResponse(headers=SSE, chunks=[STREAM[:cut]]))
    with httpx.stream(
        "POST", gateway.url + CHAT, json=body(stream=True), headers=AUTH, timeout=30
    ) as r:
        got = b"".join(r.iter_raw())
    events = [e for e in got.split(b"\n\n") if e]
    assert got.startswith(STREAM[: STREAM.index(b"data: ", STREAM.index(b"relayed "))])
    for event in events:
        json.loads(event.removeprefix(b"data: "))  # nothing half-sent
    assert b"malformed" in events[-1] and b'"error"' in events[-1]


def test_across_protocols_the_answer_is_transcoded(gateway, upstream):
    upstream.clear()
    upstream.script(RawResponse(body=PLAIN, headers={"content-type": "application/json"}))
    r = httpx.post(
        gateway.url + "/v1/messages",
        json={**body(), "max_tokens": 32},
        headers={**AUTH, "x-api-key": GATEWAY_KEY},
        timeout=30,
    )
    assert r.status_code == 200
    answer = r.json()
    assert answer["type"] == "message"
    assert answer["content"] == [{"type": "text", "text": "relayed as it came"}]
    assert answer["usage"]["input_tokens"] == 11


def test_relay_off_re_encodes(upstream, tmp_path):
    from omniwire_gateway.testing import RunningGateway

    upstream.clear()
    with RunningGateway(
        gateway_config(upstream),
        workdir=tmp_path,
        keys=(GATEWAY_KEY,),
        env={"OMNIWIRE_RELAY": "false"},
    ) as gw:
        upstream.script(RawResponse(body=SPACED, headers={"content-type": "application/json"}))
        r = httpx.post(gw.url + CHAT, json=body(), headers=AUTH, timeout=30)
        pieces = [STREAM[i : i + 45] for i in range(0, len(STREAM), 45)]
        upstream.script(RawResponse(headers=SSE, chunks=pieces))
        with httpx.stream(
            "POST", gw.url + CHAT, json=body(stream=True), headers=AUTH, timeout=30
        ) as s:
            streamed = b"".join(s.iter_raw())
    assert r.status_code == 200 and r.content == PLAIN  # written by the encoder, compact
    assert r.json()["choices"][0]["message"]["content"] == "relayed as it came"
    assert streamed != STREAM and b"relayed " in streamed and streamed.endswith(b"[DONE]\n\n")
