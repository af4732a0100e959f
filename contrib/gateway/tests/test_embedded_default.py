"""``omniwire serve`` with nothing configured: a working gateway a newcomer's SDK can use."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from gateway_support import run_sdk

KEY = "sk-gw-test-key-000000"


def test_sdks_talk_to_the_local_model(tmp_path):
    from omniwire_gateway.testing import RunningGateway

    env = {"HOME": str(tmp_path)}  # no provider keys: the embedded default serves
    with RunningGateway(None, keys=(KEY,), env=env) as gw:
        cases = [
            {"inbound": inbound, "model": "omniwire-local", "mode": mode, "prompt": "hello local"}
            for inbound in ("chat", "responses", "messages", "gemini")
            for mode in ("plain", "stream", "tools")
        ] + [
            {
                "inbound": "messages",
                "model": "omniwire-local",
                "mode": "thinking",
                "prompt": "think",
            }
        ]
        for generation in ("new", "old"):
            results = run_sdk(generation, gw.url, cases, key=KEY)
            failures = [r for r in results if not r["ok"]]
            assert not failures, failures
            for r in results:
                res, mode = r["result"], r["case"]["mode"]
                if mode == "tools":
                    assert res["tool"] == "get_weather" and '"city"' in res["args"]
                elif mode == "thinking":
                    assert res["thinking"] and res["signature"]
                else:
                    assert res["text"] == "[omniwire local model] You said: hello local", res


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_omniwire_serve_generates_and_persists_a_key(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "cfg"), OMNIWIRE_DATABASE=str(tmp_path / "log.db"))
    omniwire = Path(sys.executable).parent / "omniwire"

    def start():
        return subprocess.Popen(
            [str(omniwire), "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def key_line(proc) -> str:
        for _ in range(20):
            line = proc.stdout.readline()
            if "gateway key" in line:
                return line
        raise AssertionError("no line about the gateway key")

    proc = start()
    try:
        first = key_line(proc)
        match = re.search(r"saved to (\S+)\): (sk-omni-\S+)", first)
        assert match, first
        key = match.group(2)
        assert Path(match.group(1)).stat().st_mode & 0o777 == 0o600
        for _ in range(50):
            try:
                r = httpx.post(
                    f"http://127.0.0.1:{port}/v1/chat/completions",
                    json={"model": "any", "messages": [{"role": "user", "content": "hi"}]},
                    headers={"authorization": f"Bearer {key}"},
                )
                break
            except httpx.ConnectError:
                time.sleep(0.1)
        assert (
            r.status_code == 200 and "local model" in r.json()["choices"][0]["message"]["content"]
        )
    finally:
        proc.terminate()
        proc.wait(10)
    proc = start()
    try:
        line = key_line(proc)
        assert "using the gateway key saved in" in line and key not in line  # printed once only
    finally:
        proc.terminate()
        proc.wait(10)


def test_bad_serve_flags_are_one_line_errors(tmp_path):
    omniwire = Path(sys.executable).parent / "omniwire"
    bad = tmp_path / "bad.toml"
    bad.write_text('[server]\nport = "many"\n')
    proc = subprocess.run(
        [str(omniwire), "serve", "--config", str(bad)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0
    assert "server.port: expected an integer" in proc.stderr and "Traceback" not in proc.stderr
