"""omniwire-openai: codecs for OpenAI's wire protocols.

``openai.chat``, ``openai.responses``, ``openai.embeddings``, ``openai.images``,
``openai.images.edits``, ``openai.images.variations``, ``openai.audio.transcriptions``
and ``openai.audio.speech``. Import-light: the codec
modules load when the registration hook runs, not when the plugin is discovered.
"""

from __future__ import annotations

from typing import Any, Callable

from omniwire.plugins import hookimpl


@hookimpl
def omniwire_register_codecs(register: Callable[[Any], None]) -> None:
    from .chat import OpenAIChat
    from .embeddings import OpenAIEmbeddings
    from .image_edits import OpenAIImageEdits, OpenAIImageVariations
    from .images import OpenAIImages
    from .responses import OpenAIResponses
    from .speech import OpenAISpeech
    from .transcriptions import OpenAITranscriptions

    compat = OpenAIChat(typed_content=True)
    compat.id = "openai.chat_compat"  # type: ignore[misc]
    compat.routes = ()  # type: ignore[misc]
    for codec in (
        OpenAIChat(),
        compat,
        OpenAIResponses(),
        OpenAIEmbeddings(),
        OpenAIImages(),
        OpenAIImageEdits(),
        OpenAIImageVariations(),
        OpenAITranscriptions(),
        OpenAISpeech(),
    ):
        register(codec)


@hookimpl
def omniwire_register_endpoint_profiles(register: Callable[[Any], None]) -> None:
    from .profiles import AzureProfile

    register(AzureProfile())
