"""``python -m omniwire_bench run [--smoke] [--out docs/benchmarks.md]``.

Runs every section against one fast upstream on 127.0.0.1 and writes a Markdown report
(plus ``<out>.png`` and ``<out>.json``). Timing never decides the exit status: the run
fails only when something could not be measured at all (a server that never started, a
client that errored), which is what the CI smoke test checks.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import envs

FULL: dict[str, Any] = {
    "imports": {"rounds": 9},
    "library": {
        "rounds": 5,
        "warmup": 300,
        "model": "m20",
        "seq_calls": 20000,
        "seq_seconds": 1.5,
        "tasks": 64,
        "conc_calls": 100000,
        "conc_seconds": 2.0,
        "stream_model": "m200",
        "stream_calls": 2000,
        "stream_seconds": 1.5,
        # the same stacks with every plugin of the workspace venv loaded
        "variants": {
            "omniwire-aiohttp +all plugins": {"client": "omniwire-aiohttp", "plugins": None},
            "omniwire-httpx +all plugins": {"client": "omniwire-httpx", "plugins": None},
        },
    },
    "gateway": {
        "warmup": 2.0,
        "rounds": 3,
        "connections": 32,
        "seconds": 5.0,
        "latency_rounds": 2,
        "latency_connections": 4,
        "latency_seconds": 5.0,
        "rate": 200.0,
        "soak_requests": 50000,
        "soak_batch": 10000,
        "soak_max_seconds": 120.0,
    },
    "transcoding": {"rounds": 5, "seconds": 1.0, "max": 100000},
}

SMOKE: dict[str, Any] = {
    "imports": {"rounds": 1},
    "library": {
        "rounds": 1,
        "warmup": 20,
        "model": "m20",
        "seq_calls": 200,
        "seq_seconds": 0.3,
        "tasks": 64,
        "conc_calls": 1000,
        "conc_seconds": 0.5,
        "stream_model": "m200",
        "stream_calls": 20,
        "stream_seconds": 0.3,
        "variants": {},
    },
    "gateway": {
        "warmup": 0.3,
        "rounds": 1,
        "connections": 32,
        "seconds": 1.0,
        "latency_rounds": 1,
        "latency_connections": 4,
        "latency_seconds": 1.0,
        "rate": 100.0,
        "soak_requests": 2000,
        "soak_batch": 1000,
        "soak_max_seconds": 20.0,
    },
    "transcoding": {"rounds": 1, "seconds": 0.2, "max": 2000},
}

SECTIONS = ("imports", "library", "gateway", "transcoding")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "wrk": shutil.which("wrk") is not None,
    }
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            info["mem_gib"] = round(int(f.readline().split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    if info["wrk"]:
        try:
            done = subprocess.run(["wrk", "--version"], capture_output=True, text=True, timeout=10)
            info["wrk_version"] = (done.stdout or done.stderr).split("\n")[0][:80]
        except (OSError, subprocess.SubprocessError):
            pass
    return info


def run(args: argparse.Namespace) -> int:
    from . import gateway, imports, library, report, transcoding
    from .procs import Proc, python, script

    started = time.time()
    plan = json.loads(json.dumps(SMOKE if args.smoke else FULL))
    plan["gateway"]["no_wrk"] = args.no_wrk
    root = envs.repo_root()
    sections = args.only.split(",") if args.only else list(SECTIONS)
    bench_python: Path | None = None
    venv = Path(args.bench_venv) if args.bench_venv else root / ".bench"
    competitors_note = ""
    if args.smoke or args.no_competitors:
        competitors_note = (
            "competitors skipped (smoke mode)"
            if args.smoke
            else ("competitors skipped (--no-competitors)")
        )
    elif envs.ensure(venv, log=log):
        bench_python = envs.bench_python(venv)
    else:
        competitors_note = f"competitors skipped: could not set up {venv}"
    if competitors_note:
        log(competitors_note)
    out_path = Path(args.out)
    results: dict[str, Any] = {
        "mode": "smoke" if args.smoke else "full",
        "command": "python -m omniwire_bench run"
        + (" --smoke" if args.smoke else "")
        + (f" --out {args.out}" if args.out != "docs/benchmarks.md" else ""),
        "machine": machine(),
        "versions": envs.local_versions(),
        "competitor_versions": envs.versions(venv) if bench_python else {},
        "competitors_note": competitors_note,
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
        "plan": plan,
    }
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="omniwire-bench-") as tmp:
        workdir = Path(tmp)
        if "imports" in sections:
            log("imports ...")
            results["imports"] = imports.run(plan["imports"], bench_python, log)
        if "library" in sections:
            log("library ...")
            with Proc(
                [python(), script("upstream"), "--max-seconds", "3600"],
                ready_line=True,
                log=workdir / "lib-upstream.log",
            ) as up:
                results["library"] = library.run(
                    f"http://127.0.0.1:{up.port}", plan["library"], bench_python, workdir, log
                )
            for name, data in results["library"]["clients"].items():
                if not data["raw"].get("seq"):
                    failures.append(f"library client {name} produced no measurement")
        if "gateway" in sections:
            log("gateway ...")
            try:
                results["gateway"] = gateway.run(plan["gateway"], bench_python, workdir, log)
            except Exception as exc:
                failures.append(f"gateway: {type(exc).__name__}: {exc}")
                log(f"gateway failed: {exc}")
                for f in sorted(workdir.glob("gw-*.log")):
                    log(f"--- {f.name}\n{f.read_text(errors='replace')[-1500:]}")
        if "transcoding" in sections:
            log("transcoding ...")
            results["transcoding"] = transcoding.run(plan["transcoding"], log)
    results["elapsed_s"] = time.time() - started
    out_path.parent.mkdir(parents=True, exist_ok=True)
    json_path = out_path.with_suffix(".json")
    json_path.write_text(json.dumps(results, indent=1, default=str))
    png_path = out_path.with_suffix(".png")
    results["plot"] = plot(json_path, png_path, bench_python, venv, args.smoke)
    json_path.write_text(json.dumps(results, indent=1, default=str))
    out_path.write_text(report.render(results, png_path.name if results["plot"] else None))
    log(
        f"wrote {out_path} ({'with' if results['plot'] else 'without'} plot, "
        f"{results['elapsed_s']:.0f} s)"
    )
    if failures:
        for f in failures:
            log("FAILED: " + f)
        return 1
    return 0


def plot(
    json_path: Path, png_path: Path, bench_python: Path | None, venv: Path, smoke: bool
) -> bool:
    """Draw with matplotlib from the competitors' venv (the project venv has none). In
    smoke mode the venv is used only if it is already there; no venv, no plot."""
    interp = bench_python
    if interp is None and envs.bench_python(venv).exists():
        interp = envs.bench_python(venv)
    if interp is None:
        log("plot skipped: no competitors' venv with matplotlib")
        return False
    from .procs import script

    done = subprocess.run(
        [str(interp), script("plot"), str(json_path), str(png_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        log(f"plot failed: {done.stderr[-600:]}")
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m omniwire_bench")
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run the benchmarks and write the report")
    r.add_argument("--smoke", action="store_true", help="a short run (CI); no competitors")
    r.add_argument("--out", default="docs/benchmarks.md")
    r.add_argument("--only", help=f"comma-separated sections of {', '.join(SECTIONS)}")
    r.add_argument("--no-competitors", action="store_true")
    r.add_argument("--bench-venv", help="the competitors' venv (default <repo>/.bench)")
    r.add_argument("--no-wrk", action="store_true", help="use the Python load generator")
    s = sub.add_parser("setup", help="create the competitors' venv (.bench)")
    s.add_argument("--bench-venv")
    rp = sub.add_parser("report", help="re-render the Markdown from a run's JSON")
    rp.add_argument("--json", default="docs/benchmarks.json")
    rp.add_argument("--out", default="docs/benchmarks.md")
    args = parser.parse_args(argv)
    if args.command == "report":
        from . import report

        results = json.loads(Path(args.json).read_text())
        png = Path(args.json).with_suffix(".png")
        Path(args.out).write_text(report.render(results, png.name if results.get("plot") else None))
        return 0
    if args.command == "setup":
        venv = Path(args.bench_venv) if args.bench_venv else envs.repo_root() / ".bench"
        return 0 if envs.ensure(venv, log=log) else 1
    return run(args)
