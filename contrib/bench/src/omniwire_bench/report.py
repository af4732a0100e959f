"""The Markdown report: tables of medians, every target as a ratio measured in the same
run, the machine and versions, and the hand-written analysis (``notes.md``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

NOTES = Path(__file__).with_name("notes.md")


def _f(value: Any, fmt: str = "{:.3f}") -> str:
    if value is None:
        return "n/a"
    return fmt.format(value)


def _ratio(a: Any, b: Any) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return float(a) / float(b)


def targets(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(target, measured, ratio/limit, status) rows."""
    rows: list[tuple[str, str, str, str]] = []

    def add(name: str, measured: str, value: float | None, limit: float, below: bool) -> None:
        if value is None:
            rows.append((name, measured, "n/a", "not measured"))
            return
        ok = value <= limit if below else value >= limit
        shown = f"{value:.2f}x ({'<=' if below else '>='} {limit:g}x)"
        if ok:
            status = "met"
        else:
            miss = value / limit - 1 if below else 1 - value / limit
            status = f"**missed** by {miss * 100:.0f}%"
        rows.append((name, measured, shown, status))

    lib = results.get("library", {}).get("clients", {})

    def seq(n: str) -> Any:
        return lib.get(n, {}).get("seq", {}).get("p50_ms")

    def conc(n: str) -> Any:
        return lib.get(n, {}).get("conc", {}).get("per_call_ms")

    for ours, floor in (("omniwire-httpx", "raw-httpx"), ("omniwire-aiohttp", "raw-aiohttp")):
        if ours in lib and floor in lib:
            add(
                f"{ours} per call <= 1.15x {floor}, sequential (p50)",
                f"{_f(seq(ours))} vs {_f(seq(floor))} ms",
                _ratio(seq(ours), seq(floor)),
                1.15,
                True,
            )
            add(
                f"{ours} per call <= 1.15x {floor}, 64 tasks",
                f"{_f(conc(ours))} vs {_f(conc(floor))} ms",
                _ratio(conc(ours), conc(floor)),
                1.15,
                True,
            )
    if "openai" in lib:
        for ours in ("omniwire-aiohttp", "omniwire-httpx"):
            add(
                f"{ours} faster than the OpenAI SDK, sequential (SDK time / ours)",
                f"{_f(seq('openai'))} vs {_f(seq(ours))} ms",
                _ratio(seq("openai"), seq(ours)),
                1.0,
                False,
            )
            add(
                f"{ours} faster than the OpenAI SDK, 64 tasks (SDK time / ours)",
                f"{_f(conc('openai'))} vs {_f(conc(ours))} ms",
                _ratio(conc("openai"), conc(ours)),
                1.0,
                False,
            )
    if "litellm" in lib:
        for ours in ("omniwire-aiohttp", "omniwire-httpx"):
            add(
                f"{ours} >= 5x faster than LiteLLM per call, sequential",
                f"{_f(seq('litellm'))} vs {_f(seq(ours))} ms",
                _ratio(seq("litellm"), seq(ours)),
                5.0,
                False,
            )
            add(
                f"{ours} >= 5x faster than LiteLLM per call, 64 tasks",
                f"{_f(conc('litellm'))} vs {_f(conc(ours))} ms",
                _ratio(conc("litellm"), conc(ours)),
                5.0,
                False,
            )
    imp = results.get("imports", {})
    ours_imp = imp.get("omniwire + openai plugin", {}).get("median_s")
    ll_imp = imp.get("litellm", {}).get("median_s")
    if ours_imp is not None and ll_imp is not None:
        add(
            "`import omniwire` + one provider plugin <= 1/10 of `import litellm`",
            f"{ours_imp * 1000:.0f} vs {ll_imp * 1000:.0f} ms",
            _ratio(ours_imp, ll_imp),
            0.10,
            True,
        )
    gw = results.get("gateway", {}).get("servers", {})

    def rps(n: str, mode: str) -> Any:
        return gw.get(n, {}).get("summary", {}).get(mode, {}).get("rps")

    if "omniwire" in gw:
        for mode, label in (("json", "non-streamed"), ("stream", "streamed")):
            if "relay" in gw:
                add(
                    f"gateway >= 0.5x the bare aiohttp relay, {label}",
                    f"{_f(rps('omniwire', mode), '{:,.0f}')} vs "
                    f"{_f(rps('relay', mode), '{:,.0f}')} req/s",
                    _ratio(rps("omniwire", mode), rps("relay", mode)),
                    0.5,
                    False,
                )
            if "litellm" in gw:
                add(
                    f"gateway >= 20x the LiteLLM proxy, {label}",
                    f"{_f(rps('omniwire', mode), '{:,.0f}')} vs "
                    f"{_f(rps('litellm', mode), '{:,.0f}')} req/s",
                    _ratio(rps("omniwire", mode), rps("litellm", mode)),
                    20.0,
                    False,
                )
        for mode, label in (("json", "non-streamed"), ("stream", "streamed")):
            s = gw["omniwire"]["summary"][mode]
            added = s.get("added_mod_p99_ms")
            rate = results["gateway"]["plan"]["rate"]
            if added is None:
                rows.append(
                    (
                        f"gateway p99 added latency < 2 ms at {rate:g} req/s, {label}",
                        "n/a",
                        "n/a",
                        "not measured",
                    )
                )
            else:
                rows.append(
                    (
                        f"gateway p99 added latency < 2 ms at {rate:g} req/s, {label}",
                        f"{added:.2f} ms (p99 {s['mod_p99_ms']:.2f} vs direct "
                        f"{gw['direct']['summary'][mode]['mod_p99_ms']:.2f} ms)",
                        f"{added:.2f} ms (< 2 ms)",
                        "met" if added < 2.0 else f"**missed** by {added - 2.0:.2f} ms",
                    )
                )
    return rows


def render(results: dict[str, Any], png: str | None) -> str:
    m = results["machine"]
    v = results["versions"]
    cv = results.get("competitor_versions") or {}
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `{results['command']}` ({results['mode']} run) on {results['started']}"
        f" in {results['elapsed_s']:.0f} s. Every number is a median over interleaved rounds "
        "of the same run; every ratio compares numbers of this run. The harness never "
        "passes or fails on timing: the **met / missed** column is information.",
        "",
        "Reproduce from the repository root: `.venv/bin/python -m omniwire_bench run` "
        "(creates the competitors' venv `.bench/` on first use; about 10 minutes). "
        "`--smoke --out /tmp/bench.md` is the short CI mode (no competitors).",
        "",
        f"**Machine**: {m.get('cpu', '?')}, {m.get('cpus')} CPUs, {m.get('mem_gib', '?')} GiB, "
        f"{m.get('platform')}, Python {m.get('python')}; load generator "
        f"{results.get('gateway', {}).get('tool', 'n/a')}"
        + (f" ({m['wrk_version']})" if m.get("wrk_version") else "")
        + ".",
        "",
        "**Versions**: "
        + ", ".join(f"{k} {x}" for k, x in v.items())
        + (
            ("; competitors' venv `.bench`: " + ", ".join(f"{k} {x}" for k, x in cv.items()))
            if cv
            else ""
        )
        + ".",
        "",
    ]
    if results.get("competitors_note"):
        lines += [f"**Note**: {results['competitors_note']}.", ""]
    if png:
        lines += [f"![benchmarks]({png})", ""]
    lines += [
        "## Method",
        "",
        "* **Upstream**: one process running `omniwire_bench/upstream.py`, a raw "
        "`asyncio.Protocol` HTTP/1.1 server on 127.0.0.1 that answers OpenAI chat "
        "completions (JSON with usage, or SSE in chunked encoding: N content chunks, a "
        "finish chunk, a usage chunk, `[DONE]`) from precomputed bytes in one write. "
        "N comes from the model name (`m20`, `m200`).",
        "* **Library**: each client is a long-lived worker process (`libworker.py`; the "
        "OpenAI SDK and LiteLLM run in the `.bench` venv, everything else in the project "
        "venv), all on the default asyncio loop. Every call sends the same one-message "
        "request and reads the answer's text. The floors do the least a client can: "
        "`json.dumps` the body, POST it, `json.loads` the answer (for streams: split "
        "`data:` lines off the raw bytes and `json.loads` each). `omniwire-X` is a "
        "`Stack` with one openai.chat endpoint on transport X; `omniwire-x-X` decodes an "
        "Anthropic Messages request to the canonical model, calls the OpenAI upstream and "
        "encodes the answer back to an Anthropic message. Those stacks load the plugins "
        "a user of that scenario installs (`OMNIWIRE_PLUGINS="
        "openai,anthropic,aiohttp`); the `+all plugins` rows load every plugin of the "
        "workspace venv (breaker, prices, otel and logging observers...). Sequential: "
        "one call at a time, p50; 64 tasks: wall time / calls. Rounds interleave the "
        "clients, in an order rotated per round.",
        "* **Gateway**: the upstream, the bare aiohttp relay (`relay.py`: forwards bytes, "
        "no parsing), `omniwire serve` with the full path (openai.chat codec, a route "
        "with a price and a budget, a global budget guard, breaker, price stage, otel and "
        "logging observers, SQLite request log on) and the LiteLLM proxy (one worker, "
        "master key, no database, access log off) each run as their own process. "
        "`omniwire` relays the upstream's bytes to the client (same protocol both sides: "
        "every answer and event is still decoded for usage, budget, price, observers and "
        "the log, nothing is re-encoded); `omniwire-transcoding` is the same server with "
        "`relay = false`, re-encoding every answer through the codec. The load "
        "comes from another process (wrk with 32 connections when installed, else "
        "`loadgen.py`). The moderate-load latency uses `loadgen.py` at a fixed rate over "
        "4 connections, measured from the send (from the scheduled send time when a slow "
        "answer made the request late: no coordinated omission); the added latency is the "
        "server's percentile minus the upstream's own at the same load. Streamed requests "
        "get 20 chunks.",
        "",
        "## Targets",
        "",
        "Why the misses happen, and what would fix them: *Where the time goes* and "
        "*Suggested changes* below.",
        "",
        "| target | measured | ratio | status |",
        "|---|---|---|---|",
    ]
    for row in targets(results):
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    imp = results.get("imports")
    if imp:
        ll = (imp.get("litellm") or {}).get("median_s")
        lines += [
            "## Import time",
            "",
            "A fresh interpreter per sample; the import statement timed inside it.",
            "",
            "| import | median ms | min ms | modules loaded | vs `import litellm` |",
            "|---|---|---|---|---|",
        ]
        for name, d in imp.items():
            lines.append(
                f"| `{name}` | {_f(d['median_s'] and d['median_s'] * 1000, '{:.0f}')} | "
                f"{_f(d['min_s'] and d['min_s'] * 1000, '{:.0f}')} | {d.get('modules')} | "
                f"{_f(_ratio(d['median_s'], ll), '{:.3f}x')} |"
            )
        lines.append("")
    lib = results.get("library")
    if lib:
        c = lib["clients"]
        p = lib["plan"]

        def floor_of(name: str) -> str | None:
            if name.startswith("omniwire"):
                return "raw-aiohttp" if "aiohttp" in name else "raw-httpx"
            return None

        lines += [
            "## Library, non-streaming",
            "",
            f"{p['rounds']} rounds; sequential: up to {p['seq_calls']} calls or "
            f"{p['seq_seconds']} s per round; concurrent: {p['tasks']} tasks for "
            f"{p['conc_seconds']} s per round. Model `{p['model']}` (a 20-token answer).",
            "",
            "| client | version | seq p50 ms | seq calls/s | vs its floor | vs openai | "
            f"vs litellm | {p['tasks']} tasks: ms/call | calls/s | p99 ms | vs its floor | "
            "peak RSS MB |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for name, d in c.items():
            fl = floor_of(name)
            s, k = d["seq"], d["conc"]
            o, lt = c.get("openai"), c.get("litellm")
            lines.append(
                f"| {name} | {d['version']} | {_f(s['p50_ms'])} | {_f(s['calls_per_s'], '{:,.0f}')}"
                f" | {_f(_ratio(s['p50_ms'], c[fl]['seq']['p50_ms']) if fl in c else None, '{:.2f}x')}"
                f" | {_f(_ratio(s['p50_ms'], o['seq']['p50_ms']) if o else None, '{:.2f}x')}"
                f" | {_f(_ratio(s['p50_ms'], lt['seq']['p50_ms']) if lt else None, '{:.3f}x')}"
                f" | {_f(k['per_call_ms'])} | {_f(k['calls_per_s'], '{:,.0f}')}"
                f" | {_f(k['p99_ms'], '{:.1f}')}"
                f" | {_f(_ratio(k['per_call_ms'], c[fl]['conc']['per_call_ms']) if fl in c else None, '{:.2f}x')}"
                f" | {_f(d.get('maxrss_kb') and d['maxrss_kb'] / 1024, '{:.0f}')} |"
            )
        lines += [
            "",
            "## Library, streaming",
            "",
            f"A {c[next(iter(c))]['stream']['chunks']}-chunk stream (model "
            f"`{p['stream_model']}`), sequential; time to first content chunk, the time per "
            "further chunk ((last - first) / (chunks - 1)), and the whole stream; medians.",
            "",
            "| client | time to first chunk ms | per chunk us | whole stream ms | "
            "per chunk vs its floor |",
            "|---|---|---|---|---|",
        ]
        for name, d in c.items():
            fl = floor_of(name)
            st = d["stream"]
            lines.append(
                f"| {name} | {_f(st['ttfc_p50_ms'])} | {_f(st['per_chunk_us'], '{:.1f}')} | "
                f"{_f(st['total_p50_ms'], '{:.2f}')} | "
                f"{_f(_ratio(st['per_chunk_us'], c[fl]['stream']['per_chunk_us']) if fl in c else None, '{:.2f}x')} |"
            )
        lines.append("")
    gw = results.get("gateway")
    if gw:
        p = gw["plan"]
        s = gw["servers"]
        relay = s.get("relay", {}).get("summary", {})
        ll = s.get("litellm", {}).get("summary", {})
        lines += [
            "## Gateway",
            "",
            f"Throughput: {p['connections']} keep-alive connections, closed loop, "
            f"{p['seconds']:g} s per run, {p['rounds']} rounds ({gw['tool']}). Latency at "
            f"moderate load: {p['rate']:g} requests/s over {p['latency_connections']} "
            f"connections, {p['latency_seconds']:g} s, {p['latency_rounds']} rounds. "
            "Servers that cannot sustain that rate show queueing.",
            "",
            "| server | mode | req/s | vs relay | vs LiteLLM | p50 ms | p99 ms | errors | "
            f"at {p['rate']:g}/s: p50 ms | p99 ms | added p50 ms | added p99 ms |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for name, d in s.items():
            for mode in ("json", "stream"):
                x = d["summary"][mode]
                lines.append(
                    f"| {name} | {'streamed' if mode == 'stream' else 'non-streamed'} | "
                    f"{_f(x['rps'], '{:,.0f}')} | "
                    f"{_f(_ratio(x['rps'], relay.get(mode, {}).get('rps')), '{:.2f}x')} | "
                    f"{_f(_ratio(x['rps'], ll.get(mode, {}).get('rps')), '{:.1f}x')} | "
                    f"{_f(x['p50_ms'], '{:.2f}')} | {_f(x['p99_ms'], '{:.2f}')} | "
                    f"{x['errors'] + x['mod_errors']} | "
                    f"{_f(x['mod_p50_ms'], '{:.2f}')} | {_f(x['mod_p99_ms'], '{:.2f}')} | "
                    f"{_f(x.get('added_mod_p50_ms'), '{:.2f}')} | "
                    f"{_f(x.get('added_mod_p99_ms'), '{:.2f}')} |"
                )
        lines += [
            "",
            "## Memory",
            "",
            "| process | peak RSS MB | RSS at the end MB |",
            "|---|---|---|",
        ]
        for name, d in s.items():
            lines.append(
                f"| gateway: {name} | {_f(d.get('peak_rss_kb', 0) / 1024, '{:.0f}')} | "
                f"{_f(d.get('final_rss_kb', 0) / 1024, '{:.0f}')} |"
            )
        for name, d in (results.get("library", {}).get("clients") or {}).items():
            lines.append(
                f"| library worker: {name} | "
                f"{_f(d.get('maxrss_kb') and d['maxrss_kb'] / 1024, '{:.0f}')} | |"
            )
        soak = gw.get("soak", {})
        if soak:
            lines += [
                "",
                "RSS over many gateway requests (batches alternate non-streamed and streamed; "
                "growth is measured from after the first batch, once caches and pools are "
                "warm):",
                "",
                "| server | requests | RSS after each batch (MB) | growth after the first batch |",
                "|---|---|---|---|",
            ]
            for name, d in soak.items():
                trail = " -> ".join(f"{x['rss_kb'] / 1024:.1f}" for x in d["samples"])
                g = d.get("growth_kb")
                lines.append(
                    f"| {name} | {d['requests']:,} | {trail} | {_f(g and g / 1024, '{:+.1f} MB')} |"
                )
        for note in gw.get("notes", []):
            lines += ["", f"Note: {note}"]
        lines.append("")
    tr = results.get("transcoding")
    if tr:
        lines += [
            "## Transcoding",
            "",
            f"A tool-using conversation of {tr['messages']} Anthropic messages "
            f"({tr['openai_messages']} in OpenAI form, where every tool result is its own "
            f"message), a system prompt and three tools, {tr['bytes']:,} bytes of JSON; "
            '`omniwire.transcode(kind="request")`: decode to the canonical model, encode to '
            "the other protocol, with the conversion report.",
            "",
            "| direction | conversions/s | us each |",
            "|---|---|---|",
        ]
        for name, d in tr["directions"].items():
            lines.append(f"| {name} | {d['per_s']:,.0f} | {d['us_each']:.0f} |")
        lines.append("")
    if NOTES.exists():
        lines += [NOTES.read_text().rstrip(), ""]
    return "\n".join(lines)
