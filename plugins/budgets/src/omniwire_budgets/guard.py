"""The budget guard: reserve the worst case before an attempt, settle what it cost after.

``admit`` prices the worst case of the attempt (estimated input + ``max_tokens`` at list
price, through the stack's own price stage) and reserves it against every budget the
call falls under, atomically; a budget it does not fit raises
:class:`~omniwire.errors.BudgetExceeded` (HTTP 429) before a byte is sent.

``complete`` settles the reservation to ``call.cost`` (the price stage's result).
``abort`` settles it to the price of ``call.usage`` when usage was seen (streams cut
mid-way carry what was reported before the cut), else to the ``unseen_usage`` fallback,
and releases the rest:

* ``"input"`` (default): nothing when the provider answered with an HTTP error or the
  attempt was refused by another guard before sending; otherwise (cancelled, timed out,
  connection lost, stream cut before any usage) the estimated input at list price — the
  prompt was most likely processed, output unknown;
* ``"zero"``: nothing; ``"reserved"``: the whole reservation.

A success that reports no usage is charged its whole reservation.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TYPE_CHECKING, Any, Mapping

import attrs
from omniwire.errors import ConfigError, OmniwireError
from omniwire.model import TokenCountRequest, Usage
from omniwire.money import ZERO, Cost

from .estimate import DEFAULT_MAX_TOKENS, MEDIA_TOKENS, estimate_input_tokens, worst_case_usage
from .scopes import Limit, Scope, money, parse_limit, value_of, window_spec

if TYPE_CHECKING:
    from omniwire.call import Call
    from omniwire.routing import Candidate
    from omniwire.stack import Stack

__all__ = ["BudgetGuard", "BudgetGuardFactory", "BudgetSettings", "BudgetStatus"]

log = logging.getLogger("omniwire.budgets")

_STATE = "omniwire_budgets.reservation"
_SCOPE_CACHE = 10_000  # scopes kept built, per guard
_SETTINGS = {
    "backend",
    "path",
    "options",
    "limits",
    "default_max_tokens",
    "media_tokens",
    "estimate",
    "unseen_usage",
    "unpriced",
    "hold_seconds",
    "tenant_key",
}
ESTIMATES = ("heuristic", "count_tokens")
UNSEEN = ("input", "zero", "reserved")
UNPRICED = ("refuse", "allow")


def _choice(data: Mapping[str, Any], key: str, choices: tuple[str, ...]) -> str:
    value = data.get(key, choices[0])
    if value not in choices:
        raise ConfigError(f"budgets.{key}: expected one of {', '.join(choices)}, got {value!r}")
    return str(value)


def _positive_int(data: Mapping[str, Any], key: str, default: int) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"budgets.{key}: expected a positive integer, got {value!r}")
    return value


@attrs.frozen(slots=True)
class BudgetSettings:
    """The ``[budgets]`` section (every key optional; see docs/budgets.md)."""

    backend: Any = "memory"
    backend_options: Mapping[str, Any] = attrs.field(factory=dict)
    limits: tuple[Limit, ...] = ()
    default_max_tokens: int = DEFAULT_MAX_TOKENS
    media_tokens: int = MEDIA_TOKENS
    estimate: str = "heuristic"
    unseen_usage: str = "input"
    unpriced: str = "refuse"
    hold_seconds: float = 3600.0
    tenant_key: str = "tenant"

    @classmethod
    def parse(cls, data: Any) -> BudgetSettings:
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ConfigError("budgets: expected a table")
        unknown = set(data) - _SETTINGS
        if unknown:
            raise ConfigError(f"budgets: unknown setting {sorted(unknown)[0]!r}")
        backend = data.get("backend", "memory")
        if isinstance(backend, str) and not backend:
            raise ConfigError("budgets.backend: expected a backend name")
        options = dict(data.get("options") or {})
        if "path" in data:
            if not isinstance(data["path"], str):
                raise ConfigError("budgets.path: expected a string")
            options["path"] = data["path"]
        limits_data = data.get("limits", [])
        if not isinstance(limits_data, list):
            raise ConfigError("budgets.limits: expected an array of tables")
        hold = data.get("hold_seconds", 3600.0)
        if isinstance(hold, bool) or not isinstance(hold, (int, float)) or hold <= 0:
            raise ConfigError(f"budgets.hold_seconds: expected a positive number, got {hold!r}")
        tenant_key = data.get("tenant_key", "tenant")
        if not isinstance(tenant_key, str) or not tenant_key:
            raise ConfigError("budgets.tenant_key: expected a string")
        return cls(
            backend=backend,
            backend_options=options,
            limits=tuple(parse_limit(x, f"budgets.limits[{i}]") for i, x in enumerate(limits_data)),
            default_max_tokens=_positive_int(data, "default_max_tokens", DEFAULT_MAX_TOKENS),
            media_tokens=_positive_int(data, "media_tokens", MEDIA_TOKENS),
            estimate=_choice(data, "estimate", ESTIMATES),
            unseen_usage=_choice(data, "unseen_usage", UNSEEN),
            unpriced=_choice(data, "unpriced", UNPRICED),
            hold_seconds=float(hold),
            tenant_key=tenant_key,
        )


@attrs.frozen(slots=True)
class BudgetStatus:
    key: str
    window: str
    limit: Cost
    spent: Cost
    reserved: Cost


class _Held:
    """A reservation of the current attempt (kept in ``call.attributes``)."""

    __slots__ = ("rid", "amount", "estimate")

    def __init__(self, rid: str, amount: Cost, estimate: Usage) -> None:
        self.rid = rid
        self.amount = amount
        self.estimate = estimate


class BudgetGuard:
    """Enforces ``limits`` with ``backend`` (any object with the backend API)."""

    def __init__(
        self,
        backend: Any,
        limits: tuple[Limit, ...] | list[Limit],
        settings: BudgetSettings | None = None,
    ) -> None:
        self.backend = backend
        self.limits = tuple(limits)
        self.settings = settings or BudgetSettings()
        self._seen: dict[tuple[str, str], Scope] = {}
        self._scopes: dict[tuple[int, str], Scope] = {}
        # a backend whose books are plain memory says so (``instant = True``): its
        # reserve_now / settle_now never block, so they run without a coroutine or a
        # shielded scope (release is settle_now(rid, None))
        self._now: Any = backend if getattr(backend, "instant", False) is True else None

    # -- which budgets -----------------------------------------------------------------

    def scopes_for(self, call: Call, candidate: Candidate) -> list[Scope]:
        out: list[Scope] = []
        for i, limit in enumerate(self.limits):
            value = value_of(limit.per, call, candidate, self.settings.tenant_key)
            if value is None or (limit.name != "*" and limit.name != value):
                continue
            scope = self._scopes.get((i, value))
            if scope is None:
                scope = limit.scope(value)
                if len(self._scopes) < _SCOPE_CACHE:  # tenants and keys are unbounded
                    self._scopes[(i, value)] = scope
                self._seen.setdefault((scope.key, scope.window), scope)
            out.append(scope)
        return out

    # -- pricing -----------------------------------------------------------------------

    def price(self, call: Call, usage: Usage) -> Cost | None:
        """``usage`` priced by the stack's price stage (route overrides, tables...)."""
        found = call.stack.price(call, usage)
        if found is None or isinstance(found, Cost):
            return found
        return Cost(found)

    async def estimate(self, call: Call, candidate: Candidate) -> Usage:
        """The worst-case usage of this attempt."""
        request = call.request
        tokens: int | None = None
        if self.settings.estimate == "count_tokens":
            tokens = await self._count_tokens(call, candidate)
        if tokens is None:
            tokens = estimate_input_tokens(request, media_tokens=self.settings.media_tokens)
        return worst_case_usage(
            request, tokens, default_max_tokens=self.settings.default_max_tokens
        )

    async def _count_tokens(self, call: Call, candidate: Candidate) -> int | None:
        """Exact input tokens from the provider's count-tokens endpoint (a call through
        the same stack), or None when the endpoint has none or it fails."""
        from omniwire.codec import Family
        from omniwire.model import Request

        request = call.request
        if not isinstance(request, Request):
            return None
        cache_key = f"omniwire_budgets.count:{candidate.endpoint.name}:{candidate.model}"
        if cache_key in call.attributes:  # another key of the same target: same count
            cached: int = call.attributes[cache_key]
            return cached
        try:
            call.stack.codec_for(candidate.endpoint, Family.COUNT_TOKENS)
        except ConfigError:
            return None
        count = TokenCountRequest(
            f"{candidate.endpoint.name}:{candidate.model}", request.messages, request.tools
        )
        try:
            counted = await call.stack.call(count)
        except OmniwireError as exc:
            log.warning("count_tokens failed (%s); using the heuristic estimate", exc.kind)
            return None
        tokens = getattr(counted, "input_tokens", None)
        if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0:
            log.warning("count_tokens answered %r; using the heuristic estimate", tokens)
            return None
        call.attributes[cache_key] = tokens
        return tokens

    # -- the guard ---------------------------------------------------------------------

    async def admit(self, call: Call, candidate: Candidate) -> None:
        if call.operation == "count_tokens":
            return
        scopes = self.scopes_for(call, candidate)
        if not scopes:
            return
        estimate = await self.estimate(call, candidate)
        amount = self.price(call, estimate)
        if amount is None:
            if self.settings.unpriced == "refuse":
                raise ConfigError(
                    f"budgets need a price for {call.provider or '?'} model "
                    f"{candidate.model!r}: give the route a price = {{...}}, install "
                    "omniwire-prices, or set [budgets] unpriced = 'allow'",
                    retryable=True,
                )
            amount = ZERO
        deadline = time.time() + self.settings.hold_seconds
        if self._now is not None:  # an in-process backend: no await, nothing to cancel
            rid = self._now.reserve_now(scopes, amount, deadline)
        else:
            rid = await self.backend.reserve(scopes, amount, deadline)
        call.attributes[_STATE] = _Held(rid, amount, estimate)
        call.reserved = amount

    async def complete(self, call: Call) -> None:
        held: _Held | None = call.attributes.pop(_STATE, None)
        if held is None:
            return
        actual: Cost | None = None
        try:
            actual = call.cost
            if actual is None and call.usage is not None:
                actual = self.price(call, call.usage)
        except Exception:
            log.exception("pricing a completed call failed; charging its reservation")
        await self._settle(held, held.amount if actual is None else actual)

    async def abort(self, call: Call, error: OmniwireError | None) -> None:
        held: _Held | None = call.attributes.pop(_STATE, None)
        if held is None:
            return
        in_flight = sys.exc_info()[1]  # what the kernel is handling while it aborts us
        actual: Cost | None = None
        try:
            if call.usage is not None:
                actual = self.price(call, call.usage)
            if actual is None:
                actual = self._unseen(call, error, held, in_flight)
        except Exception:
            log.exception("pricing an aborted call failed; charging its reservation")
            actual = held.amount
        await self._settle(held, actual)

    def _unseen(self, call: Call, error: OmniwireError | None, held: _Held, in_flight: Any) -> Cost:
        """The charge for an attempt that failed before any usage was reported."""
        policy = self.settings.unseen_usage
        if policy == "zero":
            return ZERO
        if policy == "reserved":
            return held.amount
        if error is not None and call.status is not None and call.status >= 400:
            return ZERO  # the provider refused: it bills nothing
        if error is None and isinstance(in_flight, OmniwireError):
            return ZERO  # refused by a later guard, nothing was sent
        estimate = held.estimate
        return self.price(call, Usage(estimate.input_tokens, 0)) or ZERO

    async def _settle(self, held: _Held, actual: Cost) -> None:
        if self._now is not None:
            self._now.settle_now(held.rid, actual if actual.amount > 0 else None)
            return
        import anyio

        with anyio.CancelScope(shield=True):
            if actual.amount > 0:
                await self.backend.settle(held.rid, actual)
            else:
                await self.backend.release(held.rid)

    # -- reporting ---------------------------------------------------------------------

    async def report(self) -> list[BudgetStatus]:
        """Spend and holds of every budget this guard has seen a call for."""
        out = []
        for scope in list(self._seen.values()):
            spent = await self.backend.spent(scope)
            reserved = await self.backend.reserved(scope)
            out.append(BudgetStatus(scope.key, scope.window, scope.limit, spent, reserved))
        return out


class BudgetGuardFactory:
    """Plants a :class:`BudgetGuard` in stacks whose configuration asks for budgets: a
    ``[budgets]`` section with ``limits``, or routes with ``budget_usd`` (window: the
    route's ``options.budget_window``, default ``total``)."""

    name = "budgets"
    order = 1000  # after breakers and rate limits: a later refusal never wastes a hold

    def from_stack(self, stack: Stack) -> BudgetGuard | None:
        settings = BudgetSettings.parse(stack.options.get("budgets"))
        limits = list(settings.limits)
        for route in stack.router.routes.values():
            if "budget_usd" not in route.options:
                continue
            where = f"models[{route.name!r}]"
            limits.append(
                Limit(
                    "model",
                    money(route.options["budget_usd"], f"{where}.budget_usd"),
                    route.name,
                    window_spec(
                        route.options.get("budget_window", "total"),
                        f"{where}.options.budget_window",
                    ),
                )
            )
        if not limits:
            return None
        return BudgetGuard(self._backend(stack, settings), tuple(limits), settings)

    @staticmethod
    def _backend(stack: Stack, settings: BudgetSettings) -> Any:
        if not isinstance(settings.backend, str):
            return settings.backend  # an instance handed over in code
        factories = stack.pm.table("budget_backends")
        factory = factories.get(settings.backend)
        if factory is None:
            known = ", ".join(sorted(factories)) or "none installed"
            raise ConfigError(
                f"budgets.backend: unknown budget backend {settings.backend!r} (known: "
                f"{known}); install omniwire-budget-{settings.backend}"
            )
        try:
            return factory(**settings.backend_options)
        except TypeError as exc:
            raise ConfigError(
                f"budgets: backend {settings.backend!r} rejects its options: {exc}"
            ) from None
