"""A made-up protocol ("otoy.chat") and a real HTTP server for the observer tests."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from omniwire import (
    Choice,
    Message,
    PartEnd,
    PartStart,
    ProtocolError,
    Request,
    Response,
    ResponseEnd,
    ResponseStart,
    Role,
    StopReason,
    TextDelta,
    TextPart,
    UpstreamError,
    Usage,
)
from omniwire.codec import Codec
from omniwire.plugins import hookimpl
from omniwire.wire import WireRequest, expect


class OToyCodec(Codec):
    id = "otoy.chat"
    provider = "otoy"
    routes = ("/otoy/chat",)
    features = frozenset({"text", "stream", "max_tokens"})

    def encode_request(self, request: Request, conv: Any) -> WireRequest:
        if request.temperature is not None:
            conv.lose("$.temperature", "otoy.chat has no temperature")
        prompt = "\n".join(m.plain_text for m in request.messages)
        body = {"model": request.model, "prompt": prompt, "stream": request.stream}
        return WireRequest("/chat", body, stream=request.stream)

    def decode_request(self, body: Any, conv: Any, *, params: Any = None) -> Request:
        return Request(expect(body, "model", str), (Message.text(Role.USER, body["prompt"]),))

    def decode_response(self, body: Any, conv: Any) -> Response:
        usage = expect(body, "usage", dict)
        return Response(
            id=body.get("id"),
            model=body.get("model"),
            choices=(Choice((TextPart(expect(body, "text", str)),), StopReason.MAX_TOKENS),),
            usage=Usage(usage["in"], usage["out"], cache_read_tokens=usage.get("cached", 0)),
        )

    def encode_response(self, response: Response, conv: Any) -> Any:
        return {"id": response.id, "text": response.text}

    def stream_decoder(self, conv: Any) -> Any:
        return _Decoder()

    def decode_error(self, status: int, headers: Any, body: bytes) -> Any:
        try:
            detail = json.loads(body)
        except ValueError:
            detail = {}
        return UpstreamError(
            f"otoy upstream: {detail.get('error', 'error')}",
            status=status,
            upstream_kind=detail.get("type"),
        )


class _Decoder:
    def __init__(self) -> None:
        self.started = False
        self.done = False

    def feed(self, event: Any) -> list[Any]:
        try:
            data = json.loads(event.data)
        except ValueError:
            raise ProtocolError("not JSON", path="$") from None
        out: list[Any] = []
        if not self.started:
            out += [
                ResponseStart(id=data.get("id"), model=data.get("model")),
                PartStart(0, TextPart("")),
            ]
            self.started = True
        if "delta" in data:
            out.append(TextDelta(0, data["delta"]))
        if data.get("done"):
            self.done = True
            u = data["usage"]
            out += [PartEnd(0), ResponseEnd(StopReason.END_TURN, usage=Usage(u["in"], u["out"]))]
        return out

    def close(self) -> list[Any]:
        if not self.done:
            raise ProtocolError("stream ended early")
        return []


class OToyPlugin:
    @hookimpl
    def omniwire_register_codecs(self, register: Any) -> None:
        register(OToyCodec())


class OToyServer:
    """Real HTTP on 127.0.0.1. ``fail`` queues error statuses; ``hang`` makes the next
    stream stop after its first event until the connection closes."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail: list[int] = []
        self.hang = False
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                outer.requests.append({"headers": dict(self.headers), "body": body})
                if outer.fail:
                    status = outer.fail.pop(0)
                    payload = json.dumps({"error": f"failure {status}", "type": "bad_thing"})
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload.encode())
                    return
                words = body["prompt"].split()
                model = body["model"] + "-0613"
                if body.get("stream"):
                    self.send_response(200)
                    self.send_header("content-type", "text/event-stream")
                    self.send_header("connection", "close")
                    self.end_headers()
                    for i, w in enumerate(words):
                        event = {"id": "s1", "model": model, "delta": w + " "}
                        self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                        self.wfile.flush()
                        if i == 0 and outer.hang:
                            outer.release.wait(5)
                            return
                    done = {"done": True, "usage": {"in": len(words), "out": len(words)}}
                    self.wfile.write(f"data: {json.dumps(done)}\n\n".encode())
                    self.close_connection = True
                    return
                payload = json.dumps(
                    {
                        "id": "r1",
                        "model": model,
                        "text": "echo: " + body["prompt"],
                        "usage": {"in": len(words), "out": len(words) + 1, "cached": 1},
                    }
                ).encode()
                time.sleep(0.001)
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> OToyServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
