"""Money: exact, never float.

A :class:`Cost` is a ``Decimal`` amount of a currency (USD unless a price table says
otherwise). Prices are quoted per million tokens, so a cost is an exact sum of
``tokens * price / 1_000_000`` terms; floats never enter.
"""

from __future__ import annotations

from decimal import Decimal

import attrs

__all__ = ["Cost", "ZERO"]


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
