"""The embedded local model: what ``omniwire serve`` answers with when no provider is
configured, so a newcomer's first command gives a working gateway.

It is deterministic, streams, calls tools and thinks on request, and says plainly that it
is local. It sits behind a real protocol: the local endpoint speaks
``omniwire.canonical`` (lossless, so whatever the client sent reaches the model), and
this plugin's transport hook answers the encoded wire request by decoding it with that
codec's server side and encoding the reply back, so every call still crosses encode,
auth, transport and decode exactly as it would with a remote provider.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import TYPE_CHECKING, Any, AsyncIterator, Mapping

from omniwire.model import (
    ArgumentsDelta,
    Choice,
    Embedding,
    EmbeddingRequest,
    EmbeddingResponse,
    PartEnd,
    PartStart,
    ReasoningDelta,
    ReasoningPart,
    Request,
    Response,
    ResponseEnd,
    ResponseStart,
    Role,
    SignatureDelta,
    StopReason,
    TextDelta,
    TextPart,
    TokenCountRequest,
    TokenCountResponse,
    Tool,
    ToolCallPart,
    ToolResultPart,
    Usage,
)
from omniwire.plugins import hookimpl
from omniwire.report import Conversion
from omniwire.wire import WireRequest, WireResponse

if TYPE_CHECKING:
    from omniwire.call import Call

__all__ = ["LOCAL_MODEL", "LocalModel", "LocalModelPlugin"]

LOCAL_MODEL = "omniwire-local"
PROFILE = "local"


def _estimate(text: str) -> int:
    return max(1, len(text) // 4)


def _placeholder(schema: Mapping[str, Any] | None) -> Any:
    """A value that satisfies the simple JSON Schemas tools declare."""
    schema = schema or {}
    if "enum" in schema and schema["enum"]:
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        required = schema.get("required") or list(props)
        return {name: _placeholder(props.get(name)) for name in required if name in props}
    if kind == "array":
        return [_placeholder(schema.get("items"))]
    if kind == "integer":
        return 1
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return True
    return "example"


class LocalModel:
    """Answers canonical requests without any network."""

    def answer(self, request: Request) -> Response:
        last = request.messages[-1] if request.messages else None
        parts: list[Any] = []
        if request.reasoning is not None and request.reasoning.enabled is not False:
            thought = "The local model considers the request and answers deterministically."
            signature = hashlib.sha256(thought.encode()).hexdigest()[:32]
            parts.append(ReasoningPart(thought, signature=signature))
        tools = [t for t in request.tools if t.kind == "function"]
        stop = StopReason.END_TURN
        results = [p for p in (last.content if last else ()) if isinstance(p, ToolResultPart)]
        wants_tool = request.tool_choice is None or request.tool_choice.mode != "none"
        if results:
            summary = "; ".join(r.text or "(no text)" for r in results)
            parts.append(TextPart(f"[omniwire local model] The tool returned: {summary}"))
        elif tools and wants_tool and last is not None and last.role is Role.USER:
            tool = self._pick(tools, request)
            arguments = json.dumps(_placeholder(tool.parameters), separators=(",", ":"))
            call_id = (
                "call_" + hashlib.sha256((tool.name + last.plain_text).encode()).hexdigest()[:16]
            )
            parts.append(ToolCallPart(call_id, tool.name, arguments))
            stop = StopReason.TOOL_CALLS
        else:
            said = last.plain_text if last is not None else ""
            reply = (
                f"[omniwire local model] You said: {said}"
                if said
                else ("[omniwire local model] Hello! Configure a provider to reach a real model.")
            )
            if request.max_tokens is not None and _estimate(reply) > request.max_tokens:
                reply = reply[: max(1, request.max_tokens * 4)]
                stop = StopReason.MAX_TOKENS
            parts.append(TextPart(reply))
        prompt = " ".join(m.plain_text for m in request.messages)
        out_text = " ".join(getattr(p, "text", "") or getattr(p, "arguments", "") for p in parts)
        usage = Usage(_estimate(prompt), _estimate(out_text))
        digest = hashlib.sha256(prompt.encode()).hexdigest()[:24]
        return Response(
            id=f"local-{digest}",
            model=request.model,
            choices=(Choice(tuple(parts), stop),),
            usage=usage,
            created=int(time.time()),
        )

    @staticmethod
    def _pick(tools: list[Tool], request: Request) -> Tool:
        if request.tool_choice is not None and request.tool_choice.name:
            for t in tools:
                if t.name == request.tool_choice.name:
                    return t
        text = request.messages[-1].plain_text.lower() if request.messages else ""
        for t in tools:
            if t.name.lower() in text:
                return t
        return tools[0]

    def events(self, response: Response) -> list[Any]:
        """The stream that folds to ``response``: text word by word, arguments in pieces."""
        out: list[Any] = [
            ResponseStart(id=response.id, model=response.model, created=response.created)
        ]
        for i, part in enumerate(response.content):
            if isinstance(part, TextPart):
                out.append(PartStart(i, TextPart("")))
                words = part.text.split(" ")
                out += [TextDelta(i, w if j == 0 else " " + w) for j, w in enumerate(words)]
            elif isinstance(part, ToolCallPart):
                out.append(PartStart(i, ToolCallPart(part.id, part.name, "")))
                args = part.arguments
                out += [ArgumentsDelta(i, args[k : k + 8]) for k in range(0, len(args), 8)]
            elif isinstance(part, ReasoningPart):
                out.append(PartStart(i, ReasoningPart()))
                out.append(ReasoningDelta(i, part.text))
                if part.signature:
                    out.append(SignatureDelta(i, part.signature))
            out.append(PartEnd(i))
        choice = response.choices[0]
        out.append(ResponseEnd(choice.stop_reason, usage=response.usage))
        return out

    def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        dims = request.dimensions or 8
        vectors = []
        for i, text in enumerate(request.inputs):
            seed = hashlib.sha256(str(text).encode()).digest()
            vectors.append(Embedding(tuple((b - 128) / 128 for b in seed[:dims]), index=i))
        tokens = sum(_estimate(str(t)) for t in request.inputs)
        return EmbeddingResponse(request.model, tuple(vectors), Usage(tokens, 0))

    def count(self, request: TokenCountRequest) -> TokenCountResponse:
        return TokenCountResponse(sum(_estimate(m.plain_text) for m in request.messages))


class LocalModelPlugin:
    """Transport hook answering requests for endpoints with the ``local`` profile."""

    def __init__(self) -> None:
        self.model = LocalModel()

    @hookimpl
    def omniwire_register_endpoint_profiles(self, register: Any) -> None:
        register(_LocalProfile())

    @hookimpl
    def omniwire_transport(self, call: Call, wire: WireRequest) -> Any:
        if call.endpoint is None or call.endpoint.profile != PROFILE:
            return None
        return self._answer(call, wire)

    async def _answer(self, call: Call, wire: WireRequest) -> WireResponse:
        codec = call.codec
        assert codec is not None
        conv = Conversion()
        request = codec.decode_request(wire.body, conv, params=_params(call, wire))
        if isinstance(request, EmbeddingRequest):
            body = codec.encode_response(self.model.embed(request), conv, request=request)
            return _json(body)
        if isinstance(request, TokenCountRequest):
            return _json(codec.encode_response(self.model.count(request), conv))
        response = self.model.answer(request)
        if not wire.stream:
            return _json(codec.encode_response(response, conv))
        encoder = codec.stream_encoder(conv, request)
        events = self.model.events(response)

        async def chunks() -> AsyncIterator[bytes]:
            for event in events:
                for sse in encoder.feed(event):
                    yield sse.encode()
            for sse in encoder.close():
                yield sse.encode()

        return WireResponse(200, {"content-type": "text/event-stream"}, b"", chunks())


def _params(call: Call, wire: WireRequest) -> dict[str, str]:
    """What a server would read from the URL (Gemini puts model and method there)."""
    params = {"model": call.model or LOCAL_MODEL}
    params["stream"] = "true" if wire.stream else "false"
    if ":" in wire.path:
        params["method"] = wire.path.rsplit(":", 1)[1]
    return params


def _json(body: Any) -> WireResponse:
    return WireResponse(
        200, {"content-type": "application/json"}, json.dumps(body, separators=(",", ":")).encode()
    )


class _LocalProfile:
    name = PROFILE

    def url(self, endpoint: Any, wire: WireRequest) -> str:
        return "local://" + endpoint.name + wire.path
