"""The ``redis`` budget backend: the same contract and the same expectations as the
memory and SQLite backends' tests, plus configuration through a stack and the key
layout the documentation promises."""

from __future__ import annotations

import threading
from decimal import Decimal

import anyio
import pytest
import redis
from omniwire.errors import BudgetExceeded, ConfigError
from omniwire.money import ZERO, Cost
from omniwire.plugins import PluginManager
from omniwire_redis import RedisBudgetBackend, close_clients
from omniwire_testing.budgets import BudgetBackendConformance, Clock
from omniwire_testing.budgets import Scope as S

MICRO = Cost(Decimal("0.000001"))


def run(fn, *args):
    async def main():
        try:
            return await fn(*args)
        finally:
            await close_clients()

    return anyio.run(main)


@pytest.fixture
def backend(redis_url, prefix):
    def make(**kwargs):
        return RedisBudgetBackend(redis_url, prefix=prefix, **kwargs)

    return make


def test_registered_as_redis():
    import omniwire_redis

    pm = PluginManager(entry_points=False)
    pm.register(omniwire_redis, name="redis")
    assert pm.get("budget_backends", "redis") is RedisBudgetBackend


def test_reserve_settle_release(backend):
    b = backend()
    scope = S("tenant:a", Cost("1"))

    async def main():
        r1 = await b.reserve([scope], Cost("0.4"))
        r2 = await b.reserve([scope], Cost("0.4"))
        assert await b.reserved(scope) == Cost("0.8")
        with pytest.raises(BudgetExceeded) as caught:
            await b.reserve([scope], Cost("0.3"))
        assert caught.value.status == 429 and caught.value.budget == "tenant:a"
        assert caught.value.message == (
            "budget 'tenant:a' (total) is spent: 0 USD of 1 USD used, 0.8 USD held by calls "
            "in flight; this call needs up to 0.3 USD"
        )
        await b.settle(r1, Cost("0.25"))
        await b.release(r2)
        await b.settle(r1, Cost("5"))  # settling twice is a no-op
        await b.release("no-such-reservation")
        return await b.spent(scope), await b.reserved(scope)

    assert run(main) == (Cost("0.25"), ZERO)


def test_the_same_budget_twice_counts_once_at_the_lower_limit(backend):
    b = backend()

    async def main():
        rid = await b.reserve([S("g", Cost("1")), S("g", Cost("0.5"))], Cost("0.5"))
        assert await b.reserved(S("g", Cost("1"))) == Cost("0.5")
        await b.settle(rid, Cost("0.5"))
        with pytest.raises(BudgetExceeded):
            await b.reserve([S("g", Cost("1")), S("g", Cost("0.5"))], MICRO)
        return await b.spent(S("g", Cost("1")))

    assert run(main) == Cost("0.5")


def test_an_explicit_deadline_wins_and_reserve_expires_holds_itself(backend):
    clock = Clock()
    b = backend(clock=clock)
    scope = S("t", Cost("1"))

    async def main():
        await b.reserve([scope], Cost("1"), deadline=clock.now + 5)
        with pytest.raises(BudgetExceeded):
            await b.reserve([scope], MICRO)
        clock.now += 5  # deadline reached: the next reserve drops the hold first
        await b.reserve([scope], Cost("1"))

    run(main)


def test_key_layout_is_as_documented(backend, redis_url, prefix):
    clock = Clock()
    b = backend(clock=clock)
    scopes = [S("tenant:acme", Cost("5"), "day"), S("global", Cost("5"), "rolling:1h")]

    async def main():
        rid = await b.reserve(scopes, Cost("0.25"))
        pending = await b.reserve(scopes, Cost("0.5"))
        await b.settle(rid, Cost("0.2"))
        return pending

    pending = run(main)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    p = prefix
    assert client.get(f"{p}budget:day|tenant:acme:spent:2025-06-15") == "200000"
    assert client.get(f"{p}budget:day|tenant:acme:held") == "500000"
    assert client.zrange(f"{p}budget:day|tenant:acme:holds", 0, -1) == [f"500000:{pending}"]
    assert client.get(f"{p}budget:rolling:1h|global:rolled") == "200000"
    assert client.zcard(f"{p}budget:rolling:1h|global:charges") == 1
    hold = client.hgetall(f"{p}hold:{pending}")
    assert hold["amount"] == "500000" and hold["n"] == "2"
    assert (hold["k1"], hold["w1"], hold["t1"]) == ("tenant:acme", "day", "day")
    assert 0 < client.ttl(f"{p}hold:{pending}") <= 3600 + 86400
    client.close()


def test_exact_under_threads_each_with_its_own_loop(backend):
    b = backend()  # one instance, a Redis client per event loop
    scope = S("global", Cost("0.0003"))
    granted: list[int] = []

    def worker():
        async def main():
            mine = 0
            for _ in range(100):
                try:
                    rid = await b.reserve([scope], MICRO)
                except BudgetExceeded:
                    continue
                mine += 1
                await b.settle(rid, MICRO)
            return mine

        granted.append(run(main))

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(granted) == 300
    assert run(b.spent, scope) == scope.limit and run(b.reserved, scope) == ZERO


# -- configuration through a stack ----------------------------------------------------------


def _budget_backend(stack):
    return next(g for g in stack.guards if type(g).__name__ == "BudgetGuard").backend


def test_a_stack_builds_the_backend_from_redis_settings(up, redis_url, prefix):
    from redis_support import build

    stack = build(up.url, redis_url, prefix, budget_usd="1", redis={"on_error": "closed"})
    backend = _budget_backend(stack)
    assert isinstance(backend, RedisBudgetBackend)
    assert (backend.link.url, backend.prefix, backend.on_error) == (redis_url, prefix, "closed")


def test_the_url_falls_back_to_server_redis_url_and_options_win(up, redis_url, prefix):
    from omniwire import Endpoint
    from omniwire.stack import Stack
    from omniwire_testing.toy import ToyCodec
    from redis_support import plugin_manager

    def make(budgets, server):
        return Stack(
            [Endpoint("up", "kit.chat", up.url + "/v1")],
            plugin_manager=plugin_manager(),
            codecs=[ToyCodec()],
            options={"server": server, "budgets": budgets},
        )

    limits = [{"per": "global", "usd": 1}]
    found = _budget_backend(make({"backend": "redis", "limits": limits}, {"redis_url": redis_url}))
    assert found.link.url == redis_url and found.prefix == "omniwire:"
    explicit = "redis://127.0.0.1:6379/14"
    found = _budget_backend(
        make(
            {"backend": "redis", "limits": limits, "options": {"url": explicit, "prefix": "x:"}},
            {"redis_url": redis_url},
        )
    )
    assert found.link.url == explicit and found.prefix == "x:"


def test_bad_settings_fail_when_the_stack_is_built(up, redis_url, prefix):
    from redis_support import build

    with pytest.raises(ConfigError, match="redis.on_error: expected open or closed"):
        build(up.url, redis_url, prefix, budget_usd="1", redis={"on_error": "maybe"})
    with pytest.raises(ConfigError, match="redis: unknown setting 'urls'"):
        build(up.url, redis_url, prefix, redis={"urls": "x"})
    with pytest.raises(ConfigError, match="redis.url: expected a redis://"):
        build(up.url, "http://nope", prefix)


def test_tenant_key_and_model_budgets_through_a_stack(up, redis_url, prefix):
    from omniwire import Request
    from redis_support import PRICE, build

    limits = [
        {"per": "tenant", "usd": str(PRICE * 2)},
        {"per": "key", "usd": str(PRICE * 3)},
        {"per": "model", "name": "m", "usd": str(PRICE * 10), "window": "day"},
    ]
    stack = build(
        up.url, redis_url, prefix, extra={"budgets": {"backend": "redis", "limits": limits}}
    )

    async def call(tenant):
        try:
            await stack.call(Request.simple("m", "hi", max_tokens=8, metadata={"tenant": tenant}))
        except BudgetExceeded as exc:
            return exc.budget
        return "ok"

    async def main():
        async with stack:
            outcomes = [await call(t) for t in ("a", "a", "a", "b", "b")]
            report = {s.key: s.spent for s in await _guard(stack).report()}
            await close_clients()
            return outcomes, report

    outcomes, report = anyio.run(main)
    assert outcomes == ["ok", "ok", "tenant:a", "ok", "key:up#0"]
    assert report == {
        "tenant:a": Cost(PRICE * 2),
        "tenant:b": Cost(PRICE),
        "key:up#0": Cost(PRICE * 3),
        "model:m": Cost(PRICE * 3),
    }


def _guard(stack):
    return next(g for g in stack.guards if type(g).__name__ == "BudgetGuard")


class TestRedisBudgetContract(BudgetBackendConformance):
    """The contract every budget backend keeps (omniwire_testing.budgets)."""

    @pytest.fixture(autouse=True)
    def _redis(self, redis_url, prefix):
        self.url, self.prefix = redis_url, prefix

    def make_backend(self, **options):
        return RedisBudgetBackend(self.url, prefix=self.prefix, **options)

    def run(self, fn, *args):
        return run(fn, *args)
