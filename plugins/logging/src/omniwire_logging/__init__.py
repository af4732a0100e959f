"""omniwire-logging: one structured stdlib log record per finished call.

Installed, the ``logging`` entry point logs every call on ``omniwire.calls``. Compose it
in code with ``PluginManager(entry_points=False).register(CallLogger(...))``.
"""

from __future__ import annotations

from .observer import LOGGER_NAME, CallLogger, JsonFormatter, call_fields

__all__ = ["LOGGER_NAME", "CallLogger", "JsonFormatter", "call_fields"]
