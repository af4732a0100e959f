"""A fake provider: a real HTTP/1.1 server on 127.0.0.1 that speaks every installed
protocol through the codecs' server side, records what it receives, and fails on demand.

The server is a raw asyncio streams server running its own event loop in a daemon
thread, so synchronous and asynchronous tests can both call it. Connections are
keep-alive; streams are chunked (or close-delimited) ``text/event-stream`` flushed event
by event. An inbound path is matched against each codec's ``routes`` exactly as written;
the request is decoded with ``decode_request``, answered by a scripted or computed
canonical response, and encoded with ``encode_response`` / ``stream_encoder``. Per
request the cost is the codec work plus a few dictionary operations.

::

    with FakeUpstream([ToyCodec()]) as up:
        up.fail(429, retry_after=1)              # the next request gets a 429
        up.script(Response(...))                 # then this response
        httpx.post(up.url + "/v1/kit/chat", ...)
        assert up.counts == {"sk-test": 2}
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import hashlib
import http
import inspect
import json
import socket
import struct
import threading
import time
import zlib
from typing import Any, Callable, Iterable, Mapping, Sequence
from urllib.parse import parse_qsl, unquote

import attrs
from omniwire.codec import Codec, Family
from omniwire.errors import OmniwireError, ProtocolError, RateLimited, UpstreamError
from omniwire.model import (
    Choice,
    Embedding,
    EmbeddingRequest,
    EmbeddingResponse,
    GeneratedImage,
    ImageEditRequest,
    ImageRequest,
    ImageResponse,
    ImageVariationRequest,
    InputImage,
    Message,
    Request,
    RerankRequest,
    RerankResponse,
    RerankResult,
    Response,
    Role,
    SpeechRequest,
    SpeechResponse,
    StopReason,
    TextPart,
    TokenCountRequest,
    TokenCountResponse,
    ToolCallPart,
    TranscriptionRequest,
    TranscriptionResponse,
    Usage,
    fold,
)
from omniwire.report import Conversion
from omniwire.sse import SSEEvent
from omniwire.wire import FileUpload, MultipartBody

from .events import events_for
from .routes import compile_route, match_wire_path, route_params

__all__ = [
    "FAULT_KINDS",
    "FakeUpstream",
    "Fault",
    "RawResponse",
    "RecordedRequest",
    "echo_response",
    "key_of",
    "sample_request",
]

FAULT_KINDS = frozenset({"status", "delay", "reset", "cut", "malformed_event", "malformed_json"})


@attrs.define
class RecordedRequest:
    """One inbound request. ``key`` comes from ``Authorization: Bearer``, ``x-api-key``,
    ``x-goog-api-key``, ``api-key`` or the ``key`` query parameter; ``canonical`` is what
    the codec decoded (None for raw routes and undecodable bodies); ``multipart`` the
    parsed form of a multipart/form-data body (repeated file parts as lists)."""

    index: int
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    json: Any = None
    key: str | None = None
    codec: str | None = None
    route: str | None = None
    params: dict[str, str] = attrs.Factory(dict)
    canonical: Any = None
    stream: bool = False
    received: float = 0.0
    multipart: MultipartBody | None = None


@attrs.define
class RawResponse:
    """Fixed bytes to answer with. ``body`` may be bytes, str or JSON-ready data;
    ``chunks`` streams with chunked encoding, flushed one by one, ``chunk_delay`` apart."""

    status: int = 200
    body: Any = b""
    headers: Mapping[str, str] = attrs.Factory(dict)
    chunks: Sequence[bytes] | None = None
    chunk_delay: float = 0.0


@attrs.define
class Fault:
    """A queued failure for the next ``times`` matching requests (None: forever).

    ``kind``: ``status`` (answer ``status`` with the provider-shaped body of ``error``),
    ``delay`` (only latency), ``reset`` (close the socket with a TCP RST, no response),
    ``cut`` (stop a stream after ``after_events`` SSE events, or a body half-way),
    ``malformed_event`` (the SSE event at ``after_events`` carries invalid JSON),
    ``malformed_json`` (a 200 with a body that is not JSON). ``seconds`` delays the
    response first, ``event_delay`` spaces stream events. ``key``/``path`` restrict the
    fault to requests with that key or path.
    """

    kind: str
    times: int | None = 1
    key: str | None = None
    path: str | None = None
    status: int = 500
    error: OmniwireError | None = None
    headers: Mapping[str, str] = attrs.Factory(dict)
    body: Any = None
    seconds: float = 0.0
    event_delay: float = 0.0
    after_events: int = 0

    def __attrs_post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r} (one of {sorted(FAULT_KINDS)})")

    def matches(self, request: RecordedRequest) -> bool:
        if self.key is not None and request.key != self.key:
            return False
        return self.path is None or request.path == self.path


def key_of(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The credential a request carries (headers lower-cased)."""
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    for name in ("x-api-key", "x-goog-api-key", "api-key"):
        if headers.get(name):
            return headers[name]
    return query.get("key")


# -- default answers ----------------------------------------------------------------------


def _tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\xff\xff")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


_PNG_B64 = base64.b64encode(_tiny_png()).decode()


def _words(text: str) -> int:
    return max(1, len(text.split()))


def _last_user_text(messages: Iterable[Message]) -> str:
    for m in reversed(tuple(messages)):
        if m.role == Role.USER and m.plain_text:
            return m.plain_text
    return ""


def echo_response(request: Any, n: int = 1) -> Any:
    """The default answer, deterministic per request and sequence number ``n``.

    Generation: ``"echo: <last user text>"``; when the request declares tools and the last
    user text contains "call tool", a call of the first tool with ``{}`` arguments
    instead. Other families: deterministic embeddings (from a hash of each input),
    a 1x1 PNG, image edits and variations answered with the input images' own bytes
    (base64, one per ``n``, cycling through the inputs), ``"transcribed N bytes"``, the
    input text as "audio", word-overlap rerank scores, a word count.
    """
    if isinstance(request, Request):
        text = _last_user_text(request.messages)
        functions = [t for t in request.tools if t.kind == "function"]
        if functions and "call tool" in text.lower():
            parts: tuple[Any, ...] = (ToolCallPart(f"call_{n}", functions[0].name, "{}"),)
            stop = StopReason.TOOL_CALLS
        else:
            parts, stop = (TextPart(f"echo: {text}" if text else "echo"),), StopReason.END_TURN
        inputs = sum(_words(m.plain_text) for m in request.messages) if request.messages else 1
        return Response(
            id=f"fake-{n}",
            model=request.model,
            choices=tuple(Choice(parts, stop, index=i) for i in range(request.n or 1)),
            usage=Usage(inputs, _words(text) + 1),
        )
    if isinstance(request, EmbeddingRequest):
        size = request.dimensions or 8
        vectors = []
        for i, item in enumerate(request.inputs):
            digest = hashlib.sha256(repr(item).encode()).digest()
            vectors.append(Embedding(tuple((digest[k % 32] - 128) / 128 for k in range(size)), i))
        return EmbeddingResponse(request.model, tuple(vectors), Usage(len(request.inputs)))
    if isinstance(request, ImageRequest):
        images = tuple(GeneratedImage(b64_json=_PNG_B64) for _ in range(request.n or 1))
        return ImageResponse(1_700_000_000, images)
    if isinstance(request, (ImageEditRequest, ImageVariationRequest)):
        inputs = request.images if isinstance(request, ImageEditRequest) else (request.image,)
        images = tuple(
            GeneratedImage(b64_json=base64.b64encode(inputs[i % len(inputs)].data).decode())
            for i in range(request.n or 1)
        )
        return ImageResponse(1_700_000_000, images)
    if isinstance(request, TranscriptionRequest):
        return TranscriptionResponse(f"transcribed {len(request.audio)} bytes")
    if isinstance(request, SpeechRequest):
        return SpeechResponse(request.input.encode(), "audio/mpeg")
    if isinstance(request, RerankRequest):
        query = set(request.query.lower().split())
        scored = sorted(
            (
                (len(query & set(d.lower().split())) / (len(query) or 1), i, d)
                for i, d in enumerate(request.documents)
            ),
            key=lambda t: (-t[0], t[1]),
        )[: request.top_n or None]
        results = tuple(
            RerankResult(i, s, d if request.return_documents else None) for s, i, d in scored
        )
        return RerankResponse(request.model, results)
    if isinstance(request, TokenCountRequest):
        return TokenCountResponse(sum(_words(m.plain_text) for m in request.messages))
    raise ProtocolError(f"the fake upstream cannot answer a {type(request).__name__}")


def sample_request(family: str) -> Any:
    """A minimal canonical request of ``family`` (used to learn a codec's client path)."""
    messages = (Message.text(Role.USER, "hello"),)
    return {
        Family.GENERATE: Request("model", messages),
        Family.EMBED: EmbeddingRequest("model", ("hello",)),
        Family.IMAGE: ImageRequest("model", "a cat"),
        Family.IMAGE_EDIT: ImageEditRequest("model", "a cat", (InputImage(b"PNG"),)),
        Family.IMAGE_VARIATION: ImageVariationRequest("model", InputImage(b"PNG")),
        Family.TRANSCRIBE: TranscriptionRequest("model", b"RIFF"),
        Family.SPEECH: SpeechRequest("model", "hello", "alloy"),
        Family.RERANK: RerankRequest("model", "hello", ("hello world",)),
        Family.COUNT_TOKENS: TokenCountRequest("model", messages),
    }.get(family, Request("model", messages))


# -- the server ---------------------------------------------------------------------------


@attrs.define
class _Inbound:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    keep_alive: bool


class _Cut(Exception):
    pass


def _frame(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Status"


def _as_bytes(body: Any) -> tuple[bytes, str | None]:
    if isinstance(body, (bytes, bytearray)):
        return bytes(body), None
    if isinstance(body, str):
        return body.encode(), "text/plain; charset=utf-8"
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode(), "application/json"


def _parse_multipart(content_type: str, body: bytes) -> MultipartBody:
    """A multipart/form-data body; a missing or wrong boundary is a ProtocolError at
    ``$`` (what a real server answers with 400). Repeated file parts become lists."""
    from email import errors
    from email.parser import BytesParser
    from email.policy import HTTP

    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    if not message.get_boundary():
        raise ProtocolError("malformed multipart body: no boundary", path="$")
    broken = (errors.NoBoundaryInMultipartDefect, errors.StartBoundaryNotFoundDefect)
    if not message.is_multipart() or any(isinstance(d, broken) for d in message.defects):
        raise ProtocolError("malformed multipart body: the boundary is not found", path="$")
    fields: dict[str, str] = {}
    files: dict[str, FileUpload | list[FileUpload]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            payload = b""
        filename = part.get_filename()
        if filename is not None:
            upload: FileUpload = (filename, payload, part.get_content_type())
            seen = files.get(name)
            if seen is None:
                files[name] = upload
            elif isinstance(seen, list):
                seen.append(upload)
            else:
                files[name] = [seen, upload]
        else:
            fields[name] = payload.decode("utf-8", "replace")
    return MultipartBody(fields, files)


Handler = Callable[[RecordedRequest], Any]


class FakeUpstream:
    """A fake provider on ``127.0.0.1:<ephemeral port>``.

    ``codecs``: the codecs to speak (default: every codec of ``plugin_manager``, itself
    defaulting to all installed plugins). ``responder(canonical_request, recorded)``
    computes answers when the script is empty (default :func:`echo_response`); it and
    script items may return a Response (or other family response), a list of stream
    events, a :class:`RawResponse`, or an OmniwireError to answer with.
    ``chunked=False`` sends streams close-delimited; ``chunk_size`` is how
    :func:`~omniwire_testing.events.events_for` cuts text when streaming a Response.
    """

    def __init__(
        self,
        codecs: Iterable[Codec] | None = None,
        *,
        plugin_manager: Any = None,
        responder: Callable[[Any, RecordedRequest], Any] | None = None,
        chunked: bool = True,
        chunk_size: int = 16,
        host: str = "127.0.0.1",
        port: int = 0,
        fallback: Handler | None = None,
    ) -> None:
        self._codec_arg = list(codecs) if codecs is not None else None
        self._pm = plugin_manager
        self._codecs: dict[str, Codec] | None = None
        self._routes: list[tuple[Any, str, Codec]] = []
        self._exact: dict[str, tuple[Any, str, Codec]] = {}
        self._raw: list[tuple[str, Any, Handler]] = []
        self.responder = responder
        self.fallback = fallback
        self.chunked = chunked
        self.chunk_size = chunk_size
        self.host = host
        self.port = port
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._counts: collections.Counter[str | None] = collections.Counter()
        self._faults: list[Fault] = []
        self._script: collections.deque[Any] = collections.deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.connections = 0
        """TCP connections accepted so far (keep-alive reuses one)."""

    @classmethod
    def raw(cls, handler: Handler | RawResponse | bytes, **kwargs: Any) -> FakeUpstream:
        """An upstream with no codecs answering every request with ``handler`` (a
        callable of the RecordedRequest, or a fixed RawResponse / bytes / JSON value):
        for protocols with no installed codec."""
        return cls(codecs=(), fallback=_handler(handler), **kwargs)

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def codecs(self) -> dict[str, Codec]:
        if self._codecs is None:
            if self._codec_arg is not None:
                found = self._codec_arg
            else:
                from .support import installed_codecs

                found = installed_codecs(self._pm)
            self._codecs = {c.id: c for c in found}
            self._routes = [(compile_route(route), route, c) for c in found for route in c.routes]
            # fixed paths (no placeholders) resolve with one dictionary lookup
            for entry in reversed(self._routes):
                if "{" not in entry[1]:
                    self._exact[entry[1]] = entry
        return self._codecs

    def start(self) -> FakeUpstream:
        if self._thread is not None:
            return self
        self.codecs  # resolve routes before serving  # noqa: B018
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(
            target=loop.run_forever, name="omniwire-fake-upstream", daemon=True
        )
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start_server(), loop).result(10)
        return self

    async def _start_server(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, self.host, self.port, limit=2**22, backlog=1024
        )
        self.port = self._server.sockets[0].getsockname()[1]

    def close(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()
            self._loop = self._thread = self._server = None

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        if self._thread is None:
            raise RuntimeError("the fake upstream is not started (use it as a context manager)")
        return f"http://{self.host}:{self.port}"

    def base_url_for(self, protocol: str) -> str:
        """What the provider's SDK calls the base URL: ``url + "/v1"`` for OpenAI-style
        codecs, ``url`` for Anthropic and Gemini. ``protocol`` is a codec id or provider
        name; the prefix is learnt from the codec (client path vs. route) when possible."""
        codec = self.codecs.get(protocol) or next(
            (c for c in self.codecs.values() if protocol in (c.provider, c.id.split(".")[0])),
            None,
        )
        prefix = self._client_prefix(codec) if codec is not None else None
        if prefix is None:
            prefix = "/v1" if protocol.split(".")[0] == "openai" else ""
        return self.url + prefix

    @staticmethod
    def _client_prefix(codec: Codec) -> str | None:
        try:
            wire = codec.encode_request(sample_request(codec.family), Conversion())
        except Exception:
            return None
        found = match_wire_path(codec.routes, wire.path, wire.query)
        return found[1] if found else None

    # -- what was received ----------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def last_request(self) -> RecordedRequest:
        with self._lock:
            if not self._requests:
                raise AssertionError("the fake upstream received no request")
            return self._requests[-1]

    @property
    def counts(self) -> dict[str | None, int]:
        """Requests received per key (None: no key)."""
        with self._lock:
            return dict(self._counts)

    def count(self, key: str | None) -> int:
        with self._lock:
            return self._counts.get(key, 0)

    def clear(self) -> None:
        """Forget requests, counts, queued faults and the script."""
        with self._lock:
            self._requests.clear()
            self._counts.clear()
            self.connections = 0
            self._faults.clear()
            self._script.clear()

    # -- what to answer -------------------------------------------------------------------

    def script(self, *items: Any) -> FakeUpstream:
        """Answer the next requests with these, in order (then the responder again).
        Items: Response (or other family response), list of stream events, RawResponse,
        OmniwireError, or a callable ``(canonical, recorded) -> one of those``."""
        with self._lock:
            self._script.extend(items)
        return self

    def on(
        self, path: str, answer: Handler | RawResponse | bytes | Any, *, method: str = "POST"
    ) -> FakeUpstream:
        """Answer ``method path`` (``{name}`` placeholders allowed) with fixed bytes or a
        handler, ahead of the codec routes."""
        self._raw.append((method.upper(), compile_route(path), _handler(answer)))
        return self

    # -- faults ---------------------------------------------------------------------------

    def inject(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def heal(self, fault: Fault) -> None:
        """Stop injecting ``fault`` (the upstream recovered); unknown faults are ignored."""
        with self._lock:
            if fault in self._faults:
                self._faults.remove(fault)

    def fail(
        self,
        status: int = 500,
        *,
        times: int | None = 1,
        key: str | None = None,
        path: str | None = None,
        error: OmniwireError | None = None,
        retry_after: float | None = None,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        seconds: float = 0.0,
    ) -> Fault:
        """Answer with ``status`` and the codec's error body for ``error`` (default: a
        RateLimited for 429, else an UpstreamError of that status). ``retry_after`` sets
        the error's value and the ``retry-after`` header; ``headers`` adds others
        (``x-ratelimit-remaining-requests``...); ``body`` replaces the error body."""
        if error is None:
            if status == 429:
                error = RateLimited("rate limited by the fake upstream", retry_after=retry_after)
            else:
                error = UpstreamError(
                    f"the fake upstream failed with {status}",
                    status=status,
                    retry_after=retry_after,
                )
        extra = dict(headers or {})
        if retry_after is not None:
            extra.setdefault("retry-after", f"{retry_after:g}")
        return self.inject(Fault("status", times, key, path, status, error, extra, body, seconds))

    def delay(
        self,
        seconds: float,
        *,
        times: int | None = 1,
        key: str | None = None,
        path: str | None = None,
        event_delay: float = 0.0,
    ) -> Fault:
        """Answer normally, ``seconds`` late (``event_delay`` between stream events)."""
        return self.inject(
            Fault("delay", times, key, path, seconds=seconds, event_delay=event_delay)
        )

    def reset_connection(
        self, *, times: int | None = 1, key: str | None = None, path: str | None = None
    ) -> Fault:
        """Close the connection with a TCP reset instead of answering."""
        return self.inject(Fault("reset", times, key, path))

    def cut_stream(
        self,
        after_events: int = 1,
        *,
        times: int | None = 1,
        key: str | None = None,
        path: str | None = None,
    ) -> Fault:
        """Drop the connection after ``after_events`` SSE events (mid-body when the
        answer is not a stream)."""
        return self.inject(Fault("cut", times, key, path, after_events=after_events))

    def malformed_event(
        self,
        after_events: int = 0,
        *,
        times: int | None = 1,
        key: str | None = None,
        path: str | None = None,
    ) -> Fault:
        """Replace SSE event number ``after_events`` with one whose data is invalid JSON
        (same ``event:`` name), then go on with the stream."""
        return self.inject(Fault("malformed_event", times, key, path, after_events=after_events))

    def malformed_json(
        self, *, times: int | None = 1, key: str | None = None, path: str | None = None
    ) -> Fault:
        """A 200 whose JSON body is truncated."""
        return self.inject(Fault("malformed_json", times, key, path))

    def _take_fault(self, request: RecordedRequest) -> Fault | None:
        with self._lock:
            for i, fault in enumerate(self._faults):
                if fault.matches(request):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            del self._faults[i]
                    return fault
        return None

    def _next(self, canonical: Any, recorded: RecordedRequest) -> Any:
        with self._lock:
            item = self._script.popleft() if self._script else None
        if item is None:
            if self.responder is not None:
                return self.responder(canonical, recorded)
            return echo_response(canonical, recorded.index)
        if callable(item) and not isinstance(item, (Response, RawResponse, OmniwireError)):
            return item(canonical, recorded)
        return item

    # -- HTTP -----------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self.connections += 1
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                inbound = await self._read(reader)
                if inbound is None:
                    break
                try:
                    keep = await self._dispatch(inbound, writer)
                except (ConnectionError, asyncio.CancelledError):
                    raise
                except Exception as exc:  # a codec bug: answer it instead of hanging up
                    message = f"the fake upstream failed: {type(exc).__name__}: {exc}"
                    body = {"error": {"message": message, "type": "fake_upstream_error"}}
                    await self._send(writer, 500, {}, *_as_bytes(body), False)
                    break
                if not keep:
                    break
        except (
            ConnectionError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ValueError,
        ):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            if task is not None:
                self._tasks.discard(task)
            if not writer.is_closing():
                writer.close()

    async def _read(self, reader: asyncio.StreamReader) -> _Inbound | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                name = name.strip().lower()
                value = value.strip()
                headers[name] = f"{headers[name]}, {value}" if name in headers else value
        if "chunked" in headers.get("transfer-encoding", "").lower():
            pieces = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")
                    break
                pieces.append(await reader.readexactly(size))
                await reader.readexactly(2)
            body = b"".join(pieces)
        else:
            length = int(headers.get("content-length") or 0)
            body = await reader.readexactly(length) if length else b""
        path, _, qs = target.partition("?")
        connection = headers.get("connection", "").lower()
        keep = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
        return _Inbound(
            method.upper(),
            unquote(path),
            dict(parse_qsl(qs, keep_blank_values=True)),
            headers,
            body,
            keep,
        )

    async def _dispatch(self, inbound: _Inbound, writer: asyncio.StreamWriter) -> bool:
        headers, query = inbound.headers, inbound.query
        recorded = RecordedRequest(
            0, inbound.method, inbound.path, query, headers, inbound.body,
            key=key_of(headers, query), received=time.monotonic(),
        )  # fmt: skip
        raw = next(
            (h for m, rx, h in self._raw if m == inbound.method and rx.fullmatch(inbound.path)),
            None,
        )
        codec = None
        if raw is None:
            exact = self._exact.get(inbound.path)
            candidates = [exact] if exact is not None else self._routes
            for rx, route, candidate in candidates:
                m = rx.fullmatch(inbound.path)
                if m:
                    codec, recorded.route = candidate, route
                    recorded.params = route_params(route, m.groupdict(), query)
                    recorded.codec = candidate.id
                    break
        content_type = headers.get("content-type", "")
        if inbound.body and "multipart/" not in content_type:
            try:
                recorded.json = json.loads(inbound.body)
            except ValueError:
                recorded.json = None
        with self._lock:
            self._requests.append(recorded)
            recorded.index = len(self._requests)
            self._counts[recorded.key] += 1

        fault = self._take_fault(recorded)
        keep = inbound.keep_alive
        if fault is not None:
            if fault.seconds:
                await asyncio.sleep(fault.seconds)
            if fault.kind == "reset":
                self._reset(writer)
                return False
            if fault.kind == "status":
                return await self._send_fault(writer, codec, fault, keep)
        if raw is not None or (codec is None and self.fallback is not None):
            handler = raw if raw is not None else self.fallback
            assert handler is not None
            answer = handler(recorded)
            if inspect.isawaitable(answer):
                answer = await answer
            return await self._send_raw(writer, _raw_response(answer), keep)
        if codec is None:
            body = {
                "error": {
                    "message": f"no route for {inbound.method} {inbound.path}",
                    "type": "not_found",
                }
            }
            return await self._send(writer, 404, {}, *_as_bytes(body), keep)
        return await self._answer(codec, recorded, content_type, fault, writer, keep)

    async def _answer(
        self,
        codec: Codec,
        recorded: RecordedRequest,
        content_type: str,
        fault: Fault | None,
        writer: asyncio.StreamWriter,
        keep: bool,
    ) -> bool:
        try:
            if "multipart/form-data" in content_type:
                body: Any = _parse_multipart(content_type, recorded.body)
                recorded.multipart = body
            elif recorded.json is None and recorded.body.strip() not in (b"null",):
                raise ProtocolError("request body is not valid JSON", path="$")
            else:
                body = recorded.json
            canonical = codec.decode_request(
                body, Conversion(codec.id, None), params=recorded.params
            )
            recorded.canonical = canonical
            recorded.stream = (
                bool(getattr(canonical, "stream", False)) or recorded.params.get("stream") == "true"
            )
            result = self._next(canonical, recorded)
        except OmniwireError as exc:
            return await self._send_error(writer, codec, exc, exc.status, {}, None, keep)
        if isinstance(result, OmniwireError):
            return await self._send_error(writer, codec, result, result.status, {}, None, keep)
        if isinstance(result, RawResponse):
            return await self._send_raw(writer, result, keep)
        if recorded.stream:
            return await self._stream(codec, canonical, result, fault, writer, keep)
        response = fold(result) if isinstance(result, (list, tuple)) else result
        payload = codec.encode_response(response, Conversion(None, codec.id), request=canonical)
        if isinstance(payload, (bytes, bytearray)):
            data, ctype = (
                bytes(payload),
                getattr(response, "media_type", "application/octet-stream"),
            )
        else:
            data, ctype = _as_bytes(payload)
        if fault is not None and fault.kind == "malformed_json":
            data, ctype = data[: max(1, len(data) // 2)] or b"{", "application/json"
        if fault is not None and fault.kind == "cut":
            head = self._head(
                200,
                {"content-type": ctype or "application/json", "content-length": str(len(data))},
                True,
            )
            writer.write(head + data[: len(data) // 2])
            await writer.drain()
            writer.close()
            return False
        return await self._send(writer, 200, {}, data, ctype, keep)

    async def _stream(
        self,
        codec: Codec,
        canonical: Any,
        result: Any,
        fault: Fault | None,
        writer: asyncio.StreamWriter,
        keep: bool,
    ) -> bool:
        events = (
            list(result)
            if isinstance(result, (list, tuple))
            else events_for(result, chunk_size=self.chunk_size)
        )
        encoder = codec.stream_encoder(Conversion(None, codec.id), canonical)
        chunked = self.chunked
        headers = {"content-type": "text/event-stream", "cache-control": "no-cache"}
        if chunked:
            headers["transfer-encoding"] = "chunked"
        writer.write(self._head(200, headers, keep if chunked else False))
        cut = fault.after_events if fault is not None and fault.kind == "cut" else None
        bad = fault.after_events if fault is not None and fault.kind == "malformed_event" else None
        spacing = fault.event_delay if fault is not None else 0.0
        sent = 0

        async def emit(sse: SSEEvent) -> None:
            nonlocal sent
            if cut is not None and sent >= cut:
                raise _Cut
            if bad is not None and sent == bad:
                sse = SSEEvent('{"malformed": tru', sse.event, sse.id)
            data = sse.encode()
            writer.write(_frame(data) if chunked else data)
            await writer.drain()
            sent += 1
            if spacing:
                await asyncio.sleep(spacing)

        try:
            for event in events:
                for sse in encoder.feed(event):
                    await emit(sse)
            for sse in encoder.close():
                await emit(sse)
        except _Cut:
            writer.close()
            return False
        if not chunked:
            await writer.drain()
            writer.close()
            return False
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return keep

    # -- writing --------------------------------------------------------------------------

    @staticmethod
    def _head(status: int, headers: Mapping[str, str], keep: bool) -> bytes:
        lines = [f"HTTP/1.1 {status} {_reason(status)}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        lines.append("connection: keep-alive" if keep else "connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def _send(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        headers: Mapping[str, str],
        data: bytes,
        content_type: str | None,
        keep: bool,
    ) -> bool:
        out = {
            "content-type": content_type or "application/octet-stream",
            **headers,
            "content-length": str(len(data)),
        }
        writer.write(self._head(status, out, keep) + data)
        await writer.drain()
        if not keep:
            writer.close()
        return keep

    async def _send_error(
        self,
        writer: asyncio.StreamWriter,
        codec: Codec | None,
        error: OmniwireError,
        status: int,
        headers: Mapping[str, str],
        body: Any,
        keep: bool,
    ) -> bool:
        if body is None:
            if codec is not None:
                _, body = codec.encode_error(error)
            else:
                body = {"error": {"message": error.message, "type": error.kind}}
        data, ctype = _as_bytes(body)
        return await self._send(writer, status, headers, data, ctype or "application/json", keep)

    async def _send_fault(
        self, writer: asyncio.StreamWriter, codec: Codec | None, fault: Fault, keep: bool
    ) -> bool:
        error = fault.error or UpstreamError(
            f"the fake upstream failed with {fault.status}", status=fault.status
        )
        return await self._send_error(
            writer, codec, error, fault.status, fault.headers, fault.body, keep
        )

    async def _send_raw(
        self, writer: asyncio.StreamWriter, answer: RawResponse, keep: bool
    ) -> bool:
        headers = {k.lower(): v for k, v in answer.headers.items()}
        if answer.chunks is None:
            data, ctype = _as_bytes(answer.body)
            return await self._send(
                writer, answer.status, headers, data, headers.pop("content-type", ctype), keep
            )
        headers.setdefault("content-type", "application/octet-stream")
        headers["transfer-encoding"] = "chunked"
        writer.write(self._head(answer.status, headers, keep))
        for chunk in answer.chunks:
            if chunk:
                writer.write(_frame(chunk))
                await writer.drain()
            if answer.chunk_delay:
                await asyncio.sleep(answer.chunk_delay)
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        if not keep:
            writer.close()
        return keep

    @staticmethod
    def _reset(writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()


def _raw_response(answer: Any) -> RawResponse:
    if isinstance(answer, RawResponse):
        return answer
    return RawResponse(200, answer)


def _handler(answer: Any) -> Handler:
    if callable(answer) and not isinstance(answer, RawResponse):
        return answer  # type: ignore[no-any-return]
    return lambda _request: answer
