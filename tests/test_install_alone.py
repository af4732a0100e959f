"""Every distribution installs and works next to the kernel alone, the way users install
it (a real, non-editable install into an empty venv)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from repo_support import ROOT, require

PLUGINS = {
    "openai": ("openai", ["openai.chat", "openai.responses"]),
    "anthropic": ("anthropic", ["anthropic.messages"]),
    "gemini": ("gemini", ["gemini.generate_content"]),
}


def uv() -> str:
    found = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
    require(Path(found).exists(), "uv is not available (make setup installs it)")
    return found


def install(tmp_path: Path, *dists: str) -> Path:
    venv = tmp_path / "venv"
    subprocess.run([uv(), "venv", "--quiet", "--python", "python3", str(venv)], check=True)
    subprocess.run(
        [
            uv(),
            "pip",
            "install",
            "--quiet",
            "--python",
            str(venv / "bin" / "python"),
            *[str(ROOT / d) for d in dists],
        ],
        check=True,
        timeout=300,
    )
    return venv


@pytest.mark.parametrize("name", sorted(PLUGINS))
def test_kernel_and_one_plugin_alone(tmp_path, name):
    folder, codecs = PLUGINS[name]
    venv = install(tmp_path, "core", f"plugins/{folder}")
    out = subprocess.run(
        [str(venv / "bin" / "omniwire"), "plugins", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    listing = json.loads(out.stdout)
    assert [p["name"] for p in listing["plugins"]] == sorted(["builtins", name])
    provided = {p["name"]: p["provides"] for p in listing["plugins"]}[name]
    assert set(codecs) <= set(provided["codecs"])
    assert listing["broken"] == []
    pip_list = subprocess.run(
        [uv(), "pip", "list", "--python", str(venv / "bin" / "python")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    others = {f"omniwire-{o}" for o in PLUGINS if o != name}
    assert not any(o in pip_list for o in others)


def test_kernel_alone(tmp_path):
    venv = install(tmp_path, "core")
    out = subprocess.run(
        [str(venv / "bin" / "omniwire"), "plugins", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert [p["name"] for p in json.loads(out.stdout)["plugins"]] == ["builtins"]
    bad = subprocess.run(
        [
            str(venv / "bin" / "omniwire"),
            "transcode",
            "--from",
            "openai.chat",
            "--to",
            "anthropic.messages",
        ],
        input="{}",
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "unknown codec 'openai.chat'" in bad.stderr
