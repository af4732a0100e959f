"""Every distribution installs and works next to the kernel alone, the way users install
it (a real, non-editable install into an empty venv)."""

from __future__ import annotations

import json
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from repo_support import ROOT, require

PLUGIN_DIRS = sorted(p.parent for p in (ROOT / "plugins").glob("*/pyproject.toml"))


def project(folder: Path) -> dict:
    return tomllib.loads((folder / "pyproject.toml").read_text())["project"]


def entry_points(folder: Path) -> set[str]:
    return set(project(folder).get("entry-points", {}).get("omniwire", {}))


def first_party_deps(folder: Path) -> set[Path]:
    """The plugin folders a distribution depends on (its closure), by distribution name."""
    by_name = {project(p)["name"]: p for p in PLUGIN_DIRS}
    out: set[Path] = set()
    todo = [folder]
    while todo:
        for dep in project(todo.pop()).get("dependencies", []):
            name = dep.split(">")[0].split("<")[0].split("=")[0].split("[")[0].strip()
            if name in by_name and by_name[name] not in out:
                out.add(by_name[name])
                todo.append(by_name[name])
    return out


def uv() -> str:
    found = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
    require(Path(found).exists(), "uv is not available (make setup installs it)")
    return found


def install(tmp_path: Path, *folders: Path) -> Path:
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
            *[str(f) for f in folders],
        ],
        check=True,
        timeout=300,
    )
    return venv


def plugins_json(venv: Path) -> dict:
    out = subprocess.run(
        [str(venv / "bin" / "omniwire"), "plugins", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


@pytest.mark.parametrize("folder", PLUGIN_DIRS, ids=[p.name for p in PLUGIN_DIRS])
def test_kernel_and_one_plugin_alone(tmp_path, folder):
    venv = install(tmp_path, ROOT / "core", folder)
    listing = plugins_json(venv)
    expected = {"builtins"} | entry_points(folder)
    for dep in first_party_deps(folder):
        expected |= entry_points(dep)
    assert {p["name"] for p in listing["plugins"]} == expected
    assert listing["broken"] == []
    provided = {p["name"]: p["provides"] for p in listing["plugins"]}
    for name in entry_points(folder):
        assert provided[name], f"{name} registers nothing when installed alone"


def test_kernel_alone(tmp_path):
    venv = install(tmp_path, ROOT / "core")
    assert [p["name"] for p in plugins_json(venv)["plugins"]] == ["builtins"]
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


def test_codec_plugin_alone_transcodes(tmp_path):
    venv = install(tmp_path, ROOT / "core", ROOT / "plugins" / "openai")
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    out = subprocess.run(
        [
            str(venv / "bin" / "omniwire"),
            "transcode",
            "--from",
            "openai.chat",
            "--to",
            "openai.responses",
            "--report",
        ],
        input=body,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout)["input"][0]["content"] in (
        "hi",
        [{"type": "input_text", "text": "hi"}],
    )


def test_gateway_installs_alone(tmp_path):
    venv = install(
        tmp_path,
        ROOT / "core",
        ROOT / "plugins" / "openai",
        ROOT / "plugins" / "anthropic",
        ROOT / "plugins" / "gemini",
        ROOT / "plugins" / "aiohttp",
        ROOT / "contrib" / "gateway",
    )
    names = {p["name"] for p in plugins_json(venv)["plugins"]}
    assert {"gateway", "openai", "anthropic", "gemini", "aiohttp"} <= names


def test_testing_kit_installs_alone(tmp_path):
    venv = install(tmp_path, ROOT / "core", ROOT / "contrib" / "testing")
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pytest", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--omniwire-profile" in out.stdout
