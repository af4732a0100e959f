"""omniwire-anthropic: the Anthropic Messages and token-counting codecs.

Import-light on purpose: the codecs load when the registries are built, not when the
plugin is discovered.
"""

from __future__ import annotations

from typing import Any, Callable

from omniwire.plugins import hookimpl


@hookimpl
def omniwire_register_codecs(register: Callable[[Any], None]) -> None:
    from .count_tokens import AnthropicCountTokens
    from .messages import AnthropicMessages

    register(AnthropicMessages())
    register(AnthropicCountTokens())
