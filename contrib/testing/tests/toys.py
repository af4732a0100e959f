"""Toy codecs for the kit's own tests: an honest lossy one and deliberately broken ones."""

from __future__ import annotations

from typing import Any

import attrs
from omniwire.model import Request, ResponseStart, StreamEvent
from omniwire.report import Conversion
from omniwire.sse import SSEEvent
from omniwire.wire import WireRequest
from omniwire_testing.features import ALL_WORDS
from omniwire_testing.toy import ToyCodec, ToyStreamEncoder


def _strip_cache(request: Request, conv: Conversion | None) -> Request:
    messages = []
    for i, m in enumerate(request.messages):
        parts = []
        for j, p in enumerate(m.content):
            if getattr(p, "cache", None) is not None:
                if conv is not None:
                    conv.lose(f"$.messages[{i}].content[{j}].cache", "no cache hints in kit.lossy")
                p = attrs.evolve(p, cache=None)
            parts.append(p)
        if m.cache is not None and conv is not None:
            conv.lose(f"$.messages[{i}].cache", "no cache hints in kit.lossy")
        messages.append(attrs.evolve(m, content=tuple(parts), cache=None))
    tools = []
    for i, t in enumerate(request.tools):
        if t.cache is not None and conv is not None:
            conv.lose(f"$.tools[{i}].cache", "no cache hints in kit.lossy")
        tools.append(attrs.evolve(t, cache=None))
    return attrs.evolve(request, messages=tuple(messages), tools=tuple(tools))


class HonestLossyToy(ToyCodec):
    """Cannot carry top_k or cache hints, and says so."""

    id = "kit.lossy"
    features = ALL_WORDS - {"top_k", "cache_hints"}

    def encode_request(self, request: Any, conv: Conversion) -> WireRequest:
        if request.top_k is not None:
            conv.lose("$.top_k", "kit.lossy has no top_k")
        request = _strip_cache(attrs.evolve(request, top_k=None), conv)
        return super().encode_request(request, conv)


class SilentDropToy(ToyCodec):
    """Drops top_k without a word (and declares it does not carry it)."""

    id = "kit.silent"
    features = ALL_WORDS - {"top_k"}

    def encode_request(self, request: Any, conv: Conversion) -> WireRequest:
        return super().encode_request(attrs.evolve(request, top_k=None), conv)


class _ReversingEncoder(ToyStreamEncoder):
    """Buffers every part's events and sends the parts in reverse order."""

    def __init__(self) -> None:
        self.head: list[StreamEvent] = []
        self.parts: dict[int, list[StreamEvent]] = {}
        self.tail: list[StreamEvent] = []

    def feed(self, event: StreamEvent) -> list[SSEEvent]:
        index = getattr(event, "index", None)
        if isinstance(event, ResponseStart):
            self.head.append(event)
        elif index is not None:
            self.parts.setdefault(index, []).append(event)
        else:
            self.tail.append(event)
        return []

    def close(self) -> list[SSEEvent]:
        out: list[StreamEvent] = list(self.head)
        for index in sorted(self.parts, reverse=True):
            out += self.parts[index]
        out += self.tail
        encode = super().feed
        return [sse for e in out for sse in encode(e)] + super().close()


class ReorderingStreamToy(ToyCodec):
    id = "kit.reorder"

    def stream_encoder(self, conv: Conversion, request: Any = None) -> ToyStreamEncoder:
        return _ReversingEncoder()


__all__ = ["HonestLossyToy", "PathToy", "ReorderingStreamToy", "SilentDropToy"]


class PathToy(ToyCodec):
    """Gemini-style: the model and the stream method live in the URL."""

    id = "kit.path"
    routes = ("/v1beta/kit/{model}:generate", "/v1beta/kit/{model}:streamGenerate")

    def encode_request(self, request: Any, conv: Conversion) -> WireRequest:
        wire = super().encode_request(request, conv)
        method = "streamGenerate" if request.stream else "generate"
        return attrs.evolve(
            wire,
            path=f"/v1beta/kit/{request.model}:{method}",
            query={"alt": "sse"} if request.stream else {},
        )

    def decode_request(self, body: Any, conv: Conversion, *, params: Any = None) -> Any:
        request = super().decode_request(body, conv, params=params)
        params = params or {}
        return attrs.evolve(
            request,
            model=params.get("model", request.model),
            stream=params.get("stream") == "true",
        )


class DropsAudioToy(ToyCodec):
    """Drops audio parts whole and cache hints, reporting both (index paths)."""

    id = "kit.noaudio"

    def encode_request(self, request: Any, conv: Conversion) -> WireRequest:
        from omniwire.model import AudioPart

        messages = []
        for i, m in enumerate(request.messages):
            kept = []
            for j, p in enumerate(m.content):
                if isinstance(p, AudioPart):
                    conv.lose(f"$.messages[{i}].content[{j}]", "no audio")
                    continue
                if getattr(p, "cache", None) is not None:
                    conv.lose(f"$.messages[{i}].content[{j}].cache", "no cache hints")
                    p = attrs.evolve(p, cache=None)
                kept.append(p)
            messages.append(attrs.evolve(m, content=tuple(kept)))
        return super().encode_request(attrs.evolve(request, messages=tuple(messages)), conv)
