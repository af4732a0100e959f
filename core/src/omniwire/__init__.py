"""omniwire: one canonical model of an LLM call, every provider's wire protocol.

``import omniwire`` loads only the canonical model and the errors. The plugin manager,
transports, cattrs and every provider plugin load when first used.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .errors import (
    BudgetExceeded,
    CircuitOpen,
    ConfigError,
    NoAvailableKey,
    OmniwireError,
    PluginError,
    ProtocolError,
    RateLimited,
    Timeout,
    UnknownModel,
    UpstreamError,
)
from .model import *  # noqa: F403
from .model import __all__ as _model_all
from .report import Conversion, ConversionReport, LossReason
from .secrets import Secret

if TYPE_CHECKING:
    from .codec import Codec, Family
    from .endpoint import Endpoint, EndpointProfile
    from .plugins import PluginManager, hookimpl
    from .stack import Stack

__version__ = "0.1.0"

# name -> module that defines it, imported on first attribute access
_LAZY = {
    "Codec": ".codec",
    "Family": ".codec",
    "Endpoint": ".endpoint",
    "EndpointProfile": ".endpoint",
    "Key": ".endpoint",
    "PluginManager": ".plugins",
    "hookimpl": ".plugins",
    "get_plugin_manager": ".plugins",
    "Stack": ".stack",
    "StreamResult": ".stack",
    "Call": ".call",
    "Cost": ".money",
    "normalize": ".normalize",
    "transcode": ".transcode",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'omniwire' has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = sorted(
    [
        *_model_all,
        *_LAZY,
        "BudgetExceeded",
        "CircuitOpen",
        "ConfigError",
        "Conversion",
        "ConversionReport",
        "LossReason",
        "NoAvailableKey",
        "OmniwireError",
        "PluginError",
        "ProtocolError",
        "RateLimited",
        "Secret",
        "Timeout",
        "UnknownModel",
        "UpstreamError",
        "__version__",
    ]
)
