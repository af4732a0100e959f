"""Helpers shared by the gateway tests (imported by name: conftest is not importable)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
UPSTREAMS = {
    "via-chat": ("oa", "openai.chat"),
    "via-responses": ("oar", "openai.responses"),
    "via-anthropic": ("an", "anthropic.messages"),
    "via-gemini": ("ge", "gemini.generate_content"),
}
GATEWAY_KEY = "sk-gw-test-key-000000"


def require(condition: bool, why: str) -> None:
    if condition:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"missing under CI: {why}")
    pytest.skip(why)


def oracle_python(generation: str) -> Path:
    base = Path(os.environ.get("OMNIWIRE_ORACLE_VENVS", ROOT / ".oracles"))
    return base / generation / "bin" / "python"


def run_sdk(generation: str, base: str, cases: list[dict], key: str = GATEWAY_KEY) -> list[dict]:
    python = oracle_python(generation)
    require(python.exists(), f"oracle venv {generation} missing (make oracles)")
    proc = subprocess.run(
        [str(python), str(Path(__file__).parent / "sdk_clients.py")],
        input=json.dumps({"base": base, "key": key, "cases": cases}),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def gateway_config(up) -> str:
    lines = []
    for model, (name, protocol) in UPSTREAMS.items():
        lines += [
            "[[providers]]",
            f'name = "{name}"',
            f'protocol = "{protocol}"',
            f'base_url = "{up.base_url_for(protocol)}"',
            f'api_keys = ["up-key-{name}-0001"]',
            "",
            "[[models]]",
            f'name = "{model}"',
            f'targets = ["{name}:up-model"]',
            "",
        ]
    return "\n".join(lines)
