"""Budgets price through the stack's price stage: with omniwire-prices installed, a
route's own ``price`` decides both the reservation and the settlement."""

from __future__ import annotations

from decimal import Decimal

import anyio
import pytest
from budgets_support import guard_of, plugin_manager
from budgets_toy import request
from omniwire import BudgetExceeded, Usage
from omniwire.money import Cost
from omniwire.stack import Stack

prices = pytest.importorskip("omniwire_prices")


def test_route_price_drives_reservation_and_settlement(btoy_server, tmp_path):
    btoy_server.responder.usage = Usage(100, 10)
    text = f"""
[budgets]
backend = "memory"

[[providers]]
name = "up"
protocol = "btoy.chat"
base_url = "{btoy_server.url}"

[[models]]
name = "m"
targets = ["up:btoy-1"]
budget_usd = 0.0005
price = {{ input_per_mtok = 1.5, output_per_mtok = 3 }}
"""
    pm = plugin_manager("memory")
    pm.register(prices, name="prices")
    stack = Stack.from_config(text, plugin_manager=pm)

    async def main():
        async with stack:
            first = await stack.invoke(request())
            second = await stack.invoke(request())
            with pytest.raises(BudgetExceeded):
                await stack.call(request())
            [status] = await guard_of(stack).report()
            return first, second, status

    first, second, status = anyio.run(main)
    # reserve 100 x 1.5 + 50 x 3 = 300 micro-$; settle 100 x 1.5 + 10 x 3 = 180
    assert first.reserved == Cost(Decimal("0.0003")) and first.cost == Cost(Decimal("0.00018"))
    assert status.spent == Cost(Decimal("0.00036"))  # a third reservation no longer fits
