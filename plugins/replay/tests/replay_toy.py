"""A made-up protocol and a real HTTP server for the replay tests. The server quotes the
caller's credentials back in a field the codec ignores (as some providers do in error
text), so the tests can check a recording never keeps them."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs
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


class RToyCodec(Codec):
    id = "rtoy.chat"
    provider = "rtoy"
    routes = ("/rtoy/chat",)
    features = frozenset({"text", "stream"})

    def encode_request(self, request: Request, conv: Any) -> WireRequest:
        prompt = "\n".join(m.plain_text for m in request.messages)
        body = {"model": request.model, "prompt": prompt, "stream": request.stream}
        if request.user:
            body["user"] = request.user
        return WireRequest("/chat", body, stream=request.stream)

    def decode_request(self, body: Any, conv: Any, *, params: Any = None) -> Request:
        return Request(expect(body, "model", str), (Message.text(Role.USER, body["prompt"]),))

    def decode_response(self, body: Any, conv: Any) -> Response:
        usage = expect(body, "usage", dict)
        return Response(
            id=body.get("id"),
            model=body.get("model"),
            choices=(Choice((TextPart(expect(body, "text", str)),), StopReason.END_TURN),),
            usage=Usage(usage["in"], usage["out"]),
        )

    def encode_response(self, response: Response, conv: Any) -> Any:
        return {"id": response.id, "text": response.text}

    def stream_decoder(self, conv: Any) -> Any:
        return _Decoder()

    def decode_error(self, status: int, headers: Any, body: bytes) -> Any:
        return UpstreamError(f"rtoy upstream: {body[:200].decode(errors='replace')}", status=status)


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


@attrs.frozen
class QueryAndBearer:
    """An auth scheme that sends the key twice: bearer header and ``?key=`` (URL-encoded),
    like providers that accept either."""

    name: str = "query-and-bearer"

    def apply(self, wire: WireRequest, key: Any) -> WireRequest:
        from urllib.parse import quote

        secret = key.secret.reveal()
        sep = "&" if "?" in (wire.url or "") else "?"
        return attrs.evolve(
            wire,
            url=f"{wire.url}{sep}key={quote(secret, safe='')}",
            headers={**wire.headers, "authorization": f"Bearer {secret}"},
        )


class RToyPlugin:
    @hookimpl
    def omniwire_register_codecs(self, register: Any) -> None:
        register(RToyCodec())

    @hookimpl
    def omniwire_register_auth_schemes(self, register: Any) -> None:
        register(QueryAndBearer())


class RToyServer:
    """Real HTTP on 127.0.0.1. ``fail`` queues error statuses."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail: list[int] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, ctype: str, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(payload)))
                self.send_header("set-cookie", "session=server-cookie-value-123")
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                auth = self.headers.get("authorization", "")
                outer.requests.append({"path": self.path, "auth": auth, "body": body})
                # the credentials quoted back raw and as base64 of JSON
                debug = {
                    "seen": auth,
                    "blob": base64.b64encode(json.dumps({"auth": auth}).encode()).decode(),
                }
                if outer.fail:
                    status = outer.fail.pop(0)
                    err = {"error": f"failure {status}", "debug": debug}
                    self._send(status, "application/json", json.dumps(err).encode())
                    return
                words = body["prompt"].split()
                if body.get("stream"):
                    self.send_response(200)
                    self.send_header("content-type", "text/event-stream")
                    self.send_header("connection", "close")
                    self.end_headers()
                    for i, w in enumerate(words):
                        event = {"id": "r1", "model": body["model"], "delta": w + " "}
                        if i == 0:
                            event["debug"] = debug
                        self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                        self.wfile.flush()
                    done = {"done": True, "usage": {"in": len(words), "out": len(words)}}
                    self.wfile.write(f"data: {json.dumps(done)}\n\n".encode())
                    self.close_connection = True
                    return
                answer = {
                    "id": "r1",
                    "model": body["model"],
                    "text": "echo: " + body["prompt"],
                    "usage": {"in": len(words), "out": len(words) + 1},
                    "debug": debug,
                }
                self._send(200, "application/json", json.dumps(answer).encode())

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> RToyServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
