"""The plugin registers both codecs through its entry point, and loads lazily."""

from __future__ import annotations

import subprocess
import sys

from omniwire.plugins import PluginManager, iter_registered


def test_entry_point_registers_both_codecs() -> None:
    pm = PluginManager()
    assert type(pm.codec("anthropic.messages")).__name__ == "AnthropicMessages"
    assert type(pm.codec("anthropic.count_tokens")).__name__ == "AnthropicCountTokens"
    info = {p.name: p for p in pm.plugins()}["anthropic"]
    assert info.distribution == "omniwire-anthropic"
    assert info.provides["codecs"] == ["anthropic.count_tokens", "anthropic.messages"]


def test_hook_alone() -> None:
    import omniwire_anthropic

    ids = [c.id for c in iter_registered(omniwire_anthropic.omniwire_register_codecs)]
    assert ids == ["anthropic.messages", "anthropic.count_tokens"]


def test_import_is_light() -> None:
    code = (
        "import sys, omniwire_anthropic; "
        "print(sorted(m for m in sys.modules if m.startswith('omniwire_anthropic.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
