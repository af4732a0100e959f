"""omniwire-aiohttp: registers the ``aiohttp`` transport (imported when first used)."""

from __future__ import annotations

from typing import Any, Callable

from omniwire.plugins import hookimpl


class _Factory:
    """Registered under ``aiohttp``; defers importing aiohttp until a stack needs it."""

    name = "aiohttp"

    def __call__(self, **options: Any) -> Any:
        from .transport import AiohttpTransport

        return AiohttpTransport(**options)


@hookimpl
def omniwire_register_transports(register: Callable[[Any], None]) -> None:
    register(_Factory())
