"""The shared conformance kit (omniwire-testing) run against the Gemini codecs."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from omniwire.model import Message, Request, TokenCountRequest, ToolCallPart, ToolResultPart

kit = pytest.importorskip("omniwire_testing.conformance")

from omniwire_gemini.count_tokens import GeminiCountTokens  # noqa: E402
from omniwire_gemini.embed_content import GeminiEmbedContent  # noqa: E402
from omniwire_gemini.generate_content import GeminiGenerateContent  # noqa: E402


def _named_results(messages: tuple[Message, ...]) -> tuple[Message, ...]:
    """Give every tool result the name of the call it answers. Gemini requires the name,
    so an encoder fills a missing one in from the call; the decoded request then differs
    from the generated one by information *added*, which is no loss to report."""
    names = {p.id: p.name for m in messages for p in m.content if isinstance(p, ToolCallPart)}

    def fix(p: Any) -> Any:
        if isinstance(p, ToolResultPart) and p.name is None and p.tool_call_id in names:
            return attrs.evolve(p, name=names[p.tool_call_id])
        return p

    return tuple(attrs.evolve(m, content=tuple(map(fix, m.content))) for m in messages)


class _Named:
    def request_strategy(self, features: frozenset[str] | None) -> Any:
        def fix(r: Request | TokenCountRequest) -> Any:
            return attrs.evolve(r, messages=_named_results(r.messages))

        return super().request_strategy(features).map(fix)  # type: ignore[misc]


class TestGeminiConformance(_Named, kit.CodecConformance):
    codec = GeminiGenerateContent()
    opaque_shape = "keyed"  # Gemini parts are {kind: {...}}
    max_examples = 60


class TestGeminiCountTokensConformance(_Named, kit.CodecConformance):
    codec = GeminiCountTokens()
    opaque_shape = "keyed"
    max_examples = 40


class TestGeminiEmbedConformance(kit.CodecConformance):
    codec = GeminiEmbedContent()
    max_examples = 40
    ignore_paths = ("$.model",)  # Gemini embedding responses name no model (a reported loss)
