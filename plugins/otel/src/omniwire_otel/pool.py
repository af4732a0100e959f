"""A stack's pool status (breakers, cooldowns, in-flight requests, RPM/TPM use) as
OpenTelemetry observable gauges.

The kernel has no pool-status hook; the status comes from whichever a stack offers,
found by duck typing (no plugin is imported): ``stack.pool_status()``, else the first
guard with ``pool_status(stack)`` (what omniwire-resilience's guards carry). A status is
an object with ``to_dict()`` or a mapping shaped
``{"endpoints": [{"name", "breaker", "retry_in", "failures", "keys": [{"alias",
"breaker", "retry_in", "failures", "in_flight", "dead", "rpm_used", "tpm_used"}]}]}``.

A synchronous source is read at every collection. An asynchronous one cannot be awaited
from a metric callback, so the gauges report the last snapshot: ``await
gauges.refresh()`` takes one, and the observer takes one (at most every
``min_interval`` seconds, on the running asyncio loop) when a call on that stack ends.
"""

from __future__ import annotations

import inspect
import time
import weakref
from typing import Any, Callable, Iterable, Mapping

__all__ = ["PoolGauges", "observe_pool", "watched"]

_WATCHED: weakref.WeakKeyDictionary[Any, PoolGauges] = weakref.WeakKeyDictionary()
_UP_STATES = frozenset({"closed", "off", "half_open"})


def watched(stack: Any) -> PoolGauges | None:
    """The gauges attached to ``stack``, if any (what the observer checks per call end)."""
    return _WATCHED.get(stack) if _WATCHED else None


def _find_source(stack: Any) -> Callable[[Any], Any] | None:
    own = getattr(type(stack), "pool_status", None)
    if callable(own):
        return lambda s: s.pool_status()
    for guard in getattr(stack, "guards", ()):
        method = getattr(guard, "pool_status", None)
        if callable(method):
            ref = weakref.ref(guard)

            def read(s: Any, _ref: Any = ref) -> Any:
                g = _ref()
                return None if g is None else g.pool_status(s)

            return read
    return None


def observe_pool(
    stack: Any, *, meter_provider: Any = None, min_interval: float = 5.0
) -> PoolGauges | None:
    """Export ``stack``'s pool status as gauges; None (nothing registered) when the stack
    offers no pool status."""
    source = _find_source(stack)
    if source is None:
        return None
    gauges = PoolGauges(stack, source, meter_provider=meter_provider, min_interval=min_interval)
    _WATCHED[stack] = gauges
    return gauges


# one gauge per key field: (field, unit, description)
_GAUGES = (
    ("available", "1", "1 when the key can be used now (circuit closed, no cooldown)."),
    ("in_flight", "{request}", "Requests in flight on the key."),
    ("retry_in", "s", "Seconds until the key is tried again."),
    ("failures", "{failure}", "Consecutive upstream failures counted against the key."),
    ("rpm_used", "{request}", "Requests used of the key's per-minute limit."),
    ("tpm_used", "{token}", "Tokens used of the key's per-minute limit."),
)


class PoolGauges:
    """The gauges of one stack. Holds the stack weakly: a collected stack reports nothing."""

    def __init__(
        self,
        stack: Any,
        source: Callable[[Any], Any],
        *,
        meter_provider: Any = None,
        min_interval: float = 5.0,
    ) -> None:
        from opentelemetry import metrics

        self._stack = weakref.ref(stack)
        self._source = source
        self.min_interval = min_interval
        self.snapshot: list[dict[str, Any]] = []
        self._taken = 0.0
        self._pending: Any = None
        meter = metrics.get_meter("omniwire.pool", "", meter_provider)
        for field, unit, description in _GAUGES:
            meter.create_observable_gauge(
                f"omniwire.pool.key.{field}",
                [self._metric(field)],
                unit=unit,
                description=description,
            )

    # -- reading -----------------------------------------------------------------------------

    def _read_now(self) -> list[dict[str, Any]]:
        stack = self._stack()
        if stack is None:
            return []
        result = self._source(stack)
        if inspect.isawaitable(result):
            close = getattr(result, "close", None)
            if close is not None:
                close()  # an async source: use the snapshot instead
            return self.snapshot
        return _rows(result)

    async def refresh(self) -> None:
        """Take a snapshot now (awaiting an asynchronous source)."""
        stack = self._stack()
        if stack is None:
            return
        result = self._source(stack)
        if inspect.isawaitable(result):
            result = await result
        self.snapshot = _rows(result)
        self._taken = time.monotonic()

    def maybe_refresh(self) -> None:
        """Schedule a snapshot on the running asyncio loop, at most every
        ``min_interval`` seconds; without an asyncio loop, do nothing."""
        now = time.monotonic()
        if now - self._taken < self.min_interval or self._pending is not None:
            return
        import asyncio

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._taken = now
        task = loop.create_task(self.refresh())
        self._pending = task

        def done(t: Any) -> None:
            self._pending = None
            if not t.cancelled():
                t.exception()  # consumed: a failed refresh keeps the last snapshot

        task.add_done_callback(done)

    def _metric(self, field: str) -> Callable[[Any], Iterable[Any]]:
        def callback(options: Any) -> Iterable[Any]:
            from opentelemetry.metrics import Observation

            try:
                rows = self._read_now()
            except Exception:
                return []
            out = []
            for row in rows:
                value = row.get(field)
                if value is not None:
                    out.append(Observation(value, row["attributes"]))
            return out

        return callback


def _rows(status: Any) -> list[dict[str, Any]]:
    """One row per key: its gauge values and attributes."""
    if status is None:
        return []
    data: Mapping[str, Any] = status.to_dict() if hasattr(status, "to_dict") else status
    rows = []
    for endpoint in data.get("endpoints", ()):
        for key in endpoint.get("keys", ()) or [{}]:
            state = key.get("breaker", endpoint.get("breaker", "off"))
            retry_in = float(key.get("retry_in") or 0.0)
            up = (
                state in _UP_STATES
                and retry_in == 0
                and not key.get("dead")
                and endpoint.get("breaker", "off") in _UP_STATES
                and not endpoint.get("killed")  # the resilience kill switch
            )
            attributes = {
                "omniwire.endpoint": endpoint.get("name", ""),
                "omniwire.breaker.state": state,
            }
            if key.get("alias") is not None:
                attributes["omniwire.key.alias"] = key["alias"]
            rows.append(
                {
                    "attributes": attributes,
                    "available": int(up),
                    "in_flight": key.get("in_flight"),
                    "retry_in": retry_in,
                    "failures": key.get("failures"),
                    "rpm_used": key.get("rpm_used"),
                    "tpm_used": key.get("tpm_used"),
                }
            )
    return rows
