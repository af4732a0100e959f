"""The recording and replaying transports.

Both follow the kernel's transport contract (``name``, ``async send(wire)``,
``async aclose()``), so a stack uses them like any other:
``Stack(..., transport=RecordingTransport(inner=HttpxTransport(), path=p))`` records,
``Stack(..., transport=ReplayTransport(path=p))`` replays.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, AsyncIterator, ClassVar, Iterable, Mapping

from omniwire import errors as _errors
from omniwire.errors import ConfigError, OmniwireError
from omniwire.wire import WireRequest, WireResponse

from .fixture import (
    SSE_SEPARATOR,
    Fixture,
    Matcher,
    Sanitizers,
    decode_body,
    encode_bytes,
    encode_request_body,
    load_fixture,
    split_events,
    write_fixture,
)

__all__ = ["RecordingTransport", "ReplayTransport"]

# headers that describe the transfer, not the content (a replay re-frames the body), and
# the date, which would make every re-recording differ
_FRAMING = frozenset(
    {"content-length", "transfer-encoding", "content-encoding", "connection", "keep-alive", "date"}
)


def _inner_transport(inner: Any, options: Mapping[str, Any] | None) -> Any:
    if inner is None or isinstance(inner, str):
        from omniwire.plugins import get_plugin_manager

        factory = get_plugin_manager().get("transports", inner or "httpx")
        return factory(**(options or {}))
    return inner


def _response_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): str(v) for k, v in headers.items() if k.lower() not in _FRAMING}


def _is_sse(headers: Mapping[str, str]) -> bool:
    return any(k.lower() == "content-type" and "event-stream" in v for k, v in headers.items())


def _request_record(wire: WireRequest, sanitize: Sanitizers) -> dict[str, Any]:
    record: dict[str, Any] = {
        "method": wire.method.upper(),
        "url": sanitize.url(wire.url or wire.path),
    }
    if wire.headers:
        record["headers"] = sanitize.headers(wire.headers)
    if wire.stream:
        record["stream"] = True
    record.update(encode_request_body(wire.body, sanitize))
    return record


class RecordingTransport:
    """Sends through ``inner`` and appends each exchange, sanitized, to ``path``.

    :param inner: the real transport (an object, a registered transport name, or None
        for ``httpx``), built with ``inner_options`` when named.
    :param path: the fixture file; rewritten atomically after every exchange.
    :param sanitizers: defaults to every sanitizer registered in the plugin manager;
        recording refuses to start without one.
    :param record_timing: also store when headers and each stream event arrived.
    :param append: keep exchanges already in ``path`` (default: start a new fixture).
    """

    name: ClassVar[str] = "recording"

    def __init__(
        self,
        inner: Any = None,
        *,
        path: str | Path,
        sanitizers: Iterable[Any] | None = None,
        record_timing: bool = False,
        append: bool = False,
        inner_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.inner = _inner_transport(inner, inner_options)
        self.path = Path(path)
        self.sanitize = Sanitizers(sanitizers)
        self.record_timing = record_timing
        self._lock = threading.Lock()
        existing = load_fixture(self.path, missing_ok=True).exchanges if append else []
        self.exchanges: list[dict[str, Any]] = list(existing)

    def _save(self, exchange: dict[str, Any]) -> None:
        with self._lock:
            self.exchanges.append(exchange)
            write_fixture(self.path, self.exchanges)

    async def send(self, wire: WireRequest) -> WireResponse:
        request = _request_record(wire, self.sanitize)
        started = time.perf_counter()
        try:
            response: WireResponse = await self.inner.send(wire)
        except OmniwireError as exc:
            self._save({"request": request, "error": _error_record(exc, self.sanitize)})
            raise
        header_time = time.perf_counter() - started
        record: dict[str, Any] = {
            "status": response.status,
            "headers": self.sanitize.headers(_response_headers(response.headers)),
        }
        exchange: dict[str, Any] = {"request": request, "response": record}
        if self.record_timing:
            exchange["timing"] = {"headers": round(header_time, 4)}
        if response.chunks is None:
            record.update(
                encode_bytes(
                    response.body,
                    self.sanitize,
                    content_type=response.header("content-type"),
                    exempt=True,
                )
            )
            self._save(exchange)
            return response
        tap = _StreamTap(self, exchange, response, started)
        return WireResponse(response.status, response.headers, b"", tap.chunks(), tap.aclose)

    async def aclose(self) -> None:
        await self.inner.aclose()


class _StreamTap:
    """Passes a stream through untouched while keeping a copy; records it once, when the
    stream ends, fails or is closed early (then marked ``"complete": false``)."""

    __slots__ = ("owner", "exchange", "upstream", "started", "parts", "offsets", "done")

    def __init__(
        self,
        owner: RecordingTransport,
        exchange: dict[str, Any],
        upstream: WireResponse,
        started: float,
    ) -> None:
        self.owner = owner
        self.exchange = exchange
        self.upstream = upstream
        self.started = started
        self.parts: list[bytes] = []
        self.offsets: list[float] = []
        self.done = False

    async def chunks(self) -> AsyncIterator[bytes]:
        assert self.upstream.chunks is not None
        complete = False
        error: OmniwireError | None = None
        try:
            async for chunk in self.upstream.chunks:
                self.parts.append(chunk)
                if self.owner.record_timing:
                    self.offsets.append(time.perf_counter() - self.started)
                yield chunk
            complete = True
        except OmniwireError as exc:
            error = exc
            raise
        finally:
            self._finish(complete, error)

    async def aclose(self) -> None:
        self._finish(False, None)
        await self.upstream.aclose()

    def _finish(self, complete: bool, error: OmniwireError | None) -> None:
        if self.done:
            return
        self.done = True
        owner, record = self.owner, self.exchange["response"]
        data = b"".join(self.parts)
        text = data.decode("utf-8", errors="replace")
        if _is_sse(self.upstream.headers):
            events, tail = split_events(text)
            record["events"] = [owner.sanitize.text(e) for e in events]
            if tail:
                record["tail"] = owner.sanitize.text(tail)
            if owner.record_timing:
                self.exchange["timing"]["events"] = _event_times(self.parts, self.offsets)
        elif text:
            record["chunks"] = [
                owner.sanitize.text(p.decode("utf-8", errors="replace")) for p in self.parts
            ]
        if not complete:
            record["complete"] = False
        if error is not None:
            self.exchange["error"] = _error_record(error, owner.sanitize)
        owner._save(self.exchange)


def _event_times(parts: list[bytes], offsets: list[float]) -> list[float]:
    """When each whole SSE event had arrived (the chunk completing it), in one pass."""
    times: list[float] = []
    pending = ""
    for part, at in zip(parts, offsets):
        *complete, pending = SSE_SEPARATOR.split(pending + part.decode("utf-8", "replace"))
        times.extend([round(at, 4)] * sum(1 for event in complete if event))
    return times


def _error_record(exc: OmniwireError, sanitize: Sanitizers) -> dict[str, Any]:
    return {
        "kind": exc.kind,
        "type": type(exc).__name__,
        "message": sanitize.text(exc.message),
        "status": exc.status,
        "retryable": exc.retryable,
    }


def _rebuild_error(record: Mapping[str, Any]) -> OmniwireError:
    cls = getattr(_errors, str(record.get("type", "")), None)
    if not (isinstance(cls, type) and issubclass(cls, OmniwireError)):
        cls = _errors.UpstreamError
    kwargs: dict[str, Any] = {"retryable": bool(record.get("retryable", False))}
    if cls is _errors.UpstreamError:
        kwargs["status"] = record.get("status")
    elif record.get("status") is not None:
        kwargs["status"] = record["status"]
    try:
        return cls(str(record.get("message", "replayed error")), **kwargs)
    except TypeError:
        return _errors.UpstreamError(str(record.get("message", "")), **kwargs)


class ReplayTransport:
    """Answers from a fixture; never touches the network.

    :param path: the fixture file (must exist).
    :param volatile: body fields ignored when matching (``"user"`` at any depth,
        ``"$.metadata.request_id"`` from the root).
    :param match_host: compare scheme and host too (off: only path and query).
    :param sanitizers: must sanitize like the recorder did (default: the registered ones).
    :param realtime: sleep as recorded (needs ``record_timing``); default replays at once.
    """

    name: ClassVar[str] = "replay"

    def __init__(
        self,
        path: str | Path,
        *,
        volatile: Iterable[str] = (),
        match_host: bool = True,
        sanitizers: Iterable[Any] | None = None,
        realtime: bool = False,
    ) -> None:
        self.fixture: Fixture = load_fixture(path)
        self.matcher = Matcher(frozenset(str(v) for v in volatile), match_host)
        self.sanitize = Sanitizers(sanitizers)
        self.realtime = realtime
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self.fixture.path

    async def send(self, wire: WireRequest) -> WireResponse:
        request = _request_record(wire, self.sanitize)
        with self._lock:
            index = self.fixture.find(request, self.matcher)
        exchange = self.fixture.exchanges[index]
        timing = exchange.get("timing") or {}
        if self.realtime and timing.get("headers"):
            import anyio

            await anyio.sleep(float(timing["headers"]))
        record = exchange.get("response")
        if record is None:
            if "error" in exchange:
                raise _rebuild_error(exchange["error"])
            raise ConfigError(f"replay fixture {self.path} exchange #{index} has no response")
        status = int(record.get("status", 200))
        headers = dict(record.get("headers") or {})
        if "events" in record or "tail" in record or "chunks" in record or wire.stream:
            return WireResponse(
                status, headers, b"", self._stream(exchange, float(timing.get("headers", 0)))
            )
        return WireResponse(status, headers, decode_body(record))

    async def _stream(self, exchange: Mapping[str, Any], start: float) -> AsyncIterator[bytes]:
        record = exchange["response"]
        times = list((exchange.get("timing") or {}).get("events", ()))
        if "events" in record or "tail" in record:
            pieces = [f"{e}\n\n".encode() for e in record.get("events", ())]
            if record.get("tail"):
                pieces.append(str(record["tail"]).encode())
        elif "chunks" in record:
            pieces = [str(c).encode() for c in record["chunks"]]
        else:
            pieces = [decode_body(record)]
        clock = start
        for i, piece in enumerate(pieces):
            if self.realtime and i < len(times):
                import anyio

                await anyio.sleep(max(0.0, float(times[i]) - clock))
                clock = float(times[i])
            yield piece
        if "error" in exchange:
            raise _rebuild_error(exchange["error"])

    async def aclose(self) -> None:
        return None
