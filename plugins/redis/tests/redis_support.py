"""Stacks for the Redis plugin's tests (also imported by the worker processes): the toy
protocol of omniwire-testing on a fake upstream, the resilience and budgets plugins,
this plugin, and a flat price so a budget fits an exact number of calls."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from decimal import Decimal
from typing import Any

import omniwire_redis
from omniwire import Endpoint, Request
from omniwire.money import Cost
from omniwire.plugins import PluginManager, hookimpl
from omniwire.routing import ModelRoute, Target
from omniwire.stack import Stack
from omniwire_testing.toy import ToyCodec

KEY = "sk-redis-test-shared-0001"
PRICE = Decimal("0.001")  # every call, whatever its usage: reservation == charge


class FlatTable:
    """Prices every kit call at ``PRICE``."""

    name = "redis-tests-flat"

    def price(self, provider: str, model: str, usage: Any) -> Cost | None:
        return Cost(PRICE) if provider == "kit" else None


class FlatPrices:
    @hookimpl
    def omniwire_register_price_tables(self, register: Any) -> None:
        register(FlatTable())


def plugin_manager() -> PluginManager:
    import omniwire_budgets
    import omniwire_resilience

    pm = PluginManager(entry_points=False)
    pm.register(FlatPrices(), name="flat-prices")
    pm.register(omniwire_resilience, name="resilience")
    pm.register(omniwire_budgets, name="budgets")
    pm.register(omniwire_redis, name="redis")
    return pm


def build(
    upstream: str,
    redis_url: str,
    prefix: str,
    *,
    budget_usd: str | None = None,
    hold_seconds: float | None = None,
    rpm: int | None = None,
    max_concurrency: int | None = None,
    redis: dict[str, Any] | None = None,
    cache: dict[str, Any] | None = None,
    routes: list[ModelRoute] | None = None,
    keys: tuple[str, ...] = (KEY,),
    extra: dict[str, Any] | None = None,
) -> Stack:
    endpoint_options: dict[str, Any] = {}
    if rpm is not None:
        endpoint_options["rpm"] = rpm
    if max_concurrency is not None:
        endpoint_options["max_concurrency"] = max_concurrency
    options: dict[str, Any] = {"redis": {"url": redis_url, "prefix": prefix, **(redis or {})}}
    if budget_usd is not None:
        budgets: dict[str, Any] = {
            "backend": "redis",
            "limits": [{"per": "global", "usd": budget_usd}],
        }
        if hold_seconds is not None:
            budgets["hold_seconds"] = hold_seconds
        options["budgets"] = budgets
    if cache is not None:
        options["cache"] = cache
    options.update(extra or {})
    return Stack(
        [Endpoint("up", "kit.chat", upstream + "/v1", keys=keys, options=endpoint_options)],
        routes=routes or [ModelRoute("m", (Target("up", "toy-1"),))],
        plugin_manager=plugin_manager(),
        codecs=[ToyCodec()],
        options=options,
    )


def request(text: str = "hello") -> Request:
    return Request.simple("m", text, max_tokens=16)


def guard(stack: Stack, kind: str) -> Any:
    return next(g for g in stack.guards if type(g).__name__ == kind)


# -- a Redis of our own, to kill and restart -------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class PrivateRedis:
    """A ``redis-server`` subprocess on a free port, no persistence."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> PrivateRedis:
        from omniwire_testing.services import redis_ping

        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while redis_ping(self.url) is not None:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"redis-server on port {self.port} did not start")
            time.sleep(0.02)
        return self

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None


def worker_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.dirname(os.path.abspath(__file__)), env.get("PYTHONPATH", "")]
    ).rstrip(os.pathsep)
    return env
