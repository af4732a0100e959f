"""Gateway benchmarks: ``omniwire serve`` vs the LiteLLM proxy vs a bare aiohttp relay vs
the upstream itself, each a separate process, driven by a separate load-generating
process (wrk when installed, else the bounded Python generator), all on 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
from pathlib import Path
from typing import Any, Callable

from .procs import Proc, free_port, python, run_json, script, wait_http

GATEWAY_KEY = "sk-bench-gateway-0123456789abcdef"
UPSTREAM_KEY = "sk-bench-upstream-0000"
PATH = "/v1/chat/completions"
MODEL = "m20"  # 20 content chunks when streamed


def bodies(workdir: Path) -> dict[str, Path]:
    out = {}
    for mode, extra in (("json", {}), ("stream", {"stream": True})):
        body = {"model": MODEL, "messages": [{"role": "user", "content": "Say hi"}], **extra}
        path = workdir / f"body-{mode}.json"
        path.write_text(json.dumps(body))
        out[mode] = path
    return out


def omniwire_config(upstream_port: int, database: Path) -> str:
    """The kernel's full path: openai.chat codec both ways, a [[models]] route with a
    price and a budget, a global budget (budget guard, memory backend), the breaker
    (resilience, on when installed), the price stage (prices), the observers installed
    (otel, logging) and the SQLite request log."""
    return f"""
[server]
api_keys = ["{GATEWAY_KEY}"]
allow_local_upstreams = true
database = "{database}"

[[providers]]
name = "up"
protocol = "openai.chat"
base_url = "http://127.0.0.1:{upstream_port}/v1"
api_keys = ["{UPSTREAM_KEY}"]
models = ["{MODEL}"]

[[models]]
name = "{MODEL}"
targets = ["up:{MODEL}"]
budget_usd = 1000000.0
price = {{ input_per_mtok = 0.15, output_per_mtok = 0.60 }}

[budgets]
backend = "memory"

[[budgets.limits]]
per = "global"
usd = 1000000.0
window = "total"
"""


def litellm_config(upstream_port: int) -> str:
    return f"""model_list:
  - model_name: {MODEL}
    litellm_params:
      model: openai/{MODEL}
      api_base: http://127.0.0.1:{upstream_port}/v1
      api_key: {UPSTREAM_KEY}
litellm_settings:
  telemetry: false
general_settings:
  master_key: {GATEWAY_KEY}
"""


LITELLM_LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"default": {"format": "%(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "default": {
            "class": "logging.StreamHandler",
            "formatter": "default",
            "stream": "ext://sys.stderr",
        }
    },
    "loggers": {
        "uvicorn": {"handlers": ["default"], "level": "WARNING", "propagate": False},
        "uvicorn.access": {"handlers": ["default"], "level": "WARNING", "propagate": False},
    },
}

WRK_LUA = """wrk.method = "POST"
wrk.body = [[{body}]]
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "Bearer {key}"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {{"requests":%d,"duration_us":%d,"status_errors":%d,"connect_errors":%d,' ..
    '"read_errors":%d,"write_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,' ..
    '"p99_us":%d,"max_us":%d}}\\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


class Servers:
    """Starts each server under test and knows how to reach it."""

    def __init__(self, workdir: Path, bench_python: Path | None, log: Callable[[str], None]):
        self.workdir = workdir
        self.bench_python = bench_python
        self.log = log
        self.procs: dict[str, Proc] = {}
        self.ports: dict[str, int] = {}
        self.versions: dict[str, str] = {}

    def start_upstream(self) -> int:
        proc = Proc(
            [python(), script("upstream"), "--max-seconds", "3600"],
            ready_line=True,
            log=self.workdir / "gw-upstream.log",
        )
        self.procs["direct"], self.ports["direct"] = proc, proc.port
        return proc.port

    def start_relay(self) -> None:
        up = self.ports["direct"]
        proc = Proc(
            [
                python(),
                script("relay"),
                "--upstream",
                f"http://127.0.0.1:{up}",
                "--max-seconds",
                "3600",
            ],
            ready_line=True,
            log=self.workdir / "gw-relay.log",
        )
        self.procs["relay"], self.ports["relay"] = proc, proc.port

    def start_omniwire(self, name: str = "omniwire", relay: bool = True) -> None:
        """``omniwire serve`` on the benchmark config; ``relay=False`` makes it decode and
        re-encode every answer even though client and upstream speak the same protocol
        (what a cross-protocol request costs, minus the second codec)."""
        cfg = self.workdir / f"{name}.toml"
        db = self.workdir / f"{name}-gateway.db"
        if db.exists():
            db.unlink()
        cfg.write_text(omniwire_config(self.ports["direct"], db))
        port = free_port()
        exe = Path(python()).with_name("omniwire")
        argv = ([str(exe)] if exe.exists() else [python(), "-m", "omniwire"]) + [
            "serve",
            "--config",
            str(cfg),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        env = dict(os.environ)
        for k in ("OMNIWIRE_PLUGINS", "OMNIWIRE_DISABLE_PLUGINS", "OMNIWIRE_CONFIG"):
            env.pop(k, None)
        env["OMNIWIRE_RELAY"] = "true" if relay else "false"
        proc = Proc(argv, env=env, log=self.workdir / f"gw-{name}.log", cwd=str(self.workdir))
        wait_http(port, "/healthz", 60, proc)
        self.procs[name], self.ports[name] = proc, port

    def start_litellm(self) -> None:
        assert self.bench_python is not None
        cfg = self.workdir / "litellm.yaml"
        cfg.write_text(litellm_config(self.ports["direct"]))
        port = free_port()
        env = dict(os.environ)
        env.update(
            {
                "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                "LITELLM_TELEMETRY": "False",
                "NO_DOCS": "True",
            }
        )
        # no access log (omniwire serve writes none either); it made no measurable
        # difference here, but the comparison should not hinge on it
        logcfg = self.workdir / "litellm-logging.json"
        logcfg.write_text(json.dumps(LITELLM_LOGGING))
        exe = self.bench_python.with_name("litellm")
        proc = Proc(
            [
                str(exe),
                "--config",
                str(cfg),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--num_workers",
                "1",
                "--log_config",
                str(logcfg),
            ],
            env=env,
            log=self.workdir / "gw-litellm.log",
            cwd=str(self.workdir),
        )
        wait_http(port, "/health/liveliness", 180, proc)
        self.procs["litellm"], self.ports["litellm"] = proc, port

    def stop(self) -> None:
        for proc in reversed(list(self.procs.values())):
            proc.stop()


def load(
    port: int,
    body: Path,
    *,
    connections: int,
    seconds: float,
    rate: float = 0.0,
    requests: int = 0,
    warmup: float = 0.0,
    use_wrk: bool,
    workdir: Path,
) -> dict[str, Any]:
    """One bounded load run against 127.0.0.1:port; a dict with rps and latency (ms)."""
    if use_wrk and not rate and not requests:
        lua = workdir / f"wrk-{body.stem}.lua"
        lua.write_text(WRK_LUA.format(body=body.read_text(), key=GATEWAY_KEY))
        if warmup:
            subprocess.run(
                [
                    "wrk",
                    "-t1",
                    f"-c{connections}",
                    f"-d{max(1, int(warmup))}s",
                    "-s",
                    str(lua),
                    f"http://127.0.0.1:{port}{PATH}",
                ],
                capture_output=True,
                timeout=warmup + 60,
                check=False,
            )
        done = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "30s",
                "-s",
                str(lua),
                f"http://127.0.0.1:{port}{PATH}",
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 90,
            check=False,
        )
        line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
        if line is None:
            raise RuntimeError(f"wrk printed no result: {done.stdout[-500:]} {done.stderr[-500:]}")
        w = json.loads(line[len("WRKJSON ") :])
        errors = sum(
            w[k]
            for k in ("status_errors", "connect_errors", "read_errors", "write_errors", "timeouts")
        )
        secs = w["duration_us"] / 1e6
        return {
            "tool": "wrk",
            "connections": connections,
            "requests": w["requests"] - errors,
            "errors": errors,
            "seconds": secs,
            "rps": (w["requests"] - errors) / secs,
            "p50_ms": w["p50_us"] / 1e3,
            "p90_ms": w["p90_us"] / 1e3,
            "p99_ms": w["p99_us"] / 1e3,
            "max_ms": w["max_us"] / 1e3,
        }
    argv = [
        python(),
        script("loadgen"),
        "--port",
        str(port),
        "--path",
        PATH,
        "--body-file",
        str(body),
        "--header",
        f"authorization: Bearer {GATEWAY_KEY}",
        "--connections",
        str(connections),
        "--seconds",
        str(seconds),
        "--warmup",
        str(warmup),
    ]
    if rate:
        argv += ["--rate", str(rate)]
    if requests:
        argv += ["--requests", str(requests)]
    result: dict[str, Any] = run_json(argv, timeout=seconds + warmup + 120)
    return result


def _median(values: list[Any]) -> float | None:
    values = [v for v in values if isinstance(v, (int, float))]
    return statistics.median(values) if values else None


def run(
    plan: dict[str, Any], bench_python: Path | None, workdir: Path, log: Callable[[str], None]
) -> dict[str, Any]:
    use_wrk = shutil.which("wrk") is not None and not plan.get("no_wrk")
    body = bodies(workdir)
    servers = Servers(workdir, bench_python, log)
    out: dict[str, Any] = {
        "tool": "wrk" if use_wrk else "pyload",
        "plan": plan,
        "servers": {},
        "notes": [],
    }
    try:
        servers.start_upstream()
        servers.start_relay()
        servers.start_omniwire()
        servers.start_omniwire("omniwire-transcoding", relay=False)
        log("  started upstream, relay, omniwire serve (relaying and transcoding)")
        if bench_python is not None:
            try:
                servers.start_litellm()
                log("  started the LiteLLM proxy")
            except Exception as exc:
                out["notes"].append(f"the LiteLLM proxy could not run here: {exc}"[:600])
                log(f"  LiteLLM proxy not available: {exc}"[:300])
        names = list(servers.procs)
        for name in names:
            out["servers"][name] = {
                "throughput": {"json": [], "stream": []},
                "latency": {"json": [], "stream": []},
            }
            for mode in ("json", "stream"):  # warm: connections, caches, lazy imports
                load(
                    servers.ports[name],
                    body[mode],
                    connections=8,
                    seconds=plan["warmup"],
                    use_wrk=False,
                    workdir=workdir,
                )
        # throughput: 32 connections, closed loop, rounds interleaved
        for r in range(plan["rounds"]):
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                for mode in ("json", "stream"):
                    res = load(
                        servers.ports[name],
                        body[mode],
                        connections=plan["connections"],
                        seconds=plan["seconds"],
                        use_wrk=use_wrk,
                        workdir=workdir,
                    )
                    out["servers"][name]["throughput"][mode].append(res)
            log(f"  throughput round {r + 1}/{plan['rounds']} done")
        # added latency at a moderate, fixed rate (Python generator: it paces and
        # measures from the scheduled send time)
        for r in range(plan["latency_rounds"]):
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                for mode in ("json", "stream"):
                    res = load(
                        servers.ports[name],
                        body[mode],
                        connections=plan["latency_connections"],
                        seconds=plan["latency_seconds"],
                        rate=plan["rate"],
                        use_wrk=False,
                        workdir=workdir,
                    )
                    out["servers"][name]["latency"][mode].append(res)
        log("  moderate-load latency done")
        for name, proc in servers.procs.items():
            out["servers"][name]["peak_rss_kb"] = proc.peak_rss_kb()
            out["servers"][name]["rss_kb"] = proc.rss_kb()
        # memory over many requests: omniwire serve and the relay (LiteLLM's rate makes
        # 50,000 requests take minutes; its peak RSS is reported above)
        out["soak"] = {}
        for name in ("omniwire", "relay"):
            proc = servers.procs[name]
            samples = [{"requests": 0, "rss_kb": proc.rss_kb()}]
            total = 0
            batch = plan["soak_batch"]
            while total < plan["soak_requests"]:
                mode = "json" if (total // batch) % 2 == 0 else "stream"
                res = load(
                    servers.ports[name],
                    body[mode],
                    connections=plan["connections"],
                    seconds=plan["soak_max_seconds"],
                    requests=batch,
                    use_wrk=False,
                    workdir=workdir,
                )
                total += res["requests"] + res["errors"]
                samples.append(
                    {
                        "requests": total,
                        "rss_kb": proc.rss_kb(),
                        "mode": mode,
                        "errors": res["errors"],
                        "rps": res["rps"],
                    }
                )
                if res["requests"] == 0:
                    break
            out["soak"][name] = {
                "samples": samples,
                "requests": total,
                "growth_kb": samples[-1]["rss_kb"] - samples[1]["rss_kb"]
                if len(samples) > 2
                else None,
                "growth_from_start_kb": samples[-1]["rss_kb"] - samples[0]["rss_kb"],
            }
            log(
                f"  soak {name}: {total} requests, RSS {samples[0]['rss_kb']} -> "
                f"{samples[-1]['rss_kb']} kB"
            )
        for name in names:
            out["servers"][name]["final_rss_kb"] = servers.procs[name].rss_kb()
            out["servers"][name]["peak_rss_kb"] = servers.procs[name].peak_rss_kb()
    finally:
        servers.stop()
    direct = out["servers"].get("direct")
    for name, data in out["servers"].items():
        summary: dict[str, Any] = {}
        for mode in ("json", "stream"):
            tp = data["throughput"][mode]
            lat = data["latency"][mode]
            s = {
                "rps": _median([x["rps"] for x in tp]),
                "p50_ms": _median([x["p50_ms"] for x in tp]),
                "p99_ms": _median([x["p99_ms"] for x in tp]),
                "errors": sum(x["errors"] for x in tp),
                "mod_p50_ms": _median([x["p50_ms"] for x in lat]),
                "mod_p99_ms": _median([x["p99_ms"] for x in lat]),
                "mod_rps": _median([x["rps"] for x in lat]),
                "mod_errors": sum(x["errors"] for x in lat),
            }
            if direct is not None and direct.get("summary", {}).get(mode) and name != "direct":
                d = direct["summary"][mode]
                for k in ("p50_ms", "p99_ms", "mod_p50_ms", "mod_p99_ms"):
                    if s[k] is not None and d[k] is not None:
                        s["added_" + k] = s[k] - d[k]
            summary[mode] = s
        data["summary"] = summary
    return out
