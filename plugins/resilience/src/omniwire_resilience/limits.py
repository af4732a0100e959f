"""Per-key rate limits as a guard (order 20): requests per minute, tokens per minute and
requests at once, from each provider's ``rpm``, ``tpm`` and ``max_concurrency``.

RPM and TPM are token buckets holding one minute's worth (so a key may burst its whole
minute, the way providers count), refilled continuously. Admitting an attempt takes one
request, a concurrency slot, and an *estimate* of its tokens: the prompt's characters
divided by ``chars_per_token`` plus its ``max_tokens`` (``default_max_tokens`` when it
sets none). When the attempt ends the estimate is corrected with the usage the provider
reported, up or down; an attempt that failed without usage gives its tokens back, and
one that never reached the wire (a later guard refused it, encoding failed, it was
cancelled first) gives its request back too.

With no room, ``[limits] mode = "reject"`` refuses at once with RateLimited (retryable:
the call moves on to its next candidate; the last refusal is what the caller sees, with
``retry_after`` when it is known). ``mode = "wait"`` still moves on while other
candidates remain, and makes the last one wait for room, up to ``max_wait`` seconds.

Waiters of a key form a line, first come first served (per process): only the first
one polls the store (no stampede of every waiter on every refill or freed slot), an
attempt arriving while others wait queues behind them (or is refused, when it may not
wait) instead of jumping ahead, and one whose turn cannot come within ``max_wait`` by
the RPM/TPM refill rate — counting what those ahead of it need — is refused at once.
"""

from __future__ import annotations

import collections
import json
import math
import time
from typing import TYPE_CHECKING, Any, Callable, Iterable

import anyio
import attrs
from omniwire.errors import RateLimited
from omniwire.model import Request

from ._scope import candidates_left, key_scope, who
from .headers import was_sent, watches_sends
from .settings import EndpointLimits, LimitSettings
from .store import LimitStore, MemoryLimitStore

if TYPE_CHECKING:
    from omniwire.call import Call
    from omniwire.endpoint import Endpoint
    from omniwire.errors import OmniwireError
    from omniwire.routing import Candidate
    from omniwire.stack import Stack

    from .status import PoolStatus

__all__ = ["RateLimitGuard", "estimate_tokens"]


def _chars(parts: Iterable[Any]) -> int:
    n = 0
    for part in parts:
        text = getattr(part, "text", None)
        if isinstance(text, str):
            n += len(text)
        arguments = getattr(part, "arguments", None)
        if isinstance(arguments, str):
            n += len(arguments)
        nested = getattr(part, "content", None)
        if isinstance(nested, tuple):
            n += _chars(nested)
    return n


def estimate_tokens(request: Any, settings: LimitSettings) -> int:
    """Tokens a request may cost: text, tool calls and results, tool definitions, and
    embedding inputs at ``chars_per_token``; plus the output it may produce. Images and
    audio are not counted."""
    chars = 0
    tokens = 0
    for message in getattr(request, "messages", None) or ():
        chars += _chars(message.content)
    for tool in getattr(request, "tools", None) or ():
        chars += len(tool.name) + len(tool.description or "")
        if tool.parameters:
            chars += len(json.dumps(tool.parameters, separators=(",", ":")))
    for item in getattr(request, "inputs", None) or ():
        if isinstance(item, str):
            chars += len(item)
        else:
            tokens += len(item)  # already token ids
    if isinstance(request, Request):
        tokens += (
            request.max_tokens if request.max_tokens is not None else settings.default_max_tokens
        )
    return tokens + math.ceil(chars / settings.chars_per_token)


@attrs.frozen
class _Reservation:
    scope: str
    limits: EndpointLimits
    tokens: int


class _Waiter:
    __slots__ = ("event", "tokens")

    def __init__(self, tokens: int) -> None:
        self.event = anyio.Event()  # set when this waiter becomes the first in line
        self.tokens = tokens


class _Line:
    """The attempts waiting for room on one key, in arrival order."""

    __slots__ = ("waiters", "which", "wait")

    def __init__(self) -> None:
        self.waiters: collections.deque[_Waiter] = collections.deque()
        self.which = "concurrency"  # what the first in line last waited for
        self.wait = math.inf


class RateLimitGuard:
    """The rate-limit guard of one stack. ``store`` holds the buckets and slots (default:
    in this process); ``clock`` is what waits are measured with."""

    def __init__(
        self,
        settings: LimitSettings | None = None,
        *,
        store: LimitStore | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings if settings is not None else LimitSettings()
        self.clock = clock
        self.store: LimitStore = store if store is not None else MemoryLimitStore(clock)
        self._limits: dict[str, EndpointLimits] = {}
        self._tickets: dict[int, _Reservation] = {}
        self._lines: dict[str, _Line] = {}
        self._watched: bool | None = None

    def limits_for(self, endpoint: Endpoint) -> EndpointLimits:
        found = self._limits.get(endpoint.name)
        if found is None:
            found = self._limits[endpoint.name] = EndpointLimits.of(endpoint)
        return found

    @property
    def reservations(self) -> int:
        """Attempts holding a reservation now (0 once every call has ended)."""
        return len(self._tickets)

    async def used(self, endpoint: Endpoint, alias: str | None) -> dict[str, float | None]:
        """What a key has used of its limits: requests and tokens of the current minute's
        buckets, and slots held (None for a limit that is not set)."""
        limits = self.limits_for(endpoint)
        scope = key_scope(endpoint.name, alias)
        store = self.store
        out: dict[str, float | None] = {"rpm": None, "tpm": None, "concurrency": None}
        if limits.rpm is not None:
            level = await store.level(scope + "|rpm", limits.rpm, limits.rpm / 60.0)
            out["rpm"] = limits.rpm - level
        if limits.tpm is not None:
            level = await store.level(scope + "|tpm", limits.tpm, limits.tpm / 60.0)
            out["tpm"] = limits.tpm - level
        if limits.max_concurrency is not None:
            out["concurrency"] = await store.held(scope + "|slots")
        return out

    async def pool_status(self, stack: Stack) -> PoolStatus:
        """The stack's pool status (the same from either resilience guard), so a
        gateway can find it among ``stack.guards`` without importing this plugin."""
        from .status import pool_status

        return await pool_status(stack)

    # -- the guard --------------------------------------------------------------------

    def waiting(self, endpoint: str, alias: str | None) -> int:
        """Attempts of this process waiting in line for room on a key."""
        line = self._lines.get(key_scope(endpoint, alias))
        return len(line.waiters) if line is not None else 0

    async def admit(self, call: Call, candidate: Candidate) -> None:
        endpoint = candidate.endpoint
        limits = self.limits_for(endpoint)
        if not limits.active:
            return
        if self._watched is None:
            self._watched = watches_sends(call.stack)
        alias = candidate.key.alias if candidate.key is not None else None
        scope = key_scope(endpoint.name, alias)
        tokens = 0
        if limits.tpm is not None:
            tokens = min(limits.tpm, estimate_tokens(call.request, self.settings))
        line = self._lines.get(scope)
        if line is None:  # nobody waiting: take at once
            wait, which = await self._take_shielded(scope, limits, tokens)
            if not wait:
                self._tickets[id(call)] = _Reservation(scope, limits, tokens)
                return
        else:  # others are waiting: no jumping the line
            wait, which = line.wait, line.which
        if self.settings.mode != "wait" or candidates_left(call) > 0:
            raise self._refusal(endpoint, alias, limits, which, wait, tokens, queued=line)
        await self._wait_in_line(scope, endpoint, alias, limits, tokens)
        self._tickets[id(call)] = _Reservation(scope, limits, tokens)

    async def _take_shielded(
        self, scope: str, limits: EndpointLimits, tokens: int
    ) -> tuple[float, str]:
        if self.store.local:
            return await self._take(scope, limits, tokens)
        with anyio.CancelScope(shield=True):  # never hold half a reservation
            taken = await self._take(scope, limits, tokens)
        return taken

    async def _eta(
        self, scope: str, limits: EndpointLimits, line: _Line, tokens: int
    ) -> tuple[float, str]:
        """Seconds until the RPM/TPM buckets refill enough for everyone in ``line`` and
        then this attempt, and which bucket takes longest (0 when only concurrency is
        limited: when a slot frees up is not known)."""
        eta, which = 0.0, "concurrency"
        if limits.rpm is not None:
            rate = limits.rpm / 60.0
            level = await self.store.level(scope + "|rpm", limits.rpm, rate)
            eta, which = max((eta, which), ((len(line.waiters) + 1 - level) / rate, "rpm"))
        if tokens and limits.tpm is not None:
            rate = limits.tpm / 60.0
            level = await self.store.level(scope + "|tpm", limits.tpm, rate)
            ahead = sum(w.tokens for w in line.waiters)
            eta, which = max((eta, which), ((ahead + tokens - level) / rate, "tpm"))
        return eta, which

    async def _wait_in_line(
        self,
        scope: str,
        endpoint: Endpoint,
        alias: str | None,
        limits: EndpointLimits,
        tokens: int,
    ) -> None:
        """Queue behind the attempts already waiting on this key, then wait as the first
        in line until everything is taken at once; RateLimited after ``max_wait``."""
        deadline = self.clock() + self.settings.max_wait
        line = self._lines.get(scope)
        if line is None:
            line = self._lines[scope] = _Line()
        eta, which = await self._eta(scope, limits, line, tokens)
        if eta > self.settings.max_wait:  # its turn cannot come in time
            if not line.waiters and self._lines.get(scope) is line:
                del self._lines[scope]
            raise self._refusal(endpoint, alias, limits, which, eta, tokens, queued=line)
        me = _Waiter(tokens)
        line.waiters.append(me)
        try:
            while line.waiters[0] is not me:
                left = deadline - self.clock()
                if left <= 0:
                    raise self._refusal(
                        endpoint, alias, limits, line.which, line.wait, tokens, queued=line
                    )
                with anyio.move_on_after(left):
                    await me.event.wait()
            while True:
                wait, which = await self._take_shielded(scope, limits, tokens)
                if not wait:
                    return
                line.wait, line.which = wait, which
                left = deadline - self.clock()
                if left <= 0 or (math.isfinite(wait) and wait > left):
                    raise self._refusal(endpoint, alias, limits, which, wait, tokens)
                if math.isfinite(wait):
                    await anyio.sleep(wait)
                else:
                    await self.store.released(scope + "|slots", left)
        finally:
            first = line.waiters[0] is me
            line.waiters.remove(me)
            if not line.waiters:
                if self._lines.get(scope) is line:
                    del self._lines[scope]
            elif first:
                line.waiters[0].event.set()  # the next one polls now

    async def _take(self, scope: str, limits: EndpointLimits, tokens: int) -> tuple[float, str]:
        """Everything or nothing: (0, "") when taken, else (seconds, which limit)."""
        store = self.store
        slots = limits.max_concurrency
        if slots is not None and not await store.acquire(scope + "|slots", slots):
            return math.inf, "concurrency"
        if limits.rpm is not None:
            wait = await store.take(scope + "|rpm", 1.0, limits.rpm, limits.rpm / 60.0)
            if wait:
                if slots is not None:
                    await store.release(scope + "|slots")
                return wait, "rpm"
        if tokens and limits.tpm is not None:
            wait = await store.take(scope + "|tpm", tokens, limits.tpm, limits.tpm / 60.0)
            if wait:
                if limits.rpm is not None:
                    await store.give(scope + "|rpm", 1.0, limits.rpm, limits.rpm / 60.0)
                if slots is not None:
                    await store.release(scope + "|slots")
                return wait, "tpm"
        return 0.0, ""

    @staticmethod
    def _refusal(
        endpoint: Endpoint,
        alias: str | None,
        limits: EndpointLimits,
        which: str,
        wait: float,
        tokens: int,
        queued: _Line | None = None,
    ) -> RateLimited:
        if which == "concurrency":
            what = f"max_concurrency = {limits.max_concurrency} requests at once"
        elif which == "rpm":
            what = f"rpm = {limits.rpm}"
        else:
            what = f"tpm = {limits.tpm}; this call may use ~{tokens} tokens"
        if queued is not None and queued.waiters:
            what += f"; {len(queued.waiters)} waiting ahead"
        finite = math.isfinite(wait)
        when = f"; room in {wait:.3g}s" if finite else ""
        return RateLimited(
            f"{who(endpoint.name, alias)} is at its local limit ({what}){when}",
            retry_after=wait if finite else None,
            endpoint=endpoint.name,
        )

    async def complete(self, call: Call) -> None:
        held = self._tickets.pop(id(call), None)
        if held is None:
            return
        usage = call.usage
        spent = usage.input_tokens + usage.output_tokens if usage is not None else held.tokens
        await self._settle(held, request_back=False, tokens_back=held.tokens - spent)

    async def abort(self, call: Call, error: OmniwireError | None) -> None:
        held = self._tickets.pop(id(call), None)
        if held is None:
            return
        usage = call.usage
        spent = usage.input_tokens + usage.output_tokens if usage is not None else 0
        sent = was_sent(call, bool(self._watched))
        await self._settle(held, request_back=not sent, tokens_back=held.tokens - spent)

    async def _settle(self, held: _Reservation, *, request_back: bool, tokens_back: int) -> None:
        if self.store.local:
            await self._give_back(held, request_back, tokens_back)
        else:
            with anyio.CancelScope(shield=True):
                await self._give_back(held, request_back, tokens_back)

    async def _give_back(self, held: _Reservation, request_back: bool, tokens_back: int) -> None:
        limits, scope, store = held.limits, held.scope, self.store
        if limits.max_concurrency is not None:
            await store.release(scope + "|slots")
        if request_back and limits.rpm is not None:
            await store.give(scope + "|rpm", 1.0, limits.rpm, limits.rpm / 60.0)
        if tokens_back and limits.tpm is not None:
            await store.give(scope + "|tpm", tokens_back, limits.tpm, limits.tpm / 60.0)
