"""``gemini.count_tokens``: ``models/{model}:countTokens``."""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

from omniwire.codec import Family
from omniwire.errors import ProtocolError
from omniwire.model import Message, Raw, Request, TokenCountRequest, TokenCountResponse
from omniwire.report import Conversion
from omniwire.wire import WireRequest

from ._base import GeminiCodec, model_path
from ._content import ContentDecoder, ContentEncoder, decode_tools, encode_tools
from ._keys import field, items, key_of, obj_at, raw_data, restore

__all__ = ["GeminiCountTokens"]

GCR = "generateContentRequest"


class GeminiCountTokens(GeminiCodec):
    """Token counting. The body is ``{contents, systemInstruction?, tools?}`` (what Vertex
    takes) or ``{generateContentRequest: {model, contents, systemInstruction?, tools?}}``
    (what the Gemini API needs for a system instruction or tools); both decode to a
    :class:`TokenCountRequest`, and encoding picks the second form only when needed.
    ``decode_request`` takes ``params={"model": ...}`` from the URL.
    """

    id: ClassVar[str] = "gemini.count_tokens"
    family: ClassVar[str] = Family.COUNT_TOKENS
    routes: ClassVar[tuple[str, ...]] = ("/v1beta/models/{model}:countTokens",)
    features: ClassVar[frozenset[str]] = frozenset(
        {
            "system",
            "text",
            "image",
            "audio",
            "file",
            "tool_calls",
            "tool_results",
            "reasoning",
            "reasoning_signature",
            "opaque",
            "tools",
            "tool_result_name",
            "tool_result_error",
        }
    )

    def decode_request(
        self, body: Any, conv: Conversion, *, params: Mapping[str, str] | None = None
    ) -> TokenCountRequest:
        body = obj_at(body, "$")
        model = (params or {}).get("model")
        gcr_key = key_of(body, GCR)
        source, path = body, "$"
        if gcr_key is not None:
            if key_of(body, "contents") is not None:
                raise ProtocolError(f"give contents or {GCR}, not both", path="$")
            path = f"$.{gcr_key}"
            source = obj_at(body[gcr_key], path)
            inner = field(source, "model", str, path)
            if model is None and inner is not None:
                model = inner.removeprefix("models/")
        if not model:
            raise ProtocolError("the model is missing (it comes from the URL)", path="$.model")
        dec = ContentDecoder(conv, protocol=self.id)
        messages: list[Message] = []
        si_key = key_of(source, "systemInstruction")
        if si_key is not None and source[si_key] is not None:
            messages.append(dec.message(source[si_key], f"{path}.{si_key}", system=True))
        for c_path, content in items(source, "contents", path):
            messages.append(dec.message(content, c_path))
        tools = decode_tools(items(source, "tools", path))
        return TokenCountRequest(model, messages, tools, raw=Raw(self.id, body))

    def encode_request(self, request: TokenCountRequest | Request, conv: Conversion) -> WireRequest:
        if isinstance(request, Request):
            request = TokenCountRequest.of(request)
        if not isinstance(request, TokenCountRequest):
            raise ProtocolError(
                f"expected a TokenCountRequest, got {type(request).__name__}", path="$"
            )
        raw = raw_data(request.raw, self.id)
        system, contents = ContentEncoder(conv, request.messages).messages(request.messages)
        inner: dict[str, Any] = {"contents": contents}
        if system is not None:
            inner["systemInstruction"] = system
        if request.tools:
            inner["tools"] = encode_tools(request.tools, conv)
        wrapped = system is not None or bool(request.tools)
        raw_inner = None
        if raw is not None:
            gcr_key = key_of(raw, GCR)
            wrapped = gcr_key is not None
            raw_inner = raw.get(gcr_key) if gcr_key else raw
        body: dict[str, Any]
        if wrapped:
            inner = {"model": f"models/{request.model}", **inner}
            if isinstance(raw_inner, Mapping):
                raw_model = raw_inner.get("model")
                if (
                    isinstance(raw_model, str)
                    and raw_model.removeprefix("models/") == request.model
                ):
                    inner["model"] = raw_model
                restore(inner, raw_inner, {"model", "contents", "systemInstruction", "tools"})
            body = restore({GCR: inner}, raw, {GCR})
        else:
            body = restore(inner, raw, {"contents", "systemInstruction", "tools"})
        return WireRequest(model_path(request.model, "countTokens"), body)

    def decode_response(self, body: Any, conv: Conversion) -> TokenCountResponse:
        body = obj_at(body, "$")
        total = field(body, "totalTokens", int, "$")
        return TokenCountResponse(total or 0, raw=Raw(self.id, body))

    def encode_response(
        self, response: TokenCountResponse, conv: Conversion, *, request: Any = None
    ) -> dict[str, Any]:
        if not isinstance(response, TokenCountResponse):
            raise ProtocolError(
                f"expected a TokenCountResponse, got {type(response).__name__}", path="$"
            )
        return restore(
            {"totalTokens": response.input_tokens}, raw_data(response.raw, self.id), {"totalTokens"}
        )
