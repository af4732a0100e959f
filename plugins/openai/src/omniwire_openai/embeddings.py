"""``openai.embeddings``: ``POST /v1/embeddings``.

Vectors are floats canonically. ``encoding_format: "base64"`` carries little-endian
float32s; the decoder unpacks them, and the encoder packs them again when the request
asked for base64 (or the response it re-encodes came that way).
"""

from __future__ import annotations

import base64
import binascii
import struct
from collections.abc import Mapping
from typing import Any

from omniwire.codec import Family
from omniwire.errors import ProtocolError
from omniwire.model import Embedding, EmbeddingRequest, EmbeddingResponse, Raw, Usage
from omniwire.report import Conversion
from omniwire.wire import WireRequest, expect, opt, type_name

from ._common import OpenAICodec, iter_list, restore, same

__all__ = ["OpenAIEmbeddings", "pack_floats", "unpack_floats"]

_REQUEST_KEYS = ("model", "input", "encoding_format", "dimensions", "user")


def unpack_floats(data: str, path: str) -> tuple[float, ...]:
    """base64 of little-endian float32s -> floats."""
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError("embedding is not valid base64", path=path) from None
    if len(raw) % 4:
        raise ProtocolError(
            f"base64 embedding has {len(raw)} bytes, not a multiple of 4", path=path
        )
    return struct.unpack(f"<{len(raw) // 4}f", raw)


def pack_floats(vector: tuple[float, ...]) -> str:
    """floats -> base64 of little-endian float32s (values round to float32)."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def _input_shape(value: Any) -> str:
    if isinstance(value, str):
        return "string"
    if (
        isinstance(value, list)
        and value
        and all(isinstance(x, int) and not isinstance(x, bool) for x in value)
    ):
        return "tokens"
    return "list"


class OpenAIEmbeddings(OpenAICodec):
    id = "openai.embeddings"
    family = Family.EMBED
    routes = ("/v1/embeddings",)
    # the kit's words for this family (contrib/testing features.py FAMILY_WORDS)
    features = frozenset({"user", "dimensions", "encoding_format", "token_inputs", "usage"})

    # -- requests ------------------------------------------------------------------------

    def decode_request(
        self, body: Any, conv: Conversion, *, params: Mapping[str, str] | None = None
    ) -> EmbeddingRequest:
        if not isinstance(body, Mapping):
            raise ProtocolError(f"expected object, got {type_name(body)}", path="$")
        model = expect(body, "model", str)
        value = expect(body, "input", (str, list))
        inputs: list[str | tuple[int, ...]] = []
        shape = _input_shape(value)
        if shape == "string":
            inputs.append(value)
        elif shape == "tokens":
            inputs.append(tuple(value))
        else:
            for _, item, p in iter_list(value, "$.input"):
                if isinstance(item, str):
                    inputs.append(item)
                elif isinstance(item, list):
                    for j, t in enumerate(item):
                        if isinstance(t, bool) or not isinstance(t, int):
                            raise ProtocolError(
                                f"expected integer, got {type_name(t)}", path=f"{p}[{j}]"
                            )
                    inputs.append(tuple(item))
                else:
                    raise ProtocolError(f"expected string or array, got {type_name(item)}", path=p)
        extra = {k: v for k, v in body.items() if k not in _REQUEST_KEYS}
        return EmbeddingRequest(
            model=model,
            inputs=tuple(inputs),
            dimensions=opt(body, "dimensions", int),
            encoding_format=opt(body, "encoding_format", str),
            user=opt(body, "user", str),
            extra=extra or None,
            raw=Raw(self.id, body),
        )

    def encode_request(self, request: EmbeddingRequest, conv: Conversion) -> WireRequest:
        raw = same(request.raw, self.id)
        shape = _input_shape(raw.get("input")) if raw is not None else "list"
        inputs = request.inputs
        value: Any
        if shape == "string" and len(inputs) == 1 and isinstance(inputs[0], str):
            value = inputs[0]
        elif shape == "tokens" and len(inputs) == 1 and isinstance(inputs[0], tuple):
            value = list(inputs[0])
        else:
            value = [x if isinstance(x, str) else list(x) for x in inputs]
        body: dict[str, Any] = {"model": request.model, "input": value}
        for key in ("encoding_format", "dimensions", "user"):
            if getattr(request, key) is not None:
                body[key] = getattr(request, key)
        if request.task is not None:
            conv.lose("$.task", "OpenAI embeddings take no task type")
        for key, v in self._extra(request.extra, request.raw, conv).items():
            body.setdefault(key, v)
        return WireRequest("/embeddings", restore(body, raw, _REQUEST_KEYS))

    # -- responses -----------------------------------------------------------------------

    def decode_response(self, body: Any, conv: Conversion) -> EmbeddingResponse:
        if not isinstance(body, Mapping):
            raise ProtocolError(f"expected object, got {type_name(body)}", path="$")
        out = []
        for i, item, p in iter_list(expect(body, "data", list), "$.data"):
            vec = expect(item, "embedding", (list, str), p)
            if isinstance(vec, str):
                vector = unpack_floats(vec, f"{p}.embedding")
            else:
                for j, x in enumerate(vec):
                    if isinstance(x, bool) or not isinstance(x, (int, float)):
                        raise ProtocolError(
                            f"expected number, got {type_name(x)}", path=f"{p}.embedding[{j}]"
                        )
                vector = tuple(vec)
            index = opt(item, "index", int, p)
            out.append(Embedding(vector, i if index is None else index))
        return EmbeddingResponse(
            model=opt(body, "model", str),
            embeddings=tuple(out),
            usage=self.usage_of(body, strict=True),
            raw=Raw(self.id, body),
        )

    def encode_response(
        self, response: EmbeddingResponse, conv: Conversion, *, request: Any = None
    ) -> dict[str, Any]:
        """``request`` (the EmbeddingRequest answered) decides base64 vs floats; without
        it, the format of the original response (same protocol) or floats."""
        raw = same(response.raw, self.id)
        raw_data: list[Any] = (
            raw["data"] if raw is not None and isinstance(raw.get("data"), list) else []
        )
        as_base64 = False
        if isinstance(request, EmbeddingRequest) and request.encoding_format is not None:
            as_base64 = request.encoding_format == "base64"
        elif raw_data and isinstance(raw_data[0], Mapping):
            as_base64 = isinstance(raw_data[0].get("embedding"), str)
        data = []
        for i, e in enumerate(response.embeddings):
            item: dict[str, Any] = {
                "object": "embedding",
                "index": e.index,
                "embedding": pack_floats(e.vector) if as_base64 else list(e.vector),
            }
            original = (
                raw_data[i] if i < len(raw_data) and isinstance(raw_data[i], Mapping) else None
            )
            data.append(restore(item, original, ("object", "index", "embedding")))
        model = response.model or getattr(request, "model", None) or ""
        out: dict[str, Any] = {"object": "list", "data": data, "model": model}
        if response.usage is None and raw is None and request is not None:
            # answering a client: its SDK requires usage, and a bridged answer that had none
            # (Gemini's) says 0
            out["usage"] = {"prompt_tokens": 0, "total_tokens": 0}
        if response.usage is not None:
            u = response.usage
            usage: dict[str, Any] = {
                "prompt_tokens": u.input_tokens,
                "total_tokens": u.total_tokens,
            }
            raw_usage = (
                raw.get("usage")
                if raw is not None and isinstance(raw.get("usage"), Mapping)
                else None
            )
            if raw_usage is not None and raw_usage.get("prompt_tokens") == u.input_tokens:
                usage["total_tokens"] = raw_usage.get("total_tokens", usage["total_tokens"])
            if (
                u.output_tokens
                or u.cache_read_tokens
                or u.cache_write_tokens
                or u.reasoning_tokens
                or u.details
            ):
                conv.lose("$.usage", "OpenAI embedding usage counts prompt tokens only")
            out["usage"] = restore(usage, raw_usage, ("prompt_tokens", "total_tokens"))
        return restore(out, raw, ("object", "data", "model", "usage"))

    def usage_of(self, body: Any, *, strict: bool = False) -> Usage | None:
        u = body.get("usage") if isinstance(body, Mapping) else None
        if u is None:
            return None
        try:
            if not isinstance(u, Mapping):
                raise ProtocolError(f"expected object, got {type_name(u)}", path="$.usage")
            return Usage(input_tokens=opt(u, "prompt_tokens", int, "$.usage") or 0)
        except ProtocolError:
            if strict:
                raise
            return None
