"""A made-up protocol answered by an in-process transport (no network needed)."""

from __future__ import annotations

import json
from typing import Any

from omniwire import Choice, Request, Response, StopReason, TextPart, UpstreamError, Usage
from omniwire.codec import Codec
from omniwire.plugins import hookimpl
from omniwire.wire import WireRequest, WireResponse


class LToyCodec(Codec):
    id = "ltoy.chat"
    provider = "ltoy"
    features = frozenset({"text"})

    def encode_request(self, request: Request, conv: Any) -> WireRequest:
        if request.temperature is not None:
            conv.lose("$.temperature", "ltoy.chat has no temperature")
        return WireRequest("/chat", {"model": request.model, "n": len(request.messages)})

    def decode_response(self, body: Any, conv: Any) -> Response:
        return Response(
            id="l1",
            model=body["model"],
            choices=(Choice((TextPart("ok"),), StopReason.END_TURN),),
            usage=Usage(2, 3, cache_read_tokens=1),
        )

    def decode_error(self, status: int, headers: Any, body: bytes) -> Any:
        return UpstreamError(json.loads(body)["error"], status=status, upstream_kind="boom")


class LToyPlugin:
    @hookimpl
    def omniwire_register_codecs(self, register: Any) -> None:
        register(LToyCodec())


class ScriptedTransport:
    """Answers from a queue of statuses (200 by default)."""

    name = "scripted"

    def __init__(self) -> None:
        self.statuses: list[int] = []

    async def send(self, wire: WireRequest) -> WireResponse:
        status = self.statuses.pop(0) if self.statuses else 200
        if status != 200:
            body = {"error": "bad key sk-proj-AbCdEfGhIjKlMnOpQrStUv given"}
            return WireResponse(status, {}, json.dumps(body).encode())
        return WireResponse(200, {}, json.dumps({"model": wire.body["model"] + "-x"}).encode())

    async def aclose(self) -> None:
        return None
