"""``omniwire-sanitize FILE``: JSON, JSON lines and text, to stdout, in place, --check."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from omniwire_sanitize import REDACTED
from omniwire_sanitize.cli import main

FIXTURE = {
    "exchanges": [
        {
            "request": {
                "method": "POST",
                "url": "https://h.example/v1/chat?key=AIzaSyA1234567890abcdefghijklmnopqrs",
                "headers": {"authorization": "Bearer sk-abcdefghijklmnopqrstuv"},
                "body": {"model": "m", "api_key": "inline"},
            },
            "response": {"status": 200, "events": ['data: {"token": "t0k3n"}']},
        }
    ]
}


def test_json_document_to_stdout_keeps_indentation(tmp_path, capsys):
    path = tmp_path / "fixture.json"
    path.write_text(json.dumps(FIXTURE, indent=2) + "\n")
    assert main([str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith('{\n  "exchanges"') and out.endswith("}\n")
    data = json.loads(out)
    request = data["exchanges"][0]["request"]
    assert request["url"] == f"https://h.example/v1/chat?key={REDACTED}"
    assert request["headers"] == {"authorization": f"Bearer {REDACTED}"}
    assert request["body"] == {"model": "m", "api_key": REDACTED}
    assert data["exchanges"][0]["response"]["events"] == [f'data: {{"token": "{REDACTED}"}}']
    assert json.loads(path.read_text()) == FIXTURE  # untouched without --in-place


def test_in_place_then_check_is_clean(tmp_path):
    path = tmp_path / "fixture.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in FIXTURE["exchanges"]) + "\n")
    assert main([str(path), "--check"]) == 1
    assert main([str(path), "--in-place"]) == 0
    assert "sk-abcdefghijklmnopqrstuv" not in path.read_text()
    assert json.loads(path.read_text().splitlines()[0])["request"]["body"]["api_key"] == REDACTED
    assert main([str(path), "--check"]) == 0


def test_text_file_custom_rules_and_secret_env(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OMNI_CLI_TEST_KEY", "vendor-key-0042-xyz")
    path = tmp_path / "log.txt"
    path.write_text("call with vendor-key-0042-xyz failed\nssn: 123\nACME-777777\n")
    out_path = tmp_path / "clean.txt"
    code = main(
        [
            str(path),
            "-o",
            str(out_path),
            "--secret-env",
            "OMNI_CLI_TEST_KEY",
            "--header",
            "ssn",
            "--pattern",
            r"ACME-\d+",
        ]
    )
    assert code == 0 and capsys.readouterr().out == ""
    assert out_path.read_text() == f"call with {REDACTED} failed\nssn: {REDACTED}\n{REDACTED}\n"


def test_config_file(tmp_path, capsys):
    config = tmp_path / "omniwire.toml"
    config.write_text('[sanitize]\nfields = ["ssn"]\n')
    path = tmp_path / "d.json"
    path.write_text('{"ssn": "1"}')
    assert main([str(path), "--config", str(config)]) == 0
    assert json.loads(capsys.readouterr().out) == {"ssn": REDACTED}


def test_missing_file_is_exit_2(tmp_path, capsys):
    assert main([str(tmp_path / "nope.json")]) == 2
    assert "nope.json" in capsys.readouterr().err


def test_console_script_is_installed(tmp_path):
    exe = shutil.which("omniwire-sanitize") or str(
        __import__("pathlib").Path(sys.executable).with_name("omniwire-sanitize")
    )
    path = tmp_path / "f.json"
    path.write_text('{"password": "p"}')
    out = subprocess.run([exe, str(path)], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == {"password": REDACTED}


def test_omniwire_sanitize_subcommand(tmp_path):
    """``omniwire sanitize FILE`` is the same command, through the kernel's CLI."""
    import json
    import subprocess
    import sys

    fixture = tmp_path / "f.json"
    fixture.write_text(
        json.dumps({"headers": {"authorization": "Bearer sk-live-abcdefghijklmnop123"}})
    )
    omniwire = str(__import__("pathlib").Path(sys.executable).parent / "omniwire")
    out = subprocess.run(
        [omniwire, "sanitize", str(fixture)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert "sk-live-abcdefghijklmnop123" not in out.stdout and "authorization" in out.stdout
