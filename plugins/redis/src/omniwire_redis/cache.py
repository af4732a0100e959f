"""The response cache: an in-process LRU in front of Redis, keyed by a canonical hash
of the request, opted into per model, never holding errors.

**The key.** :func:`request_hash` is ``sha256`` of the UTF-8 bytes of::

    json.dumps({"v": 1, "type": <request class name>, "request": <fields>},
               sort_keys=True, separators=(",", ":"), ensure_ascii=False)

where ``<fields>`` is ``omniwire.serialize.to_json(request)`` (defaults omitted, provider
``raw`` objects left out) minus the top-level fields that do not change the answer:
``stream``, ``user``, ``metadata``, ``service_tier`` and ``cache`` (prompt-cache
intent). Everything else counts: ``model`` as the client asked for it (route name or
``provider:model``), messages, tools, sampling parameters, ``extra``... A streamed and a
non-streamed call of the same request share one entry.

**How it plugs in.** The kernel has no stage before the guards that could answer a call
(kernel gap), so the cache uses the seams there are:

1. its guard (``redis-cache``, order 2) looks the request up once per call and notes
   the result in ``call.attributes`` (:data:`STATE`);
2. on a hit, its ``omniwire_transport`` implementation (``tryfirst``) answers with a
   synthetic 200 without any I/O, and its ``omniwire_decode`` implementation returns
   the cached response, or for a stream a decoder that replays the cached canonical
   events one by one;
3. its ``omniwire_price`` implementation prices a hit at zero, so budgets charge
   nothing for it;
4. on a miss, an ``omniwire_decode`` wrapper records a stream's canonical events, and
   the guard's ``complete`` (called only for a success) stores the response or the
   events in both tiers. Failures, streams cut or abandoned and upstream stream errors
   end in ``abort``: nothing is stored.

Hits still pass the other guards (a breaker, the rate limits, a budget's zero
reservation) and the encode/auth stages; see docs/redis.md.

**Redis key**: ``P cache:[<namespace>:]<hash>`` (``P`` = ``[redis] prefix``), a JSON
document ``{"v": 1, "expires": <unix time>, "kind": "response", "type": ..., "value":
...}`` or ``{..., "kind": "events", "events": [...]}``, with the TTL as its expiry. A
Redis that does not answer is a miss (the cache never refuses a call).
"""

from __future__ import annotations

import collections
import hashlib
import json
import logging
import time
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable

import attrs
from omniwire import model
from omniwire.model.replay import events_for
from omniwire.money import ZERO
from omniwire.serialize import from_json, to_json
from omniwire.wire import WireResponse

from .link import RedisLink, StoreUnavailable
from .settings import CacheSettings

if TYPE_CHECKING:
    from omniwire.call import Call
    from omniwire.errors import OmniwireError
    from omniwire.routing import Candidate
    from omniwire.sse import SSEEvent

__all__ = [
    "STATE",
    "VOLATILE",
    "CacheGuard",
    "Entry",
    "Lookup",
    "canonical_fields",
    "events_of",
    "request_hash",
]

log = logging.getLogger("omniwire.redis.cache")

STATE = "omniwire_redis.cache"
"""``call.attributes`` key of the call's :class:`Lookup`."""
VOLATILE = ("stream", "user", "metadata", "service_tier", "cache")
"""Top-level request fields left out of the hash."""
VERSION = 1
CACHEABLE: dict[type, str] = {
    model.Request: "Response",
    model.EmbeddingRequest: "EmbeddingResponse",
}
_RESPONSES = {"Response": model.Response, "EmbeddingResponse": model.EmbeddingResponse}


def canonical_fields(request: Any) -> dict[str, Any]:
    """What of ``request`` the hash covers."""
    data: dict[str, Any] = to_json(request)
    for name in VOLATILE:
        data.pop(name, None)
    return data


def request_hash(request: Any) -> str:
    """The cache key of ``request`` (see the module docstring for the exact bytes)."""
    document = {"v": VERSION, "type": type(request).__name__, "request": canonical_fields(request)}
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- entries ------------------------------------------------------------------------------


@attrs.frozen(slots=True)
class Entry:
    """A cached answer: a whole response, or the canonical events of a stream."""

    expires: float
    response: Any = None
    events: tuple[Any, ...] | None = None

    def as_response(self) -> Any:
        return self.response if self.events is None else model.fold(self.events)

    def as_events(self) -> tuple[Any, ...]:
        return self.events if self.events is not None else events_of(self.response)

    def dump(self) -> bytes:
        doc: dict[str, Any] = {"v": VERSION, "expires": self.expires}
        if self.events is not None:
            doc["kind"] = "events"
            doc["events"] = [to_json(e) for e in self.events]
        else:
            doc["kind"] = "response"
            doc["type"] = type(self.response).__name__
            doc["value"] = to_json(self.response)
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    @classmethod
    def load(cls, data: bytes) -> Entry | None:
        """An entry from Redis; None for one this version cannot read."""
        doc = json.loads(data)
        if not isinstance(doc, dict) or doc.get("v") != VERSION:
            return None
        expires = float(doc["expires"])
        if doc.get("kind") == "events":
            event_type: Any = model.StreamEvent
            events = tuple(from_json(e, event_type) for e in doc["events"])
            return cls(expires, events=events)
        kind = _RESPONSES.get(doc.get("type", ""))
        return None if kind is None else cls(expires, response=from_json(doc["value"], kind))


def events_of(response: Any) -> tuple[Any, ...]:
    """A Response as the canonical stream that folds back to it (one delta per text)."""
    return tuple(events_for(response, chunk_size=None))


class _Memory:
    """The in-process tier: least recently used entries, ``size`` at most."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: collections.OrderedDict[str, Entry] = collections.OrderedDict()

    def get(self, key: str, now: float) -> Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires <= now:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry

    def put(self, key: str, entry: Entry) -> None:
        if self.size <= 0:
            return
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


@attrs.define(slots=True)
class Lookup:
    """One call's cache lookup: its key, TTL, and the entry found (None: a miss)."""

    key: str
    ttl: float
    entry: Entry | None
    events: list[Any] | None = None
    """A missed stream's canonical events, recorded as they are decoded."""

    @property
    def hit(self) -> bool:
        return self.entry is not None


# -- the guard ----------------------------------------------------------------------------


class CacheGuard:
    """Looks calls up at admission and stores successful answers at completion."""

    def __init__(
        self, settings: CacheSettings, link: RedisLink | None, *, prefix: str = "omniwire:"
    ) -> None:
        self.settings = settings
        self.link = link
        self.prefix = prefix
        self.memory = _Memory(settings.memory_entries)
        self.hits = 0
        self.misses = 0
        self.stored = 0

    def redis_key(self, key: str) -> str:
        space = f"{self.settings.namespace}:" if self.settings.namespace else ""
        return f"{self.prefix}cache:{space}{key}"

    async def admit(self, call: Call, candidate: Candidate) -> None:
        if STATE in call.attributes:
            return  # looked up at the call's first attempt
        request = call.request
        if type(request) not in CACHEABLE or call.operation == "primitive":
            return
        ttl = self.settings.ttl_for(request.model)
        if ttl is None:
            return
        key = request_hash(request)
        now = time.time()
        entry = self.memory.get(key, now)
        if entry is None and self.link is not None:
            entry = await self._fetch(key, now)
        call.attributes[STATE] = Lookup(key, ttl, entry)
        if entry is None:
            self.misses += 1
        else:
            self.hits += 1

    async def _fetch(self, key: str, now: float) -> Entry | None:
        assert self.link is not None
        try:
            data = await self.link.command("GET", self.redis_key(key), what="cache lookup")
        except StoreUnavailable:
            return None
        if data is None:
            return None
        try:
            entry = Entry.load(data)
        except Exception:
            log.warning("unreadable cache entry %s ignored", key, exc_info=True)
            return None
        if entry is None or entry.expires <= now:
            return None
        self.memory.put(key, entry)
        return entry

    async def complete(self, call: Call) -> None:
        lookup: Lookup | None = call.attributes.get(STATE)
        if lookup is None or lookup.hit:
            return
        expires = time.time() + lookup.ttl
        if call.stream:
            if lookup.events is None:
                return
            entry = Entry(expires, events=tuple(lookup.events))
        elif type(call.response) in _RESPONSES.values():
            entry = Entry(expires, response=call.response)
        else:
            return
        data = entry.dump()
        if len(data) > self.settings.max_entry_bytes:
            return
        self.memory.put(lookup.key, entry)
        self.stored += 1
        if self.link is not None:
            import anyio

            try:
                with anyio.CancelScope(shield=True):
                    await self.link.command(
                        "SET",
                        self.redis_key(lookup.key),
                        data,
                        "PX",
                        max(1, int(lookup.ttl * 1000)),
                        what="cache store",
                    )
            except StoreUnavailable:
                pass

    async def abort(self, call: Call, error: OmniwireError | None) -> None:
        return None


# -- the stage hooks' halves (called from the plugin module) ------------------------------


def _hit(call: Call) -> Lookup | None:
    lookup = call.attributes.get(STATE)
    return lookup if lookup is not None and lookup.hit else None


def serve(call: Call) -> Awaitable[WireResponse] | None:
    """A hit's synthetic upstream answer (no I/O), or None."""
    lookup = _hit(call)
    if lookup is None:
        return None
    assert lookup.entry is not None
    count = len(lookup.entry.as_events()) if call.stream else 0
    return _answer(call.stream, count)


async def _answer(stream: bool, count: int) -> WireResponse:
    headers = {"x-omniwire-cache": "hit"}
    if not stream:
        return WireResponse(200, headers, b"")

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(count):
            yield b"data: .\n\n"

    headers["content-type"] = "text/event-stream"
    return WireResponse(200, headers, b"", chunks())


class _Replay:
    """A stream decoder that ignores the synthetic bytes and gives one cached canonical
    event per SSE event."""

    def __init__(self, events: tuple[Any, ...]) -> None:
        self._events = collections.deque(events)

    def feed(self, event: SSEEvent) -> list[Any]:
        return [self._events.popleft()] if self._events else []

    def close(self) -> list[Any]:
        rest = list(self._events)
        self._events.clear()
        return rest


class _Recording:
    """Wraps a miss's stream decoder and keeps every canonical event it produces."""

    def __init__(self, inner: Any, sink: list[Any]) -> None:
        self._inner = inner
        self._sink = sink

    def feed(self, event: SSEEvent) -> list[Any]:
        out: list[Any] = self._inner.feed(event)
        self._sink.extend(out)
        return out

    def close(self) -> list[Any]:
        out: list[Any] = self._inner.close()
        self._sink.extend(out)
        return out


def decode_hit(call: Call) -> Any:
    """A hit's canonical response (or replaying stream decoder), or None."""
    lookup = _hit(call)
    if lookup is None:
        return None
    assert lookup.entry is not None
    if call.stream:
        return _Replay(lookup.entry.as_events())
    return lookup.entry.as_response()


def record(call: Call, decoded: Any) -> Any:
    """What the decode stage returns, with a missed stream's events recorded."""
    lookup: Lookup | None = call.attributes.get(STATE)
    if lookup is None or lookup.hit or not call.stream or decoded is None:
        return decoded
    lookup.events = []  # one recording per attempt
    return _Recording(decoded, lookup.events)


def price_hit(call: Call) -> Any:
    """A hit costs nothing."""
    return ZERO if _hit(call) is not None else None
