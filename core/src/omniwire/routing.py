"""From a model name to the ordered candidates (endpoint x key) a call may try.

Resolution order for a requested model name:

1. a configured :class:`ModelRoute` of that name (a virtual model with targets);
2. ``endpoint:model`` — the endpoint (provider) named before the first colon;
3. the only endpoint, when exactly one is configured, with the name passed through;
4. otherwise :class:`~omniwire.errors.ConfigError` naming the model.

The kernel's default order is the route's target order, each target's keys rotated
round-robin so load spreads across a pool. Balancing strategies (plugins) reorder
candidates; see :class:`Strategy`.
"""

from __future__ import annotations

import itertools
from typing import Any, Iterable, Mapping, Protocol, Sequence

import attrs

from .endpoint import Endpoint, Key
from .errors import ConfigError, UnknownModel

__all__ = ["Candidate", "ModelRoute", "Router", "Strategy", "Target"]


@attrs.frozen
class Target:
    endpoint: str
    model: str

    @classmethod
    def parse(cls, spec: str) -> Target:
        endpoint, sep, model = spec.partition(":")
        if not sep or not endpoint or not model:
            raise ConfigError(f"target {spec!r} must be written provider:model")
        return cls(endpoint, model)


@attrs.frozen
class ModelRoute:
    """A model name clients ask for, served by one or more targets."""

    name: str
    targets: tuple[Target, ...]
    strategy: str = "priority"
    weights: tuple[float, ...] = ()
    options: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class Candidate:
    endpoint: Endpoint
    key: Key | None
    model: str
    weight: float = 1.0


class Strategy(Protocol):
    """Orders the candidates of one call; ``order`` runs per call, so it must be cheap.

    Plugins register a *factory* under ``name`` (``omniwire_register_strategies``); the
    stack calls ``factory(route)`` once per model route that names it. A strategy that
    also has the :class:`~omniwire.guard.Guard` methods (``admit``/``complete``/
    ``abort``) is told how every attempt went (for in-flight counts and latency).
    """

    def order(self, candidates: Sequence[Candidate]) -> Sequence[Candidate]: ...


class Router:
    def __init__(self, endpoints: Iterable[Endpoint], routes: Iterable[ModelRoute] = ()) -> None:
        self.endpoints: dict[str, Endpoint] = {}
        for e in endpoints:
            if e.name in self.endpoints:
                raise ConfigError(f"two providers are named {e.name!r}")
            self.endpoints[e.name] = e
        self.routes: dict[str, ModelRoute] = {}
        for r in routes:
            if r.name in self.routes:
                raise ConfigError(f"two models are named {r.name!r}")
            for t in r.targets:
                if t.endpoint not in self.endpoints:
                    raise ConfigError(
                        f"model {r.name!r} targets unknown provider {t.endpoint!r} "
                        f"(known: {', '.join(sorted(self.endpoints)) or 'none'})"
                    )
            self.routes[r.name] = r
        self._turn = {name: itertools.count() for name in self.endpoints}
        self._direct: dict[str, tuple[Target, ...]] = {}
        """Targets of names that are no route (``provider:model``, the only provider)."""

    def targets(self, model: str) -> tuple[ModelRoute | None, tuple[Target, ...]]:
        route = self.routes.get(model)
        if route is not None:
            return route, route.targets
        found = self._direct.get(model)
        if found is not None:
            return None, found
        prefix, sep, rest = model.partition(":")
        if sep and prefix in self.endpoints and rest:
            found = (Target(prefix, rest),)
        elif len(self.endpoints) == 1:
            found = (Target(next(iter(self.endpoints)), model),)
        if found is not None:
            if len(self._direct) < 4096:  # model names come from clients: bounded
                self._direct[model] = found
            return None, found
        known = sorted(self.routes) + [f"{e}:<model>" for e in sorted(self.endpoints)]
        raise UnknownModel(
            f"unknown model {model!r} (known: {', '.join(known) or 'no providers configured'})"
        )

    def candidates(self, model: str) -> list[Candidate]:
        route, targets = self.targets(model)
        weights = route.weights if route is not None and route.weights else ()
        out: list[Candidate] = []
        for i, target in enumerate(targets):
            endpoint = self.endpoints[target.endpoint]
            weight = float(weights[i]) if i < len(weights) else 1.0
            keys = endpoint.keys
            if not keys:
                out.append(Candidate(endpoint, None, target.model, weight))
                continue
            start = next(self._turn[endpoint.name]) % len(keys)
            for key in keys[start:] + keys[:start]:
                out.append(Candidate(endpoint, key, target.model, weight * key.weight))
        return out

    def model_names(self) -> list[str]:
        names = list(self.routes)
        for e in self.endpoints.values():
            names.extend(f"{e.name}:{m}" for m in e.models)
        return names
