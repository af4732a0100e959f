"""The competitors' venv (``.bench/`` at the repository root): LiteLLM with its proxy
extras, the OpenAI SDK and matplotlib, pinned, never in the project's own venv."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path

#: verified to install and run on the project's machine (Python 3.11, PyPI as mirrored
#: here). LiteLLM 1.106.10's proxy extra needs a certifi newer than the registry has;
#: 1.106.0 is the newest 1.106 release whose ``[proxy]`` extra resolves. LiteLLM 1.107.0
#: was a compromised release: never pin it.
PINS = ("litellm[proxy]==1.106.0", "openai==2.54.0", "matplotlib==3.11.2")


def repo_root(start: Path | None = None) -> Path:
    """The workspace root: the nearest parent with ``uv.lock`` (else the cwd)."""
    here = (start or Path.cwd()).resolve()
    for p in (here, *here.parents):
        if (p / "uv.lock").exists() and (p / "core").is_dir():
            return p
    return here


def bench_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _stamp(venv: Path) -> Path:
    return venv / ".omniwire-bench-pins"


def ready(venv: Path) -> bool:
    stamp = _stamp(venv)
    return bench_python(venv).exists() and stamp.exists() and stamp.read_text() == "\n".join(PINS)


def ensure(venv: Path, *, log=print) -> bool:  # type: ignore[no-untyped-def]
    """Create the venv and install the pins if needed; False (with a message) if that
    fails (no registry, no network): the competitors are then skipped."""
    if ready(venv):
        return True
    log(f"creating the competitors' venv {venv} ({', '.join(PINS)}) ...")
    try:
        if not bench_python(venv).exists():
            subprocess.run(
                ["python3", "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300
            )
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "--quiet", *PINS],
            check=True,
            capture_output=True,
            timeout=1800,
            text=True,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", "") or ""
        log(f"could not set up {venv}: {type(exc).__name__} {str(detail)[-800:]}")
        return False
    _stamp(venv).write_text("\n".join(PINS))
    return True


def versions(venv: Path) -> dict[str, str]:
    code = (
        "import json, importlib.metadata as m\n"
        "out = {}\n"
        "for d in ('litellm', 'openai', 'matplotlib', 'fastapi', 'uvicorn', 'httpx', 'aiohttp'):\n"
        "    try: out[d] = m.version(d)\n"
        "    except Exception: pass\n"
        "print(json.dumps(out))\n"
    )
    try:
        done = subprocess.run(
            [str(bench_python(venv)), "-c", code], capture_output=True, text=True, timeout=60
        )
        return dict(json.loads(done.stdout))
    except (OSError, ValueError, subprocess.SubprocessError):
        return {}


def local_versions() -> dict[str, str]:
    import importlib.metadata as m

    out = {"python": sys.version.split()[0]}
    for d in (
        "omniwire",
        "omniwire-openai",
        "omniwire-anthropic",
        "omniwire-aiohttp",
        "omniwire-gateway",
        "aiohttp",
        "httpx",
        "attrs",
        "pluggy",
    ):
        with contextlib.suppress(m.PackageNotFoundError):
            out[d] = m.version(d)
    return out
