"""One worker process of the multi-process tests: builds its own Stack against the fake
upstream and the shared Redis, says ``ready``, waits for ``go`` on stdin, runs its calls
concurrently and prints what happened as JSON.

    python redis_worker.py '{"upstream": ..., "redis": ..., "prefix": ..., "calls": 200,
                             "budget_usd": "0.1", "rpm": 60}'
"""

from __future__ import annotations

import json
import sys
from collections import Counter

import anyio
from omniwire.errors import OmniwireError
from omniwire_redis import close_clients
from redis_support import build, request


async def main(spec: dict) -> dict:
    stack = build(
        spec["upstream"],
        spec["redis"],
        spec["prefix"],
        budget_usd=spec.get("budget_usd"),
        hold_seconds=spec.get("hold_seconds"),
        rpm=spec.get("rpm"),
    )
    outcomes: Counter[str] = Counter()

    async def one(i: int) -> None:
        try:
            await stack.call(request(f"call {i}"))
            outcomes["ok"] += 1
        except OmniwireError as exc:
            outcomes[exc.kind] += 1

    async with stack:
        await stack.call(request("warm up")) if spec.get("warm_up") else None
        print("ready", flush=True)
        await anyio.to_thread.run_sync(sys.stdin.readline)
        async with anyio.create_task_group() as tg:
            for i in range(spec["calls"]):
                tg.start_soon(one, i)
        await close_clients()
    return dict(outcomes)


if __name__ == "__main__":
    print(json.dumps(anyio.run(main, json.loads(sys.argv[1]))), flush=True)
