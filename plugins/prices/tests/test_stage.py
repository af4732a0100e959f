"""The price stage in a real stack: default table, route and config overrides, tables in
code, service tiers, and the configured outcome for unknown models."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import anyio
import omniwire_prices
import pytest
from omniwire import ConfigError, Endpoint, Request
from omniwire.money import ZERO, Cost
from omniwire.plugins import PluginManager, hookimpl
from omniwire.routing import ModelRoute, Target
from omniwire.stack import Stack
from omniwire_prices import ModelPrice, PriceTable, Rates
from prices_toy import PToyPlugin


def pm(*extra: Any) -> PluginManager:
    manager = PluginManager(entry_points=False)
    manager.register(PToyPlugin(), name="ptoy")
    manager.register(omniwire_prices, name="prices")
    for i, plugin in enumerate(extra):
        manager.register(plugin, name=f"extra-{i}")
    return manager


def stack(url: str, *, routes=(), options=None, plugins=()) -> Stack:
    return Stack(
        [Endpoint("up", "ptoy.chat", url, keys=("sk-ptoy-key-0001",))],
        routes=routes,
        plugin_manager=pm(*plugins),
        options=options or {},
    )


def invoke(s: Stack, request: Request):
    async def main():
        async with s:
            return await s.invoke(request)

    return anyio.run(main)


def test_default_table_prices_the_call(ptoy_server):
    call = invoke(stack(ptoy_server.url), Request.simple("up:gpt-4o-2024-08-06", "hi"))
    assert call.cost == Cost(Decimal("0.04"))  # 6,000 x 2.50 + 4,000 x 1.25 + 2,000 x 10


def test_flex_tier_is_billed_at_batch_rates(ptoy_server):
    ptoy_server.usage = {"in": 1_000_000, "out": 1_000_000}
    call = invoke(stack(ptoy_server.url), Request.simple("up:gpt-5", "hi", service_tier="flex"))
    assert call.cost == Cost(Decimal("5.625"))


def test_route_price_from_config_overrides_the_table(ptoy_server):
    text = f"""
[[providers]]
name = "up"
protocol = "ptoy.chat"
base_url = "{ptoy_server.url}"

[[models]]
name = "cheap"
targets = ["up:gpt-4o"]
price = {{ input_per_mtok = 1, output_per_mtok = 2.5, cached_input_per_mtok = 0.1 }}
"""
    s = Stack.from_config(text, plugin_manager=pm())
    call = invoke(s, Request.simple("cheap", "hi"))
    # 6,000 x 1 + 4,000 x 0.1 + 2,000 x 2.5 = 6,000 + 400 + 5,000
    assert call.cost == Cost(Decimal("0.0114"))


def test_config_models_extend_the_table(ptoy_server):
    options = {
        "prices": {
            "models": [
                {
                    "provider": "openai",
                    "model": "ft:gpt-4o-mini:acme::x1",
                    "input_per_mtok": "0.30",
                    "output_per_mtok": "1.20",
                }
            ]
        }
    }
    call = invoke(
        stack(ptoy_server.url, options=options), Request.simple("up:ft:gpt-4o-mini:acme::x1", "x")
    )
    assert call.cost == Cost(Decimal("0.0054"))  # 10,000 x 0.30 + 2,000 x 1.20


def test_tables_in_code_and_from_plugins_come_before_the_default(ptoy_server):
    mine = PriceTable("mine", {("openai", "gpt-4o"): ModelPrice(Rates("1", "1"))})
    call = invoke(
        stack(ptoy_server.url, options={"prices": {"tables": [mine]}}),
        Request.simple("up:gpt-4o", "x"),
    )
    assert call.cost == Cost(Decimal("0.012"))

    class Flat:
        name = "flat"

        def price(self, provider, model, usage):
            return Cost("0.5") if model == "gpt-4o" else None

    class Plugin:
        @hookimpl
        def omniwire_register_price_tables(self, register):
            register(Flat())

    call = invoke(stack(ptoy_server.url, plugins=[Plugin()]), Request.simple("up:gpt-4o", "x"))
    assert call.cost == Cost("0.5")


def test_unknown_model_warns_once_and_has_no_cost(ptoy_server, caplog):
    s = stack(ptoy_server.url)

    async def main():
        async with s:
            return [await s.invoke(Request.simple("up:my-model", "x")) for _ in range(2)]

    with caplog.at_level(logging.WARNING, logger="omniwire.prices"):
        calls = anyio.run(main)
    assert [c.cost for c in calls] == [None, None]
    warnings = [r.getMessage() for r in caplog.records if r.name == "omniwire.prices"]
    assert len(warnings) == 1 and "no price known for openai model 'my-model'" in warnings[0]


def test_unknown_model_can_count_as_zero(ptoy_server, caplog):
    with caplog.at_level(logging.WARNING, logger="omniwire.prices"):
        call = invoke(
            stack(ptoy_server.url, options={"prices": {"unknown": "zero"}}),
            Request.simple("up:my-model", "x"),
        )
    assert call.cost == ZERO
    assert any("recorded as zero" in r.getMessage() for r in caplog.records)


def test_unknown_model_can_be_refused_before_sending(ptoy_server):
    s = stack(ptoy_server.url, options={"prices": {"unknown": "error"}})
    with pytest.raises(ConfigError, match="no price known for openai model 'my-model'"):
        invoke(s, Request.simple("up:my-model", "x"))
    assert ptoy_server.requests == []


def test_refusal_of_an_unpriced_target_fails_over_to_a_priced_one(ptoy_server):
    route = ModelRoute("m", (Target("up", "my-model"), Target("up", "gpt-4o")))
    s = stack(ptoy_server.url, routes=[route], options={"prices": {"unknown": "error"}})
    call = invoke(s, Request.simple("m", "x"))
    assert [a.model for a in call.attempts] == ["my-model", "gpt-4o"]
    assert call.cost == Cost(Decimal("0.04"))
    assert [r["model"] for r in ptoy_server.requests] == ["gpt-4o"]


@pytest.mark.parametrize(
    ("options", "routes", "message"),
    [
        ({"prices": {"unknown": "guess"}}, (), "prices.unknown"),
        ({"prices": {"colour": 1}}, (), "unknown setting 'colour'"),
        ({"prices": {"models": [{"provider": "openai"}]}}, (), r"prices.models\[0\].model"),
        (
            {},
            (ModelRoute("m", (Target("up", "x"),), options={"price": {"input_per_mtok": 1}}),),
            "output_per_mtok: required",
        ),
        (
            {},
            (
                ModelRoute(
                    "m",
                    (Target("up", "x"),),
                    options={"price": {"input_per_mtok": -1, "output_per_mtok": 1}},
                ),
            ),
            "non-negative",
        ),
    ],
)
def test_configuration_errors_surface_when_the_stack_is_built(
    ptoy_server, options, routes, message
):
    with pytest.raises(ConfigError, match=message):
        stack(ptoy_server.url, routes=routes, options=options)


def test_stacks_priced_in_turn_each_keep_their_own_prices(ptoy_server):
    """The stage remembers the last stack's pricer; stacks that take turns (and one
    that is gone) still get their own prices."""
    import gc

    def priced(per_mtok: float) -> Stack:
        route = ModelRoute(
            "m", (Target("up", "gpt-4o"),), options={"price": ModelPrice(Rates(per_mtok, 0))}
        )
        return stack(ptoy_server.url, routes=[route])

    async def main():
        one, two = priced(1.0), priced(2.0)
        async with one, two:
            costs = []
            for s in (one, two, one, two):
                costs.append((await s.invoke(Request.simple("m", "hi"))).cost)
        del one
        gc.collect()
        async with priced(3.0) as three:
            costs.append((await three.invoke(Request.simple("m", "hi"))).cost)
        return costs

    ptoy_server.usage = {"in": 1_000_000, "out": 0}
    costs = anyio.run(main)
    assert costs == [Cost(Decimal(x)) for x in ("1", "2", "1", "2", "3")]
