"""Done means: four worker processes, each with its own Stack, one Redis, one fake
upstream — a budget for exactly 100 calls is spent exactly by 800 concurrent calls, a
shared RPM limit holds across the processes, and a worker killed mid-call stops holding
its budget at its reservation's deadline."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import anyio
from omniwire.money import ZERO, Cost
from omniwire_budgets import Scope
from omniwire_redis import RedisBudgetBackend, close_clients
from redis_support import KEY, PRICE, worker_env

WORKER = str(Path(__file__).with_name("redis_worker.py"))


class Workers:
    """``n`` worker processes started together: each says ready, all get go at once."""

    def __init__(self, spec: dict, n: int) -> None:
        self.processes = [
            subprocess.Popen(
                [sys.executable, WORKER, json.dumps(spec)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=worker_env(),
            )
            for _ in range(n)
        ]
        for p in self.processes:
            assert p.stdout is not None
            line = p.stdout.readline()
            assert line == "ready\n", f"worker did not start: {line!r}"
        self.started = time.monotonic()
        for p in self.processes:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()

    def results(self, timeout: float = 60) -> tuple[Counter[str], float]:
        total: Counter[str] = Counter()
        for p in self.processes:
            out, _ = p.communicate(timeout=timeout)
            assert p.returncode == 0, out
            total.update(json.loads(out.strip().splitlines()[-1]))
        return total, time.monotonic() - self.started

    def kill(self) -> None:
        for p in self.processes:
            if p.poll() is None:
                p.kill()
                p.wait(10)


def _backend_state(redis_url: str, prefix: str, usd: str) -> tuple[Cost, Cost]:
    backend = RedisBudgetBackend(redis_url, prefix=prefix)
    scope = Scope("global", Cost(usd))

    async def main():
        try:
            return await backend.spent(scope), await backend.reserved(scope)
        finally:
            await close_clients()

    return anyio.run(main)


def test_800_calls_in_4_processes_spend_exactly_a_budget_of_100(up, redis_url, prefix):
    budget = str(PRICE * 100)
    spec = {
        "upstream": up.url,
        "redis": redis_url,
        "prefix": prefix,
        "budget_usd": budget,
        "calls": 200,
    }
    workers = Workers(spec, 4)
    try:
        outcomes, elapsed = workers.results()
    finally:
        workers.kill()
    assert outcomes == {"ok": 100, "budget_exceeded": 700}
    assert up.count(KEY) == 100  # refused calls never reached the upstream
    spent, reserved = _backend_state(redis_url, prefix, budget)
    assert spent == Cost(Decimal(budget)) and reserved == ZERO  # all of it, not a micro more
    print(f"\n4 processes x 200 calls: {outcomes['ok']} ok, spent {spent} in {elapsed:.2f}s")


def test_a_shared_rpm_of_60_holds_across_4_processes(up, redis_url, prefix):
    spec = {"upstream": up.url, "redis": redis_url, "prefix": prefix, "rpm": 60, "calls": 50}
    workers = Workers(spec, 4)
    try:
        outcomes, elapsed = workers.results()
    finally:
        workers.kill()
    reached = up.count(KEY)
    assert set(outcomes) <= {"ok", "rate_limited"} and outcomes["ok"] == reached
    # a token bucket of one minute's worth: the first 60 at once, then 1 per second
    assert 60 <= reached <= 60 + math.ceil(elapsed)
    assert outcomes["rate_limited"] == 200 - reached
    print(f"\n4 processes x 50 calls at rpm 60: {reached} reached upstream in {elapsed:.2f}s")


def test_a_killed_worker_stops_holding_its_budget_at_the_deadline(up, redis_url, prefix):
    hold = 2.0
    budget = str(PRICE)  # room for exactly one call
    up.delay(30, times=1)  # the call hangs at the upstream until the worker dies
    spec = {
        "upstream": up.url,
        "redis": redis_url,
        "prefix": prefix,
        "budget_usd": budget,
        "hold_seconds": hold,
        "calls": 1,
    }
    workers = Workers(spec, 1)
    try:
        deadline = time.monotonic() + 10
        while _backend_state(redis_url, prefix, budget)[1] == ZERO:
            assert time.monotonic() < deadline, "the worker never reserved"
            time.sleep(0.02)
        seen = time.monotonic()
        os.kill(workers.processes[0].pid, signal.SIGKILL)
        workers.processes[0].wait(10)
        assert _backend_state(redis_url, prefix, budget)[1] == Cost(PRICE)  # still held
        while _backend_state(redis_url, prefix, budget)[1] != ZERO:
            assert time.monotonic() - seen < hold + 1.0, "the hold outlived its deadline"
            time.sleep(0.05)
        freed = time.monotonic() - seen
    finally:
        workers.kill()
    assert freed <= hold + 0.3
    # the budget is whole again: another process can take all of it
    backend = RedisBudgetBackend(redis_url, prefix=prefix)
    scope = Scope("global", Cost(budget))

    async def main():
        try:
            await backend.release(await backend.reserve([scope], Cost(budget)))
            return await backend.spent(scope)
        finally:
            await close_clients()

    assert anyio.run(main) == ZERO
    print(f"\nkilled worker's hold freed {freed:.2f}s after it was seen (deadline {hold}s)")
