"""One structured record per finished call, on omniwire.calls."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import anyio
import pytest
from logging_toy import LToyPlugin, ScriptedTransport
from omniwire import Endpoint, Request, UpstreamError
from omniwire.endpoint import Key
from omniwire.plugins import PluginManager, hookimpl
from omniwire.routing import ModelRoute, Target
from omniwire.stack import Stack
from omniwire_logging import LOGGER_NAME, CallLogger, JsonFormatter

SECRET = "sk-logging-test-key-000111222"


class _Redactor:
    name = "test-redactor"

    def sanitize_text(self, text):
        import re

        return re.sub(r"sk-proj-\w+", "[REDACTED]", text)


class _Sanitizers:
    @hookimpl
    def omniwire_register_sanitizers(self, register):
        register(_Redactor())


def make_stack(transport, *plugins, routes=()):
    pm = PluginManager(entry_points=False)
    pm.register(LToyPlugin(), name="ltoy")
    pm.register(CallLogger(), name="logging")
    for i, p in enumerate(plugins):
        pm.register(p, name=f"p{i}")
    endpoints = [
        Endpoint("a", "ltoy.chat", "http://a.invalid", keys=[Key(SECRET, alias="a-main")]),
        Endpoint("b", "ltoy.chat", "http://b.invalid", keys=[Key(SECRET + "b", alias="b-1")]),
    ]
    return Stack(endpoints, routes=routes, plugin_manager=pm, transport=transport)


def call(stack, request):
    async def main():
        async with stack:
            return await stack.invoke(request)

    return anyio.run(main)


def records(caplog):
    return [r for r in caplog.records if r.name == LOGGER_NAME]


def test_success_is_one_info_record_with_fields(caplog):
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    result = call(make_stack(ScriptedTransport()), Request.simple("a:m", "hi", temperature=1.0))
    [record] = records(caplog)
    assert record.levelno == logging.INFO
    assert record.getMessage().startswith("chat a/m ok in ")
    assert record.getMessage().endswith("s (2 in, 3 out)")
    fields = record.omniwire
    assert fields == {
        "event": "end",
        "operation": "chat",
        "stream": False,
        "provider": "ltoy",
        "endpoint": "a",
        "key_alias": "a-main",
        "model": "m",
        "request_model": "a:m",
        "status": 200,
        "duration_s": round(result.duration, 6),
        "response_id": "l1",
        "response_model": "m-x",
        "stop_reasons": ["end_turn"],
        "input_tokens": 2,
        "output_tokens": 3,
        "cache_read_tokens": 1,
        "attempts": 1,
        "retries": 0,
        "loss_reasons": ["$.temperature: ltoy.chat has no temperature"],
    }
    assert SECRET not in json.dumps(fields)


def test_error_is_one_warning_record_sanitized(caplog):
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    transport = ScriptedTransport()
    transport.statuses = [401]
    with pytest.raises(UpstreamError):
        call(make_stack(transport, _Sanitizers()), Request.simple("a:m", "hi"))
    [record] = records(caplog)
    assert record.levelno == logging.WARNING
    fields = record.omniwire
    assert fields["event"] == "error" and fields["status"] == 401
    assert fields["error_type"] == "upstream_error" and fields["upstream_type"] == "boom"
    assert fields["error_message"] == "bad key [REDACTED] given"
    assert "sk-proj" not in record.getMessage()
    assert "input_tokens" not in fields


def test_failover_is_listed(caplog):
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    transport = ScriptedTransport()
    transport.statuses = [503]
    route = ModelRoute("smart", (Target("a", "m1"), Target("b", "m2")))
    call(make_stack(transport, routes=[route]), Request.simple("smart", "hi"))
    [record] = records(caplog)
    assert record.omniwire["retries"] == 1
    assert record.omniwire["failover"] == [
        {"endpoint": "a", "model": "m1", "key_alias": "a-main", "error": "upstream_error"},
        {"endpoint": "b", "model": "m2", "key_alias": "b-1", "error": None},
    ]


def test_disabled_level_does_no_work(caplog, monkeypatch):
    import omniwire_logging.observer as observer

    def boom(*a):
        raise AssertionError("fields built for a disabled level")

    monkeypatch.setattr(observer, "call_fields", boom)
    caplog.set_level(logging.ERROR, logger=LOGGER_NAME)
    call(make_stack(ScriptedTransport()), Request.simple("a:m", "hi"))
    assert records(caplog) == []


def test_json_formatter():
    record = logging.LogRecord(LOGGER_NAME, logging.INFO, __file__, 1, "chat %s", ("x",), None)
    record.omniwire = {"event": "end", "input_tokens": 2}
    data = json.loads(JsonFormatter().format(record))
    assert data["message"] == "chat x" and data["level"] == "INFO"
    assert data["logger"] == LOGGER_NAME and data["input_tokens"] == 2


def test_library_logger_prints_nothing_unconfigured():
    assert any(isinstance(h, logging.NullHandler) for h in logging.getLogger(LOGGER_NAME).handlers)


@pytest.mark.parametrize(("env", "expected"), [("", "CallLogger"), ("1", "_Disabled")])
def test_entry_point_and_off_switch(env, expected):
    code = "import omniwire_logging.plugin as p; print(type(p.plugin).__name__)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "OMNIWIRE_LOGGING_DISABLED": env},
    )
    assert out.stdout.strip() == expected
