"""omniwire-otel: OpenTelemetry spans and metrics for every omniwire call, following the
GenAI semantic conventions.

Installed, the ``otel`` entry point observes every stack through the global tracer and
meter providers. Compose it in code instead with
``PluginManager(entry_points=False).register(GenAIObserver(tracer_provider=...))``.
:func:`observe_pool` exports a stack's pool status as observable gauges.
"""

from __future__ import annotations

from .observer import CAPTURE_ENV, STATE_KEY, CancellationWatch, GenAIObserver, capture_enabled
from .pool import PoolGauges, observe_pool

__all__ = [
    "CAPTURE_ENV",
    "STATE_KEY",
    "CancellationWatch",
    "GenAIObserver",
    "PoolGauges",
    "capture_enabled",
    "observe_pool",
]
