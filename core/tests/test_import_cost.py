"""``import omniwire`` stays light: the plugin manager, transports, cattrs and every
plugin load on first use. (Timing lives in the benchmarks; this pins the structure.)"""

from __future__ import annotations

import subprocess
import sys

HEAVY = (
    "pluggy",
    "httpx",
    "cattrs",
    "anyio",
    "omniwire_openai",
    "omniwire_anthropic",
    "omniwire_gemini",
    "importlib.metadata",
)


def test_import_omniwire_loads_nothing_heavy():
    code = "import sys, omniwire; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(out.stdout.split())
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_lazy_names_resolve():
    import omniwire

    assert omniwire.Stack.__name__ == "Stack"
    assert omniwire.hookimpl is not None
    assert set(omniwire.__all__) <= set(dir(omniwire)) | set(omniwire._LAZY)
