"""What the ``otel`` entry point registers: a lazy observer on the global providers.

``opentelemetry`` is imported when the first call is observed, not when plugins load, so
``omniwire plugins`` and stacks that never run a call do not pay for it. With
``OMNIWIRE_OTEL_DISABLED=1`` (read once, at plugin load) the entry point registers an
object with no hooks at all: the stack then skips the observe stage entirely.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from omniwire.plugins import hookimpl

from .observer import GenAIObserver, WatchFactory

if TYPE_CHECKING:
    from omniwire.call import Call

__all__ = ["DISABLE_ENV", "OtelPlugin", "disabled", "plugin"]

DISABLE_ENV = "OMNIWIRE_OTEL_DISABLED"


def disabled() -> bool:
    return os.environ.get(DISABLE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


class OtelPlugin:
    """Observes every call with one :class:`GenAIObserver` built on first use."""

    def __init__(self) -> None:
        self._observer: GenAIObserver | None = None

    @property
    def observer(self) -> GenAIObserver:
        if self._observer is None:
            self._observer = GenAIObserver()
        return self._observer

    @hookimpl
    def omniwire_observe(self, call: Call, event: str) -> None:
        self.observer.omniwire_observe(call, event)

    @hookimpl
    def omniwire_register_guards(self, register: Any) -> None:
        register(WatchFactory("otel-cancellation"))


class _Disabled:
    """Registered instead when the observer is turned off: implements nothing."""


plugin: object = _Disabled() if disabled() else OtelPlugin()
