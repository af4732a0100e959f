"""One process's connection to one Redis: a client per event loop, scripts by SHA, and
what to do while Redis does not answer.

* **Clients.** redis-py's asyncio connections belong to the event loop that opened
  them, and one process may run several loops (a ``SyncStack`` runs its own, tests run
  one per test), so each loop gets its own client.
* **No hang.** Sockets time out after ``timeout`` seconds and redis-py's own retries are
  off: a script that timed out may have run, and running it twice would hold a budget
  twice. After a failure every connection of the pool is dropped (a restarted Redis
  leaves them all stale) and Redis is not tried again for ``retry_interval`` seconds:
  meanwhile operations fail at once, without I/O.
* **Logged once per outage.** The first failure logs a warning naming the error, the
  first success after it logs the recovery; nothing in between.
* **Writes that must not be lost** (a budget settlement, a concurrency slot given back)
  are queued while Redis is down (up to ``MAX_PENDING``) and replayed in order before
  the first operation once Redis answers again. Both are safe to replay: a settlement of a
  reservation Redis has already settled is ignored, a slot count never goes below zero.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import threading
import time
import weakref
from typing import Any, NoReturn, Sequence
from urllib.parse import urlsplit, urlunsplit

import attrs
from omniwire.errors import OmniwireError

from .scripts import Script

__all__ = ["MAX_PENDING", "RedisLink", "StoreUnavailable", "close_clients", "link_for"]

log = logging.getLogger("omniwire.redis")

MAX_PENDING = 10_000


class StoreUnavailable(OmniwireError):
    """Redis (the shared state) did not answer, and the configuration says to refuse
    rather than go on without it (``[redis] on_error = "closed"``); or a report asked
    for state only Redis has. Not retryable: every candidate needs the same Redis."""

    kind = "store_unavailable"
    default_status = 503


def redact(url: str) -> str:
    """``url`` without its password (for logs and messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else "***@"
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


@attrs.define(slots=True)
class _Health:
    """Outage bookkeeping shared by every user of one link."""

    down_since: float | None = None
    retry_at: float = 0.0
    error: str = ""


class RedisLink:
    """Redis at ``url`` for this process. Use :func:`link_for` to share one per URL."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 1.0,
        retry_interval: float = 1.0,
        max_connections: int = 64,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.max_connections = max_connections
        self.retry_interval = retry_interval
        self.name = redact(url)
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )
        self._health = _Health()
        self._pending: collections.deque[tuple[Script, tuple[str, ...], tuple[Any, ...]]] = (
            collections.deque()
        )
        self._flushing = False
        self._lock = threading.Lock()
        self.failures = 0
        """Operations that failed since the link was made (for tests and status)."""

    # -- state ------------------------------------------------------------------------

    @property
    def down(self) -> bool:
        """Whether the last operation failed (Redis is presumed down)."""
        return self._health.down_since is not None

    @property
    def pending(self) -> int:
        """Queued writes waiting for Redis to come back."""
        return len(self._pending)

    def unavailable(self, what: str) -> StoreUnavailable:
        error = self._health.error or "not tried yet"
        return StoreUnavailable(f"Redis at {self.name} is unavailable ({error}); {what}")

    # -- clients ----------------------------------------------------------------------

    def client(self) -> Any:
        """This event loop's client (made on first use)."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is not None:
            return client
        with self._lock:  # loops of several threads (SyncStack) share the link
            client = self._clients.get(loop)
            if client is not None:
                return client
            import redis.asyncio
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff

            for other in [lp for lp in self._clients if lp.is_closed()]:
                del self._clients[other]
            # at most max_connections per loop; a busy process queues for one rather
            # than failing (redis-py's default pool raises past its size)
            pool = redis.asyncio.BlockingConnectionPool.from_url(
                self.url,
                max_connections=self.max_connections,
                timeout=max(5.0, 5 * self.timeout),
                socket_timeout=self.timeout,
                socket_connect_timeout=self.timeout,
                retry=Retry(NoBackoff(), 0),
            )
            client = redis.asyncio.Redis(connection_pool=pool)
            self._clients[loop] = client
        return client

    async def aclose(self) -> None:
        """Close this event loop's client (others close with their loops)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        client = self._clients.pop(loop, None)
        if client is not None:
            await client.aclose()

    # -- operations -------------------------------------------------------------------

    async def run(
        self,
        script: Script,
        keys: Sequence[str],
        args: Sequence[Any],
        *,
        what: str,
        replay: bool = False,
    ) -> Any:
        """Run ``script`` atomically; :class:`StoreUnavailable` when Redis does not
        answer (``what`` says what could not be done). ``replay``: queue it on failure
        and run it once Redis is back."""
        try:
            self._gate(what)
            await self._flush()
            result = await self._eval(script, keys, args, what)
        except StoreUnavailable:
            if replay:
                self._queue(script, tuple(keys), tuple(args))
            raise
        return result

    async def command(self, name: str, *args: Any, what: str) -> Any:
        """One plain command (``GET``, ``HGETALL``...)."""
        self._gate(what)
        await self._flush()
        client = self.client()
        try:
            result = await client.execute_command(name, *args)
        except Exception as exc:
            await self._failed(exc, what)
        self._ok()
        return result

    def _gate(self, what: str) -> None:
        health = self._health
        if health.down_since is not None and time.monotonic() < health.retry_at:
            self.failures += 1
            raise self.unavailable(what)

    async def _eval(
        self, script: Script, keys: Sequence[str], args: Sequence[Any], what: str
    ) -> Any:
        from redis.exceptions import NoScriptError

        client = self.client()
        try:
            try:
                result = await client.evalsha(script.sha, len(keys), *keys, *args)
            except NoScriptError:
                result = await client.eval(script.source, len(keys), *keys, *args)
        except Exception as exc:
            await self._failed(exc, what)
        self._ok()
        return result

    async def _failed(self, exc: BaseException, what: str) -> NoReturn:
        """Record a failure (log it if it starts an outage) and raise StoreUnavailable;
        anything that is not a Redis or socket error is re-raised as it is."""
        from redis.exceptions import RedisError

        if not isinstance(exc, (RedisError, OSError, asyncio.TimeoutError)):
            raise exc
        self.failures += 1
        health = self._health
        health.error = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        health.retry_at = time.monotonic() + self.retry_interval
        if health.down_since is None:
            health.down_since = time.monotonic()
            log.warning(
                "Redis at %s does not answer (%s); shared budgets, limits, breakers and "
                "cache follow [redis] on_error until it does",
                self.name,
                health.error,
            )
        client = self._clients.get(asyncio.get_running_loop())
        if client is not None:
            with contextlib.suppress(Exception):  # a restarted Redis leaves them all stale
                await client.connection_pool.disconnect()
        raise self.unavailable(what) from None

    def _ok(self) -> None:
        health = self._health
        if health.down_since is not None:
            log.warning(
                "Redis at %s answers again after %.1fs",
                self.name,
                time.monotonic() - health.down_since,
            )
            health.down_since = None
            health.error = ""

    def _queue(self, script: Script, keys: tuple[str, ...], args: tuple[Any, ...]) -> None:
        if len(self._pending) >= MAX_PENDING:
            dropped = self._pending.popleft()
            log.error("Redis at %s: dropped a queued %s (queue full)", self.name, dropped[0].name)
        self._pending.append((script, keys, args))

    async def _flush(self) -> None:
        """Replay queued writes in order, before anything newer; stop (keeping the
        rest) at the first failure."""
        if not self._pending or self._flushing:
            return
        self._flushing = True
        try:
            while self._pending:
                script, keys, args = self._pending[0]
                try:
                    await self._eval(script, keys, args, f"replaying {script.name}")
                except StoreUnavailable:
                    return
                self._pending.popleft()
        finally:
            self._flushing = False


_links: dict[tuple[str, float, float, int], RedisLink] = {}
_links_lock = threading.Lock()


def link_for(
    url: str, *, timeout: float = 1.0, retry_interval: float = 1.0, max_connections: int = 64
) -> RedisLink:
    """The process's link to ``url`` (one per URL and connection settings, so every
    component sees the same outage, logged once)."""
    key = (url, timeout, retry_interval, max_connections)
    with _links_lock:
        found = _links.get(key)
        if found is None:
            found = _links[key] = RedisLink(
                url, timeout=timeout, retry_interval=retry_interval, max_connections=max_connections
            )
    return found


async def close_clients() -> None:
    """Close every link's client of the running event loop (stacks have no hook that
    closes guards or budget backends: call this before leaving a loop you are done
    with, e.g. at the end of a test)."""
    for link in list(_links.values()):
        await link.aclose()
