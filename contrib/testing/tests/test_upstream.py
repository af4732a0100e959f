"""The fake upstream over real HTTP, with httpx as the client."""

from __future__ import annotations

import json
import time

import anyio
import httpx
import pytest
from omniwire.codec import Family
from omniwire.errors import ProtocolError, RateLimited, UpstreamError
from omniwire.model import (
    Choice,
    EmbeddingRequest,
    EmbeddingResponse,
    Message,
    Request,
    Response,
    Role,
    StopReason,
    TextPart,
    Tool,
    ToolCallPart,
    Usage,
    fold,
)
from omniwire.serialize import from_json, to_json
from omniwire.sse import SSEParser
from omniwire_testing.events import events_for
from omniwire_testing.support import codec_plugin
from omniwire_testing.toy import ToyCodec
from omniwire_testing.upstream import FakeUpstream, RawResponse
from toys import PathToy

CODEC = ToyCodec()


def body_of(request):
    return to_json(request)


@pytest.fixture
def upstream():
    embed = ToyCodec("kit.embed", family=Family.EMBED, routes=("/v1/kit/embed",), path="/kit/embed")
    with FakeUpstream([CODEC, PathToy(), embed]) as up:
        yield up


@pytest.fixture
def client(upstream):
    with httpx.Client(base_url=upstream.base_url_for("kit.chat"), timeout=5) as c:
        yield c


def chat(client, prompt="hello", key="sk-a", **kwargs):
    request = Request.simple("toy-1", prompt, **kwargs)
    return client.post(
        "/kit/chat", json=body_of(request), headers={"authorization": f"Bearer {key}"}
    )


def read_stream(response: httpx.Response) -> Response:
    parser, decoder, events = SSEParser(), CODEC.stream_decoder(None), []
    for chunk in response.iter_bytes():
        for sse in parser.feed(chunk):
            events += decoder.feed(sse)
    for sse in parser.close():
        events += decoder.feed(sse)
    events += decoder.close()
    return fold(events)


def test_echo_over_http_and_what_was_recorded(upstream, client):
    r = chat(client, "hello there")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    response = CODEC.decode_response(r.json(), None)
    assert response.content == (TextPart("echo: hello there"),)
    assert response.stop_reason is StopReason.END_TURN
    seen = upstream.last_request
    assert (seen.method, seen.path, seen.key, seen.codec) == (
        "POST",
        "/v1/kit/chat",
        "sk-a",
        "kit.chat",
    )
    assert seen.canonical == Request.simple("toy-1", "hello there")
    assert seen.json["model"] == "toy-1"
    assert seen.headers["authorization"] == "Bearer sk-a"


def test_base_urls_follow_the_sdk_conventions(upstream):
    assert upstream.base_url_for("kit.chat") == upstream.url + "/v1"
    assert upstream.base_url_for("kit.path") == upstream.url
    assert upstream.base_url_for("kit") == upstream.url + "/v1"  # provider name
    assert upstream.base_url_for("openai") == upstream.url + "/v1"  # not installed here
    assert upstream.base_url_for("anthropic") == upstream.url


def test_keep_alive_reuses_one_connection(upstream, client):
    for _ in range(3):
        assert chat(client).status_code == 200
    assert upstream.connections == 1


def test_stream_is_sse_flushed_event_by_event(upstream, client):
    request = Request.simple("toy-1", "stream this please", stream=True)
    with client.stream("POST", "/kit/chat", json=body_of(request)) as r:
        assert r.headers["content-type"] == "text/event-stream"
        assert r.headers["transfer-encoding"] == "chunked"
        streamed = read_stream(r)
    assert streamed.content == (TextPart("echo: stream this please"),)
    assert upstream.last_request.stream is True


def test_close_delimited_streams(fake_upstream_factory):
    up = fake_upstream_factory([CODEC], chunked=False)
    request = Request.simple("toy-1", "hi", stream=True)
    with httpx.Client() as c, c.stream("POST", up.url + "/v1/kit/chat", json=body_of(request)) as r:
        assert "transfer-encoding" not in r.headers
        assert read_stream(r).content == (TextPart("echo: hi"),)


def test_script_answers_in_order_then_the_responder(upstream, client):
    scripted = Response(
        "r1", "m", (Choice((TextPart("first"),), StopReason.END_TURN),), Usage(1, 1)
    )
    second = Response("r2", "m", (Choice((TextPart("second, streamed"),), StopReason.MAX_TOKENS),))
    upstream.script(scripted, events_for(second), UpstreamError("scripted failure", status=503))
    assert CODEC.decode_response(chat(client).json(), None) == scripted
    assert CODEC.decode_response(chat(client).json(), None) == second  # events folded
    failed = chat(client)
    assert failed.status_code == 503
    assert failed.json()["error"]["message"] == "scripted failure"
    assert CODEC.decode_response(chat(client, "again").json(), None).content == (
        TextPart("echo: again"),
    )


def test_tool_call_when_asked(client):
    request = Request.simple("toy-1", "please call tool now", tools=(Tool("lookup"),))
    response = CODEC.decode_response(client.post("/kit/chat", json=body_of(request)).json(), None)
    assert response.content == (ToolCallPart("call_1", "lookup", "{}"),)
    assert response.stop_reason is StopReason.TOOL_CALLS


def test_rate_limit_fault_with_retry_after_and_headers(upstream, client):
    upstream.fail(429, retry_after=2, headers={"x-ratelimit-remaining-requests": "0"})
    r = chat(client)
    assert r.status_code == 429
    assert r.headers["retry-after"] == "2"
    assert r.headers["x-ratelimit-remaining-requests"] == "0"
    error = CODEC.decode_error(r.status_code, r.headers, r.content)
    assert isinstance(error, RateLimited) and error.retry_after == 2.0
    assert chat(client).status_code == 200  # times=1


def test_fault_counts_and_forever(upstream, client):
    upstream.fail(500, times=2)
    assert [chat(client).status_code for _ in range(3)] == [500, 500, 200]
    upstream.fail(502, times=None)
    assert [chat(client).status_code for _ in range(3)] == [502, 502, 502]
    upstream.clear()
    assert chat(client).status_code == 200


def test_latency(upstream, client):
    upstream.delay(0.3)
    start = time.perf_counter()
    assert chat(client).status_code == 200
    assert time.perf_counter() - start >= 0.3
    start = time.perf_counter()
    chat(client)
    assert time.perf_counter() - start < 0.3


def test_connection_reset_is_an_httpx_error(upstream, client):
    upstream.reset_connection()
    with pytest.raises(httpx.TransportError):
        chat(client)
    assert chat(client).status_code == 200  # a fresh connection works


def test_cut_stream_breaks_the_chunked_body(upstream, client):
    upstream.cut_stream(after_events=2)
    request = Request.simple("toy-1", "a long enough answer to cut", stream=True)
    with pytest.raises(httpx.RemoteProtocolError):
        with client.stream("POST", "/kit/chat", json=body_of(request)) as r:
            read_stream(r)


def test_cut_close_delimited_stream_is_caught_by_the_decoder(fake_upstream_factory):
    up = fake_upstream_factory([CODEC], chunked=False)
    up.cut_stream(after_events=2)
    request = Request.simple("toy-1", "cut me", stream=True)
    with httpx.Client() as c, c.stream("POST", up.url + "/v1/kit/chat", json=body_of(request)) as r:
        with pytest.raises(ProtocolError, match=r"before data: \[DONE\]"):
            read_stream(r)


def test_malformed_event(upstream, client):
    upstream.malformed_event(after_events=1)
    request = Request.simple("toy-1", "hi", stream=True)
    with client.stream("POST", "/kit/chat", json=body_of(request)) as r:
        with pytest.raises(ProtocolError, match="not JSON"):
            read_stream(r)


def test_malformed_json_body(upstream, client):
    upstream.malformed_json()
    r = chat(client)
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        r.json()


def test_per_key_counts_and_key_scoped_faults(upstream, client):
    upstream.fail(500, key="sk-b", times=None)
    assert chat(client, key="sk-a").status_code == 200
    assert chat(client, key="sk-b").status_code == 500
    assert chat(client, key="sk-a").status_code == 200
    body = body_of(Request.simple("toy-1", "x"))
    client.post("/kit/chat", json=body, headers={"x-api-key": "sk-c"})
    client.post("/kit/chat", json=body, headers={"x-goog-api-key": "sk-c"})
    client.post("/kit/chat", json=body, headers={"api-key": "sk-d"})
    client.post("/kit/chat?key=sk-e", json=body)
    client.post("/kit/chat", json=body)
    assert upstream.counts == {"sk-a": 2, "sk-b": 1, "sk-c": 2, "sk-d": 1, "sk-e": 1, None: 1}
    assert upstream.count("sk-c") == 2


def test_route_params_carry_model_and_stream_method(upstream):
    request = Request.simple("ignored", "hi")
    with httpx.Client(base_url=upstream.base_url_for("kit.path")) as c:
        plain = c.post("/v1beta/kit/gem-1:generate", json=body_of(request))
        assert plain.status_code == 200
        assert upstream.last_request.canonical.model == "gem-1"
        assert upstream.last_request.params == {
            "model": "gem-1",
            "method": "generate",
            "stream": "false",
        }
        with c.stream(
            "POST", "/v1beta/kit/gem-1:streamGenerate?alt=sse", json=body_of(request)
        ) as r:
            assert r.headers["content-type"] == "text/event-stream"
            assert read_stream(r).model == "gem-1"
        assert upstream.last_request.params["alt"] == "sse"


def test_errors_in_the_codec_shape(upstream, client):
    r = client.post("/kit/chat", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "invalid_request"
    r = client.post("/kit/chat", json={"no_model": 1})
    assert r.status_code == 400
    missing = client.post("/nowhere", json={})
    assert missing.status_code == 404
    assert "no route" in missing.json()["error"]["message"]


def test_other_families(upstream):
    request = EmbeddingRequest("emb-1", ("a", "b"), dimensions=4)
    r = httpx.post(upstream.url + "/v1/kit/embed", json=to_json(request))
    response = from_json(r.json(), EmbeddingResponse)
    assert [len(e.vector) for e in response.embeddings] == [4, 4]
    again = from_json(
        httpx.post(upstream.url + "/v1/kit/embed", json=to_json(request)).json(), EmbeddingResponse
    )
    assert again == response  # deterministic


def test_toy_codecs_under_another_provider_serve_one_endpoint(fake_upstream_factory):
    # provider= is what price tables and telemetry see; codecs sharing the id prefix
    # serve the endpoint, one per family
    from omniwire import Endpoint
    from omniwire.model import TokenCountRequest
    from omniwire.plugins import PluginManager
    from omniwire.stack import Stack

    chat = ToyCodec("acme.chat", provider="acme", routes=("/chat",), path="/chat")
    count = ToyCodec(
        "acme.count_tokens",
        family=Family.COUNT_TOKENS,
        provider="acme",
        routes=("/count",),
        path="/count",
    )
    assert (chat.provider, count.provider, ToyCodec().provider) == ("acme", "acme", "kit")
    up = fake_upstream_factory([chat, count])
    stack = Stack(
        [Endpoint("a", "acme.chat", up.url)],
        plugin_manager=PluginManager(entry_points=False),
        codecs=[chat, count],
    )

    async def main():
        async with stack:
            call = await stack.invoke(Request.simple("a:m", "hello"))
            messages = (Message.text(Role.USER, "one two three"),)
            return call, await stack.call(TokenCountRequest("a:m", messages))

    call, counted = anyio.run(main)
    assert call.provider == "acme" and call.response.text == "echo: hello"
    assert counted.input_tokens == 3
    assert [(r.path, r.codec) for r in up.requests] == [
        ("/chat", "acme.chat"),
        ("/count", "acme.count_tokens"),
    ]


def test_raw_answers(fake_upstream_factory):
    up = fake_upstream_factory(
        [CODEC],
        fallback=lambda req: RawResponse(202, {"path": req.path}, {"x-fixed": "yes"}),
    )
    up.on("/v1/custom/{name}", b"fixed bytes")
    up.on(
        "/v1/stream",
        RawResponse(
            chunks=[b"data: 1\n\n", b"data: 2\n\n"], headers={"content-type": "text/event-stream"}
        ),
    )
    with httpx.Client(base_url=up.url) as c:
        assert c.post("/v1/custom/anything", json={}).content == b"fixed bytes"
        other = c.get("/v2/whatever")
        assert other.status_code == 202 and other.json() == {"path": "/v2/whatever"}
        assert other.headers["x-fixed"] == "yes"
        assert c.post("/v1/stream").text == "data: 1\n\ndata: 2\n\n"
        assert c.post("/v1/kit/chat", json=body_of(Request.simple("m", "x"))).status_code == 200
    with FakeUpstream.raw(RawResponse(200, "plain")) as raw:
        assert httpx.get(raw.url + "/anything").text == "plain"
        assert raw.last_request.codec is None


def test_codecs_from_a_plugin_manager(plugin_manager, register_plugin):
    register_plugin(codec_plugin(ToyCodec()), name="kit")
    with FakeUpstream(plugin_manager=plugin_manager) as up:
        assert "kit.chat" in up.codecs
        r = httpx.post(
            up.base_url_for("kit.chat") + "/kit/chat", json=body_of(Request.simple("m", "yo"))
        )
        assert r.json()["choices"][0]["content"][0]["text"] == "echo: yo"


def test_async_clients_and_concurrency(upstream):
    import asyncio

    async def main() -> list[int]:
        async with httpx.AsyncClient(base_url=upstream.base_url_for("kit.chat")) as c:
            body = body_of(Request.simple("m", "hi", stream=True))
            upstream.delay(0.2, times=None, event_delay=0.01)

            async def one() -> int:
                async with c.stream("POST", "/kit/chat", json=body) as r:
                    await r.aread()
                    return r.status_code

            return await asyncio.gather(*(one() for _ in range(10)))

    start = time.perf_counter()
    assert asyncio.run(main()) == [200] * 10
    assert time.perf_counter() - start < 1.5  # served concurrently, not one after another


def test_many_requests_are_fast(upstream, client):
    start = time.perf_counter()
    for _ in range(200):
        chat(client)
    per_request = (time.perf_counter() - start) / 200
    assert per_request < 0.01, per_request


def test_messages_in_history(client):
    request = Request(
        "m",
        (
            Message.text(Role.USER, "first"),
            Message.text(Role.ASSISTANT, "reply"),
            Message.text(Role.USER, "second"),
        ),
    )
    r = client.post("/kit/chat", json=body_of(request))
    assert CODEC.decode_response(r.json(), None).content == (TextPart("echo: second"),)


def test_a_codec_bug_is_answered_with_500(fake_upstream_factory):
    class Buggy(ToyCodec):
        def encode_response(self, response, conv, *, request=None):
            raise KeyError("oops")

    up = fake_upstream_factory([Buggy()])
    r = httpx.post(up.url + "/v1/kit/chat", json=body_of(Request.simple("m", "x")))
    assert r.status_code == 500 and "KeyError" in r.json()["error"]["message"]


def test_the_fake_upstream_fixture_speaks_the_installed_codecs(fake_upstream):
    # the kernel's own canonical codec is always installed
    assert "omniwire.canonical" in fake_upstream.codecs
    r = httpx.post(
        fake_upstream.url + "/omniwire/v1/generate", json=body_of(Request.simple("m", "hey"))
    )
    assert from_json(r.json(), Response).content == (TextPart("echo: hey"),)
