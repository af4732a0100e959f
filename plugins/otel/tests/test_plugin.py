"""The installed entry point, the off switch, the watch guard and the pool gauges."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from omniwire import Endpoint, Request
from omniwire.plugins import PluginManager, hookimpl
from omniwire.stack import Stack
from omniwire_otel import GenAIObserver, observe_pool
from omniwire_testing.support import codec_plugin
from otel_toy import OToyCodec

HERE = Path(__file__).parent

SCRIPT = """
import json, sys
sys.path.insert(0, {here!r})
import anyio
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from omniwire import Endpoint, Request
from omniwire.plugins import get_plugin_manager
from omniwire.stack import Stack
from otel_toy import OToyCodec, otoy_upstream

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
reader = InMemoryMetricReader()
metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))

with otoy_upstream() as server:
    stack = Stack([Endpoint("p", "otoy.chat", server.url, keys=["sk-entry-point-0001"])],
                  codecs=[OToyCodec()])

    async def main():
        async with stack:
            await stack.call(Request.simple("m", "hello"))

    anyio.run(main)
data = reader.get_metrics_data()
names = sorted({{m.name for rm in (data.resource_metrics if data else ())
                for sm in rm.scope_metrics for m in sm.metrics}})
print(json.dumps({{
    "observers": get_plugin_manager().implementations("omniwire_observe"),
    "spans": [(s.name, s.attributes.get("gen_ai.provider.name")) for s in exporter.get_finished_spans()],
    "metrics": names,
}}))
"""


def run_script(**env):
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(here=str(HERE))],
        capture_output=True,
        text=True,
        env={**os.environ, "OMNIWIRE_PLUGINS": "otel", **env},
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def test_installed_entry_point_observes_through_the_global_providers():
    result = run_script()
    assert "otel" in result["observers"]
    assert result["spans"] == [["chat m", "otoy"]]
    assert result["metrics"] == ["gen_ai.client.operation.duration", "gen_ai.client.token.usage"]


def test_disabled_by_environment():
    result = run_script(OMNIWIRE_OTEL_DISABLED="1")
    assert "otel" not in result["observers"] and result["spans"] == []


def test_entry_point_plugin_is_lazy():
    code = (
        "import sys, omniwire_otel.plugin as p; "
        "print(type(p.plugin).__name__, 'opentelemetry' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["OtelPlugin", "False"]


def test_hook_guard_factories_are_registered():
    import omniwire_otel.plugin as plugin_module

    pm = PluginManager(entry_points=False)
    observer = GenAIObserver()
    pm.register(observer, name="mine")
    pm.register(plugin_module.OtelPlugin(), name="otel")
    names = sorted(pm.table("guards"))
    assert names == sorted(["otel-cancellation", f"otel-cancellation-{id(observer):x}"])
    assert {f.order for f in pm.table("guards").values()} == {1000}


def test_unexpected_exception_ends_the_span_with_its_class_name(otoy_server, otel):
    class Broken:
        @hookimpl
        def omniwire_decode(self, call, response):
            raise RuntimeError("codec bug")

    pm = PluginManager(entry_points=False)
    pm.register(codec_plugin(OToyCodec()), name="otoy")
    pm.register(otel.observer(), name="otel")
    pm.register(Broken(), name="broken")
    stack = Stack([Endpoint("p", "otoy.chat", otoy_server.url)], plugin_manager=pm)

    async def main():
        async with stack:
            await stack.call(Request.simple("m", "x"))

    with pytest.raises(RuntimeError):
        anyio.run(main)
    [span] = otel.spans()
    assert span.attributes["error.type"] == "RuntimeError"
    assert span.status.description == "the call ended with RuntimeError"


# -- pool gauges ------------------------------------------------------------------------------

STATUS = {
    "endpoints": [
        {
            "name": "p",
            "breaker": "closed",
            "retry_in": 0.0,
            "failures": 0,
            "keys": [
                {
                    "alias": "p-1",
                    "breaker": "open",
                    "retry_in": 2.5,
                    "failures": 3,
                    "in_flight": 1,
                    "dead": None,
                    "rpm_used": 10.0,
                    "tpm_used": None,
                },
                {
                    "alias": "p-2",
                    "breaker": "closed",
                    "retry_in": 0.0,
                    "failures": 0,
                    "in_flight": 2,
                    "dead": None,
                    "rpm_used": None,
                    "tpm_used": 300.0,
                },
            ],
        }
    ]
}


def pool_values(otel):
    out = {}
    for name, rows in otel.metrics().items():
        if name.startswith("omniwire.pool."):
            for attrs, point in rows:
                out[(name.removeprefix("omniwire.pool.key."), attrs["omniwire.key.alias"])] = (
                    point.value
                )
    return out


def test_pool_gauges_from_a_synchronous_stack_method(otel):
    class FakeStack:
        guards = ()

        def pool_status(self):
            return STATUS

    stack = FakeStack()
    assert observe_pool(stack, meter_provider=otel.meter_provider) is not None
    assert pool_values(otel) == {
        ("available", "p-1"): 0,
        ("available", "p-2"): 1,
        ("in_flight", "p-1"): 1,
        ("in_flight", "p-2"): 2,
        ("retry_in", "p-1"): 2.5,
        ("retry_in", "p-2"): 0.0,
        ("failures", "p-1"): 3,
        ("failures", "p-2"): 0,
        ("rpm_used", "p-1"): 10.0,
        ("tpm_used", "p-2"): 300.0,
    }


def test_a_killed_provider_has_no_available_keys(otel):
    import copy

    status = copy.deepcopy(STATUS)
    status["endpoints"][0]["killed"] = True

    class FakeStack:
        guards = ()

        def pool_status(self):
            return status

    stack = FakeStack()  # the gauges hold the stack weakly
    assert observe_pool(stack, meter_provider=otel.meter_provider) is not None
    values = pool_values(otel)
    assert values[("available", "p-1")] == 0 and values[("available", "p-2")] == 0
    assert values[("in_flight", "p-2")] == 2  # the rest is reported as before


def test_no_pool_status_means_no_gauges(otel):
    class Plain:
        guards = ()

    assert observe_pool(Plain(), meter_provider=otel.meter_provider) is None


class _Status:
    def to_dict(self):
        return STATUS


class _AsyncStatusGuard:
    """Like omniwire-resilience's guards: an async ``pool_status(stack)``."""

    async def admit(self, call, candidate):
        pass

    async def complete(self, call):
        pass

    async def abort(self, call, error):
        pass

    async def pool_status(self, stack):
        return _Status()


def test_pool_gauges_from_an_async_guard_refresh_when_calls_end(otoy_server, otel):
    pm = PluginManager(entry_points=False)
    pm.register(codec_plugin(OToyCodec()), name="otoy")
    pm.register(otel.observer(metrics=False), name="otel")
    stack = Stack(
        [Endpoint("p", "otoy.chat", otoy_server.url)],
        plugin_manager=pm,
        guards=[_AsyncStatusGuard()],
    )
    gauges = observe_pool(stack, meter_provider=otel.meter_provider, min_interval=0.0)
    assert gauges is not None
    assert pool_values(otel) == {}  # nothing awaited yet

    async def main():
        async with stack:
            await stack.call(Request.simple("m", "x"))
            await anyio.sleep(0.05)  # the refresh the observer scheduled runs

    anyio.run(main)
    assert pool_values(otel)[("available", "p-1")] == 0
    assert pool_values(otel)[("tpm_used", "p-2")] == 300.0
