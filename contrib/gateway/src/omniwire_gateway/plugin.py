"""Entry point: contributes the ``serve`` and ``usage`` commands (import-light)."""

from __future__ import annotations

from typing import Any, Callable

from omniwire.plugins import hookimpl


@hookimpl
def omniwire_register_commands(register: Callable[[Any], None]) -> None:
    from .cli import ServeCommand, UsageCommand

    register(ServeCommand())
    register(UsageCommand())
