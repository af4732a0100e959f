"""omniwire-testing: the conformance kit for omniwire codecs and stacks.

* :mod:`~omniwire_testing.conformance` — ``CodecConformance`` (subclass it with
  ``codec = YourCodec()``) and ``CrossCodecConformance``;
* :mod:`~omniwire_testing.strategies` — Hypothesis strategies for every canonical type;
* :mod:`~omniwire_testing.upstream` — ``FakeUpstream``, a real HTTP server speaking every
  installed protocol, with fault injection;
* :mod:`~omniwire_testing.oracles` — the official SDKs as validators of wire payloads;
* the pytest plugin (fixtures ``plugin_manager``, ``register_plugin``, ``hook_recorder``,
  ``redis_url``, ``fake_upstream``...) and Hypothesis profiles ``ci``/``dev``/``fast``.

Importing this package loads nothing: names resolve on first access.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "CodecConformance": ".conformance",
    "CrossCodecConformance": ".conformance",
    "Difference": ".diff",
    "FakeUpstream": ".upstream",
    "Fault": ".upstream",
    "HookCall": ".hooks",
    "HookRecorder": ".hooks",
    "RawResponse": ".upstream",
    "RecordedRequest": ".upstream",
    "ToyCodec": ".toy",
    "codec_plugin": ".support",
    "diff": ".diff",
    "events_for": ".events",
    "new_plugin_manager": ".support",
}

__all__ = sorted([*_LAZY, "__version__"])


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'omniwire_testing' has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
