"""Draw the benchmark figure from the results JSON. Standalone (matplotlib), run by the
competitors' venv: ``python plot.py results.json out.png``."""

from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(argv[0]) as f:
        data = json.load(f)
    fig, axes = plt.subplots(2, 2, figsize=(15, 10))
    fig.suptitle(
        f"omniwire benchmarks ({data['mode']} run, {data['started']}, "
        f"{data['machine'].get('cpus')} CPUs, Python {data['machine'].get('python')}) - "
        "medians of interleaved rounds",
        fontsize=12,
    )
    colors = {
        "raw": "#9e9e9e",
        "omniwire": "#1565c0",
        "openai": "#2e7d32",
        "litellm": "#c62828",
        "direct": "#9e9e9e",
        "relay": "#757575",
    }

    def color(name: str) -> str:
        for k, v in colors.items():
            if name.startswith(k):
                return v
        return "#6a1b9a"

    def barh(ax, labels, values, title, xlabel, fmt="{:.3g}"):  # type: ignore[no-untyped-def]
        pairs = [(a, b) for a, b in zip(labels, values) if b is not None]
        if not pairs:
            ax.set_visible(False)
            return
        labels, values = zip(*pairs)
        y = range(len(labels))
        ax.barh(list(y), values, color=[color(n) for n in labels])
        ax.set_yticks(list(y))
        ax.set_yticklabels(labels, fontsize=9)
        ax.invert_yaxis()
        ax.set_title(title, fontsize=11)
        ax.set_xlabel(xlabel)
        top = max(values)
        for i, v in enumerate(values):
            ax.text(v + top * 0.01, i, fmt.format(v), va="center", fontsize=8)
        ax.set_xlim(0, top * 1.18)

    lib = data.get("library", {}).get("clients", {})
    if lib:
        names = list(lib)
        barh(
            axes[0][0],
            names,
            [lib[n]["seq"]["p50_ms"] for n in names],
            "Library: sequential non-streaming call, p50 (lower is better)",
            "ms per call",
        )
        barh(
            axes[0][1],
            names,
            [lib[n]["conc"]["calls_per_s"] for n in names],
            f"Library: {data['plan']['library']['tasks']} concurrent tasks (higher is better)",
            "calls/s",
            "{:,.0f}",
        )
    else:
        axes[0][0].set_visible(False)
        axes[0][1].set_visible(False)
    gw = data.get("gateway", {}).get("servers", {})
    if gw:
        ax = axes[1][0]
        names = list(gw)
        width = 0.38
        xs = range(len(names))
        for k, (mode, label) in enumerate((("json", "non-streamed"), ("stream", "streamed"))):
            vals = [gw[n]["summary"][mode]["rps"] or 0 for n in names]
            pos = [x + (k - 0.5) * width for x in xs]
            ax.bar(pos, vals, width, label=label, color=["#1565c0", "#90caf9"][k])
            for p, v in zip(pos, vals):
                ax.text(p, v, f"{v:,.0f}", ha="center", va="bottom", fontsize=8)
        ax.set_xticks(list(xs))
        ax.set_xticklabels(names)
        ax.set_yscale("log")
        ax.set_ylabel("requests/s (log scale)")
        ax.set_title(
            f"Gateway throughput, {data['plan']['gateway']['connections']} connections "
            f"({data['gateway'].get('tool')})",
            fontsize=11,
        )
        ax.legend(fontsize=9)
    else:
        axes[1][0].set_visible(False)
    imp = data.get("imports", {})
    if imp:
        names = [n for n in imp if imp[n]["median_s"] is not None]
        barh(
            axes[1][1],
            names,
            [imp[n]["median_s"] * 1000 for n in names],
            "Import time (lower is better)",
            "ms",
            "{:.0f}",
        )
    else:
        axes[1][1].set_visible(False)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    fig.savefig(argv[1], dpi=90)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
