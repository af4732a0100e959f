"""Test support shared by the Gemini plugin's tests: paths, Hypothesis settings, the
oracle runner. (A uniquely named module: ``conftest`` would clash across plugins.)"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
CI = os.environ.get("CI") == "true"

EXAMPLES = settings(
    max_examples=int(os.environ.get("GEMINI_EXAMPLES", "120")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
"""The plugin's Hypothesis settings, applied per test (a profile would be global)."""


def corpus_root() -> Path:
    return Path(os.environ.get("OMNIWIRE_CORPUS", REPO.parent / "shared" / "corpus"))


def skip_or_fail(reason: str) -> None:
    """Missing test inputs fail under CI=true and skip elsewhere."""
    if CI:
        pytest.fail(reason)
    pytest.skip(reason)


_ORACLE_SCRIPT = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import validators as v
job = json.load(sys.stdin)
out = {"responses": [], "streams": []}
for body in job["responses"]:
    try:
        r = v.validate_gemini_response(body)
        out["responses"].append({"hard": r.hard, "missing": r.missing, "extras": r.extras})
    except Exception as e:
        out["responses"].append({"hard": [f"raised {type(e).__name__}: {e}"], "missing": [], "extras": []})
for text in job["streams"]:
    try:
        r = v.accumulate_gemini_sse(text)
        out["streams"].append({"hard": r.hard, "missing": r.missing, "extras": r.extras})
    except Exception as e:
        out["streams"].append({"hard": [f"raised {type(e).__name__}: {e}"], "missing": [], "extras": []})
json.dump(out, sys.stdout)
"""


def oracle_python(generation: str) -> Path:
    python = REPO / ".oracles" / generation / "bin" / "python"
    if not python.exists():
        skip_or_fail(f"the {generation} oracle venv is missing ({python})")
    return python


def run_oracle(generation: str, responses: list[Any], streams: list[str]) -> dict[str, Any]:
    """Validate bodies and SSE texts with the official SDK of one generation, in one
    subprocess (the SDKs must not load into the project's own environment)."""
    python = oracle_python(generation)
    validators = corpus_root().parent / "oracles"
    if not (validators / "validators.py").exists():
        skip_or_fail(f"the oracle validators are missing ({validators})")
    job = json.dumps({"responses": responses, "streams": streams}, ensure_ascii=False)
    proc = subprocess.run(
        [str(python), "-c", _ORACLE_SCRIPT, str(validators)],
        input=job.encode(),
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-3000:]
    return json.loads(proc.stdout)
