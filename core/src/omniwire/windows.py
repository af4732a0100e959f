"""Budget windows, shared by every budget backend (memory, SQLite, Redis...).

A window is written ``total`` (no reset), ``day`` or ``month`` (UTC calendar periods:
spend resets at 00:00 UTC and on the 1st) or ``rolling:<n><unit>`` (the spend of the
last n seconds/minutes/hours/days, unit ``s``/``m``/``h``/``d``, e.g. ``rolling:24h``).
"""

from __future__ import annotations

import re
import time

from .errors import ConfigError

__all__ = ["Window", "parse_window"]

_ROLLING = re.compile(r"rolling:(\d+(?:\.\d+)?)([smhd]?)")
_UNIT = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_CALENDAR = {"day": "%Y-%m-%d", "month": "%Y-%m"}


class Window:
    """A parsed window: ``kind`` is total, day, month or rolling; ``seconds`` the
    length of a rolling window."""

    __slots__ = ("spec", "kind", "seconds")

    def __init__(self, spec: str, kind: str, seconds: float) -> None:
        self.spec = spec
        self.kind = kind
        self.seconds = seconds

    def period(self, now: float) -> str:
        """The calendar period ``now`` falls in ("" for total and rolling windows)."""
        fmt = _CALENDAR.get(self.kind)
        return time.strftime(fmt, time.gmtime(now)) if fmt else ""


_cache: dict[str, Window] = {}


def parse_window(spec: str) -> Window:
    found = _cache.get(spec)
    if found is not None:
        return found
    if spec in ("total", "day", "month"):
        window = Window(spec, spec, 0.0)
    else:
        m = _ROLLING.fullmatch(spec) if isinstance(spec, str) else None
        seconds = float(m.group(1)) * _UNIT[m.group(2)] if m else 0.0
        if not seconds > 0:
            raise ConfigError(
                f"unknown budget window {spec!r} (total, day, month or rolling:<n>[smhd])"
            )
        window = Window(spec, "rolling", seconds)
    _cache[spec] = window
    return window
