"""Provider "btoy" for the budget tests: the kit's toy protocol (``btoy.chat`` and
``btoy.count_tokens``), a price table for it and what its fake upstream answers, so budget
tests run the whole pipeline without any provider plugin.

Prices: $2 per million input tokens, $10 per million output tokens, so a call of 100
input and 50 output tokens costs exactly $0.0007 (700 micro-dollars).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
from omniwire import Choice, Message, Request, Response, Role, StopReason, TextPart, Usage
from omniwire.codec import Family
from omniwire.model import TokenCountRequest, TokenCountResponse
from omniwire.money import Cost
from omniwire.plugins import hookimpl
from omniwire_testing.toy import ToyCodec
from omniwire_testing.upstream import FakeUpstream

INPUT_PER_MTOK = Decimal(2)
OUTPUT_PER_MTOK = Decimal(10)

CODECS = (
    ToyCodec("btoy.chat", provider="btoy", routes=("/chat",), path="/chat"),
    ToyCodec(
        "btoy.count_tokens",
        family=Family.COUNT_TOKENS,
        provider="btoy",
        routes=("/count",),
        path="/count",
    ),
)


class BToyTable:
    """The price table for provider ``btoy`` (model ``unpriced`` has no price)."""

    name = "btoy-prices"

    def price(self, provider: str, model: str, usage: Usage) -> Cost | None:
        if provider != "btoy" or model == "unpriced":
            return None
        amount = usage.input_tokens * INPUT_PER_MTOK + usage.output_tokens * OUTPUT_PER_MTOK
        return Cost(amount / 1_000_000)


class BToyPlugin:
    @hookimpl
    def omniwire_register_codecs(self, register: Any) -> None:
        for codec in CODECS:
            register(codec)

    @hookimpl
    def omniwire_register_price_tables(self, register: Any) -> None:
        register(BToyTable())


@attrs.define
class Answers:
    """The upstream's responder: every call reports ``usage`` (a stream its input with
    the first event, as Anthropic's message_start does, so a cut stream keeps it);
    count_tokens answers ``count``."""

    usage: Usage = Usage(100, 50)
    count: Any = 10

    def __call__(self, request: Any, recorded: Any) -> Any:
        if isinstance(request, TokenCountRequest):
            return TokenCountResponse(self.count)
        choice = Choice((TextPart("ok"),), StopReason.END_TURN)
        return Response("r1", request.model, (choice,), self.usage)


def btoy_upstream(usage_in: int = 100, usage_out: int = 50) -> FakeUpstream:
    """Streams are close-delimited: a cut one ends cleanly, before its [DONE]."""
    return FakeUpstream(CODECS, responder=Answers(Usage(usage_in, usage_out)), chunked=False)


PROMPT = "abcd" * 100  # 400 characters: 100 estimated input tokens


def request(model: str = "m", *, prompt: str = PROMPT, max_tokens: int = 50, **kw: Any) -> Request:
    return Request(model, (Message.text(Role.USER, prompt),), max_tokens=max_tokens, **kw)
