"""``openai.images``: image generation, ``POST /v1/images/generations``.

Edits and variations (multipart uploads of input images) are ``openai.images.edits``
and ``openai.images.variations`` (:mod:`.image_edits`); all three answer with the same
ImagesResponse, converted by :class:`ImagesResponseCodec`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omniwire.codec import Family
from omniwire.errors import ProtocolError
from omniwire.model import GeneratedImage, ImageRequest, ImageResponse, Raw, Usage
from omniwire.report import Conversion
from omniwire.wire import WireRequest, expect, opt, type_name

from ._common import OpenAICodec, decode_usage, iter_list, restore, same

__all__ = ["ImagesResponseCodec", "OpenAIImages"]

_FIELDS = (
    "n",
    "size",
    "quality",
    "style",
    "response_format",
    "background",
    "output_format",
    "user",
)
_REQUEST_KEYS = ("model", "prompt", *_FIELDS)
_USAGE_KEYS = {
    "input_key": "input_tokens",
    "output_key": "output_tokens",
    "input_details": "input_tokens_details",
    "output_details": "output_tokens_details",
}


class ImagesResponseCodec(OpenAICodec):
    """The ImagesResponse every image endpoint answers with (``created``, ``data`` of
    ``url``/``b64_json``/``revised_prompt``, GPT-image ``usage``)."""

    def decode_response(self, body: Any, conv: Conversion) -> ImageResponse:
        if not isinstance(body, Mapping):
            raise ProtocolError(f"expected object, got {type_name(body)}", path="$")
        images = []
        for _, item, p in iter_list(opt(body, "data", list) or [], "$.data"):
            if not isinstance(item, Mapping):
                raise ProtocolError(f"expected object, got {type_name(item)}", path=p)
            images.append(
                GeneratedImage(
                    url=opt(item, "url", str, p),
                    b64_json=opt(item, "b64_json", str, p),
                    revised_prompt=opt(item, "revised_prompt", str, p),
                )
            )
        usage = body.get("usage")
        return ImageResponse(
            created=opt(body, "created", int),
            images=tuple(images),
            usage=decode_usage(usage, "$.usage", **_USAGE_KEYS) if usage is not None else None,
            raw=Raw(self.id, body),
        )

    def encode_response(
        self, response: ImageResponse, conv: Conversion, *, request: Any = None
    ) -> dict[str, Any]:
        raw = same(response.raw, self.id)
        raw_data: list[Any] = (
            raw["data"] if raw is not None and isinstance(raw.get("data"), list) else []
        )
        data = []
        for i, img in enumerate(response.images):
            item = {
                k: getattr(img, k)
                for k in ("url", "b64_json", "revised_prompt")
                if getattr(img, k) is not None
            }
            original = (
                raw_data[i] if i < len(raw_data) and isinstance(raw_data[i], Mapping) else None
            )
            data.append(restore(item, original, ("url", "b64_json", "revised_prompt")))
        out: dict[str, Any] = {
            "created": response.created if response.created is not None else 0,
            "data": data,
        }
        if response.usage is not None:
            raw_usage = (
                raw.get("usage")
                if raw is not None and isinstance(raw.get("usage"), Mapping)
                else None
            )
            out["usage"] = _encode_usage(response.usage, raw_usage, conv)
        return restore(out, raw, ("created", "data", "usage"))

    def usage_of(self, body: Any) -> Usage | None:
        u = body.get("usage") if isinstance(body, Mapping) else None
        try:
            return decode_usage(u, "$.usage", **_USAGE_KEYS) if isinstance(u, Mapping) else None
        except ProtocolError:
            return None


class OpenAIImages(ImagesResponseCodec):
    id = "openai.images"
    family = Family.IMAGE
    routes = ("/v1/images/generations",)
    # the kit's words for this family (contrib/testing features.py FAMILY_WORDS)
    features = frozenset({*_FIELDS, "revised_prompt", "image_url", "usage"})

    def decode_request(
        self, body: Any, conv: Conversion, *, params: Mapping[str, str] | None = None
    ) -> ImageRequest:
        if not isinstance(body, Mapping):
            raise ProtocolError(f"expected object, got {type_name(body)}", path="$")
        values = {k: opt(body, k, int if k == "n" else str) for k in _FIELDS}
        extra = {k: v for k, v in body.items() if k not in _REQUEST_KEYS}
        return ImageRequest(
            model=opt(body, "model", str) or "",  # the API defaults the model; "" = not given
            prompt=expect(body, "prompt", str),
            extra=extra or None,
            raw=Raw(self.id, body),
            **values,
        )

    def encode_request(self, request: ImageRequest, conv: Conversion) -> WireRequest:
        body: dict[str, Any] = {"prompt": request.prompt}
        if request.model:
            body["model"] = request.model
        for key in _FIELDS:
            if getattr(request, key) is not None:
                body[key] = getattr(request, key)
        for key, v in self._extra(request.extra, request.raw, conv).items():
            body.setdefault(key, v)
        return WireRequest(
            "/images/generations", restore(body, same(request.raw, self.id), _REQUEST_KEYS)
        )


def _encode_usage(u: Usage, raw: Mapping[str, Any] | None, conv: Conversion) -> dict[str, Any]:
    """Image usage: input/output tokens with text/image details (no cache, no reasoning)."""
    out: dict[str, Any] = {
        "input_tokens": u.input_tokens,
        "output_tokens": u.output_tokens,
        "total_tokens": u.total_tokens,
    }
    if (
        raw is not None
        and isinstance(raw.get("total_tokens"), int)
        and (raw.get("input_tokens"), raw.get("output_tokens")) == (u.input_tokens, u.output_tokens)
    ):
        out["total_tokens"] = raw["total_tokens"]
    for prefix, key in (("input_", "input_tokens_details"), ("output_", "output_tokens_details")):
        details = {
            k[len(prefix) :]: v for k, v in (u.details or {}).items() if k.startswith(prefix)
        }
        if details:
            out[key] = details
    for what in ("cache_read_tokens", "cache_write_tokens", "reasoning_tokens"):
        if getattr(u, what):
            conv.lose(f"$.usage.{what}", "image usage has no such count")
    return restore(
        out,
        raw,
        (
            "input_tokens",
            "output_tokens",
            "total_tokens",
            "input_tokens_details",
            "output_tokens_details",
        ),
    )
