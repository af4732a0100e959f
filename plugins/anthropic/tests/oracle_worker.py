"""Runs inside an oracle venv (the official SDK installed), never in the project's own.

Reads ``{"validators": <dir>, "cases": [{"kind", "data", "beta"}]}`` as JSON on stdin and
writes one ``{"hard", "missing", "extras", "error"}`` per case on stdout.
"""

import json
import sys


def main() -> None:
    job = json.load(sys.stdin)
    sys.path.insert(0, job["validators"])
    import anthropic
    import validators as v

    out = []
    for case in job["cases"]:
        kind, data, beta = case["kind"], case["data"], case.get("beta", False)
        try:
            if kind == "message":
                report = v.validate_anthropic_message(data, beta=beta)
            elif kind == "error":
                report = v.validate_anthropic_error(data)
            elif kind == "sse":
                report = v.accumulate_anthropic_sse(data, beta=beta)
            else:
                raise ValueError(f"unknown case kind {kind!r}")
            out.append(
                {
                    "hard": report.hard,
                    "missing": report.missing,
                    "extras": report.extras,
                    "error": None,
                }
            )
        except Exception as exc:  # the SDK refused the payload outright
            out.append(
                {"hard": [], "missing": [], "extras": [], "error": f"{type(exc).__name__}: {exc}"}
            )
    json.dump({"sdk": anthropic.__version__, "results": out}, sys.stdout)


if __name__ == "__main__":
    main()
