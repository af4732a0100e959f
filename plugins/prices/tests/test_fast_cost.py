"""The common-shape fast path of ``ModelPrice.cost`` gives exactly what the general
arithmetic gives (value and representation)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st
from omniwire.model import Usage
from omniwire_prices.table import ModelPrice, Rates

rate = st.decimals(min_value=0, max_value=200, places=4, allow_nan=False, allow_infinity=False)
tokens = st.integers(min_value=-5, max_value=5_000_000)


class _General(ModelPrice):
    """The same price forced down the general path."""

    def cost(self, usage, *, tier=None):
        return ModelPrice.cost(
            ModelPrice(self.rates, self.tiers, self.batch, self.currency),
            Usage(
                usage.input_tokens,
                usage.output_tokens,
                usage.cache_read_tokens,
                usage.cache_write_tokens,
                usage.reasoning_tokens,
                details={"unrelated_detail": 0},  # any details: no fast path
            ),
            tier=tier,
        )


@given(
    rate,
    rate,
    st.none() | rate,
    st.none() | rate,
    tokens,
    tokens,
    tokens,
    tokens,
    st.sampled_from([None, "batch", "flex", "priority"]),
)
def test_fast_path_matches_general_arithmetic(i, o, r, w, tin, tout, tread, twrite, tier):
    price = ModelPrice(Rates(i, o, cache_read=r, cache_write=w))
    usage = Usage(tin, tout, max(tread, 0), max(twrite, 0))
    fast = price.cost(usage, tier=tier)
    general = _General(price.rates, price.tiers, price.batch).cost(usage, tier=tier)
    assert fast.amount == general.amount
    assert str(fast.amount) == str(general.amount)
    assert fast.currency == general.currency


def test_modal_rates_take_the_general_path():
    rates = Rates(Decimal("1"), Decimal("2"), input_modal={"audio": Decimal("10")})
    usage = Usage(1000, 0, details={"input_audio_tokens": 400})
    assert not rates.plain
    # 600 text tokens at 1 + 400 audio tokens at 10, per million
    assert ModelPrice(rates).cost(usage).amount == Decimal("0.0046")
