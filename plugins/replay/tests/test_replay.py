"""Record real exchanges through a stack, then replay them offline."""

from __future__ import annotations

import base64
import binascii
import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, quote_plus

import anyio
import pytest
from omniwire import Endpoint, Request, Secret, Timeout, UpstreamError
from omniwire.endpoint import Key
from omniwire.plugins import PluginManager
from omniwire.serialize import to_json
from omniwire.stack import Stack
from omniwire.transport import HttpxTransport
from omniwire.wire import WireRequest, WireResponse
from omniwire_replay import (
    RecordingTransport,
    ReplayMismatch,
    ReplayTransport,
    load_fixture,
)
from replay_toy import RToyPlugin, quoting

KEY = "sk-rec/test+key=0123456789abcdefXYZ"


def make_stack(url: str, transport=None, **kwargs) -> Stack:
    pm = PluginManager(entry_points=False)
    pm.register(RToyPlugin(), name="rtoy")
    endpoint = Endpoint(
        "rtoy",
        "rtoy.chat",
        url,
        keys=[Key(Secret(KEY), alias="rtoy-main")],
        auth="query-and-bearer",
    )
    return Stack([endpoint], plugin_manager=pm, transport=transport, **kwargs)


def base64_hides(secret: str, text: str) -> bool:
    needle = secret.encode()
    for run in re.findall(r"[A-Za-z0-9+/_\-]{8,}", text):
        for start in range(4):
            chunk = run[start:]
            chunk = chunk[: len(chunk) - len(chunk) % 4]
            for decode in (base64.b64decode, base64.urlsafe_b64decode):
                try:
                    if needle in decode(chunk):
                        return True
                except (binascii.Error, ValueError):
                    pass
    return False


def test_recorded_fixture_replays_identically_and_holds_no_secret(rtoy_server, tmp_path):
    path = tmp_path / "calls.json"
    recorded_stack = make_stack(
        rtoy_server.url, RecordingTransport(inner=HttpxTransport(), path=path)
    )

    async def record():
        async with recorded_stack:
            out = {}
            out["plain"] = to_json(
                await recorded_stack.call(Request.simple("m1", "hello plain world"))
            )
            stream = recorded_stack.stream(Request.simple("m1", "one two three"))
            out["events"] = [to_json(e) async for e in stream]
            out["stream"] = to_json(stream.response())
            failure = UpstreamError("failure 400", status=400)
            rtoy_server.script(lambda _, seen: quoting(seen, failure))
            with pytest.raises(UpstreamError) as info:
                await recorded_stack.call(Request.simple("m1", "this one fails"))
            out["error"] = (info.value.status, info.value.message)
            return out

    live = anyio.run(record)
    assert len(rtoy_server.requests) == 3
    sent = rtoy_server.requests[0]
    assert sent.headers["authorization"] == f"Bearer {KEY}"  # the real key did travel

    text = path.read_text()
    for form in {KEY, quote(KEY, safe=""), quote(KEY), quote_plus(KEY)}:
        assert form not in text, form
    assert not base64_hides(KEY, text)
    assert "server-cookie-value-123" not in text

    fixture = load_fixture(path)
    assert len(fixture.exchanges) == 3
    first = fixture.exchanges[0]
    assert first["request"]["url"].endswith("/chat?key=[REDACTED]")
    assert first["request"]["headers"]["authorization"] == "Bearer [REDACTED]"
    assert first["request"]["body"] == sent.json  # as sent
    assert first["request"]["body"] == to_json(Request.simple("m1", "hello plain world"))
    assert (
        first["response"]["body"]["choices"][0]["content"][0]["text"] == "echo: hello plain world"
    )
    streamed = fixture.exchanges[1]
    assert streamed["request"]["stream"] is True
    assert streamed["response"]["events"][-1] == "data: [DONE]"
    assert all(
        re.fullmatch(r"(event: \w+\n)?data: [^\n]+", e) for e in streamed["response"]["events"]
    )
    assert fixture.exchanges[2]["response"]["status"] == 400

    url = rtoy_server.url
    rtoy_server.close()  # from here on, nothing may touch the network
    replayed_stack = make_stack(url, ReplayTransport(path=path))

    async def replay():
        async with replayed_stack:
            out = {}
            out["plain"] = to_json(
                await replayed_stack.call(Request.simple("m1", "hello plain world"))
            )
            stream = replayed_stack.stream(Request.simple("m1", "one two three"))
            out["events"] = [to_json(e) async for e in stream]
            out["stream"] = to_json(stream.response())
            with pytest.raises(UpstreamError) as info:
                await replayed_stack.call(Request.simple("m1", "this one fails"))
            out["error"] = (info.value.status, info.value.message)
            return out

    replayed = anyio.run(replay)
    assert replayed["stream"] == live["stream"]
    assert replayed["events"] == live["events"]
    assert replayed["plain"] == live["plain"]
    assert replayed["error"][0] == live["error"][0] == 400


def _record_one(server, path, prompt="hi there", **request_kwargs):
    stack = make_stack(server.url, RecordingTransport(path=path))

    async def main():
        async with stack:
            return await stack.call(Request.simple("m1", prompt, **request_kwargs))

    return anyio.run(main)


def test_unmatched_request_names_the_closest_recorded_one(rtoy_server, tmp_path):
    path = tmp_path / "f.json"
    _record_one(rtoy_server, path, "first prompt")
    _record_one(rtoy_server, tmp_path / "other.json", "unrelated")
    stack = make_stack(rtoy_server.url, ReplayTransport(path=path))

    async def main():
        async with stack:
            await stack.call(Request.simple("m1", "first prompt, changed"))

    with pytest.raises(ReplayMismatch) as info:
        anyio.run(main)
    err = info.value
    assert err.closest == 0 and err.path == "$.messages[0].content[0].text"
    assert "closest is exchange #0" in str(err)
    assert "'first prompt' (recorded) vs 'first prompt, changed' (live)" in str(err)
    assert err.kind == "replay_mismatch" and isinstance(err, __import__("omniwire").ConfigError)


def test_volatile_fields_are_ignored_when_matching(rtoy_server, tmp_path):
    path = tmp_path / "f.json"
    _record_one(rtoy_server, path, user="alice")

    def replay(**kwargs):
        stack = make_stack(rtoy_server.url, ReplayTransport(path=path, **kwargs))

        async def main():
            async with stack:
                return await stack.call(Request.simple("m1", "hi there", user="bob"))

        return anyio.run(main)

    with pytest.raises(ReplayMismatch, match=r"\$\.user"):
        replay()
    assert replay(volatile=["user"]).text == "echo: hi there"
    assert replay(volatile=["$.user"]).text == "echo: hi there"


def test_host_matching_can_be_relaxed(rtoy_server, tmp_path):
    path = tmp_path / "f.json"
    _record_one(rtoy_server, path)
    other = "http://127.0.0.1:9"

    def call(**kwargs):
        stack = make_stack(other, ReplayTransport(path=path, **kwargs))

        async def main():
            async with stack:
                return await stack.call(Request.simple("m1", "hi there"))

        return anyio.run(main)

    with pytest.raises(ReplayMismatch, match="URL"):
        call()
    assert call(match_host=False).text == "echo: hi there"


def test_repeated_requests_reuse_the_last_match(rtoy_server, tmp_path):
    path = tmp_path / "f.json"
    _record_one(rtoy_server, path)
    stack = make_stack(rtoy_server.url, ReplayTransport(path=path))

    async def main():
        async with stack:
            return [(await stack.call(Request.simple("m1", "hi there"))).text for _ in range(3)]

    assert anyio.run(main) == ["echo: hi there"] * 3


class _Flaky:
    """An inner transport whose first send times out."""

    name = "flaky"

    def __init__(self, real) -> None:
        self.real = real
        self.calls = 0

    async def send(self, wire: WireRequest) -> WireResponse:
        self.calls += 1
        if self.calls == 1:
            raise Timeout(f"ReadTimeout talking to {wire.url}")
        return await self.real.send(wire)

    async def aclose(self) -> None:
        await self.real.aclose()


def test_transport_errors_are_recorded_and_replayed(rtoy_server, tmp_path):
    path = tmp_path / "f.json"
    inner = _Flaky(HttpxTransport())
    stack = make_stack(rtoy_server.url, RecordingTransport(inner=inner, path=path))

    async def call(stack):
        async with stack:
            return await stack.invoke(Request.simple("m1", "hi there"))

    with pytest.raises(Timeout):
        anyio.run(call, stack)
    error = load_fixture(path).exchanges[0]["error"]
    assert error["kind"] == "timeout" and error["retryable"] is True
    assert "key=" not in error["message"] or "[REDACTED]" in error["message"]
    with pytest.raises(Timeout, match="ReadTimeout"):
        anyio.run(call, make_stack(rtoy_server.url, ReplayTransport(path=path)))


def test_stream_closed_early_is_recorded_as_incomplete(rtoy_server, tmp_path):
    path = tmp_path / "f.json"
    stack = make_stack(rtoy_server.url, RecordingTransport(path=path))

    async def main():
        async with stack:
            async with stack.stream(Request.simple("m1", "a b c d e")) as stream:
                async for event in stream:
                    if type(event).__name__ == "TextDelta":
                        break

    anyio.run(main)
    response = load_fixture(path).exchanges[0]["response"]
    assert response["complete"] is False
    assert response["events"][0].startswith("event: ResponseStart\ndata: ")


def test_timing_is_optional_and_realtime_replay_waits(rtoy_server, tmp_path):
    path = tmp_path / "f.json"
    stack = make_stack(rtoy_server.url, RecordingTransport(path=path, record_timing=True))

    async def stream(stack):
        async with stack:
            return (await stack.stream(Request.simple("m1", "x y")).collect()).text

    assert anyio.run(stream, stack) == "echo: x y"
    timing = load_fixture(path).exchanges[0]["timing"]
    assert timing["headers"] >= 0 and len(timing["events"]) == 6  # 5 canonical events, [DONE]
    assert timing["events"] == sorted(timing["events"])
    assert (
        anyio.run(stream, make_stack(rtoy_server.url, ReplayTransport(path=path, realtime=True)))
        == "echo: x y"
    )


def test_hook_registers_recording_and_replay_transports():
    import omniwire_replay

    pm = PluginManager(entry_points=False)
    pm.register(omniwire_replay, name="replay")
    assert pm.get("transports", "recording") is RecordingTransport
    assert pm.get("transports", "replay") is ReplayTransport
    assert pm.plugins()[-1].provides == {"transports": ["recording", "replay"]}


def test_stack_selects_replay_by_name(rtoy_server, tmp_path):
    import omniwire_replay

    path = tmp_path / "f.json"
    _record_one(rtoy_server, path)
    pm = PluginManager(entry_points=False)
    pm.register(RToyPlugin(), name="rtoy")
    pm.register(omniwire_replay, name="replay")
    stack = Stack(
        [
            Endpoint(
                "rtoy",
                "rtoy.chat",
                rtoy_server.url,
                keys=[Key(Secret(KEY))],
                auth="query-and-bearer",
            )
        ],
        plugin_manager=pm,
        transport_name="replay",
        transport_options={"path": str(path)},
    )
    assert isinstance(stack.transport, ReplayTransport)

    async def main():
        async with stack:
            return await stack.call(Request.simple("m1", "hi there"))

    assert anyio.run(main).text == "echo: hi there"


def test_recording_refuses_without_a_sanitizer(monkeypatch, tmp_path):
    from omniwire import ConfigError, plugins

    monkeypatch.setattr(plugins, "get_plugin_manager", lambda: PluginManager(entry_points=False))
    with pytest.raises(ConfigError, match="needs a sanitizer"):
        RecordingTransport(inner=HttpxTransport(), path=tmp_path / "f.json")


def test_missing_or_broken_fixture_is_a_config_error(tmp_path):
    from omniwire import ConfigError

    with pytest.raises(ConfigError, match="does not exist"):
        ReplayTransport(path=tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="unreadable"):
        ReplayTransport(path=bad)


def test_sanitize_cli_cleans_a_fixture_recorded_elsewhere(tmp_path):
    path = tmp_path / "foreign.json"
    raw = {
        "omniwire_fixture": 1,
        "exchanges": [
            {
                "request": {
                    "method": "POST",
                    "url": "https://h.example/v1/chat?key=foreign-key-0123456789",
                    "headers": {"x-api-key": "foreign-key-0123456789"},
                    "body": {"model": "m", "prompt": "hi"},
                },
                "response": {"status": 200, "headers": {}, "body": {"text": "ok"}},
            }
        ],
    }
    path.write_text(json.dumps(raw, indent=2))
    exe = Path(sys.executable).with_name("omniwire-sanitize")
    subprocess.run([str(exe), str(path), "--in-place"], check=True)
    assert "foreign-key-0123456789" not in path.read_text()
    fixture = load_fixture(path)
    assert fixture.exchanges[0]["request"]["url"] == "https://h.example/v1/chat?key=[REDACTED]"


def test_multipart_bodies_record_digests_of_every_file_part():
    import hashlib

    from omniwire.wire import MultipartBody
    from omniwire_replay.fixture import Sanitizers, encode_request_body

    body = MultipartBody(
        {"prompt": "p"},
        {
            "image[]": [("a.png", b"aa", "image/png"), ("b.png", b"b", None)],
            "mask": ("m", b"", None),
        },
    )
    files = encode_request_body(body, Sanitizers(()))["multipart"]["files"]
    assert [f["filename"] for f in files["image[]"]] == ["a.png", "b.png"]  # in order
    assert files["image[]"][0]["digest"] == "sha256:" + hashlib.sha256(b"aa").hexdigest()
    assert files["mask"] == {
        "filename": "m",
        "media_type": None,
        "size": 0,
        "digest": "sha256:" + hashlib.sha256(b"").hexdigest(),
    }
