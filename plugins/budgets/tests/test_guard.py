"""Reserve before sending, settle after: failures, cancellations and cut streams leave
nothing held; refusals send nothing."""

from __future__ import annotations

from decimal import Decimal

import anyio
import pytest
from budgets_support import BACKENDS, build, guard_of, plugin_manager
from budgets_toy import request
from omniwire import BudgetExceeded, ConfigError, Endpoint, UpstreamError, Usage
from omniwire.money import ZERO, Cost
from omniwire.stack import Stack

CALL = Cost(Decimal("0.0007"))
INPUT_ONLY = Cost(Decimal("0.0002"))  # 100 input tokens x $2/M


def _status(stack):
    async def get():
        [status] = await guard_of(stack).report()
        return status

    return get()


@pytest.mark.parametrize("backend", BACKENDS)
def test_refusal_sends_nothing_and_says_the_budget_is_spent(btoy_server, backend, tmp_path):
    stack = build(btoy_server.url, backend, tmp_path, budget_usd="0.0006")

    async def main():
        async with stack:
            with pytest.raises(BudgetExceeded) as caught:
                await stack.call(request())
            return caught.value, await _status(stack)

    error, status = anyio.run(main)
    assert btoy_server.requests == []
    assert error.status == 429 and error.budget == "model:m"
    assert "budget 'model:m' (total) is spent" in error.message
    assert "needs up to 0.0007 USD" in error.message
    assert status.spent == ZERO and status.reserved == ZERO


@pytest.mark.parametrize("backend", BACKENDS)
def test_success_settles_to_the_price_stage_cost(btoy_server, backend, tmp_path):
    btoy_server.responder.usage = Usage(100, 10)  # $0.0003
    stack = build(btoy_server.url, backend, tmp_path, budget_usd="1")

    async def main():
        async with stack:
            call = await stack.invoke(request())
            return call, await _status(stack)

    call, status = anyio.run(main)
    assert call.reserved == CALL
    assert call.cost == Cost(Decimal("0.0003"))
    assert status.spent == call.cost and status.reserved == ZERO


@pytest.mark.parametrize("backend", BACKENDS)
def test_http_500_charges_nothing_and_holds_nothing(btoy_server, backend, tmp_path):
    btoy_server.fail(500)
    stack = build(btoy_server.url, backend, tmp_path, budget_usd="1")

    async def main():
        async with stack:
            with pytest.raises(UpstreamError):
                await stack.call(request())
            return await _status(stack)

    status = anyio.run(main)
    assert len(btoy_server.requests) == 1
    assert status.spent == ZERO and status.reserved == ZERO


@pytest.mark.parametrize("backend", BACKENDS)
def test_failover_after_500_charges_only_the_attempt_that_answered(btoy_server, backend, tmp_path):
    btoy_server.fail(500)
    btoy_server.fail(503)
    keys = ("sk-btoy-key-0001", "sk-btoy-key-0002", "sk-btoy-key-0003")
    stack = build(btoy_server.url, backend, tmp_path, budget_usd="1", keys=keys)

    async def main():
        async with stack:
            call = await stack.invoke(request())
            return call, await _status(stack)

    call, status = anyio.run(main)
    assert [a.error for a in call.attempts] == ["upstream_error", "upstream_error", None]
    assert status.spent == CALL and status.reserved == ZERO


@pytest.mark.parametrize("backend", BACKENDS)
def test_cancelled_call_holds_nothing_and_charges_the_input(btoy_server, backend, tmp_path):
    btoy_server.delay(60, times=None)  # held unanswered until the upstream closes
    stack = build(btoy_server.url, backend, tmp_path, budget_usd="1")

    async def main():
        async with stack:
            with anyio.move_on_after(0.5) as scope:
                await stack.call(request())
            assert scope.cancelled_caught
            return await _status(stack)

    status = anyio.run(main)
    assert len(btoy_server.requests) == 1
    assert status.reserved == ZERO
    assert status.spent == INPUT_ONLY  # unseen_usage = "input": the prompt was sent


@pytest.mark.parametrize("backend", BACKENDS)
def test_cancelled_call_with_zero_fallback(btoy_server, backend, tmp_path):
    btoy_server.delay(60, times=None)  # held unanswered until the upstream closes
    stack = build(
        btoy_server.url, backend, tmp_path, budget_usd="1", budgets={"unseen_usage": "zero"}
    )

    async def main():
        async with stack:
            with anyio.move_on_after(0.3):
                await stack.call(request())
            return await _status(stack)

    status = anyio.run(main)
    assert status.reserved == ZERO and status.spent == ZERO


@pytest.mark.parametrize("backend", BACKENDS)
def test_concurrent_cancelled_calls_leave_nothing_held(btoy_server, backend, tmp_path):
    btoy_server.delay(60, times=None)  # held unanswered until the upstream closes
    stack = build(btoy_server.url, backend, tmp_path, budget_usd="10")

    async def main():
        async with stack:
            with anyio.move_on_after(0.5):
                async with anyio.create_task_group() as tg:
                    for _ in range(50):
                        tg.start_soon(stack.call, request())
            return await _status(stack)

    status = anyio.run(main)
    assert status.reserved == ZERO
    # cancelled calls are charged their input (unseen_usage = "input"): whether the
    # request left the machine before the cancellation cannot be known
    assert status.spent == Cost(INPUT_ONLY.amount * 50)


@pytest.mark.parametrize("backend", BACKENDS)
def test_stream_cut_midway_settles_the_usage_seen(btoy_server, backend, tmp_path):
    btoy_server.cut_stream(after_events=3)  # start (with the input usage), part, text
    stack = build(btoy_server.url, backend, tmp_path, budget_usd="1")

    async def main():
        async with stack:
            with pytest.raises(UpstreamError, match="malformed"):  # the upstream cut it
                await stack.stream(request()).collect()
            return await _status(stack)

    status = anyio.run(main)
    assert status.reserved == ZERO
    assert status.spent == INPUT_ONLY  # the input usage reported before the cut


@pytest.mark.parametrize("backend", BACKENDS)
def test_full_stream_settles_its_cost(btoy_server, backend, tmp_path):
    stack = build(btoy_server.url, backend, tmp_path, budget_usd="1")

    async def main():
        async with stack:
            result = stack.stream(request())
            await result.collect()
            return result.call, await _status(stack)

    call, status = anyio.run(main)
    assert call.cost == CALL
    assert status.spent == CALL and status.reserved == ZERO


@pytest.mark.parametrize("backend", BACKENDS)
def test_consumer_stopping_early_settles_the_usage_seen(btoy_server, backend, tmp_path):
    stack = build(btoy_server.url, backend, tmp_path, budget_usd="1")

    async def main():
        async with stack:
            async with stack.stream(request()) as result:
                async for _ in result:
                    break
            return await _status(stack)

    status = anyio.run(main)
    assert status.reserved == ZERO and status.spent == INPUT_ONLY


def test_a_later_guard_refusing_charges_nothing(btoy_server, tmp_path):
    from omniwire import RateLimited
    from omniwire.routing import ModelRoute, Target

    class Refuse:
        async def admit(self, call, candidate):
            raise RateLimited("local limit")

        async def complete(self, call):
            pass

        async def abort(self, call, error):
            pass

    stack = Stack(
        [Endpoint("up", "btoy.chat", btoy_server.url, keys=("sk-btoy-key-0001",))],
        routes=[ModelRoute("m", (Target("up", "btoy-1"),), options={"budget_usd": "1"})],
        plugin_manager=plugin_manager("memory"),
        guards=[Refuse()],
    )

    async def main():
        async with stack:
            with pytest.raises(RateLimited):
                await stack.call(request())
            return await _status(stack)

    status = anyio.run(main)
    assert btoy_server.requests == []
    assert status.spent == ZERO and status.reserved == ZERO


def test_tenant_budgets_are_separate(btoy_server, tmp_path):
    limits = [{"per": "tenant", "usd": "0.0014", "window": "day"}]  # two calls each
    stack = build(btoy_server.url, "memory", tmp_path, budgets={"limits": limits})

    async def main():
        outcomes = []
        async with stack:
            for who in ("acme", "acme", "acme", "zeta"):
                try:
                    await stack.call(request(metadata={"tenant": who}))
                    outcomes.append("ok")
                except BudgetExceeded as exc:
                    outcomes.append(exc.budget)
            await stack.call(request(user="someone"))  # user stands in for a tenant
            await stack.call(request())  # no tenant at all: not counted
            return outcomes, {s.key: s.spent for s in await guard_of(stack).report()}

    outcomes, spent = anyio.run(main)
    assert outcomes == ["ok", "ok", "tenant:acme", "ok"]
    assert spent == {"tenant:acme": CALL + CALL, "tenant:zeta": CALL, "tenant:someone": CALL}


def test_every_scope_must_fit(btoy_server, tmp_path):
    limits = [
        {"per": "global", "usd": 1},
        {"per": "key", "name": "up#0", "usd": "0.0007"},
        {"per": "provider", "usd": 1, "window": "rolling:1h"},
        {"per": "metadata:team", "usd": 1, "window": "month"},
    ]
    stack = build(btoy_server.url, "memory", tmp_path, budgets={"limits": limits})

    async def main():
        async with stack:
            await stack.call(request(metadata={"team": "search"}))
            with pytest.raises(BudgetExceeded) as caught:
                await stack.call(request(metadata={"team": "search"}))
            return caught.value, {s.key: s.spent for s in await guard_of(stack).report()}

    error, spent = anyio.run(main)
    assert error.budget == "key:up#0"
    assert spent == {
        "global": CALL,
        "key:up#0": CALL,
        "provider:up": CALL,
        "metadata:team:search": CALL,
    }
    assert len(btoy_server.requests) == 1


def test_route_budget_from_a_config_file(btoy_server, tmp_path):
    text = f"""
[budgets]
backend = "sqlite"
path = "{tmp_path / "b.db"}"

[[providers]]
name = "up"
protocol = "btoy.chat"
base_url = "{btoy_server.url}"
api_keys = ["sk-btoy-key-0001"]

[[models]]
name = "m"
targets = ["up:btoy-1"]
budget_usd = 0.0014
options = {{ budget_window = "month" }}
"""
    stack = Stack.from_config(text, plugin_manager=plugin_manager("sqlite"))

    async def main():
        async with stack:
            await stack.call(request())
            await stack.call(request())
            with pytest.raises(BudgetExceeded):
                await stack.call(request())
            return await _status(stack)

    status = anyio.run(main)
    assert (status.key, status.window, status.limit) == ("model:m", "month", Cost("0.0014"))
    assert status.spent == Cost("0.0014")


def test_spend_persists_across_stacks_with_sqlite(btoy_server, tmp_path):
    def run_one():
        stack = build(btoy_server.url, "sqlite", tmp_path, budget_usd="0.0014")

        async def main():
            async with stack:
                try:
                    await stack.call(request())
                    return "ok"
                except BudgetExceeded:
                    return "refused"

        return anyio.run(main)

    assert [run_one() for _ in range(3)] == ["ok", "ok", "refused"]


def test_no_budget_configured_plants_no_guard(btoy_server):
    from budgets_support import plugin_manager as pm_for

    stack = Stack([Endpoint("up", "btoy.chat", btoy_server.url)], plugin_manager=pm_for("memory"))
    assert not [g for g in stack.guards if type(g).__name__ == "BudgetGuard"]


def test_unpriced_model_is_refused_before_sending(btoy_server, tmp_path):
    stack = build(btoy_server.url, "memory", tmp_path, budget_usd="1", target="unpriced")

    async def main():
        async with stack:
            await stack.call(request())

    with pytest.raises(ConfigError, match="budgets need a price"):
        anyio.run(main)
    assert btoy_server.requests == []


def test_unpriced_allowed_when_configured(btoy_server, tmp_path):
    stack = build(
        btoy_server.url,
        "memory",
        tmp_path,
        budget_usd="1",
        target="unpriced",
        budgets={"unpriced": "allow"},
    )

    async def main():
        async with stack:
            call = await stack.invoke(request())
            return call, await _status(stack)

    call, status = anyio.run(main)
    assert call.reserved == ZERO and status.spent == ZERO and status.reserved == ZERO


def test_count_tokens_estimate_asks_the_provider(btoy_server, tmp_path):
    btoy_server.responder.count = 10  # 10 x $2/M + 50 x $10/M = $0.00052
    stack = build(
        btoy_server.url, "memory", tmp_path, budget_usd="1", budgets={"estimate": "count_tokens"}
    )

    async def main():
        async with stack:
            return await stack.invoke(request())

    call = anyio.run(main)
    assert call.reserved == Cost(Decimal("0.00052"))


@pytest.mark.parametrize(
    "count",
    ["not a number", -1],  # the count call fails to decode; the guard refuses the count
    ids=["undecodable", "negative"],
)
def test_count_tokens_falls_back_to_the_heuristic(btoy_server, tmp_path, count):
    btoy_server.responder.count = count
    stack = build(
        btoy_server.url, "memory", tmp_path, budget_usd="1", budgets={"estimate": "count_tokens"}
    )

    async def main():
        async with stack:
            return await stack.invoke(request())

    call = anyio.run(main)
    assert call.reserved == CALL


@pytest.mark.parametrize(
    ("budgets", "message"),
    [
        ({"backend": "redis"}, "unknown budget backend 'redis'"),
        ({"limits": [{"per": "galaxy", "usd": 1}]}, "budgets.limits[0].per"),
        ({"limits": [{"per": "tenant"}]}, "budgets.limits[0].usd: required"),
        ({"limits": [{"usd": 1, "window": "week"}]}, "budgets.limits[0].window"),
        ({"limits": [{"usd": -1}]}, "non-negative"),
        ({"estimate": "guess"}, "budgets.estimate"),
        ({"colour": "red"}, "unknown setting 'colour'"),
    ],
)
def test_configuration_errors_name_the_field(btoy_server, tmp_path, budgets, message):
    budgets = {"limits": [{"usd": 1}], **budgets}
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        build(btoy_server.url, "memory", tmp_path, budgets=budgets)


def test_sqlite_backend_needs_a_path(btoy_server, tmp_path):
    with pytest.raises(ConfigError, match="needs a file path"):
        Stack(
            [Endpoint("up", "btoy.chat", btoy_server.url)],
            plugin_manager=plugin_manager("sqlite"),
            options={"budgets": {"backend": "sqlite", "limits": [{"usd": 1}]}},
        )
