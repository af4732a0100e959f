"""omniwire-strategy-random: ``strategy = "random"`` shuffles a route's candidates per call.

Random needs no shared state, so any number of processes spread load evenly without
talking to each other; the price is short-term unevenness that round-robin avoids.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Sequence

from omniwire.plugins import hookimpl

if TYPE_CHECKING:
    from omniwire.routing import Candidate, ModelRoute

__all__ = ["RandomStrategy"]


class RandomStrategy:
    """A uniform random order per call: the first is tried, the rest are the failover
    order. ``options = { seed = N }`` on the route makes the sequence reproducible."""

    name: ClassVar[str] = "random"

    def __init__(self, route: ModelRoute) -> None:
        self.route = route
        self._rng = random.Random(route.options.get("seed"))

    def order(self, candidates: Sequence[Candidate]) -> list[Candidate]:
        ordered = list(candidates)
        self._rng.shuffle(ordered)
        return ordered


@hookimpl
def omniwire_register_strategies(register: Callable[[Any], None]) -> None:
    register(RandomStrategy)
