"""omniwire-openai: codecs for the openai wire protocols (work in progress)."""

from __future__ import annotations

from typing import Any, Callable

from omniwire.plugins import hookimpl


@hookimpl
def omniwire_register_codecs(register: Callable[[Any], None]) -> None:
    pass
