"""omniwire-gemini: codecs for the Gemini API wire protocols (and Vertex AI paths).

Import-light: the hooks import the codecs only when a stack asks for them.
"""

from __future__ import annotations

from typing import Any, Callable

from omniwire.plugins import hookimpl


@hookimpl
def omniwire_register_codecs(register: Callable[[Any], None]) -> None:
    from .count_tokens import GeminiCountTokens
    from .embed_content import GeminiEmbedContent
    from .generate_content import GeminiGenerateContent

    register(GeminiGenerateContent())
    register(GeminiCountTokens())
    register(GeminiEmbedContent())


@hookimpl
def omniwire_register_endpoint_profiles(register: Callable[[Any], None]) -> None:
    from .vertex import VertexProfile

    register(VertexProfile())
