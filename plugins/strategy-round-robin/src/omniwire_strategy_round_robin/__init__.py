"""omniwire-strategy-round-robin: ``strategy = "round-robin"`` takes every provider x key
of a route in turn, so over N calls each of N candidates goes first exactly once.

The kernel's router already rotates the keys of each target between calls; this
strategy first puts the candidates back in configuration order (so that rotation does
not interfere) and then rotates the whole list by one per call.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Sequence

from omniwire.plugins import hookimpl

if TYPE_CHECKING:
    from omniwire.routing import Candidate, ModelRoute

__all__ = ["RoundRobinStrategy"]

_Ident = tuple[str, str | None, str]


class RoundRobinStrategy:
    """Strict rotation in configuration order (targets in order, keys in pool order)."""

    name: ClassVar[str] = "round-robin"

    def __init__(self, route: ModelRoute) -> None:
        self.route = route
        self._turn = itertools.count()
        self._targets: dict[tuple[str, str], int] = {}
        for i, target in enumerate(route.targets):
            self._targets.setdefault((target.endpoint, target.model), i)
        self._rank: dict[_Ident, tuple[int, int]] = {}

    def _rank_of(self, candidate: Candidate) -> tuple[int, int]:
        alias = candidate.key.alias if candidate.key is not None else None
        ident = (candidate.endpoint.name, alias, candidate.model)
        rank = self._rank.get(ident)
        if rank is None:
            target = self._targets.get((candidate.endpoint.name, candidate.model), 0)
            aliases = [k.alias for k in candidate.endpoint.keys]
            rank = (target, aliases.index(alias) if alias in aliases else 0)
            self._rank[ident] = rank
        return rank

    def order(self, candidates: Sequence[Candidate]) -> list[Candidate]:
        ranked = sorted(candidates, key=self._rank_of)
        if not ranked:
            return ranked
        start = next(self._turn) % len(ranked)
        return ranked[start:] + ranked[:start]


@hookimpl
def omniwire_register_strategies(register: Callable[[Any], None]) -> None:
    register(RoundRobinStrategy)
