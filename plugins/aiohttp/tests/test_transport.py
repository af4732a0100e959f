"""The aiohttp transport honours the transport contract against a real local server."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import anyio
import pytest
from omniwire import Timeout, UpstreamError
from omniwire.plugins import PluginManager
from omniwire.wire import MultipartBody, WireRequest
from omniwire_aiohttp.transport import AiohttpTransport


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.path == "/slow":
            import time

            time.sleep(1)
        if self.path == "/sse":
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("connection", "close")
            self.end_headers()
            for i in range(3):
                self.wfile.write(f"data: {i}\n\n".encode())
                self.wfile.flush()
            self.close_connection = True
            return
        payload = json.dumps(
            {
                "path": self.path,
                "ctype": self.headers.get("content-type"),
                "auth": self.headers.get("authorization"),
                "size": len(body),
                "body": body.decode(errors="replace"),
            }
        ).encode()
        self.send_response(418 if self.path == "/teapot" else 200)
        self.send_header("content-type", "application/json")
        self.send_header("x-ratelimit-remaining-requests", "7")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture(scope="module")
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def send(wire, **options):
    async def main():
        t = AiohttpTransport(**options)
        try:
            r = await t.send(wire)
            chunks = []
            if r.chunks is not None:
                async for c in r.chunks:
                    chunks.append(c)
                await r.aclose()
            return r, b"".join(chunks)
        finally:
            await t.aclose()

    return anyio.run(main)


def test_json_body_and_headers(server):
    r, _ = send(
        WireRequest("/x", {"a": 1}, url=server + "/x", headers={"authorization": "Bearer k"})
    )
    data = json.loads(r.body)
    assert r.status == 200 and data["ctype"] == "application/json" and data["auth"] == "Bearer k"
    assert json.loads(data["body"]) == {"a": 1}
    assert r.header("X-RateLimit-Remaining-Requests") == "7"


def test_error_status_is_returned_not_raised(server):
    r, _ = send(WireRequest("/teapot", {}, url=server + "/teapot", stream=True))
    assert r.status == 418 and json.loads(r.body)["path"] == "/teapot"


def test_stream_arrives_in_chunks(server):
    r, body = send(WireRequest("/sse", {}, url=server + "/sse", stream=True))
    assert body == b"data: 0\n\ndata: 1\n\ndata: 2\n\n"


def test_multipart(server):
    mp = MultipartBody({"model": "whisper-1"}, {"file": ("a.wav", b"RIFF....", "audio/wav")})
    r, _ = send(WireRequest("/m", mp, url=server + "/m"))
    data = json.loads(r.body)
    assert data["ctype"].startswith("multipart/form-data") and "whisper-1" in data["body"]


def test_timeout_and_refused_are_typed(server):
    with pytest.raises(Timeout):
        send(WireRequest("/slow", {}, url=server + "/slow", timeout=0.2))
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(UpstreamError, match="connection to 127.0.0.1"):
        send(WireRequest("/", {}, url=f"http://127.0.0.1:{port}/"))


def test_registered_as_transport():
    pm = PluginManager(entry_points=False)
    import omniwire_aiohttp

    pm.register(omniwire_aiohttp, name="aiohttp")
    assert type(pm.get("transports", "aiohttp")()).__name__ == "AiohttpTransport"
