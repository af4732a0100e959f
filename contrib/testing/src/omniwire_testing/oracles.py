"""Ask the official SDKs whether a wire payload is right.

The validators (``validators.py`` in the shared oracles directory) use the SDKs' own
models, so they run in dedicated virtualenvs (``new`` and ``old`` SDK generations), never
in the project's environment. :func:`validate_many` sends a batch to one subprocess as
JSON on stdin and reads a JSON list back, so a test pays one interpreter start per batch.

Locations: ``OMNIWIRE_ORACLES`` (the directory holding ``validators.py``; default
``<repo>/../shared/oracles`` in a source checkout) and ``OMNIWIRE_ORACLE_VENVS`` (the
directory holding ``new/`` and ``old/``; default ``<repo>/.oracles``). An installed kit
has no repository, so there only the environment variables count.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any, Iterable, Sequence

__all__ = [
    "OracleUnavailable",
    "available",
    "oracles_dir",
    "python_for",
    "repo_root",
    "validate",
    "validate_many",
    "venvs_dir",
]

GENERATIONS = ("new", "old")


class OracleUnavailable(RuntimeError):
    """The validators or the SDK virtualenv for a generation are not installed."""


@cache
def repo_root() -> Path | None:
    """The workspace root of a source checkout this module lives in, else None."""
    for parent in Path(__file__).resolve().parents:
        project = parent / "pyproject.toml"
        if project.is_file() and "[tool.uv.workspace]" in project.read_text(encoding="utf-8"):
            return parent
    return None


def oracles_dir() -> Path | None:
    env = os.environ.get("OMNIWIRE_ORACLES")
    if env:
        return Path(env)
    root = repo_root()
    return root.parent / "shared" / "oracles" if root is not None else None


def venvs_dir() -> Path | None:
    env = os.environ.get("OMNIWIRE_ORACLE_VENVS")
    if env:
        return Path(env)
    root = repo_root()
    return root / ".oracles" if root is not None else None


def python_for(generation: str = "new") -> Path | None:
    if generation not in GENERATIONS:
        raise ValueError(f"unknown SDK generation {generation!r} (one of {GENERATIONS})")
    venvs = venvs_dir()
    if venvs is None:
        return None
    name = "Scripts/python.exe" if sys.platform == "win32" else "bin/python"
    return venvs / generation / name


def _installed(venv: Path) -> bool:
    """The three SDKs and pydantic are in the venv (a file check: importing them takes
    seconds, and the validation subprocess pays that once anyway)."""
    if sys.platform == "win32":
        roots = [venv / "Lib" / "site-packages"]
    else:
        roots = list(venv.glob("lib/python3*/site-packages"))
    needed = ("openai", "anthropic", "google/genai", "pydantic")
    return any(all((root / name / "__init__.py").is_file() for name in needed) for root in roots)


def available(generation: str = "new") -> bool:
    """Whether the validators and that generation's SDKs are installed."""
    python, validators = python_for(generation), oracles_dir()
    if python is None or validators is None or not python.is_file():
        return False
    if not (validators / "validators.py").is_file():
        return False
    return _installed(python.parent.parent)


# Runs inside the oracle venv: stdout carries only the JSON answer.
_RUNNER = r"""
import json, sys
request = json.load(sys.stdin)
out, real_stdout = [], sys.stdout
sys.stdout = sys.stderr
sys.path.insert(0, request["dir"])
try:
    import validators
except Exception as exc:
    json.dump({"fatal": f"{type(exc).__name__}: {exc}"}, real_stdout)
    raise SystemExit(0)
for name, payload, kwargs in request["calls"]:
    try:
        fn = getattr(validators, name, None) if not name.startswith("_") else None
        if not callable(fn):
            raise AttributeError(f"validators has no function {name!r}")
        report = fn(payload, **kwargs)
        out.append({
            "ok": not report.hard,
            "hard": [str(x) for x in report.hard],
            "missing": [str(x) for x in report.missing],
            "extras": [str(x) for x in report.extras],
        })
    except Exception as exc:
        out.append({"ok": False, "hard": [], "missing": [], "extras": [],
                    "error": f"{type(exc).__name__}: {exc}"})
json.dump(out, real_stdout)
"""


def validate_many(
    calls: Iterable[tuple[str, Any] | tuple[str, Any, dict[str, Any]]],
    generation: str = "new",
    *,
    timeout: float = 300,
) -> list[dict[str, Any]]:
    """Run ``validators.<function>(payload, **kwargs)`` for each call in one subprocess.

    Each result is ``{"ok", "hard", "missing", "extras"}`` plus ``"error"`` when the
    validator raised (stream validators raise on in-stream errors and cut streams).
    Raises OracleUnavailable when the oracles are not installed.
    """
    batch: list[Sequence[Any]] = []
    for call in calls:
        name, payload, *rest = call
        batch.append([name, payload, rest[0] if rest else {}])
    python, validators = python_for(generation), oracles_dir()
    if python is None or validators is None or not python.is_file():
        raise OracleUnavailable(f"no oracle virtualenv for the {generation!r} SDK generation")
    if not (validators / "validators.py").is_file():
        raise OracleUnavailable(f"no validators.py in {validators}")
    if not batch:
        return []
    done = subprocess.run(
        [str(python), "-c", _RUNNER],
        input=json.dumps({"dir": str(validators), "calls": batch}),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    try:
        answer = json.loads(done.stdout)
    except ValueError:
        raise OracleUnavailable(
            f"the oracle runner failed (exit {done.returncode}): {done.stderr.strip()[-500:]}"
        ) from None
    if isinstance(answer, dict):
        raise OracleUnavailable(f"the validators do not import: {answer.get('fatal')}")
    return list(answer)


def validate(function: str, payload: Any, generation: str = "new", **kwargs: Any) -> dict[str, Any]:
    """One validation (a subprocess per call: batch with validate_many when you can)."""
    return validate_many([(function, payload, kwargs)], generation)[0]
