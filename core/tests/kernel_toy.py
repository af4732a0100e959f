"""A tiny made-up protocol ("toy.chat") and a real HTTP server speaking it, so kernel
tests exercise the whole pipeline without any provider plugin installed."""

from __future__ import annotations

import json
import threading
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
from omniwire.sse import SSEEvent
from omniwire.wire import WireRequest, expect


class ToyCodec(Codec):
    id = "toy.chat"
    provider = "toy"
    routes = ("/toy/chat",)
    features = frozenset({"text", "max_tokens", "stream"})

    def encode_request(self, request: Request, conv: Any) -> WireRequest:
        if request.temperature is not None:
            conv.lose("$.temperature", "toy.chat has no temperature")
        prompt = "\n".join(m.plain_text for m in request.messages)
        body = {"model": request.model, "prompt": prompt, "stream": request.stream}
        return WireRequest("/chat", body, stream=request.stream)

    def decode_request(self, body: Any, conv: Any, *, params: Any = None) -> Request:
        model = expect(body, "model", str)
        prompt = expect(body, "prompt", str)
        return Request(model, (Message.text(Role.USER, prompt),), stream=bool(body.get("stream")))

    def decode_response(self, body: Any, conv: Any) -> Response:
        text = expect(body, "text", str)
        usage = expect(body, "usage", dict)
        return Response(
            id=body.get("id"),
            model=body.get("model"),
            choices=(Choice((TextPart(text),), StopReason.END_TURN),),
            usage=Usage(usage["in"], usage["out"]),
        )

    def encode_response(self, response: Response, conv: Any) -> Any:
        u = response.usage or Usage()
        return {
            "id": response.id,
            "model": response.model,
            "text": response.text,
            "usage": {"in": u.input_tokens, "out": u.output_tokens},
        }

    def stream_decoder(self, conv: Any) -> Any:
        return _ToyDecoder()

    def decode_error(self, status: int, headers: Any, body: bytes) -> Any:
        try:
            message = json.loads(body)["error"]
        except (ValueError, KeyError, TypeError):
            message = body[:200].decode(errors="replace")
        return UpstreamError(f"toy upstream: {message}", status=status, provider="toy")


class _ToyDecoder:
    def __init__(self) -> None:
        self.started = False
        self.done = False

    def feed(self, event: SSEEvent) -> list[Any]:
        try:
            data = json.loads(event.data)
        except ValueError:
            raise ProtocolError("stream event is not JSON", path="$") from None
        out: list[Any] = []
        if not self.started:
            out += [ResponseStart(id=data.get("id")), PartStart(0, TextPart(""))]
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
            raise ProtocolError("toy stream ended before its done event")
        return []


class ToyServer:
    """Real HTTP on 127.0.0.1: answers /chat, JSON or SSE. ``fail`` queues statuses."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail: list[int] = []
        self.cut_stream = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length))
                outer.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                if outer.fail:
                    status = outer.fail.pop(0)
                    payload = json.dumps({"error": f"failure {status}"}).encode()
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                words = body["prompt"].split()
                if body.get("stream"):
                    self.send_response(200)
                    self.send_header("content-type", "text/event-stream")
                    self.send_header("connection", "close")
                    self.end_headers()
                    for w in words:
                        self.wfile.write(
                            f"data: {json.dumps({'id': 'r1', 'delta': w + ' '})}\n\n".encode()
                        )
                        self.wfile.flush()
                    if not outer.cut_stream:
                        done = {"done": True, "usage": {"in": len(words), "out": len(words)}}
                        self.wfile.write(f"data: {json.dumps(done)}\n\n".encode())
                    self.close_connection = True
                    return
                payload = json.dumps(
                    {
                        "id": "r1",
                        "model": body["model"],
                        "text": "echo: " + body["prompt"],
                        "usage": {"in": len(words), "out": len(words) + 1},
                    }
                ).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ToyServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
