"""omniwire-sanitize: the default sanitizer, registered as ``default``.

Other plugins never import this package: they find sanitizers in the plugin manager's
``sanitizers`` table (``pm.table("sanitizers")``) and call the duck-typed API —
``sanitize_headers``, ``sanitize_url``, ``sanitize_json``, ``sanitize_text``.
"""

from __future__ import annotations

from typing import Any, Callable

from omniwire.plugins import hookimpl

from .rules import DEFAULT_FIELDS, DEFAULT_HEADERS, DEFAULT_PATTERNS, DEFAULT_QUERY_PARAMS
from .sanitizer import REDACTED, Sanitizer

__all__ = [
    "DEFAULT_FIELDS",
    "DEFAULT_HEADERS",
    "DEFAULT_PATTERNS",
    "DEFAULT_QUERY_PARAMS",
    "REDACTED",
    "Sanitizer",
    "omniwire_register_commands",
    "omniwire_register_sanitizers",
]


@hookimpl
def omniwire_register_sanitizers(register: Callable[[Any], None]) -> None:
    register(Sanitizer())


@hookimpl
def omniwire_register_commands(register: Callable[[Any], None]) -> None:
    from .cli import SanitizeCommand

    register(SanitizeCommand())
