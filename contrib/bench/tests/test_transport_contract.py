"""The aiohttp transport keeps the httpx transport's contract: the same checks, run
against both, on a local server (and the benchmark upstream end to end)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import anyio
import pytest
from omniwire import Endpoint, Request, Stack, Timeout, UpstreamError
from omniwire.model import TextDelta
from omniwire.transport import HttpxTransport
from omniwire.wire import MultipartBody, WireRequest
from omniwire_aiohttp.transport import AiohttpTransport
from omniwire_bench.procs import script

SSE = b"".join(f"data: {i}\n\n".encode() for i in range(5))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.path == "/slow":
            time.sleep(1.0)
        if self.path == "/pause":
            time.sleep(0.1)
        if self.path.startswith("/sse"):
            status = 503 if self.path == "/sse-error" else 200
            self.send_response(status)
            self.send_header("content-type", "text/event-stream")
            self.send_header("transfer-encoding", "chunked")
            self.send_header("X-Upstream-Thing", "yes")
            self.end_headers()
            for i in range(5):
                part = f"data: {i}\n\n".encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            return
        payload = json.dumps(
            {
                "path": self.path,
                "ctype": self.headers.get("content-type"),
                "auth": self.headers.get("authorization"),
                "x": self.headers.get("x-custom"),
                "body": body.decode(errors="replace"),
            }
        ).encode()
        self.send_response(429 if self.path == "/limited" else 200)
        self.send_header("content-type", "application/json")
        self.send_header("Retry-After", "3")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 resets connections opened all at once


@pytest.fixture(scope="module")
def server():
    srv = Server(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


TRANSPORTS = {"httpx": HttpxTransport, "aiohttp": AiohttpTransport}


@pytest.fixture(params=sorted(TRANSPORTS))
def make(request):
    return TRANSPORTS[request.param]


def exchange(make, *wires, read_stream=True):
    async def main():
        transport = make()
        out = []
        try:
            for wire in wires:
                r = await transport.send(wire)
                chunks = []
                if r.chunks is not None and read_stream:
                    async for c in r.chunks:
                        chunks.append(c)
                await r.aclose()
                out.append((r, b"".join(chunks)))
        finally:
            await transport.aclose()
        return out

    return anyio.run(main)


def test_json_body_headers_and_case_insensitive_response_headers(server, make):
    [(r, _)] = exchange(
        make,
        WireRequest(
            "/x",
            {"a": "é"},
            url=server + "/x",
            headers={"authorization": "Bearer k", "x-custom": "1"},
        ),
    )
    data = json.loads(r.body)
    assert r.status == 200 and r.ok
    assert data["ctype"] == "application/json" and data["auth"] == "Bearer k" and data["x"] == "1"
    assert json.loads(data["body"]) == {"a": "é"} and "é" in data["body"]  # not ASCII-escaped
    assert r.header("Retry-After") == "3" and r.header("retry-after") == "3"
    assert "retry-after" in {k.lower() for k in r.headers}
    assert dict(r.headers)["retry-after"] == "3"  # names iterate lower-cased


def test_bytes_body_is_sent_untouched(server, make):
    [(r, _)] = exchange(
        make,
        WireRequest(
            "/b", b"\x00raw", url=server + "/b", headers={"content-type": "application/x-thing"}
        ),
    )
    data = json.loads(r.body)
    assert data["ctype"] == "application/x-thing" and data["body"] == "\x00raw"


def test_error_statuses_are_returned_not_raised(server, make):
    [(plain, _), (streamed, chunks)] = exchange(
        make,
        WireRequest("/limited", {}, url=server + "/limited"),
        WireRequest("/sse-error", {}, url=server + "/sse-error", stream=True),
    )
    assert plain.status == 429 and not plain.ok and plain.header("retry-after") == "3"
    assert streamed.status == 503 and not streamed.ok
    # either the body is already read, or it is still there to read: both carry it
    assert (streamed.body or chunks) == SSE


def test_stream_arrives_as_chunks_and_the_connection_is_reused(server, make):
    wire = WireRequest("/sse", {}, url=server + "/sse", stream=True)
    (r1, body1), (r2, body2) = exchange(make, wire, wire)
    assert r1.status == 200 and r1.body == b"" and body1 == SSE and body2 == SSE
    assert r1.header("x-upstream-thing") == "yes"


def test_stream_closed_early_does_not_hang(server, make):
    async def main():
        transport = make()
        try:
            wire = WireRequest("/sse", {}, url=server + "/sse", stream=True)
            with anyio.fail_after(10):
                r = await transport.send(wire)
                async for _ in r.chunks:
                    break
                await r.aclose()
                r2 = await transport.send(wire)
                got = b"".join([c async for c in r2.chunks])
                await r2.aclose()
            return got
        finally:
            await transport.aclose()

    assert anyio.run(main) == SSE


def test_multipart(server, make):
    mp = MultipartBody({"model": "whisper-1"}, {"file": ("a.wav", b"RIFF....", "audio/wav")})
    [(r, _)] = exchange(make, WireRequest("/m", mp, url=server + "/m"))
    data = json.loads(r.body)
    assert data["ctype"].startswith("multipart/form-data") and "whisper-1" in data["body"]


def test_timeout_and_refused_are_typed(server, make):
    with pytest.raises(Timeout):
        exchange(make, WireRequest("/slow", {}, url=server + "/slow", timeout=0.2))
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(UpstreamError) as info:
        exchange(make, WireRequest("/", {}, url=f"http://127.0.0.1:{port}/"))
    assert info.value.retryable
    assert f"127.0.0.1:{port}" in str(info.value)


@pytest.fixture(scope="module")
def upstream():
    proc = subprocess.Popen(
        [sys.executable, script("upstream"), "--max-seconds", "120"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("READY ")
        yield f"http://127.0.0.1:{line.split()[1]}"
    finally:
        proc.terminate()
        proc.wait(10)


def test_same_results_through_a_stack(upstream):
    """Both transports give the same canonical answers, plain and streamed."""

    async def run(name):
        stack = Stack(
            [Endpoint("up", "openai.chat", upstream + "/v1", keys=["k"])], transport_name=name
        )
        async with stack:
            response = await stack.call(Request.simple("m20", "hi"))
            deltas = []
            async with stack.stream(Request.simple("m200", "hi", stream=True)) as result:
                async for event in result:
                    if isinstance(event, TextDelta):
                        deltas.append(event.text)
                folded = result.response()
        return response.text, response.usage, len(deltas), folded.text, folded.usage

    httpx_result = anyio.run(run, "httpx")
    aiohttp_result = anyio.run(run, "aiohttp")
    assert httpx_result == aiohttp_result
    assert httpx_result[2] == 200 and httpx_result[1].output_tokens == 20


def test_httpx_pool_shards_grow_under_load_and_drain(server):
    """40 requests at once spread over small pools (httpcore slows down with the square
    of what one pool holds); every request, streamed or failed, gives its slot back."""

    async def main():
        transport = HttpxTransport(shard_size=4, max_connections=32)
        try:
            results = []

            async def one(i):
                if i % 4 == 0:  # a stream, released only when closed
                    r = await transport.send(
                        WireRequest("/sse", {}, url=server + "/sse", stream=True)
                    )
                    results.append(b"".join([c async for c in r.chunks]))
                    await r.aclose()
                    await r.aclose()  # closing twice gives the slot back once
                elif i % 7 == 0:
                    with pytest.raises(UpstreamError):
                        await transport.send(WireRequest("/x", {}, url="http://127.0.0.1:9/x"))
                else:
                    r = await transport.send(WireRequest("/pause", {}, url=server + "/pause"))
                    results.append(r.body)

            async with anyio.create_task_group() as tg:
                for i in range(40):
                    tg.start_soon(one, i)
            pool = transport._pools[server]  # shards are per origin
            dead = transport._pools["http://127.0.0.1:9"]
            assert dead.busy == [0] * len(dead.clients)
            return len(pool.clients), list(pool.busy), results
        finally:
            await transport.aclose()

    shards, busy, results = anyio.run(main)
    assert 1 < shards <= 8  # grew past one pool, never past max_connections / shard_size
    assert shards >= 6  # ~25 requests pausing at once fill nearly every shard
    assert busy == [0] * shards
    assert sum(r == SSE for r in results) == 10


def test_httpx_given_client_is_used_alone(server):
    import httpx

    async def main():
        client = httpx.AsyncClient()
        transport = HttpxTransport(client=client)
        try:
            async with anyio.create_task_group() as tg:
                for _ in range(12):
                    tg.start_soon(transport.send, WireRequest("/pause", {}, url=server + "/pause"))
            [pool] = transport._pools.values()
            return pool.clients == [client]
        finally:
            await transport.aclose()

    assert anyio.run(main)


def test_httpx_sequential_calls_to_two_origins_keep_their_connections(server):
    """Shards are per origin: alternating providers one call at a time reuses one
    keep-alive connection each instead of reconnecting every time."""
    srv2 = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv2.serve_forever, daemon=True).start()
    other = f"http://127.0.0.1:{srv2.server_address[1]}"

    async def main():
        transport = HttpxTransport()
        try:
            for _ in range(6):
                for base in (server, other):
                    r = await transport.send(WireRequest("/x", {}, url=base + "/x"))
                    assert r.status == 200
            return {k: len(p.clients) for k, p in transport._pools.items()}
        finally:
            await transport.aclose()

    try:
        assert anyio.run(main) == {server: 1, other: 1}
    finally:
        srv2.shutdown()
