"""A made-up protocol ("ptoy.chat") whose codec reports a real provider name, so the
default table prices it, and a real HTTP server on 127.0.0.1 answering it with the usage
the test sets."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from omniwire import Choice, Request, Response, StopReason, TextPart, UpstreamError, Usage
from omniwire.codec import Codec
from omniwire.plugins import hookimpl
from omniwire.wire import WireRequest


class PToyCodec(Codec):
    id = "ptoy.chat"
    provider = "openai"

    def encode_request(self, request: Request, conv: Any) -> WireRequest:
        body = {"model": request.model, "service_tier": request.service_tier}
        return WireRequest("/chat", body)

    def decode_response(self, body: Any, conv: Any) -> Response:
        u = body["usage"]
        return Response(
            id="p1",
            model=body["model"],
            choices=(Choice((TextPart("ok"),), StopReason.END_TURN),),
            usage=Usage(u["in"], u["out"], u.get("cached", 0), details=u.get("details")),
            service_tier=body.get("service_tier"),
        )

    def decode_error(self, status: int, headers: Any, body: bytes) -> Any:
        return UpstreamError(f"ptoy answered {status}", status=status)


class PToyPlugin:
    @hookimpl
    def omniwire_register_codecs(self, register: Any) -> None:
        register(PToyCodec())


class PToyServer:
    def __init__(self) -> None:
        self.usage: dict[str, Any] = {"in": 10_000, "out": 2_000, "cached": 4_000}
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                outer.requests.append(body)
                answer = {**body, "usage": outer.usage}
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> PToyServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
