"""What the ``logging`` entry point registers. ``OMNIWIRE_LOGGING_DISABLED=1`` (read at
plugin load) registers an object with no hooks instead."""

from __future__ import annotations

import os

from .observer import CallLogger

__all__ = ["DISABLE_ENV", "plugin"]

DISABLE_ENV = "OMNIWIRE_LOGGING_DISABLED"


class _Disabled:
    """Implements nothing: the stack skips observation for it."""


def _disabled() -> bool:
    return os.environ.get(DISABLE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


plugin: object = _Disabled() if _disabled() else CallLogger()
