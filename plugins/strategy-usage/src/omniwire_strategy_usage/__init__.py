"""omniwire-strategy-usage: ``strategy = "usage"`` sends each call to the key with the
most rate-limit headroom left this minute.

Headroom is the smaller of ``1 - requests/rpm`` and ``1 - tokens/tpm`` over the last 60
seconds, with the provider's ``rpm``/``tpm`` (per key, as in the config file); a provider
with neither has full headroom. Ties go to the key with fewer recent requests. Requests
are counted when an attempt is admitted (and uncounted if it ends without an outcome:
refused by a later guard, or cancelled), tokens when it ends (the usage the provider
reported). Unlike the other strategies it counts *every* attempt on a key, whichever
model name the call used, because a provider's limit is per key. Counts are per process;
enforcing limits is the resilience plugin's job, this only steers traffic away from them.
"""

from __future__ import annotations

import collections
import time
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Sequence

import attrs
from omniwire.errors import ConfigError
from omniwire.plugins import hookimpl

if TYPE_CHECKING:
    from omniwire.call import Call
    from omniwire.endpoint import Endpoint
    from omniwire.errors import OmniwireError
    from omniwire.routing import Candidate, ModelRoute

__all__ = ["KeyUse", "UsageStrategy"]

WINDOW = 60.0
KeyId = tuple[str, str | None]


@attrs.define(slots=True)
class KeyUse:
    """One key's requests and tokens within the window (oldest first)."""

    requests: collections.deque[float] = attrs.Factory(collections.deque)
    tokens: collections.deque[tuple[float, int]] = attrs.Factory(collections.deque)
    token_sum: int = 0

    def prune(self, now: float) -> None:
        horizon = now - WINDOW
        requests, tokens = self.requests, self.tokens
        while requests and requests[0] <= horizon:
            requests.popleft()
        while tokens and tokens[0][0] <= horizon:
            self.token_sum -= tokens.popleft()[1]


def _limit(endpoint: Endpoint, name: str) -> float | None:
    value = endpoint.options.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError(f"provider {endpoint.name!r}: {name} must be a positive number")
    return float(value)


class UsageStrategy:
    """Most headroom first, per key."""

    name: ClassVar[str] = "usage"

    def __init__(self, route: ModelRoute, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.route = route
        self._clock = clock
        self._use: dict[KeyId, KeyUse] = {}
        self._limits: dict[str, tuple[float | None, float | None]] = {}
        self._held: dict[int, tuple[KeyId, float]] = {}

    def _limits_of(self, endpoint: Endpoint) -> tuple[float | None, float | None]:
        found = self._limits.get(endpoint.name)
        if found is None:
            found = self._limits[endpoint.name] = (
                _limit(endpoint, "rpm"),
                _limit(endpoint, "tpm"),
            )
        return found

    def headroom(self, candidate: Candidate, now: float | None = None) -> tuple[float, int]:
        """(fraction of the tighter limit still free, requests in the window)."""
        now = self._clock() if now is None else now
        key = candidate.key
        use = self._use.get((candidate.endpoint.name, key.alias if key is not None else None))
        requests = tokens = 0
        if use is not None:
            use.prune(now)
            requests, tokens = len(use.requests), use.token_sum
        rpm, tpm = self._limits_of(candidate.endpoint)
        room = 1.0
        if rpm is not None:
            room = min(room, 1.0 - requests / rpm)
        if tpm is not None:
            room = min(room, 1.0 - tokens / tpm)
        return room, requests

    def order(self, candidates: Sequence[Candidate]) -> list[Candidate]:
        if len(candidates) < 2:
            return list(candidates)
        now = self._clock()
        scored = []
        for i, candidate in enumerate(candidates):
            room, requests = self.headroom(candidate, now)
            scored.append((-room, requests, i))
        scored.sort()
        return [candidates[i] for _, _, i in scored]

    # -- guard seam: count requests at admission, tokens at the end ---------------------

    def _use_of(self, key: KeyId) -> KeyUse:
        use = self._use.get(key)
        if use is None:
            use = self._use[key] = KeyUse()
        return use

    async def admit(self, call: Call, candidate: Candidate) -> None:
        key = candidate.key
        who = (candidate.endpoint.name, key.alias if key is not None else None)
        stamp = self._clock()
        self._use_of(who).requests.append(stamp)
        self._held[id(call)] = (who, stamp)

    async def complete(self, call: Call) -> None:
        self._settle(call)

    async def abort(self, call: Call, error: OmniwireError | None) -> None:
        held = self._held.get(id(call))
        if error is None and held is not None:
            # refused by a later guard (or cancelled): most likely never sent
            who, stamp = held
            requests = self._use_of(who).requests
            if requests and requests[-1] == stamp:
                requests.pop()
            elif stamp in requests:
                requests.remove(stamp)
        self._settle(call)

    def _settle(self, call: Call) -> None:
        held = self._held.pop(id(call), None)
        usage = call.usage
        if held is None or usage is None:
            return
        who = held[0]
        spent = usage.input_tokens + usage.output_tokens
        if spent > 0:
            use = self._use_of(who)
            use.tokens.append((self._clock(), spent))
            use.token_sum += spent


@hookimpl
def omniwire_register_strategies(register: Callable[[Any], None]) -> None:
    register(UsageStrategy)
