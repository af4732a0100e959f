"""omniwire-replay: record real exchanges into sanitized fixtures, replay them offline.

Registers two transports, ``recording`` and ``replay``. Sanitizing goes through the
plugin manager's ``sanitizers`` table (filled by omniwire-sanitize), never an import.
"""

from __future__ import annotations

from typing import Any, Callable

from omniwire.plugins import hookimpl

from .fixture import FORMAT_VERSION, Fixture, Matcher, ReplayMismatch, load_fixture
from .transports import RecordingTransport, ReplayTransport

__all__ = [
    "FORMAT_VERSION",
    "Fixture",
    "Matcher",
    "RecordingTransport",
    "ReplayMismatch",
    "ReplayTransport",
    "load_fixture",
    "omniwire_register_transports",
]


@hookimpl
def omniwire_register_transports(register: Callable[[Any], None]) -> None:
    register(RecordingTransport)
    register(ReplayTransport)
