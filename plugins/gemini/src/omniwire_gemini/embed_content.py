"""``gemini.embed_content``: ``models/{model}:embedContent`` and ``:batchEmbedContents``."""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

from omniwire.codec import Family
from omniwire.errors import ProtocolError
from omniwire.model import Embedding, EmbeddingRequest, EmbeddingResponse, Raw
from omniwire.report import Conversion
from omniwire.wire import WireRequest, type_name

from ._base import GeminiCodec, model_path
from ._keys import camel, field, items, key_of, obj_at, raw_data, restore

__all__ = ["GeminiEmbedContent"]

ONE_MODELED = frozenset({"model", "content", "taskType", "outputDimensionality"})


class GeminiEmbedContent(GeminiCodec):
    """Embeddings. One input is ``:embedContent`` (``{content, taskType?, title?,
    outputDimensionality?}`` -> ``{embedding: {values}}``), several are
    ``:batchEmbedContents`` (``{requests: [...]}`` -> ``{embeddings: [{values}]}``).
    The body tells the two apart, so ``params`` needs only ``model``.

    ``taskType`` is ``EmbeddingRequest.task``; ``title`` and other per-request fields stay
    in ``extra`` (a single request) or in ``raw``. A response without Gemini raw is
    encoded in the batch form, the one the official SDKs call: ``encode_response`` cannot
    see which route it answers.
    """

    id: ClassVar[str] = "gemini.embed_content"
    family: ClassVar[str] = Family.EMBED
    features: ClassVar[frozenset[str]] = frozenset({"dimensions", "task"})
    routes: ClassVar[tuple[str, ...]] = (
        "/v1beta/models/{model}:embedContent",
        "/v1beta/models/{model}:batchEmbedContents",
    )

    def decode_request(
        self, body: Any, conv: Conversion, *, params: Mapping[str, str] | None = None
    ) -> EmbeddingRequest:
        body = obj_at(body, "$")
        model = (params or {}).get("model")
        if key_of(body, "requests") is not None:
            reqs = items(body, "requests", "$")
            if not reqs:
                raise ProtocolError("expected at least one request", path="$.requests")
            decoded = [self._one(obj_at(r, p), p) for p, r in reqs]
            first_path, first = reqs[0]
            inner_model = field(first, "model", str, first_path)
            task, dims = decoded[0][1], decoded[0][2]
            for (p, _), (_, t, d, _e) in zip(reqs, decoded):
                if t != task:
                    conv.lose(f"{p}.taskType", "one canonical task type for the whole batch")
                if d != dims:
                    conv.lose(
                        f"{p}.outputDimensionality", "one canonical dimension for the whole batch"
                    )
            extra = {k: v for k, v in body.items() if camel(k) != "requests"}
            inputs = [text for text, *_ in decoded]
        else:
            text, task, dims, extra = self._one(body, "$")
            inner_model = field(body, "model", str, "$")
            inputs = [text]
        if model is None and inner_model is not None:
            model = inner_model.removeprefix("models/")
        if not model:
            raise ProtocolError("the model is missing (it comes from the URL)", path="$.model")
        return EmbeddingRequest(
            model, inputs, dimensions=dims, task=task, extra=extra or None, raw=Raw(self.id, body)
        )

    @staticmethod
    def _one(
        obj: Mapping[str, Any], path: str
    ) -> tuple[str, str | None, int | None, dict[str, Any]]:
        content_key = key_of(obj, "content")
        content = field(obj, "content", dict, path, required=True)
        texts = []
        for p_path, part in items(content, "parts", f"{path}.{content_key}"):
            part = obj_at(part, p_path)
            texts.append(field(part, "text", str, p_path, required=True))
        extra = {k: v for k, v in obj.items() if camel(k) not in ONE_MODELED}
        return (
            "".join(texts),
            field(obj, "taskType", str, path),
            field(obj, "outputDimensionality", int, path),
            extra,
        )

    def encode_request(self, request: EmbeddingRequest, conv: Conversion) -> WireRequest:
        if not isinstance(request, EmbeddingRequest):
            raise ProtocolError(
                f"expected an EmbeddingRequest, got {type(request).__name__}", path="$"
            )
        if request.encoding_format is not None:
            conv.lose("$.encoding_format", "Gemini has no encoding format (it returns floats)")
        if request.user is not None:
            conv.lose("$.user", "Gemini has no end-user id")
        raw = raw_data(request.raw, self.id)
        extra = dict(request.extra or {})
        if request.raw is not None and request.raw.protocol != self.id:
            for k in extra:
                conv.lose(
                    f"$.extra.{k}", f"a {request.raw.protocol} parameter means nothing to Gemini"
                )
            extra = {}
        raw_reqs = raw.get(key_of(raw, "requests") or "") if raw is not None else None
        batch = isinstance(raw_reqs, list) or len(request.inputs) != 1
        bodies = []
        for i, text in enumerate(request.inputs):
            if not isinstance(text, str):
                raise ProtocolError(
                    f"Gemini embeds text, got {type_name(list(text))}", path=f"$.inputs[{i}]"
                )
            one: dict[str, Any] = {"content": {"parts": [{"text": text}]}}
            if batch:
                one = {"model": f"models/{request.model}", **one}
            if request.task is not None:
                one["taskType"] = request.task
            if request.dimensions is not None:
                one["outputDimensionality"] = request.dimensions
            if not batch:
                one.update(extra)
            raw_one = None
            if isinstance(raw_reqs, list) and len(raw_reqs) == len(request.inputs):
                raw_one = raw_reqs[i] if isinstance(raw_reqs[i], Mapping) else None
            elif not batch:
                raw_one = raw
            if raw_one is not None:
                _restore_one(one, raw_one, text, request.model, batch)
            bodies.append(one)
        if batch:
            body = restore({"requests": bodies}, raw, {"requests"}, unmodeled=False)
            body.update(extra)
            return WireRequest(model_path(request.model, "batchEmbedContents"), body)
        return WireRequest(model_path(request.model, "embedContent"), bodies[0])

    def decode_response(self, body: Any, conv: Conversion) -> EmbeddingResponse:
        body = obj_at(body, "$")
        vectors: list[Embedding] = []
        if key_of(body, "embeddings") is not None:
            for i, (e_path, e) in enumerate(items(body, "embeddings", "$")):
                vectors.append(Embedding(_values(e, e_path), i))
        else:
            e_key = key_of(body, "embedding") or "embedding"
            field(body, "embedding", dict, "$", required=True)
            vectors.append(Embedding(_values(body[e_key], f"$.{e_key}"), 0))
        return EmbeddingResponse(None, vectors, raw=Raw(self.id, body))

    def encode_response(
        self, response: EmbeddingResponse, conv: Conversion, *, request: Any = None
    ) -> dict[str, Any]:
        """``request`` (the EmbeddingRequest answered) tells :embedContent's single form
        from :batchEmbedContents; without it, the raw response's form, else batch."""
        if not isinstance(response, EmbeddingResponse):
            raise ProtocolError(
                f"expected an EmbeddingResponse, got {type(response).__name__}", path="$"
            )
        raw = raw_data(response.raw, self.id)
        if response.usage is not None:
            conv.lose("$.usage", "Gemini embedding responses carry no usage")
        if response.model is not None:
            conv.lose("$.model", "Gemini embedding responses carry no model name")
        vectors = sorted(response.embeddings, key=lambda e: e.index)
        if [e.index for e in vectors] != list(range(len(vectors))):
            conv.lose("$.embeddings", "Gemini embeddings are positional; indexes renumbered")
        single = raw is not None and key_of(raw, "embedding") is not None
        asked = raw_data(getattr(request, "raw", None), self.id)
        if asked is not None:
            single = key_of(asked, "requests") is None
        if single and len(vectors) == 1:
            out: dict[str, Any] = {"embedding": {"values": list(vectors[0].vector)}}
            return restore(out, raw, {"embedding"})
        out = {"embeddings": [{"values": list(e.vector)} for e in vectors]}
        return restore(out, raw, {"embeddings"})


def _values(obj: Any, path: str) -> list[float]:
    obj = obj_at(obj, path)
    values = field(obj, "values", list, path) or []
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ProtocolError(f"expected number, got {type_name(v)}", path=f"{path}.values[{i}]")
    return [float(v) for v in values]


def _restore_one(
    one: dict[str, Any], raw: Mapping[str, Any], text: str, model: str, batch: bool
) -> None:
    """Put back a request's own spelling, its parts split and its other fields."""
    raw_content = raw.get(key_of(raw, "content") or "")
    if isinstance(raw_content, Mapping):
        raw_parts = raw_content.get(key_of(raw_content, "parts") or "")
        if isinstance(raw_parts, list):
            texts = [p.get("text") for p in raw_parts if isinstance(p, Mapping)]
            if (
                len(texts) == len(raw_parts)
                and "".join(t for t in texts if isinstance(t, str)) == text
            ):
                one["content"] = dict(raw_content)
    raw_model = raw.get("model")
    if isinstance(raw_model, str) and raw_model.removeprefix("models/") == model:
        one["model"] = raw_model
    elif "model" not in raw and not batch:
        one.pop("model", None)
    restore(one, raw, ONE_MODELED, unmodeled=batch)
