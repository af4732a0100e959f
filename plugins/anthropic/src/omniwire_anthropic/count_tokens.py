"""``anthropic.count_tokens``: ``POST /v1/messages/count_tokens``, both directions.

The request is a Messages request without generation settings: ``model``, ``messages``,
``system`` and ``tools`` map to TokenCountRequest (``system`` becomes leading SYSTEM
messages, exactly as in ``anthropic.messages``). The other fields Anthropic accepts
(``tool_choice``, ``thinking``, ``output_config``...) have no canonical slot on
TokenCountRequest; they survive a same-protocol round trip through ``raw`` only.
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

from omniwire.codec import Codec, Family
from omniwire.errors import OmniwireError, ProtocolError
from omniwire.model import Raw, TokenCountRequest, TokenCountResponse
from omniwire.report import Conversion
from omniwire.wire import WireRequest, expect, opt, type_name

from . import convert as cv
from . import errors

__all__ = ["AnthropicCountTokens"]

_MODELED = frozenset({"model", "messages", "system", "tools"})


class AnthropicCountTokens(Codec):
    """Anthropic token counting: request and ``{"input_tokens": N}`` response."""

    id: ClassVar[str] = "anthropic.count_tokens"
    family: ClassVar[str] = Family.COUNT_TOKENS
    provider: ClassVar[str] = "anthropic"
    default_auth: ClassVar[str] = "x-api-key"
    routes: ClassVar[tuple[str, ...]] = ("/v1/messages/count_tokens",)
    features: ClassVar[frozenset[str]] = cv.CONVERSATION_FEATURES

    def encode_request(self, request: TokenCountRequest, conv: Conversion) -> WireRequest:
        original = cv.raw_data(request.raw, (self.id,))
        system, messages = cv.encode_conversation(
            request.messages,
            conv,
            original_system=original.get("system") if original else None,
        )
        body: dict[str, Any] = {"model": request.model}
        if system is not None:
            body["system"] = system
        body["messages"] = messages
        if request.tools:
            tools = (cv.encode_tool(t, f"$.tools[{i}]", conv) for i, t in enumerate(request.tools))
            body["tools"] = [t for t in tools if t is not None]
        body = cv.restore(body, original, _MODELED)
        return WireRequest(
            "/v1/messages/count_tokens",
            body,
            headers={"anthropic-version": cv.ANTHROPIC_VERSION},
        )

    def decode_request(
        self, body: Any, conv: Conversion, *, params: Mapping[str, str] | None = None
    ) -> TokenCountRequest:
        if not isinstance(body, Mapping):
            raise ProtocolError(f"expected object, got {type_name(body)}", path="$")
        model = expect(body, "model", str)
        raw_messages = expect(body, "messages", list)
        messages = cv.decode_system(body.get("system"), "$.system", conv, self.id)
        messages += [
            cv.decode_message(m, f"$.messages[{i}]", conv, self.id)
            for i, m in enumerate(raw_messages)
        ]
        tools = tuple(
            cv.decode_tool(t, f"$.tools[{i}]", self.id)
            for i, t in enumerate(opt(body, "tools", list) or ())
        )
        return TokenCountRequest(model, messages, tools, raw=Raw(self.id, body))

    def decode_response(self, body: Any, conv: Conversion) -> TokenCountResponse:
        if not isinstance(body, Mapping):
            raise ProtocolError(f"expected object, got {type_name(body)}", path="$")
        return TokenCountResponse(expect(body, "input_tokens", int), raw=Raw(self.id, body))

    def encode_response(
        self, response: TokenCountResponse, conv: Conversion, *, request: Any = None
    ) -> dict[str, Any]:
        out = {"input_tokens": response.input_tokens}
        return cv.restore(out, cv.raw_data(response.raw, (self.id,)), ("input_tokens",))

    def decode_error(self, status: int, headers: Mapping[str, str], body: bytes) -> OmniwireError:
        return errors.decode_error(status, headers, body)

    def encode_error(self, error: OmniwireError) -> tuple[int, Any]:
        return errors.encode_error(error)
