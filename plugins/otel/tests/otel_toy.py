"""Provider "otoy" for the observer tests: the kit's toy protocol without temperature
(a reported loss), on a fake upstream answering like a provider with dated snapshots."""

from __future__ import annotations

from typing import Any

import attrs
from omniwire import Choice, Request, Response, StopReason, TextPart, Usage
from omniwire_testing.toy import ToyCodec
from omniwire_testing.upstream import FakeUpstream, RecordedRequest


class OToyCodec(ToyCodec):
    id = "otoy.chat"
    provider = "otoy"
    routes = ("/chat",)
    path = "/chat"

    def encode_request(self, request: Any, conv: Any) -> Any:
        if request.temperature is not None:
            conv.lose("$.temperature", "otoy.chat has no temperature")
        return super().encode_request(attrs.evolve(request, temperature=None), conv)


def answer(request: Request, recorded: RecordedRequest) -> Response:
    """The prompt echoed by ``<model>-0613``: a plain answer stops at max_tokens with one
    cached input token; a stream ends normally."""
    prompt = "\n".join(m.plain_text for m in request.messages)
    words = len(prompt.split())
    if recorded.stream:
        stop, usage, id = StopReason.END_TURN, Usage(words, words), "s1"
    else:
        stop, usage, id = StopReason.MAX_TOKENS, Usage(words, words + 1, cache_read_tokens=1), "r1"
    choice = Choice((TextPart(f"echo: {prompt}"),), stop)
    return Response(id, f"{request.model}-0613", (choice,), usage)


def otoy_upstream() -> FakeUpstream:
    return FakeUpstream([OToyCodec()], responder=answer)
