"""omniwire-strategy-latency: ``strategy = "latency"`` prefers the candidates that have
been answering fastest.

Each candidate (provider x key x model) keeps a *peak EWMA* of its observed latency: a
slower observation replaces the average at once, a faster one pulls it down gradually
(time-weighted, ``latency_decay`` seconds). So a candidate that turns slow is avoided
immediately and trusted again only slowly. Its cost is that average times one plus its
requests in flight. Per call the strategy draws two candidates and puts the cheaper one
first ("power of two choices": near-best placement without herding every process onto
the one best candidate), then the rest by cost for failover.

Never-observed candidates cost nothing, so each gets tried early (warm-up). With
probability ``latency_probe`` a call goes to a uniformly random candidate instead, so a
slow candidate that has recovered is noticed. A failed attempt counts as an observation
of ``latency_penalty`` seconds (a fast error is not a fast answer); cancellations and
non-retryable errors (the caller's mistakes) are not observations. Latency is time to
the first streamed event for streams, time to the whole response otherwise.

Route options (``[[models]] options = {...}``): ``latency_probe`` (default 0.05),
``latency_decay`` (seconds, default 10), ``latency_penalty`` (seconds, default 5),
``seed`` (reproducible draws).
"""

from __future__ import annotations

import math
import random
import time
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Sequence

import attrs
from omniwire.errors import ConfigError
from omniwire.plugins import hookimpl

if TYPE_CHECKING:
    from omniwire.call import Call
    from omniwire.errors import OmniwireError
    from omniwire.routing import Candidate, ModelRoute

__all__ = ["LatencyStrategy", "Stat"]

Ident = tuple[str, str | None, str]


def ident(candidate: Candidate) -> Ident:
    key = candidate.key
    return (candidate.endpoint.name, key.alias if key is not None else None, candidate.model)


@attrs.define(slots=True)
class Stat:
    """What is known about one candidate: its peak EWMA (seconds), when it was last
    updated, whether it was ever observed, and how many of its attempts are running."""

    ewma: float = 0.0
    stamp: float = 0.0
    seen: bool = False
    pending: int = 0

    def cost(self) -> float:
        return self.ewma * (self.pending + 1) if self.seen else 0.0

    def observe(self, rtt: float, now: float, decay: float) -> None:
        if not self.seen or rtt >= self.ewma:
            self.ewma = rtt
            self.seen = True
        else:
            w = math.exp(-max(0.0, now - self.stamp) / decay)
            self.ewma = self.ewma * w + rtt * (1.0 - w)
        self.stamp = now


def _option(route: ModelRoute, name: str, default: float, *, upper: float | None = None) -> float:
    value = route.options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigError(f"model {route.name!r}: options.{name} must be a number >= 0")
    if upper is not None and value > upper:
        raise ConfigError(f"model {route.name!r}: options.{name} must be at most {upper}")
    return float(value)


class LatencyStrategy:
    """Power-of-two-choices over peak-EWMA latency, with occasional random probes."""

    name: ClassVar[str] = "latency"

    def __init__(
        self, route: ModelRoute, *, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.route = route
        self.probe = _option(route, "latency_probe", 0.05, upper=1.0)
        self.decay = _option(route, "latency_decay", 10.0) or 1e-9
        self.penalty = _option(route, "latency_penalty", 5.0)
        self._rng = random.Random(route.options.get("seed"))
        self._clock = clock
        self._stats: dict[Ident, Stat] = {}
        self._held: dict[int, tuple[Ident, float]] = {}

    def _stat(self, who: Ident) -> Stat:
        stat = self._stats.get(who)
        if stat is None:
            stat = self._stats[who] = Stat()
        return stat

    def order(self, candidates: Sequence[Candidate]) -> list[Candidate]:
        n = len(candidates)
        if n < 2:
            return list(candidates)
        stats = self._stats
        costs = []
        for c in candidates:
            stat = stats.get(ident(c))
            costs.append(stat.cost() if stat is not None else 0.0)
        rng = self._rng
        if rng.random() < self.probe:
            first = rng.randrange(n)
        else:
            a = rng.randrange(n)
            b = rng.randrange(n - 1)
            if b >= a:
                b += 1
            first = a if costs[a] <= costs[b] else b
        rest = sorted((i for i in range(n) if i != first), key=costs.__getitem__)
        return [candidates[first], *(candidates[i] for i in rest)]

    def snapshot(self) -> dict[Ident, Stat]:
        """Copies of the per-candidate statistics (for status pages and tests)."""
        return {who: attrs.evolve(stat) for who, stat in self._stats.items()}

    # -- guard seam: time every admitted attempt of this route ---------------------------

    async def admit(self, call: Call, candidate: Candidate) -> None:
        if call.request.model != self.route.name:
            return
        who = ident(candidate)
        self._stat(who).pending += 1
        self._held[id(call)] = (who, self._clock())

    async def complete(self, call: Call) -> None:
        held = self._held.pop(id(call), None)
        if held is None:
            return
        who, started = held
        now = self._clock()
        first = call.first_chunk_at
        answered = first if first is not None and first >= started else now
        stat = self._stat(who)
        stat.pending -= 1
        stat.observe(answered - started, now, self.decay)

    async def abort(self, call: Call, error: OmniwireError | None) -> None:
        held = self._held.pop(id(call), None)
        if held is None:
            return
        who, started = held
        stat = self._stat(who)
        stat.pending -= 1
        if error is not None and error.retryable:
            # an upstream failure; cancellations and the caller's own mistakes (400...)
            # say nothing about how fast this candidate is
            now = self._clock()
            stat.observe(max(now - started, self.penalty), now, self.decay)


@hookimpl
def omniwire_register_strategies(register: Callable[[Any], None]) -> None:
    register(LatencyStrategy)
