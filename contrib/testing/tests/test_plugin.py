"""The pytest plugin: fixtures, hook recording, profile selection, import cost."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import threading

import pytest
from omniwire.plugins import PluginManager, hookimpl
from omniwire_testing.profiles import select_profile
from omniwire_testing.services import redis_ping, require_redis
from omniwire_testing.support import codec_plugin
from omniwire_testing.toy import ToyCodec


class Observer:
    @hookimpl
    def omniwire_observe(self, call, event):
        return None


def test_plugin_manager_is_fresh_and_has_no_entry_points(plugin_manager):
    assert isinstance(plugin_manager, PluginManager)
    assert {name for name, _ in plugin_manager.pm.list_name_plugin()} == {"builtins"}
    assert "kit.chat" not in plugin_manager.codecs


def test_register_plugin(plugin_manager, register_plugin):
    name = register_plugin(codec_plugin(ToyCodec()), name="kit")
    assert name == "kit"
    assert "kit.chat" in plugin_manager.codecs
    assert plugin_manager.plugins()[-1].provides == {"codecs": ["kit.chat"]}


def test_hook_recorder_records_calls(plugin_manager, register_plugin, hook_recorder):
    register_plugin(Observer(), name="observer")
    plugin_manager.hook.omniwire_observe(call="the-call", event="start")
    plugin_manager.hook.omniwire_observe(call="the-call", event="end")
    assert hook_recorder.names() == ["omniwire_observe", "omniwire_observe"]
    first = hook_recorder.calls("omniwire_observe")[0]
    assert first.event == "start" and first.kwargs["call"] == "the-call"
    assert "observer" in first.implementations and first.finished
    assert hook_recorder.assert_called("omniwire_observe", event="end").result == []
    with pytest.raises(AssertionError, match="no call"):
        hook_recorder.assert_called("omniwire_observe", event="error")
    hook_recorder.clear()
    assert hook_recorder.calls() == []


def test_hook_recorder_keeps_exceptions(plugin_manager, register_plugin, hook_recorder):
    class Broken:
        @hookimpl
        def omniwire_observe(self, call, event):
            raise RuntimeError("boom")

    register_plugin(Broken(), name="broken")
    with pytest.raises(RuntimeError):
        plugin_manager.hook.omniwire_observe(call=None, event="start")
    assert isinstance(hook_recorder.last("omniwire_observe").exception, RuntimeError)


def test_profile_selection_rules():
    assert select_profile("fast", {"CI": "true", "OMNIWIRE_HYPOTHESIS_PROFILE": "dev"}) == "fast"
    assert select_profile(None, {"CI": "true", "OMNIWIRE_HYPOTHESIS_PROFILE": "dev"}) == "dev"
    assert select_profile(None, {"CI": "true"}) == "ci"
    assert select_profile(None, {"CI": "false"}) == "dev"
    assert select_profile(None, {}) == "dev"


def _run_pytest(tmp_path, body: str, *args: str, env: dict[str, str] | None = None):
    (tmp_path / "test_probe.py").write_text(textwrap.dedent(body))
    environ = {
        k: v for k, v in os.environ.items() if k not in ("CI", "OMNIWIRE_HYPOTHESIS_PROFILE")
    }
    environ.update(env or {})
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            str(tmp_path),
            *args,
        ],
        capture_output=True,
        text=True,
        env=environ,
        cwd=tmp_path,
        timeout=120,
    )


PROBE = """
    from hypothesis import settings

    def test_profile():
        print("PROFILE", settings.get_current_profile_name(), settings.default.max_examples,
              settings.default.derandomize)
"""


def test_the_option_wins_over_ci_end_to_end(tmp_path):
    out = _run_pytest(tmp_path, PROBE, "-s", "--omniwire-profile", "fast", env={"CI": "true"})
    assert "PROFILE fast 20 False" in out.stdout, out.stdout + out.stderr
    assert "omniwire: hypothesis profile 'fast'" in out.stdout


@pytest.fixture
def restore_profile():
    from hypothesis import settings

    name = settings.get_current_profile_name()
    yield
    settings.load_profile(name)


def test_profiles_load(restore_profile):
    from hypothesis import settings
    from omniwire_testing.profiles import activate

    assert activate(None, {"CI": "true"}) == "ci"
    current = settings.default
    assert (current.max_examples, current.derandomize, current.deadline) == (150, True, None)
    assert current.database is None and current.print_blob
    assert activate(None, {"OMNIWIRE_HYPOTHESIS_PROFILE": "fast"}) == "fast"
    assert (settings.default.max_examples, settings.default.derandomize) == (20, False)
    assert "explain" not in {p.name for p in settings.default.phases}
    with pytest.raises(ValueError, match="unknown Hypothesis profile 'nonsense'"):
        activate("nonsense", {})


def test_the_plugin_module_imports_nothing_heavy():
    code = (
        "import sys, omniwire_testing.pytest_plugin\n"
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('omniwire', 'hypothesis', 'httpx', 'attr', 'attrs', 'cattrs', 'omniwire_openai'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == [], out.stdout


def test_redis_unreachable_skips_or_fails_under_ci(monkeypatch):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"redis://127.0.0.1:{port}/15"
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="unreachable"):
        require_redis(url)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="required under CI"):
        require_redis(url)


def _fake_redis(replies: bytes):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def serve():
        conn, _ = server.accept()
        with conn:
            conn.recv(4096)
            conn.sendall(replies)
        server.close()

    threading.Thread(target=serve, daemon=True).start()
    return server.getsockname()[1]


def test_redis_ping_speaks_resp():
    port = _fake_redis(b"+OK\r\n+OK\r\n+PONG\r\n")
    assert redis_ping(f"redis://:secret@127.0.0.1:{port}/15") is None
    port = _fake_redis(b"-NOAUTH Authentication required.\r\n+PONG\r\n")
    assert "NOAUTH" in redis_ping(f"redis://127.0.0.1:{port}/3")
    assert "scheme" in redis_ping("rediss://127.0.0.1:1/0")


def test_redis_fixture(redis_url):
    # runs only where a Redis answers (skips elsewhere, fails under CI=true)
    assert redis_url.startswith("redis://")
