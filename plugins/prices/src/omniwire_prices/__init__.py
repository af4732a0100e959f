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


# the last stack priced and its pricer: a process usually serves one stack, and the
# lookup by weak key (plus the import) cost more than the pricing (the pricer holds no
# reference to its stack, so this keeps nothing alive)
_last: tuple[Callable[[], Any], Any] = (lambda: None, None)


@hookimpl
def omniwire_price(call: Call, usage: Usage) -> Any:
    global _last
    stack = call.stack
    ref, pricer = _last
    if ref() is not stack:
        import weakref

        from .pricer import pricer_for

        pricer = pricer_for(stack)
        _last = (weakref.ref(stack), pricer)
    return pricer.price(call, usage)
