"""The stack end to end against a real HTTP server on 127.0.0.1, with only the kernel
and an in-test codec installed."""

from __future__ import annotations

import anyio
import pytest
from kernel_toy import ToyCodec
from omniwire import (
    ConfigError,
    Endpoint,
    Message,
    ProtocolError,
    Request,
    Role,
    Secret,
    TextDelta,
    UpstreamError,
)
from omniwire.plugins import PluginManager, hookimpl
from omniwire.routing import ModelRoute, Target
from omniwire.stack import Stack


def make_stack(
    url: str, *, keys=("sk-test-key-000000000001",), plugins=(), routes=(), endpoints=None
):
    pm = PluginManager(entry_points=False)
    eps = endpoints or [Endpoint("toy", "toy.chat", url, keys=keys)]
    return Stack(eps, plugin_manager=pm, codecs=[ToyCodec()], plugins=plugins, routes=routes)


def run(coro_fn, *args):
    return anyio.run(coro_fn, *args)


def test_call_round_trip(toy_server):
    async def main():
        async with make_stack(toy_server.url) as stack:
            call = await stack.invoke(Request.simple("toy-1", "hello world"))
        return call

    call = run(main)
    assert call.response.text == "echo: hello world"
    assert call.usage.input_tokens == 2 and call.usage.output_tokens == 3
    sent = toy_server.requests[0]
    assert sent["path"] == "/chat"
    assert sent["headers"]["authorization"] == "Bearer sk-test-key-000000000001"
    assert sent["body"] == {"model": "toy-1", "prompt": "hello world", "stream": False}
    assert call.report.lossy is False
    assert [a.endpoint for a in call.attempts] == ["toy"]


def test_loss_is_reported_and_strict_refuses(toy_server):
    async def main(strict):
        async with make_stack(toy_server.url) as stack:
            return await stack.invoke(Request.simple("m", "hi", temperature=0.5), strict=strict)

    call = run(main, False)
    assert call.report.paths == ("$.temperature",)
    with pytest.raises(ProtocolError) as info:
        run(main, True)
    assert info.value.path == "$.temperature"
    assert len(toy_server.requests) == 1  # the strict call never reached the upstream


def test_stream_folds_to_response(toy_server):
    async def main():
        async with make_stack(toy_server.url) as stack:
            result = stack.stream(Request.simple("m", "one two three"))
            deltas = [e.text async for e in result if isinstance(e, TextDelta)]
            return deltas, result.response(), result.call

    deltas, response, call = run(main)
    assert deltas == ["one ", "two ", "three "]
    assert response.text == "one two three "
    assert response.usage.input_tokens == 3
    assert call.first_chunk_at is not None and call.usage == response.usage


def test_cut_stream_is_a_typed_error(toy_server):
    toy_server.cut_stream = True

    async def main():
        async with make_stack(toy_server.url) as stack:
            return await stack.stream(Request.simple("m", "a b")).collect()

    with pytest.raises(UpstreamError, match="malformed: .*ended before") as caught:
        run(main)
    assert caught.value.status == 502  # the upstream's fault, not the client's


def test_malformed_upstream_answer_is_a_502_and_fails_over(toy_server):
    """An answer we cannot read is the provider's fault: a retryable 502, so the next
    key is tried, never a 400 blaming the client."""
    calls = {"n": 0}

    async def main():
        async with make_stack(
            toy_server.url, keys=("sk-test-key-000000000001", "sk-test-key-000000000002")
        ) as stack:
            original = stack.transport.send

            async def first_garbled(wire):
                response = await original(wire)
                calls["n"] += 1
                if calls["n"] == 1:
                    response.body = b"<html>bad gateway</html>"
                return response

            stack.transport.send = first_garbled
            call = await stack.invoke(Request.simple("m", "garbled"))
            return call

    call = run(main)
    assert call.response.text == "echo: garbled"
    assert [a.error for a in call.attempts] == ["upstream_error", None]


def test_upstream_error_fails_over_to_next_key(toy_server):
    toy_server.fail = [503]

    async def main():
        async with make_stack(
            toy_server.url, keys=("sk-key-a-0000000001", "sk-key-b-0000000002")
        ) as stack:
            return await stack.invoke(Request.simple("m", "hi"))

    call = run(main)
    assert call.response.text == "echo: hi"
    assert [a.error for a in call.attempts] == ["upstream_error", None]
    used = [r["headers"]["authorization"][-4:] for r in toy_server.requests]
    assert used[0] != used[1]


def test_client_error_is_not_retried(toy_server):
    toy_server.fail = [400]

    async def main():
        async with make_stack(
            toy_server.url, keys=("sk-key-a-0000000001", "sk-key-b-0000000002")
        ) as stack:
            return await stack.invoke(Request.simple("m", "hi"))

    with pytest.raises(UpstreamError) as info:
        run(main)
    assert info.value.status == 400 and not info.value.retryable
    assert len(toy_server.requests) == 1


def test_upstream_error_never_echoes_the_key(toy_server):
    secret = "sk-very-secret-key-1234567890abcdef"

    class Echo:
        @hookimpl
        def omniwire_transport(self, call, wire):
            async def send():
                from omniwire.wire import WireResponse

                body = f'{{"error": "Incorrect API key provided: {secret[:8]}****{secret[-4:]} and {secret}"}}'
                return WireResponse(401, {}, body.encode())

            return send()

    async def main():
        async with make_stack(toy_server.url, keys=(secret,), plugins=[Echo()]) as stack:
            return await stack.invoke(Request.simple("m", "hi"))

    with pytest.raises(UpstreamError) as info:
        run(main)
    text = str(info.value) + repr(info.value) + str(info.value.to_dict())
    assert secret not in text
    assert secret[-20:] not in text


def test_connection_refused_is_typed():
    async def main():
        async with make_stack("http://127.0.0.1:9") as stack:
            return await stack.invoke(Request.simple("m", "hi"))

    with pytest.raises(UpstreamError, match="connection to 127.0.0.1:9 failed"):
        run(main)


def test_routing_by_alias_and_prefix(toy_server):
    endpoints = [
        Endpoint("a", "toy.chat", toy_server.url),
        Endpoint("b", "toy.chat", toy_server.url + "/"),
    ]
    routes = [ModelRoute("smart", (Target("b", "real-model"),))]

    async def main():
        async with make_stack(toy_server.url, endpoints=endpoints, routes=routes) as stack:
            await stack.call(Request.simple("smart", "x"))
            await stack.call(Request.simple("a:other", "x"))
            with pytest.raises(ConfigError, match="unknown model 'nope'"):
                await stack.call(Request.simple("nope", "x"))

    run(main)
    assert [r["body"]["model"] for r in toy_server.requests] == ["real-model", "other"]


def test_primitive_call_passes_payload_untouched(toy_server):
    async def main():
        async with make_stack(toy_server.url) as stack:
            return await stack.primitive_call(
                "m", {"model": "x", "prompt": "raw words", "extra": 1}
            )

    result = run(main)
    assert toy_server.requests[0]["body"] == {"model": "m", "prompt": "raw words", "extra": 1}
    assert result.body["text"] == "echo: raw words"


def test_sync_facade(toy_server):
    stack = make_stack(toy_server.url)
    with stack.sync() as s:
        assert s.call(Request.simple("m", "sync")).text == "echo: sync"
        assert s.call(Request.simple("m", "again")).text == "echo: again"
        events = list(s.stream(Request.simple("m", "a b")))
    assert sum(isinstance(e, TextDelta) for e in events) == 2


def test_secret_repr_is_redacted():
    s = Secret("sk-abcdefghijklmnop1234")
    e = Endpoint("x", "toy.chat", "http://127.0.0.1:1", keys=(s,))
    assert "abcdefgh" not in repr(e) and "abcdefgh" not in f"{s}"


def test_unknown_protocol_is_config_error():
    with pytest.raises(ConfigError, match="unknown codec 'nope.chat'"):
        Stack(
            [Endpoint("x", "nope.chat", "http://127.0.0.1:1")],
            plugin_manager=PluginManager(entry_points=False),
        )


def test_system_message_helper():
    m = Message.text("system", "be brief")
    assert m.role is Role.SYSTEM and m.plain_text == "be brief"


def test_code_given_objects_never_leak_into_the_shared_manager(toy_server):
    from omniwire.plugins import get_plugin_manager

    first = Stack([Endpoint("toy", "toy.chat", toy_server.url)], codecs=[ToyCodec()])
    second = Stack([Endpoint("toy", "toy.chat", toy_server.url)], codecs=[ToyCodec()])
    assert first.pm is not get_plugin_manager() and second.pm is not first.pm
    assert "toy.chat" not in get_plugin_manager().codecs


class _Scoped:
    """A plugin whose per-call hooks matter only to stacks that ask for it."""

    def __init__(self, stages):
        self.stages = frozenset(stages)
        self.seen: list[str] = []

    def omniwire_stages(self, stack):
        return self.stages

    @hookimpl
    def omniwire_observe(self, call, event):
        self.seen.append(f"observe:{event}")

    @hookimpl(tryfirst=True)
    def omniwire_decode(self, call, response):
        self.seen.append("decode")


def test_plugins_left_out_of_stacks_that_do_not_use_them(toy_server):
    """``omniwire_stages(stack)``: an installed plugin that a stack does not use costs
    its calls nothing (the stage stays a direct built-in call); one that is used runs."""
    idle, busy = _Scoped(()), _Scoped({"observe", "decode"})

    async def main(plugin):
        async with make_stack(toy_server.url, plugins=[plugin]) as stack:
            direct = stack._stage["decode"].__module__ == "omniwire.builtins"
            response = await stack.call(Request.simple("toy-1", "scoped"))
            return direct, stack._observers, response.text

    assert run(main, idle) == (True, False, "echo: scoped")
    assert idle.seen == []
    direct, observers, text = run(main, busy)
    assert (direct, observers, text) == (False, True, "echo: scoped")
    assert busy.seen == ["observe:start", "observe:attempt", "decode", "observe:end"]


def test_scoped_hooks_stay_visible_to_hook_monitoring(toy_server):
    """A stack leaving a plugin out still calls the others through pluggy, so tracing
    (the kit's hook_recorder) sees every call."""
    idle, busy = _Scoped(()), _Scoped({"observe"})
    events: list[str] = []

    async def main():
        async with make_stack(toy_server.url, plugins=[idle, busy]) as stack:
            undo = stack.pm.pm.add_hookcall_monitoring(
                lambda name, impls, kwargs: events.append(name), lambda *a: None
            )
            try:
                await stack.call(Request.simple("toy-1", "watched"))
            finally:
                undo()

    run(main)
    assert events.count("omniwire_observe") == 3
    assert idle.seen == [] and busy.seen == ["observe:start", "observe:attempt", "observe:end"]


class _Ordered:
    """Price and observe implementations that note when they run (some take fewer
    arguments than the spec names, some run first or last)."""

    def __init__(self, name, seen, price=None):
        self.name, self.seen, self.result = name, seen, price

    @hookimpl
    def omniwire_observe(self, event):
        self.seen.append(f"{self.name}:{event}")


class _First(_Ordered):
    @hookimpl(tryfirst=True)
    def omniwire_price(self, usage):
        self.seen.append(f"{self.name}:price")
        return self.result


class _Plain(_Ordered):
    @hookimpl
    def omniwire_price(self, call, usage):
        self.seen.append(f"{self.name}:price")
        return self.result


def test_stage_hooks_run_in_pluggys_order_and_by_its_rules_without_its_dispatch(toy_server):
    """Per-call hooks are called directly (no pluggy dispatch), in the order pluggy
    would use, stopping at the first result for stages and running every observer;
    with hook monitoring on, the same calls go through pluggy and give the same."""
    from omniwire.money import Cost

    async def main(monitored):
        seen: list[str] = []
        plugins = [
            _Plain("a", seen, Cost(7, "USD")),
            _First("b", seen),
            _Plain("c", seen),
        ]
        async with make_stack(toy_server.url, plugins=plugins) as stack:
            calls: list[str] = []
            undo = None
            if monitored:
                undo = stack.pm.pm.add_hookcall_monitoring(
                    lambda name, impls, kwargs: calls.append(name), lambda *a: None
                )
            try:
                call = await stack.invoke(Request.simple("toy-1", "ordered"))
            finally:
                if undo is not None:
                    undo()
        return seen, call.cost, calls

    direct_seen, direct_cost, direct_calls = run(main, False)
    assert direct_calls == []
    # observers: every one, the last registered first; price: tryfirst b (None), then
    # c (None), then a answers and the built-in price is never asked
    assert direct_seen == [
        "c:start", "b:start", "a:start",
        "c:attempt", "b:attempt", "a:attempt",
        "b:price", "c:price", "a:price",
        "c:end", "b:end", "a:end",
    ]  # fmt: skip
    assert direct_cost == Cost(7, "USD")
    seen, cost, calls = run(main, True)
    assert (seen, cost) == (direct_seen, direct_cost)
    assert calls.count("omniwire_observe") == 3 and calls.count("omniwire_price") == 1


def test_stages_copy_every_wire_request_field():
    """The encode and auth stages build WireRequests field by field (faster than
    attrs.evolve): a new field must be added there too, and this test says so."""
    import attrs
    from omniwire.auth import HeaderAuth
    from omniwire.endpoint import Key
    from omniwire.wire import WireRequest

    names = [f.name for f in attrs.fields(WireRequest)]
    assert names == ["path", "body", "method", "headers", "query", "stream", "url", "timeout"]
    wire = WireRequest(
        "/p", {"a": 1}, method="PUT", headers={"x": "1"}, query={"q": "2"}, stream=True,
        url="http://h/p", timeout=3.0,
    )  # fmt: skip
    authed = HeaderAuth("bearer", "authorization", "Bearer ").apply(wire, Key("sk-copy-0001"))
    assert attrs.evolve(authed, headers=wire.headers) == wire
    assert authed.headers["authorization"] == "Bearer sk-copy-0001"
