"""omniwire-prices: the default price table and the price stage that applies it.

Registers the ``omniwire-prices`` table (list prices of current OpenAI, Anthropic and
Gemini models; see :mod:`omniwire_prices.data` for sources and date), implements the
``omniwire_price`` stage (route and config overrides first, then tables, then the
configured outcome for unknown models) and a guard factory that validates the price
configuration when a stack is built. Import-light: the table is built on first use.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Callable

from omniwire.plugins import hookimpl

from .table import BATCH_TIERS, ModelPrice, PriceTable, Rates, Tier, model_candidates

if TYPE_CHECKING:
    from omniwire.call import Call
    from omniwire.model import Usage

__all__ = [
    "BATCH_TIERS",
    "ModelPrice",
    "PriceTable",
    "Rates",
    "Tier",
    "default_table",
    "model_candidates",
]


@functools.cache
def default_table() -> PriceTable:
    """The default table (built once per process)."""
    from .data import default_table as build

    return build()


@hookimpl
def omniwire_register_price_tables(register: Callable[[Any], None]) -> None:
    register(default_table())


@hookimpl
def omniwire_register_guards(register: Callable[[Any], None]) -> None:
    from .pricer import PricesGuardFactory

    register(PricesGuardFactory())


# bound on the first priced call: the pricer module (and its default table) stays
# unimported until a stack prices something, and no import statement runs per call
_pricer_for: Callable[[Any], Any] | None = None


@hookimpl
def omniwire_price(call: Call, usage: Usage) -> Any:
    global _pricer_for
    if _pricer_for is None:
        from .pricer import pricer_for

        _pricer_for = pricer_for
    return _pricer_for(call.stack).price(call, usage)
