"""A made-up protocol ("btoy.chat", provider "btoy") with fixed usage, a real HTTP server
speaking it on 127.0.0.1 (raw asyncio), and a price table for it: budget tests run the whole pipeline
without any provider plugin.

Prices: $2 per million input tokens, $10 per million output tokens, so a call of 100
input and 50 output tokens costs exactly $0.0007 (700 micro-dollars).
"""

from __future__ import annotations

import asyncio
import json
import threading
from decimal import Decimal
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
from omniwire.codec import Codec, Family
from omniwire.model import TokenCountRequest, TokenCountResponse
from omniwire.money import Cost
from omniwire.plugins import hookimpl
from omniwire.sse import SSEEvent
from omniwire.wire import WireRequest

INPUT_PER_MTOK = Decimal(2)
OUTPUT_PER_MTOK = Decimal(10)


class BToyCodec(Codec):
    id = "btoy.chat"
    provider = "btoy"
    features = frozenset({"text", "max_tokens", "stream"})

    def encode_request(self, request: Request, conv: Any) -> WireRequest:
        prompt = "\n".join(m.plain_text for m in request.messages)
        body = {
            "model": request.model,
            "prompt": prompt,
            "max_tokens": request.max_tokens,
            "stream": request.stream,
        }
        return WireRequest("/chat", body, stream=request.stream)

    def decode_response(self, body: Any, conv: Any) -> Response:
        u = body["usage"]
        return Response(
            id=body.get("id"),
            model=body.get("model"),
            choices=(Choice((TextPart(body["text"]),), StopReason.END_TURN),),
            usage=Usage(u["in"], u["out"]),
        )

    def stream_decoder(self, conv: Any) -> Any:
        return _Decoder()

    def decode_error(self, status: int, headers: Any, body: bytes) -> Any:
        return UpstreamError(f"btoy upstream answered {status}", status=status, provider="btoy")


class BToyCount(Codec):
    id = "btoy.count_tokens"
    family = Family.COUNT_TOKENS
    provider = "btoy"

    def encode_request(self, request: TokenCountRequest, conv: Any) -> WireRequest:
        prompt = "\n".join(m.plain_text for m in request.messages)
        return WireRequest("/count", {"model": request.model, "prompt": prompt})

    def decode_response(self, body: Any, conv: Any) -> TokenCountResponse:
        return TokenCountResponse(body["input_tokens"])


class _Decoder:
    """Usage arrives twice: input with the first event (as Anthropic's message_start
    reports it), everything with the last; a stream cut in between keeps the input."""

    def __init__(self) -> None:
        self.started = False
        self.done = False

    def feed(self, event: SSEEvent) -> list[Any]:
        data = json.loads(event.data)
        out: list[Any] = []
        if not self.started:
            self.started = True
            out += [
                ResponseStart(id="s1", usage=Usage(data["usage"]["in"], 0)),
                PartStart(0, TextPart("")),
            ]
        if "delta" in data:
            out.append(TextDelta(0, data["delta"]))
        if data.get("done"):
            self.done = True
            u = data["usage"]
            out += [PartEnd(0), ResponseEnd(StopReason.END_TURN, usage=Usage(u["in"], u["out"]))]
        return out

    def close(self) -> list[Any]:
        if not self.done:
            raise ProtocolError("btoy stream ended before its done event")
        return []


class BToyTable:
    """The price table for provider ``btoy`` (model ``unpriced`` has no price)."""

    name = "btoy-prices"

    def price(self, provider: str, model: str, usage: Usage) -> Cost | None:
        if provider != "btoy" or model == "unpriced":
            return None
        amount = usage.input_tokens * INPUT_PER_MTOK + usage.output_tokens * OUTPUT_PER_MTOK
        return Cost(amount / 1_000_000)


class BToyPlugin:
    @hookimpl
    def omniwire_register_codecs(self, register: Any) -> None:
        register(BToyCodec())
        register(BToyCount())

    @hookimpl
    def omniwire_register_price_tables(self, register: Any) -> None:
        register(BToyTable())


class BToyServer:
    """Real HTTP/1.1 on 127.0.0.1, served by an asyncio loop in its own thread (one
    thread, so hundreds of concurrent connections cost no GIL convoy).

    /chat answers ``usage`` = {in, out} after ``delay`` seconds; ``fail`` queues error
    statuses; ``hang`` holds requests unanswered until the server closes;
    ``cut_stream`` ends streams before their done event; /count answers ``count``.
    """

    def __init__(self, usage_in: int = 100, usage_out: int = 50) -> None:
        self.usage = {"in": usage_in, "out": usage_out}
        self.requests: list[dict[str, Any]] = []
        self.fail: list[int] = []
        self.delay = 0.0
        self.hang = False
        self.cut_stream = False
        self.count = 10
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._closing: asyncio.Event | None = None
        self._server: asyncio.Server | None = None
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.url = ""

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def start() -> None:
            self._closing = asyncio.Event()
            self._server = await asyncio.start_server(
                self._connection, "127.0.0.1", 0, backlog=1024
            )
            port = self._server.sockets[0].getsockname()[1]
            self.url = f"http://127.0.0.1:{port}"
            self._ready.set()

        self._loop.run_until_complete(start())
        self._loop.run_forever()

    def __enter__(self) -> BToyServer:
        self.thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            assert self._closing is not None and self._server is not None
            self._closing.set()
            self._server.close()
            await asyncio.sleep(0)

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self.thread.join(10)

    # -- HTTP ---------------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                headers = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (line.partition(":") for line in lines[1:] if line)
                }
                body = json.loads(await reader.readexactly(int(headers.get("content-length", 0))))
                if not await self._answer(path, body, writer):
                    return
        except (ConnectionError, asyncio.CancelledError):
            return
        finally:
            writer.close()

    @staticmethod
    def _json(writer: asyncio.StreamWriter, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        writer.write(
            f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n"
            f"content-length: {len(data)}\r\n\r\n".encode()
            + data
        )

    async def _answer(self, path: str, body: Any, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; False when the connection must close."""
        if path.endswith("/count"):
            self._json(writer, 200, {"input_tokens": self.count})
            await writer.drain()
            return True
        with self._lock:
            self.requests.append(body)
            status = self.fail.pop(0) if self.fail else None
        if status is not None:
            self._json(writer, status, {"error": f"failure {status}"})
            await writer.drain()
            return True
        if self.hang:
            assert self._closing is not None
            await self._closing.wait()
            return False
        if self.delay:
            await asyncio.sleep(self.delay)
        if not body.get("stream"):
            answer = {"id": "r1", "model": body["model"], "text": "ok", "usage": self.usage}
            self._json(writer, 200, answer)
            await writer.drain()
            return True
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n"
        )
        for word in ("one ", "two ", "three "):
            event = {"delta": word, "usage": {"in": self.usage["in"]}}
            writer.write(f"data: {json.dumps(event)}\n\n".encode())
            await writer.drain()
        if not self.cut_stream:
            done = {"done": True, "usage": self.usage}
            writer.write(f"data: {json.dumps(done)}\n\n".encode())
        await writer.drain()
        return False


PROMPT = "abcd" * 100  # 400 characters: 100 estimated input tokens


def request(model: str = "m", *, prompt: str = PROMPT, max_tokens: int = 50, **kw: Any) -> Request:
    return Request(model, (Message.text(Role.USER, prompt),), max_tokens=max_tokens, **kw)
