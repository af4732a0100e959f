"""Money: exact, never float.

A :class:`Cost` is a ``Decimal`` amount of a currency (USD unless a price table says
otherwise). Prices are quoted per million tokens, so a cost is an exact sum of
``tokens * price / 1_000_000`` terms; floats never enter.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

import attrs

__all__ = ["ZERO", "Cost", "cost_of", "limit_micros", "micros"]


def _decimal(value: object) -> Decimal:
    if isinstance(value, float):
        raise TypeError("money is never a float: pass a str, int or Decimal")
    return value if isinstance(value, Decimal) else Decimal(str(value))


@attrs.frozen(order=True)
class Cost:
    amount: Decimal = attrs.field(converter=_decimal)
    currency: str = "USD"

    def __add__(self, other: Cost) -> Cost:
        if other.currency != self.currency:
            raise ValueError(f"cannot add {other.currency} to {self.currency}")
        return Cost(self.amount + other.amount, self.currency)

    @property
    def micros(self) -> int:
        """Integer micro-units, rounded up (what a budget charges)."""
        return int((self.amount * 1_000_000).to_integral_value(rounding="ROUND_CEILING"))

    def __str__(self) -> str:
        return f"{self.amount.normalize():f} {self.currency}"


ZERO = Cost(Decimal(0))


def micros(cost: Cost) -> int:
    """What a budget charges for ``cost``: micro-units rounded up, never negative."""
    return max(cost.micros, 0)


def limit_micros(limit: Cost) -> int:
    """A limit in micro-units rounded down (a budget never allows more than it says)."""
    return int((limit.amount * 1_000_000).to_integral_value(rounding=ROUND_FLOOR))


def cost_of(amount: int) -> Cost:
    """Integer micro-units back to a Cost."""
    return Cost(Decimal(amount).scaleb(-6))
