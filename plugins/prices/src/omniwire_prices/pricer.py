"""The price stage of one stack: overrides first, then the registered tables, then the
configured outcome for a model nobody prices.

Lookup order for a call (first hit wins):

1. the route's own ``price = {...}`` (``[[models]]`` in config, ``ModelRoute.options``
   in code), for whichever target served the call;
2. ``[[prices.models]]`` entries (``provider``, ``model`` and the same rate keys);
3. tables handed over in code (``options["prices"]["tables"]``), then every registered
   price table other than the default one, in registration order;
4. the default table (``omniwire-prices``).

Nothing found: ``[prices] unknown`` decides — ``"warn"`` (default: no cost, logged once
per model), ``"zero"`` (a zero cost, logged once per model) or ``"error"`` (refuse the
call before anything is sent; a ConfigError naming the model).
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import TYPE_CHECKING, Any, Callable, Mapping

from omniwire.errors import ConfigError
from omniwire.model import Usage
from omniwire.money import ZERO, Cost

from .data import DEFAULT_TABLE_NAME
from .table import ModelPrice, PriceTable, price_from_config, provider_key

if TYPE_CHECKING:
    from omniwire.call import Call
    from omniwire.routing import Candidate
    from omniwire.stack import Stack

__all__ = ["KnownPriceGuard", "Pricer", "PricesGuardFactory", "pricer_for"]

log = logging.getLogger("omniwire.prices")

UNKNOWN_OUTCOMES = ("warn", "zero", "error")
_SETTINGS = {"unknown", "models", "tables"}
_STANDARD_TIERS = {"default", "standard", "auto", "on_demand", "batch", "flex"}


def call_tier(call: Call) -> str | None:
    """The service tier a call was billed in: ``call.attributes["price_tier"]`` (set by
    whatever submits batches), else the tier the response reports, else the one the
    request asked for."""
    tier = call.attributes.get("price_tier")
    if tier is None:
        tier = getattr(call.response, "service_tier", None)
    if tier is None:
        tier = getattr(call.request, "service_tier", None)
    return tier.lower() if isinstance(tier, str) else None


class Pricer:
    """Resolves prices for one stack; built once (at stack build time, by the guard
    factory, or on the first priced call) and read-only afterwards."""

    def __init__(self, stack: Stack) -> None:
        settings = stack.options.get("prices") or {}
        if not isinstance(settings, Mapping):
            raise ConfigError("prices: expected a table")
        unknown_keys = set(settings) - _SETTINGS
        if unknown_keys:
            raise ConfigError(f"prices: unknown setting {sorted(unknown_keys)[0]!r}")
        self.unknown: str = settings.get("unknown", "warn")
        if self.unknown not in UNKNOWN_OUTCOMES:
            raise ConfigError(
                f"prices.unknown: expected one of {', '.join(UNKNOWN_OUTCOMES)}, "
                f"got {self.unknown!r}"
            )
        self.routes: dict[str, ModelPrice] = {}
        for route in stack.router.routes.values():
            spec = route.options.get("price")
            if spec is None:
                continue
            if isinstance(spec, ModelPrice):
                self.routes[route.name] = spec
            else:
                self.routes[route.name] = price_from_config(spec, f"models[{route.name!r}].price")
        entries = settings.get("models") or []
        if not isinstance(entries, list):
            raise ConfigError("prices.models: expected an array of tables")
        extra: dict[tuple[str, str], ModelPrice] = {}
        for i, entry in enumerate(entries):
            where = f"prices.models[{i}]"
            if not isinstance(entry, Mapping):
                raise ConfigError(f"{where}: expected a table")
            for field in ("provider", "model"):
                if not isinstance(entry.get(field), str) or not entry[field]:
                    raise ConfigError(f"{where}.{field}: required (a string)")
            extra[(provider_key(entry["provider"]), entry["model"])] = price_from_config(
                entry, where
            )
        self.extra = PriceTable("config", extra)
        code_tables = list(settings.get("tables") or ())
        for i, table in enumerate(code_tables):
            if not callable(getattr(table, "price", None)):
                raise ConfigError(f"prices.tables[{i}]: not a price table (no price method)")
        tables = getattr(stack, "price_tables", None)  # set early by the kernel since 0.1
        registered = list(tables if tables is not None else stack.pm.table("price_tables").values())
        default = [t for t in registered if _is_default(t)]
        others = [t for t in registered if not _is_default(t)]
        self.tables: list[Any] = [*code_tables, *others, *default]
        self._warned: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    # -- lookup -----------------------------------------------------------------------

    def find(self, call: Call, usage: Usage) -> Cost | None:
        """The cost of ``usage`` for the model ``call`` is on, or None if nobody prices
        it (no unknown-model outcome applied)."""
        tier = call_tier(call)
        if tier is not None and tier not in _STANDARD_TIERS:
            self._warn_once(("tier", tier), "no %s-tier rates recorded; priced at standard", tier)
        route = self.routes.get(getattr(call.request, "model", None) or "")
        if route is not None:
            return route.cost(usage, tier=tier)
        provider, model = call.provider or "", call.model or ""
        found = self.extra.price(provider, model, usage, tier=tier)
        if found is not None:
            return found
        for table in self.tables:
            if isinstance(table, PriceTable):
                cost = table.price(provider, model, usage, tier=tier)
            else:
                cost = table.price(provider, model, usage)
            if cost is not None:
                return cost if isinstance(cost, Cost) else Cost(cost)
        return None

    def knows(self, call: Call) -> bool:
        return self.find(call, Usage()) is not None

    def price(self, call: Call, usage: Usage) -> Cost | None:
        """The price stage: :meth:`find`, then the configured unknown-model outcome."""
        found = self.find(call, usage)
        if found is not None:
            return found
        provider, model = call.provider or "?", call.model or "?"
        if self.unknown == "error":
            raise unknown_model_error(provider, model)
        self._warn_once(
            (provider, model),
            "no price known for %s model %r: cost %s (set [prices] unknown, or give the "
            "route a price)",
            provider,
            model,
            "recorded as zero" if self.unknown == "zero" else "left unknown",
        )
        return ZERO if self.unknown == "zero" else None

    def _warn_once(self, key: tuple[str, str], message: str, *args: Any) -> None:
        with self._lock:
            if key in self._warned:
                return
            self._warned.add(key)
        log.warning(message, *args)


def unknown_model_error(provider: str, model: str) -> ConfigError:
    return ConfigError(
        f"no price known for {provider} model {model!r} and [prices] unknown = 'error': "
        "give the route a price = {input_per_mtok = ..., output_per_mtok = ...} "
        "or add a [[prices.models]] entry",
        retryable=True,  # another candidate of the route may be priced
    )


def _is_default(table: Any) -> bool:
    return isinstance(table, PriceTable) and table.name == DEFAULT_TABLE_NAME


_pricers: weakref.WeakKeyDictionary[Any, Pricer] = weakref.WeakKeyDictionary()
_pricers_lock = threading.Lock()
# the last stack asked for and its pricer: a process usually serves one stack, and a
# weak-key lookup costs more than the pricing (a pricer holds no reference to its
# stack, so this keeps nothing alive)
_last: tuple[Callable[[], Any], Pricer | None] = (lambda: None, None)


def pricer_for(stack: Stack) -> Pricer:
    """The stack's pricer, built on first use (config errors surface at build time when
    the guard factory runs, which every stack with auto guards does)."""
    global _last
    ref, found = _last
    if found is not None and ref() is stack:
        return found
    found = _pricers.get(stack)
    if found is None:
        built = Pricer(stack)
        with _pricers_lock:
            found = _pricers.setdefault(stack, built)
    _last = (weakref.ref(stack), found)
    return found


class KnownPriceGuard:
    """``[prices] unknown = "error"``: refuse an attempt on an unpriced model before a
    byte is sent (retryable, so a priced candidate of the same route is tried next)."""

    def __init__(self, pricer: Pricer) -> None:
        self.pricer = pricer

    async def admit(self, call: Call, candidate: Candidate) -> None:
        if not self.pricer.knows(call):
            raise unknown_model_error(call.provider or "?", candidate.model)

    async def complete(self, call: Call) -> None:
        return None

    async def abort(self, call: Call, error: Any) -> None:
        return None


class PricesGuardFactory:
    """Validates the stack's price configuration at build time; plants
    :class:`KnownPriceGuard` when unknown models must be refused."""

    name = "prices"
    order = 90

    def from_stack(self, stack: Stack) -> KnownPriceGuard | None:
        pricer = pricer_for(stack)
        return KnownPriceGuard(pricer) if pricer.unknown == "error" else None
