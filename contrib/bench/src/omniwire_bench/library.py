"""Library benchmarks: every client in its own long-lived worker process, all against one
upstream process, measured in interleaved rounds (round r runs every client once, in an
order rotated per round); the report takes the median over rounds."""

from __future__ import annotations

import os
import statistics
from pathlib import Path
from typing import Any, Callable

from .procs import Proc, python, script

FLOORS = ("raw-aiohttp", "raw-httpx")
COMPETITORS = ("openai", "litellm")
OMNIWIRE = ("omniwire-aiohttp", "omniwire-httpx", "omniwire-x-aiohttp", "omniwire-x-httpx")
#: the omniwire stacks of the library rows load the plugins a user of that scenario
#: installs: the two codecs and the aiohttp transport (the workspace venv holds every
#: plugin; the gateway section measures the full path)
LIBRARY_PLUGINS = "openai,anthropic,aiohttp"


def _median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None and v == v]
    return statistics.median(values) if values else None


def run(
    upstream_url: str,
    plan: dict[str, Any],
    bench_python: Path | None,
    workdir: Path,
    log: Callable[[str], None],
) -> dict[str, Any]:
    clients = list(FLOORS) + list(OMNIWIRE)
    if bench_python is not None:
        clients[2:2] = list(COMPETITORS)
    variants = plan.get("variants", {})
    workers: dict[str, Proc] = {}
    results: dict[str, Any] = {"clients": {}, "rounds": plan["rounds"], "plan": plan}
    try:
        for name in clients + list(variants):
            base = variants.get(name, {}).get("client", name)
            interp = str(bench_python) if base in COMPETITORS else python()
            env = dict(os.environ)
            env.pop("OMNIWIRE_PLUGINS", None)
            if base.startswith("omniwire"):
                plugins = variants.get(name, {}).get("plugins", LIBRARY_PLUGINS)
                if plugins is not None:
                    env["OMNIWIRE_PLUGINS"] = plugins
            env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
            env["PYTHONWARNINGS"] = "ignore"
            proc = Proc(
                [interp, script("libworker")],
                env=env,
                stdin=True,
                log=workdir / f"lib-{name}.log",
            )
            answer = proc.ask(
                {
                    "op": "setup",
                    "client": base,
                    "url": upstream_url,
                    "warmup": plan["warmup"],
                    "model": plan["model"],
                },
                timeout=180,
            )
            if not answer.get("ok"):
                log(f"  {name}: setup failed: {answer.get('error')}")
                proc.stop()
                continue
            workers[name] = proc
            results["clients"][name] = {"version": answer["version"], "raw": {}}
            log(f"  {name} ready ({answer['version']})")
        names = list(workers)
        for phase, command in (
            (
                "seq",
                {
                    "op": "seq",
                    "calls": plan["seq_calls"],
                    "seconds": plan["seq_seconds"],
                    "model": plan["model"],
                },
            ),
            (
                "conc",
                {
                    "op": "conc",
                    "tasks": plan["tasks"],
                    "calls": plan["conc_calls"],
                    "seconds": plan["conc_seconds"],
                    "model": plan["model"],
                },
            ),
            (
                "stream",
                {
                    "op": "stream",
                    "calls": plan["stream_calls"],
                    "seconds": plan["stream_seconds"],
                    "model": plan["stream_model"],
                },
            ),
        ):
            for r in range(plan["rounds"]):
                order = names[r % len(names) :] + names[: r % len(names)]
                for name in order:
                    answer = workers[name].ask(command, timeout=command["seconds"] + 120)
                    raw = results["clients"][name]["raw"].setdefault(phase, [])
                    if answer.get("ok"):
                        raw.append(answer)
                    else:
                        log(f"  {name} {phase}: {answer.get('error')}")
            log(f"  {phase}: {plan['rounds']} round(s) done")
        for name, proc in workers.items():
            answer = proc.ask({"op": "rss"})
            results["clients"][name]["maxrss_kb"] = answer.get("maxrss_kb")
    finally:
        for proc in workers.values():
            proc.stop()
    for data in results["clients"].values():
        raw = data["raw"]
        data["seq"] = {
            k: _median([x[k] for x in raw.get("seq", [])])
            for k in ("p50_ms", "mean_ms", "p99_ms", "calls_per_s")
        }
        data["conc"] = {
            k: _median([x[k] for x in raw.get("conc", [])])
            for k in ("per_call_ms", "calls_per_s", "p50_ms", "p99_ms")
        }
        data["conc"]["errors"] = sum(x.get("errors", 0) for x in raw.get("conc", []))
        data["stream"] = {
            k: _median([x[k] for x in raw.get("stream", [])])
            for k in ("ttfc_p50_ms", "per_chunk_us", "total_p50_ms")
        }
        data["stream"]["chunks"] = max((x["chunks"] for x in raw.get("stream", [])), default=0)
    return results
