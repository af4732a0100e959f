"""Discovery survives broken plugins; names never clash silently; env allow/deny lists."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from kernel_toy import ToyCodec
from omniwire import PluginError
from omniwire.plugins import PluginManager, hookimpl


def make_dist(root: Path, name: str, module_source: str) -> None:
    """A real installed distribution on sys.path: module + dist-info with an entry point."""
    (root / f"{name}.py").write_text(textwrap.dedent(module_source))
    info = root / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[omniwire]\n{name} = {name}\n")


GOOD = """
from omniwire.plugins import hookimpl

class Codec:
    id = "good.chat"
    family = "generate"

@hookimpl
def omniwire_register_codecs(register):
    register(Codec())
"""


def plugins_json(tmp_path: Path, **env: str) -> tuple[int, dict, str]:
    environ = {**os.environ, "PYTHONPATH": str(tmp_path), **env}
    proc = subprocess.run(
        [sys.executable, "-m", "omniwire.cli", "plugins", "--json"],
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
    )
    return proc.returncode, json.loads(proc.stdout or "{}"), proc.stderr


@pytest.fixture
def dists(tmp_path):
    make_dist(tmp_path, "good_plugin", GOOD)
    make_dist(tmp_path, "broken_import", "raise RuntimeError('boom at import')\n")
    make_dist(
        tmp_path,
        "broken_hook",
        """
        from omniwire.plugins import hookimpl
        @hookimpl
        def omniwire_register_codecs(register):
            raise ValueError('boom at registration')
    """,
    )
    make_dist(
        tmp_path,
        "misspelled",
        """
        from omniwire.plugins import hookimpl
        @hookimpl
        def omniwire_register_codec(register):
            pass
    """,
    )
    return tmp_path


def test_broken_plugins_are_reported_not_fatal(dists):
    code, out, err = plugins_json(
        dists, OMNIWIRE_PLUGINS="good_plugin,broken_import,broken_hook,misspelled"
    )
    assert code == 0, err
    names = {p["name"]: p for p in out["plugins"]}
    assert names["good_plugin"]["provides"] == {"codecs": ["good.chat"]}
    assert names["good_plugin"]["distribution"] == "good_plugin"
    broken = {b["name"]: b["error"] for b in out["broken"]}
    assert "boom at import" in broken["broken_import"]
    assert "boom at registration" in broken["broken_hook"]
    assert "omniwire_register_codec" in broken["misspelled"]
    assert "Traceback" not in err


def test_allowlist_and_denylist(dists):
    _, out, _ = plugins_json(dists, OMNIWIRE_PLUGINS="good_plugin")
    assert "good_plugin" in {p["name"] for p in out["plugins"]} and not out["broken"]
    _, out, _ = plugins_json(dists, OMNIWIRE_PLUGINS="")
    assert [p["name"] for p in out["plugins"]] == ["builtins"]
    _, out, _ = plugins_json(
        dists, OMNIWIRE_DISABLE_PLUGINS="broken_import,broken_hook,misspelled,builtins"
    )
    assert "builtins" not in {p["name"] for p in out["plugins"]}
    assert not out["broken"]


def test_duplicate_codec_names_are_a_clear_error():
    pm = PluginManager(entry_points=False)

    class A:
        @hookimpl
        def omniwire_register_codecs(self, register):
            register(ToyCodec())

    pm.register(A(), name="first")
    pm.register(A(), name="second")
    with pytest.raises(
        PluginError, match="codec 'toy.chat' is registered by both 'first' and 'second'"
    ):
        pm.codec("toy.chat")


def test_in_process_plugin_with_misspelled_hook_is_rejected():
    pm = PluginManager(entry_points=False)

    class Typo:
        @hookimpl
        def omniwire_encoed(self, call, request):
            return None

    with pytest.raises(PluginError, match="omniwire_encoed"):
        pm.register(Typo(), name="typo")
    assert not pm.pm.has_plugin("typo")


def test_unregister_updates_tables():
    pm = PluginManager(entry_points=False)

    class A:
        @hookimpl
        def omniwire_register_codecs(self, register):
            register(ToyCodec())

    pm.register(A(), name="a")
    assert "toy.chat" in pm.codecs
    pm.unregister(name="a")
    assert "toy.chat" not in pm.codecs
