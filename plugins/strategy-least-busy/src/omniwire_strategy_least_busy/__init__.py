"""omniwire-strategy-least-busy: ``strategy = "least-busy"`` sends each call to the
candidate with the fewest requests of this route in flight.

In-flight counts come from the guard seam: the strategy is told about every attempt the
stack admits and how it ended (``complete``/``abort``, which the kernel guarantees once
per admitted attempt, also on cancellation), so a count can never drift. Ties rotate, so
an idle pool is used evenly. Counts are per process.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Sequence

from omniwire.plugins import hookimpl

if TYPE_CHECKING:
    from omniwire.call import Call
    from omniwire.errors import OmniwireError
    from omniwire.routing import Candidate, ModelRoute

__all__ = ["LeastBusyStrategy"]

Ident = tuple[str, str | None, str]
"""(provider, key alias, upstream model): what one candidate is."""


def ident(candidate: Candidate) -> Ident:
    key = candidate.key
    return (candidate.endpoint.name, key.alias if key is not None else None, candidate.model)


class LeastBusyStrategy:
    """Fewest in-flight first; on a tie, the candidates take turns."""

    name: ClassVar[str] = "least-busy"

    def __init__(self, route: ModelRoute) -> None:
        self.route = route
        self._busy: dict[Ident, int] = {}
        self._held: dict[int, Ident] = {}
        self._turn = itertools.count()

    def order(self, candidates: Sequence[Candidate]) -> list[Candidate]:
        n = len(candidates)
        if n < 2:
            return list(candidates)
        start = next(self._turn) % n
        rotated = [*candidates[start:], *candidates[:start]]
        busy = self._busy
        if not busy:
            return rotated
        return sorted(rotated, key=lambda c: busy.get(ident(c), 0))

    def in_flight(self) -> dict[Ident, int]:
        """A snapshot of the non-zero in-flight counts (for status pages and tests)."""
        return dict(self._busy)

    # -- guard seam: every admitted attempt is completed or aborted exactly once ----------

    async def admit(self, call: Call, candidate: Candidate) -> None:
        if call.request.model != self.route.name:
            return
        who = ident(candidate)
        self._busy[who] = self._busy.get(who, 0) + 1
        self._held[id(call)] = who

    async def complete(self, call: Call) -> None:
        self._release(call)

    async def abort(self, call: Call, error: OmniwireError | None) -> None:
        self._release(call)

    def _release(self, call: Call) -> None:
        who = self._held.pop(id(call), None)
        if who is None:
            return
        left = self._busy[who] - 1
        if left:
            self._busy[who] = left
        else:
            del self._busy[who]


@hookimpl
def omniwire_register_strategies(register: Callable[[Any], None]) -> None:
    register(LeastBusyStrategy)
