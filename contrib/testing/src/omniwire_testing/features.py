"""The feature words the kit understands, and which canonical fields each one unlocks.

``VOCABULARY`` is the kernel's list (``omniwire.codec.FEATURES``, ``docs/codecs.md``). ``KIT_WORDS`` are finer words for
canonical fields that vocabulary does not name (a codec may declare them in
``Codec.features``; nothing else reads them). ``FAMILY_WORDS`` name the optional fields of
the non-generation families, one word per field. No Hypothesis here: the fake upstream
and the pytest plugin import this module too.
"""

from __future__ import annotations

from omniwire.codec import FEATURES

__all__ = [
    "ALL_WORDS",
    "FAMILY_WORDS",
    "KIT_WORDS",
    "VOCABULARY",
    "unknown_words",
]

VOCABULARY: frozenset[str] = FEATURES

#: kit word -> the canonical field it unlocks (documentation and error messages)
KIT_WORDS: dict[str, str] = {
    "message_name": "Message.name",
    "tool_strict": "Tool.strict",
    "tool_result_name": "ToolResultPart.name (always the answered call's name)",
    "tool_result_error": "ToolResultPart.is_error",
    "image_detail": "ImagePart.detail",
    "media_url": "MediaSource.url for images and files (no media_type)",
    "file_name": "FilePart.filename (always set)",
    "file_metadata": "FilePart.title, .context, .citations",
    "reasoning_id": "ReasoningPart.id (always set)",
    "json_schema_name": "ResponseFormat.name (always), .description, .strict",
    "cached_content": "PromptCache.cached_content",
    "include_thoughts": "Reasoning.include_thoughts",
    "response_created": "Response.created (always set)",
    "multi_part_output": "several text/reasoning parts in one response choice",
}

#: family -> words for its optional fields (one word per canonical field name)
FAMILY_WORDS: dict[str, frozenset[str]] = {
    "embed": frozenset({"dimensions", "encoding_format", "task", "user", "token_inputs", "usage"}),
    "image": frozenset(
        {
            "n",
            "size",
            "quality",
            "style",
            "response_format",
            "background",
            "output_format",
            "user",
            "revised_prompt",
            "image_url",
            "usage",
        }
    ),
    "image_edit": frozenset(
        {
            "n",
            "size",
            "quality",
            "response_format",
            "background",
            "output_format",
            "output_compression",
            "input_fidelity",
            "user",
            "mask",
            "media_type",  # InputImage.media_type
            "multiple_images",  # more than one input image
            "revised_prompt",
            "image_url",
            "usage",
        }
    ),
    "image_variation": frozenset(
        {
            "n",
            "size",
            "response_format",
            "user",
            "media_type",
            "revised_prompt",
            "image_url",
            "usage",
        }
    ),
    "transcribe": frozenset(
        {
            "media_type",
            "language",
            "prompt",
            "response_format",
            "temperature",
            "timestamp_granularities",
            "duration",
            "segments",
            "words",
            "usage",
        }
    ),
    "speech": frozenset({"response_format", "speed", "instructions", "media_type"}),
    "rerank": frozenset({"top_n", "return_documents", "usage"}),
    "count_tokens": frozenset(),  # uses the generation words for its messages and tools
}

ALL_WORDS: frozenset[str] = VOCABULARY.union(KIT_WORDS, *FAMILY_WORDS.values())


def unknown_words(features: frozenset[str] | set[str]) -> list[str]:
    """Words the kit does not know (usually typos in ``Codec.features``)."""
    return sorted(set(features) - ALL_WORDS)
