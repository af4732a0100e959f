from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from otel_toy import otoy_upstream  # noqa: E402


def _sdk_installed() -> bool:
    try:
        return importlib.util.find_spec("opentelemetry.sdk") is not None
    except ModuleNotFoundError:
        return False


# the tests export through the SDK (the plugin itself needs only the API): skip them
# locally without it, as the repository does for missing prerequisites; fail under CI
if not _sdk_installed():
    if os.environ.get("CI") == "true":
        raise RuntimeError("opentelemetry-sdk is missing: install omniwire-otel[test]")
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture
def otoy_server():
    with otoy_upstream() as server:
        yield server


@pytest.fixture
def otel():
    """In-memory span exporter and metric reader, and an observer writing to them."""
    from omniwire_otel import GenAIObserver
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])

    def observer(**kwargs):
        return GenAIObserver(
            tracer_provider=tracer_provider, meter_provider=meter_provider, **kwargs
        )

    def metrics():
        """{metric name: [(attributes, data point)]}"""
        out: dict = {}
        data = reader.get_metrics_data()
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    for point in metric.data.data_points:
                        out.setdefault(metric.name, []).append((dict(point.attributes), point))
                    out.setdefault("_units", {})[metric.name] = metric.unit
        return out

    yield SimpleNamespace(
        exporter=exporter,
        reader=reader,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        observer=observer,
        spans=exporter.get_finished_spans,
        metrics=metrics,
    )
    tracer_provider.shutdown()
    meter_provider.shutdown()
