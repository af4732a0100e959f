"""Import time: a fresh interpreter per sample, the import timed inside it (interpreter
start-up excluded), every candidate once per round, rounds interleaved; medians."""

from __future__ import annotations

import os
import statistics
import subprocess
from pathlib import Path
from typing import Any, Callable

from .procs import python

CODE = (
    "import time, sys\n"
    "t = time.perf_counter()\n"
    "{stmt}\n"
    "dt = time.perf_counter() - t\n"
    "print('IMPORT', dt, len(sys.modules))\n"
)

#: name -> (interpreter kind, statement, OMNIWIRE_PLUGINS or None)
OURS: dict[str, tuple[str, str]] = {
    "omniwire": ("local", "import omniwire"),
    "omniwire + openai plugin": ("local", "import omniwire, omniwire_openai"),
    "omniwire + openai, anthropic, aiohttp": (
        "local",
        "import omniwire, omniwire_openai, omniwire_anthropic, omniwire_aiohttp",
    ),
    "omniwire Stack ready (openai plugin)": (
        "local",
        "import omniwire\n"
        "s = omniwire.Stack([omniwire.Endpoint('up', 'openai.chat', 'http://127.0.0.1:9/v1',"
        " keys=['k'])])",
    ),
    "httpx": ("local", "import httpx"),
    "aiohttp": ("local", "import aiohttp"),
}
THEIRS: dict[str, tuple[str, str]] = {
    "openai": ("bench", "import openai"),
    "litellm": ("bench", "import litellm"),
}


def run(
    plan: dict[str, Any], bench_python: Path | None, log: Callable[[str], None]
) -> dict[str, Any]:
    candidates = dict(OURS)
    if bench_python is not None:
        candidates.update(THEIRS)
    env = dict(os.environ)
    env["OMNIWIRE_PLUGINS"] = "openai"  # the Stack row: one provider plugin
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    samples: dict[str, list[float]] = {k: [] for k in candidates}
    modules: dict[str, int] = {}
    # one untimed round first: byte-code caches written, files in the page cache
    for r in range(plan["rounds"] + 1):
        names = list(candidates)
        names = names[r % len(names) :] + names[: r % len(names)]
        for name in names:
            kind, stmt = candidates[name]
            interp = str(bench_python) if kind == "bench" else python()
            done = subprocess.run(
                [interp, "-c", CODE.format(stmt=stmt)],
                capture_output=True,
                text=True,
                timeout=120,
                env=env,
            )
            line = next((ln for ln in done.stdout.splitlines() if ln.startswith("IMPORT")), None)
            if line is None:
                log(f"  import {name} failed: {done.stderr[-400:]}")
                continue
            _, dt, n = line.split()
            if r > 0:
                samples[name].append(float(dt))
            modules[name] = int(n)
    out = {
        name: {
            "median_s": statistics.median(v) if v else None,
            "min_s": min(v) if v else None,
            "samples": v,
            "modules": modules.get(name),
        }
        for name, v in samples.items()
    }
    log(
        "  imports: "
        + ", ".join(f"{k} {v['median_s'] * 1000:.0f} ms" for k, v in out.items() if v["median_s"])
    )
    return out
