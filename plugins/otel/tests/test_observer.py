"""Plain, streamed, failing, failed-over and cancelled calls through a real stack: the
exported spans and metrics, attribute values included."""

from __future__ import annotations

import gc
import json

import anyio
import pytest
from omniwire import Endpoint, Request, UpstreamError
from omniwire.endpoint import Key
from omniwire.money import Cost
from omniwire.plugins import PluginManager, hookimpl
from omniwire.routing import ModelRoute, Target
from omniwire.stack import Stack
from omniwire_testing.support import codec_plugin
from opentelemetry.trace import SpanKind, StatusCode
from otel_toy import OToyCodec

SECRET = "sk-otel-test-key-9f8e7d6c5b4a"


def make_stack(server, observer, *, plugins=(), routes=(), auto_guards=True, fail_url=None):
    pm = PluginManager(entry_points=False)
    pm.register(codec_plugin(OToyCodec()), name="otoy")
    pm.register(observer, name="otel")
    for i, plugin in enumerate(plugins):
        pm.register(plugin, name=f"extra-{i}")
    endpoints = [
        Endpoint("primary", "otoy.chat", server.url, keys=[Key(SECRET, alias="primary-main")]),
        Endpoint("backup", "otoy.chat", server.url, keys=[Key(SECRET + "b", alias="backup-1")]),
    ]
    return Stack(endpoints, routes=routes, plugin_manager=pm, auto_guards=auto_guards)


def run(stack, coro_fn):
    async def main():
        async with stack:
            return await coro_fn(stack)

    return anyio.run(main)


def only_span(otel):
    spans = otel.spans()
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


def test_plain_call(otoy_server, otel):
    stack = make_stack(otoy_server, otel.observer())
    request = Request.simple(
        "primary:toy-1",
        "hello there world",
        max_tokens=50,
        temperature=0.5,
        top_p=0.9,
        top_k=40,
        stop=("END", "STOP"),
        seed=7,
        frequency_penalty=0.1,
        presence_penalty=0.2,
    )
    call = run(stack, lambda s: s.invoke(request))
    span = only_span(otel)
    assert span.name == "chat toy-1"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert dict(span.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "otoy",
        "gen_ai.request.model": "toy-1",
        "omniwire.request.model": "primary:toy-1",
        "gen_ai.request.max_tokens": 50,
        "gen_ai.request.temperature": 0.5,
        "gen_ai.request.top_p": 0.9,
        "gen_ai.request.top_k": 40,
        "gen_ai.request.stop_sequences": ("END", "STOP"),
        "gen_ai.request.seed": 7,
        "gen_ai.request.frequency_penalty": 0.1,
        "gen_ai.request.presence_penalty": 0.2,
        "gen_ai.response.id": "r1",
        "gen_ai.response.model": "toy-1-0613",
        "gen_ai.response.finish_reasons": ("length",),
        "gen_ai.usage.input_tokens": 3,
        "gen_ai.usage.output_tokens": 4,
        "gen_ai.usage.cache_read.input_tokens": 1,
        "server.address": "127.0.0.1",
        "server.port": otoy_server.port,
        "http.response.status_code": 200,
        "omniwire.endpoint": "primary",
        "omniwire.key.alias": "primary-main",
        "omniwire.attempts": 1,
        "omniwire.retries": 0,
        "omniwire.conversion.lossy": True,
        "omniwire.conversion.loss_reasons": ("$.temperature: otoy.chat has no temperature",),
    }
    assert call.response.text == "echo: hello there world"

    metrics = otel.metrics()
    common = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "otoy",
        "gen_ai.request.model": "toy-1",
        "gen_ai.response.model": "toy-1-0613",
        "server.address": "127.0.0.1",
        "server.port": otoy_server.port,
        "omniwire.endpoint": "primary",
    }
    [(attrs, point)] = metrics["gen_ai.client.operation.duration"]
    assert attrs == common and point.count == 1
    assert 0 < point.sum < 5 and point.sum == pytest.approx(call.duration)
    assert list(point.explicit_bounds)[:3] == [0.01, 0.02, 0.04]
    tokens = {a["gen_ai.token.type"]: p.sum for a, p in metrics["gen_ai.client.token.usage"]}
    assert tokens == {"input": 3, "output": 4}
    assert all(
        {k: v for k, v in a.items() if k != "gen_ai.token.type"} == common
        for a, _ in metrics["gen_ai.client.token.usage"]
    )
    assert "gen_ai.client.operation.time_to_first_chunk" not in metrics  # not a stream
    assert metrics["_units"] == {
        "gen_ai.client.operation.duration": "s",
        "gen_ai.client.token.usage": "{token}",
    }


def test_streaming_call_has_time_to_first_chunk(otoy_server, otel):
    stack = make_stack(otoy_server, otel.observer())

    async def stream(s):
        result = s.stream(Request.simple("primary:toy-1", "one two three four"))
        await result.collect()
        return result.call

    call = run(stack, stream)
    span = only_span(otel)
    attrs = dict(span.attributes)
    assert attrs["gen_ai.request.stream"] is True
    assert attrs["gen_ai.response.id"] == "s1"
    assert attrs["gen_ai.response.model"] == "toy-1-0613"
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert attrs["gen_ai.usage.input_tokens"] == 4 and attrs["gen_ai.usage.output_tokens"] == 4
    ttfc = attrs["gen_ai.response.time_to_first_chunk"]
    assert ttfc == pytest.approx(call.time_to_first_chunk) and 0 < ttfc <= call.duration
    [(m_attrs, point)] = otel.metrics()["gen_ai.client.operation.time_to_first_chunk"]
    assert point.sum == pytest.approx(ttfc) and m_attrs["gen_ai.response.model"] == "toy-1-0613"
    assert otel.metrics()["_units"]["gen_ai.client.operation.time_to_first_chunk"] == "s"


def test_failing_call_records_error_type(otoy_server, otel):
    stack = make_stack(otoy_server, otel.observer())
    error = {"type": "bad_thing", "message": "otoy upstream: failure 400"}
    otoy_server.fail(400, body={"error": error})
    with pytest.raises(UpstreamError):
        run(stack, lambda s: s.call(Request.simple("primary:toy-1", "x")))
    span = only_span(otel)
    attrs = dict(span.attributes)
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "otoy upstream: failure 400"
    assert attrs["error.type"] == "upstream_error"
    assert attrs["omniwire.error.upstream_type"] == "bad_thing"
    assert attrs["http.response.status_code"] == 400
    assert "gen_ai.usage.input_tokens" not in attrs
    [event] = span.events
    assert event.name == "exception"
    assert dict(event.attributes) == {
        "exception.type": "UpstreamError",
        "exception.message": "otoy upstream: failure 400",
    }
    [(m_attrs, point)] = otel.metrics()["gen_ai.client.operation.duration"]
    assert m_attrs["error.type"] == "upstream_error" and point.count == 1
    assert "gen_ai.client.token.usage" not in otel.metrics()


class _Budget:
    """A guard reserving a fixed amount, and a price table: what budget plugins do."""

    @hookimpl
    def omniwire_register_guards(self, register):
        class Factory:
            name = "test-budget"
            order = 5

            @staticmethod
            def from_stack(stack):
                return Reserve()

        register(Factory)

    @hookimpl
    def omniwire_price(self, call, usage):
        return Cost("0.000123")


class Reserve:
    async def admit(self, call, candidate):
        call.reserved = Cost("0.05")

    async def complete(self, call):
        pass

    async def abort(self, call, error):
        pass


def test_failover_retries_and_budget(otoy_server, otel):
    route = ModelRoute("smart", (Target("primary", "toy-a"), Target("backup", "toy-b")))
    stack = make_stack(otoy_server, otel.observer(), plugins=[_Budget()], routes=[route])
    otoy_server.fail(503)
    call = run(stack, lambda s: s.invoke(Request.simple("smart", "hi")))
    assert call.response.text == "echo: hi"
    span = only_span(otel)
    attrs = dict(span.attributes)
    assert span.name == "chat toy-b"
    assert attrs["gen_ai.request.model"] == "toy-b"
    assert attrs["omniwire.request.model"] == "smart"
    assert attrs["omniwire.endpoint"] == "backup"
    assert attrs["omniwire.key.alias"] == "backup-1"
    assert attrs["omniwire.attempts"] == 2 and attrs["omniwire.retries"] == 1
    assert attrs["omniwire.failover.chain"] == ("primary/toy-a", "backup/toy-b")
    assert attrs["omniwire.failover.errors"] == ("upstream_error", "")
    assert attrs["omniwire.budget.reserved"] == 0.05
    assert attrs["omniwire.budget.settled"] == 0.000123
    assert attrs["omniwire.cost.currency"] == "USD"
    [retry] = span.events
    assert retry.name == "omniwire.retry"
    assert dict(retry.attributes) == {
        "omniwire.endpoint": "primary",
        "gen_ai.request.model": "toy-a",
        "error.type": "upstream_error",
    }


def test_the_key_never_reaches_telemetry(otoy_server, otel):
    stack = make_stack(otoy_server, otel.observer(capture_content=True))
    otoy_server.fail(401)
    with pytest.raises(UpstreamError):
        run(stack, lambda s: s.call(Request.simple("primary:toy-1", "x")))
    run(stack, lambda s: s.call(Request.simple("primary:toy-1", "x")))
    dumped = json.dumps(
        [
            {**dict(s.attributes), "events": [dict(e.attributes) for e in s.events]}
            for s in otel.spans()
        ],
        default=str,
    )
    metrics = json.dumps(
        [a for name, rows in otel.metrics().items() if name != "_units" for a, _ in rows]
    )
    assert SECRET not in dumped and SECRET not in metrics
    assert "primary-main" in dumped


class _Redactor:
    name = "test-redactor"

    def sanitize_json(self, data):
        return json.loads(json.dumps(data).replace("hunter2", "[REDACTED]"))


class _Sanitizers:
    @hookimpl
    def omniwire_register_sanitizers(self, register):
        register(_Redactor())


def test_content_is_captured_only_when_enabled(otoy_server, otel, monkeypatch):
    from omniwire import Message, Role

    request = Request(
        "primary:toy-1",
        (Message.text(Role.SYSTEM, "be brief"), Message.text(Role.USER, "my pass is hunter2")),
    )
    monkeypatch.delenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", raising=False)
    run(make_stack(otoy_server, otel.observer()), lambda s: s.call(request))
    assert not any(
        k.startswith(("gen_ai.input", "gen_ai.output", "gen_ai.system"))
        for k in only_span(otel).attributes
    )
    otel.exporter.clear()

    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    stack = make_stack(otoy_server, otel.observer(), plugins=[_Sanitizers()])
    run(stack, lambda s: s.call(request))
    attrs = only_span(otel).attributes
    assert json.loads(attrs["gen_ai.system_instructions"]) == [
        {"type": "text", "content": "be brief"}
    ]
    assert json.loads(attrs["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "my pass is [REDACTED]"}]}
    ]
    assert json.loads(attrs["gen_ai.output.messages"]) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "echo: be brief\nmy pass is [REDACTED]"}],
            "finish_reason": "length",
        }
    ]
    otel.exporter.clear()
    run(make_stack(otoy_server, otel.observer(capture_content=False)), lambda s: s.call(request))
    assert "gen_ai.input.messages" not in only_span(otel).attributes


def test_stream_closed_early_ends_the_span_as_cancelled(otoy_server, otel):
    stack = make_stack(otoy_server, otel.observer())

    async def partial(s):
        async with s.stream(Request.simple("primary:toy-1", "a b c d e f")) as result:
            async for event in result:
                if type(event).__name__ == "TextDelta":
                    break

    run(stack, partial)
    span = only_span(otel)
    assert span.end_time is not None
    assert span.attributes["error.type"] == "cancelled"
    assert span.status.status_code is StatusCode.ERROR
    assert "gen_ai.response.time_to_first_chunk" in span.attributes
    [(attrs, point)] = otel.metrics()["gen_ai.client.operation.duration"]
    assert attrs["error.type"] == "cancelled" and point.count == 1


@pytest.mark.parametrize("auto_guards", [True, False], ids=["guard", "collected"])
def test_cancelled_task_ends_the_span(otoy_server, otel, auto_guards):
    """With the watch guard the span ends at once; without it (no planted guards), when
    the call record is garbage collected."""
    stack = make_stack(otoy_server, otel.observer(), auto_guards=auto_guards)
    otoy_server.delay(0, event_delay=60)  # the stream stalls after its first event

    async def cancelled(s):
        with anyio.move_on_after(0.3):
            async for _ in s.stream(Request.simple("primary:toy-1", "a b c")):
                pass
        return None

    run(stack, cancelled)
    gc.collect()
    span = only_span(otel)
    assert span.end_time is not None
    assert span.attributes["error.type"] == "cancelled"
    assert span.status.status_code is StatusCode.ERROR
    durations = otel.metrics().get("gen_ai.client.operation.duration", [])
    if auto_guards:  # the guard sees the call: full attributes and a duration sample
        assert span.attributes["omniwire.endpoint"] == "primary"
        assert [a["error.type"] for a, _ in durations] == ["cancelled"]
    else:  # only the span is closed from the finalizer
        assert durations == []


def test_observer_is_called_a_fixed_number_of_times_per_stream(otoy_server, otel):
    events = []
    observer = otel.observer()
    original = observer.omniwire_observe

    class Counting:
        @hookimpl
        def omniwire_observe(self, call, event):
            events.append(event)

    stack = make_stack(otoy_server, observer, plugins=[Counting()])
    run(stack, lambda s: s.stream(Request.simple("primary:toy-1", " ".join("w" * 50))).collect())
    assert events == ["start", "attempt", "first_chunk", "end"]
    assert original is not None


def test_no_sdk_means_no_op(otoy_server):
    from omniwire_otel import GenAIObserver
    from opentelemetry.metrics import NoOpMeterProvider
    from opentelemetry.trace import NoOpTracerProvider

    observer = GenAIObserver(
        tracer_provider=NoOpTracerProvider(), meter_provider=NoOpMeterProvider()
    )
    stack = make_stack(otoy_server, observer)
    assert run(stack, lambda s: s.call(Request.simple("primary:toy-1", "x"))).text == "echo: x"


def test_global_providers_without_sdk_cost_nothing(otoy_server):
    """On the global providers with no SDK installed, the observer keeps no state on the
    call and builds no span: the call's events return at once."""
    from omniwire_otel import GenAIObserver
    from omniwire_otel.observer import STATE_KEY
    from opentelemetry import metrics, trace

    if type(trace.get_tracer_provider()) is not trace.ProxyTracerProvider:
        pytest.skip("an SDK tracer provider was installed globally in this process")
    if type(metrics.get_meter_provider()).__name__ != "_ProxyMeterProvider":
        pytest.skip("an SDK meter provider was installed globally in this process")
    observer = GenAIObserver()
    assert observer._idle()
    stack = make_stack(otoy_server, observer)
    call = run(stack, lambda s: s.invoke(Request.simple("primary:toy-1", "x")))
    assert call.response.text == "echo: x"
    assert STATE_KEY not in call.attributes
    given = GenAIObserver(tracer_provider=trace.NoOpTracerProvider())
    assert not given._idle()  # a provider given in code is always used


def test_metrics_can_be_turned_off(otoy_server, otel):
    stack = make_stack(otoy_server, otel.observer(metrics=False))
    run(stack, lambda s: s.call(Request.simple("primary:toy-1", "x")))
    assert only_span(otel).attributes["gen_ai.usage.input_tokens"] == 1
    assert otel.metrics() == {}
