"""omniwire-strategy-weighted: ``strategy = "weighted"`` picks the first candidate at
random in proportion to its weight, and orders the rest the same way for failover.

A route's ``weights`` share traffic between its *targets*; a key's ``weight`` shares a
target's traffic between that provider's keys. So ``weights = [3, 1]`` sends 75% to the
first target whatever the size of its key pool. A weight of 0 is never tried first, only
as a last resort.
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Sequence

from omniwire.plugins import hookimpl

if TYPE_CHECKING:
    from omniwire.endpoint import Endpoint
    from omniwire.routing import Candidate, ModelRoute

__all__ = ["WeightedStrategy"]


class WeightedStrategy:
    """Weighted random order without replacement (each candidate draws an exponential
    variate of rate = its weight; smallest first), one pass over the candidates.
    ``options = { seed = N }`` on the route makes the sequence reproducible."""

    name: ClassVar[str] = "weighted"

    def __init__(self, route: ModelRoute) -> None:
        self.route = route
        self._rng = random.Random(route.options.get("seed"))
        self._pool_weight: dict[str, float] = {}

    def _share(self, candidate: Candidate) -> float:
        """The candidate's weight with its key weight taken as a share of its pool's."""
        endpoint: Endpoint = candidate.endpoint
        total = self._pool_weight.get(endpoint.name)
        if total is None:
            total = float(sum(max(0, k.weight) for k in endpoint.keys)) or 1.0
            self._pool_weight[endpoint.name] = total
        return max(0.0, candidate.weight) / total

    def order(self, candidates: Sequence[Candidate]) -> list[Candidate]:
        draw = self._rng.random
        keyed = []
        for i, candidate in enumerate(candidates):
            weight = self._share(candidate)
            rank = -math.log(1.0 - draw()) / weight if weight > 0 else math.inf
            keyed.append((rank, i))
        keyed.sort()
        return [candidates[i] for _, i in keyed]


@hookimpl
def omniwire_register_strategies(register: Callable[[Any], None]) -> None:
    register(WeightedStrategy)
