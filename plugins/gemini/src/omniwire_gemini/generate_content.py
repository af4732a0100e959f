"""``gemini.generate_content``: the Gemini API's generateContent / streamGenerateContent."""

from __future__ import annotations

import json
from typing import Any, ClassVar, Mapping

from omniwire.errors import ProtocolError
from omniwire.model import (
    Choice,
    Message,
    PromptCache,
    Raw,
    Reasoning,
    Request,
    Response,
    ResponseFormat,
    StopReason,
    ToolCallPart,
    ToolChoice,
    Usage,
)
from omniwire.report import Conversion
from omniwire.sse import SSEEvent
from omniwire.wire import WireRequest, type_name

from ._base import GeminiCodec, error_from_body, model_path, route_params
from ._content import ContentDecoder, ContentEncoder, decode_tools, encode_tools
from ._keys import camel, field, items, key_of, obj_at, raw_data, restore
from ._response import (
    decode_finish,
    decode_time,
    decode_usage,
    encode_finish,
    encode_time,
    encode_usage,
)

__all__ = ["GeminiGenerateContent", "call_prefix", "route_params"]

TOP_MODELED = frozenset(
    {
        "contents",
        "systemInstruction",
        "tools",
        "toolConfig",
        "generationConfig",
        "cachedContent",
        "serviceTier",
        "labels",
    }
)
GC_MODELED = frozenset(
    {
        "temperature",
        "topP",
        "topK",
        "candidateCount",
        "maxOutputTokens",
        "stopSequences",
        "seed",
        "presencePenalty",
        "frequencyPenalty",
        "responseLogprobs",
        "logprobs",
        "responseMimeType",
        "responseSchema",
        "responseJsonSchema",
        "thinkingConfig",
    }
)
THINKING_MODELED = frozenset({"thinkingBudget", "includeThoughts", "thinkingLevel"})
RESPONSE_MODELED = frozenset(
    {"candidates", "usageMetadata", "modelVersion", "responseId", "createTime"}
)
CANDIDATE_MODELED = frozenset({"content", "finishReason", "index", "logprobsResult"})
LEVELS = frozenset({"minimal", "low", "medium", "high", "xhigh"})
JSON = "application/json"
BLOCKED = "omniwire.prompt_blocked"
_CHOICE_MODES = {"AUTO": "auto", "NONE": "none", "ANY": "required"}
_MODE_WORDS = {"auto": "AUTO", "none": "NONE", "required": "ANY", "tool": "ANY"}


def _int(obj: Mapping[str, Any], name: str, path: str) -> int | None:
    """An integer field; protobuf JSON also accepts integral numbers such as ``40.0``."""
    value = field(obj, name, (int, float), path)
    if value is None or isinstance(value, int):
        return value
    if not value.is_integer():
        raise ProtocolError(f"expected an integer, got {value}", path=f"{path}.{key_of(obj, name)}")
    return int(value)


def _merge(out: dict[str, Any], extra: Mapping[str, Any]) -> None:
    """Deep-merge ``extra`` into ``out``; a key matches under either spelling and
    ``extra`` wins (it is what the original payload said)."""
    for k, v in extra.items():
        target = camel(k) if camel(k) in out else k
        if isinstance(v, Mapping) and isinstance(out.get(target), dict):
            _merge(out[target], v)
        else:
            out[target] = v


def _residual(obj: Mapping[str, Any], modeled: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if camel(k) not in modeled}


class GeminiGenerateContent(GeminiCodec):
    """Gemini ``generateContent`` in both directions, streaming included.

    ``decode_request`` takes ``params``: ``model`` (from the URL, required unless the
    body names it) and ``stream`` (``"true"`` for ``:streamGenerateContent``).
    :func:`route_params` (importable from this module) builds them from a request path.

    Vertex AI speaks the same body: reach it with the ``gemini.vertex`` endpoint profile
    (see :mod:`omniwire_gemini.vertex`).
    """

    id: ClassVar[str] = "gemini.generate_content"
    routes: ClassVar[tuple[str, ...]] = (
        "/v1beta/models/{model}:generateContent",
        "/v1beta/models/{model}:streamGenerateContent",
    )
    features: ClassVar[frozenset[str]] = frozenset(
        {
            # docs/codecs.md vocabulary
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
            "tool_choice",
            "max_tokens",
            "temperature",
            "top_p",
            "top_k",
            "n",
            "stop",
            "seed",
            "penalties",
            "logprobs",
            "response_format",
            "json_schema",
            "reasoning_effort",
            "reasoning_budget",
            "metadata",
            "service_tier",
            "usage_cache_read",
            "usage_reasoning",
            "stream",
            # the conformance kit's finer words
            "cached_content",
            "include_thoughts",
            "tool_result_name",
            "tool_result_error",
            "response_created",
        }
    )
    """Not ``prompt_cache``: of Request.cache Gemini carries ``cached_content`` only."""

    # -- requests ---------------------------------------------------------------------

    def decode_request(
        self, body: Any, conv: Conversion, *, params: Mapping[str, str] | None = None
    ) -> Request:
        body = obj_at(body, "$")
        params = params or {}
        model = params.get("model") or field(body, "model", str, "$")
        if not model:
            raise ProtocolError("the model is missing (it comes from the URL)", path="$.model")
        if "model" not in params and model.startswith("models/"):
            model = model[len("models/") :]
        messages, tools, choice, tc_extra = self._decode_conversation(body, conv)
        gc_key = key_of(body, "generationConfig") or "generationConfig"
        gc = field(body, "generationConfig", dict, "$") or {}
        fields, gc_extra = self._decode_generation(gc, f"$.{gc_key}")
        extra = {k: v for k, v in body.items() if camel(k) not in TOP_MODELED}
        if gc_extra:
            extra[gc_key] = gc_extra
        if tc_extra:
            extra[key_of(body, "toolConfig") or "toolConfig"] = tc_extra
        cached = field(body, "cachedContent", str, "$")
        labels = field(body, "labels", dict, "$")
        return Request(
            model=model,
            messages=messages,
            tools=tools,
            tool_choice=choice,
            cache=PromptCache(cached_content=cached) if cached is not None else None,
            metadata=labels,
            service_tier=field(body, "serviceTier", str, "$"),
            stream=params.get("stream", "false").lower() == "true",
            extra=extra or None,
            raw=Raw(self.id, body),
            **fields,
        )

    def _decode_conversation(
        self, body: Mapping[str, Any], conv: Conversion
    ) -> tuple[list[Message], list[Any], ToolChoice | None, dict[str, Any]]:
        dec = ContentDecoder(conv)
        messages: list[Message] = []
        si_key = key_of(body, "systemInstruction")
        if si_key is not None and body[si_key] is not None:
            messages.append(dec.message(body[si_key], f"$.{si_key}", system=True))
        for c_path, content in items(body, "contents", "$"):
            messages.append(dec.message(content, c_path))
        tools = decode_tools(items(body, "tools", "$"))
        tc_key = key_of(body, "toolConfig") or "toolConfig"
        tc = field(body, "toolConfig", dict, "$")
        choice, residual = (None, {}) if tc is None else self._decode_tool_config(tc, f"$.{tc_key}")
        return messages, tools, choice, residual

    @staticmethod
    def _decode_tool_config(
        tc: Mapping[str, Any], path: str
    ) -> tuple[ToolChoice | None, dict[str, Any]]:
        """-> (ToolChoice, what of toolConfig it does not express). VALIDATED mode and
        several allowed names have no canonical form and stay in ``Request.extra``."""
        residual = dict(tc)
        fcc_key = key_of(tc, "functionCallingConfig")
        fcc = field(tc, "functionCallingConfig", dict, path)
        if fcc_key is None or fcc is None:
            return None, residual
        f_path = f"{path}.{fcc_key}"
        rest = dict(fcc)
        mode = field(fcc, "mode", str, f_path)
        names = field(fcc, "allowedFunctionNames", list, f_path)
        for i, n in enumerate(names or ()):
            if not isinstance(n, str):
                raise ProtocolError(
                    f"expected string, got {type_name(n)}",
                    path=f"{f_path}.allowedFunctionNames[{i}]",
                )
        canonical = _CHOICE_MODES.get((mode or "").upper())
        choice = None
        if canonical is not None:
            rest.pop(key_of(fcc, "mode") or "mode")
            if canonical == "required" and names is not None and len(names) == 1:
                choice = ToolChoice("tool", names[0])
                rest.pop(key_of(fcc, "allowedFunctionNames") or "")
            else:
                choice = ToolChoice(canonical)
        if rest:
            residual[fcc_key] = rest
        else:
            del residual[fcc_key]
        return choice, residual

    @staticmethod
    def _decode_generation(
        gc: Mapping[str, Any], path: str
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """generationConfig -> (Request fields, the keys with no canonical meaning)."""
        out: dict[str, Any] = {
            "temperature": field(gc, "temperature", float, path),
            "top_p": field(gc, "topP", float, path),
            "top_k": _int(gc, "topK", path),
            "n": _int(gc, "candidateCount", path),
            "max_tokens": _int(gc, "maxOutputTokens", path),
            "seed": _int(gc, "seed", path),
            "presence_penalty": field(gc, "presencePenalty", float, path),
            "frequency_penalty": field(gc, "frequencyPenalty", float, path),
            "logprobs": field(gc, "responseLogprobs", bool, path),
            "top_logprobs": _int(gc, "logprobs", path),
        }
        stop = []
        for s_path, s in items(gc, "stopSequences", path):
            if not isinstance(s, str):
                raise ProtocolError(f"expected string, got {type_name(s)}", path=s_path)
            stop.append(s)
        out["stop"] = tuple(stop)
        residual = _residual(gc, GC_MODELED)
        mime = field(gc, "responseMimeType", str, path)
        schema_key = key_of(gc, "responseJsonSchema") or key_of(gc, "responseSchema")
        if key_of(gc, "responseJsonSchema") and key_of(gc, "responseSchema"):
            raise ProtocolError("give responseSchema or responseJsonSchema, not both", path=path)
        schema = gc[schema_key] if schema_key else None
        if schema is not None and not isinstance(schema, dict):
            raise ProtocolError(
                f"expected object, got {type_name(schema)}", path=f"{path}.{schema_key}"
            )
        fmt = None
        if mime == JSON:
            fmt = (
                ResponseFormat("json_schema", schema)
                if schema is not None
                else ResponseFormat("json_object")
            )
        elif mime == "text/plain" and schema is None:
            fmt = ResponseFormat("text")
        elif mime is not None or schema is not None:
            for name in ("responseMimeType", "responseSchema", "responseJsonSchema"):
                k = key_of(gc, name)
                if k is not None:
                    residual[k] = gc[k]
        out["response_format"] = fmt
        tc_key = key_of(gc, "thinkingConfig")
        thinking = field(gc, "thinkingConfig", dict, path)
        reasoning = None
        if thinking is not None:
            t_path = f"{path}.{tc_key}"
            budget = _int(thinking, "thinkingBudget", t_path)
            level = field(thinking, "thinkingLevel", str, t_path)
            enabled = None
            if budget == 0:
                budget, enabled = None, False
            elif budget == -1:
                budget, enabled = None, True
            reasoning = Reasoning(
                effort=level.lower() if level is not None else None,
                budget_tokens=budget,
                include_thoughts=field(thinking, "includeThoughts", bool, t_path),
                enabled=enabled,
            )
            rest = _residual(thinking, THINKING_MODELED)
            if rest and tc_key is not None:
                residual[tc_key] = rest
        out["reasoning"] = reasoning
        return out, residual

    def encode_request(self, request: Request, conv: Conversion) -> WireRequest:
        if not isinstance(request, Request):
            raise ProtocolError(f"expected a Request, got {type(request).__name__}", path="$")
        body = self.encode_body(request, conv)
        method = "streamGenerateContent" if request.stream else "generateContent"
        query = {"alt": "sse"} if request.stream else {}
        return WireRequest(
            model_path(request.model, method), body, query=query, stream=request.stream
        )

    def encode_body(self, request: Request, conv: Conversion) -> dict[str, Any]:
        lose = conv.lose
        raw = raw_data(request.raw, self.id)
        enc = ContentEncoder(conv, request.messages)
        system, contents = enc.messages(request.messages)
        body: dict[str, Any] = {"contents": contents}
        if system is not None:
            body["systemInstruction"] = system
        if request.tools:
            body["tools"] = encode_tools(request.tools, conv)
        tc = self._encode_tool_choice(request.tool_choice, raw, conv)
        if tc is not None:
            body["toolConfig"] = tc
        gc = self._encode_generation(request, raw, conv)
        if gc:
            body["generationConfig"] = gc
        if request.cache is not None:
            for name in ("key", "retention"):
                if getattr(request.cache, name) is not None:
                    lose(f"$.cache.{name}", "Gemini caches by cachedContent name only")
            if request.cache.cached_content is not None:
                body["cachedContent"] = request.cache.cached_content
        if request.metadata is not None:
            body["labels"] = dict(request.metadata)
        if request.service_tier is not None:
            body["serviceTier"] = request.service_tier
        if request.logit_bias is not None:
            lose("$.logit_bias", "Gemini has no logit bias")
        if request.user is not None:
            lose("$.user", "Gemini has no end-user id")
        if request.extra:
            if request.raw is not None and request.raw.protocol != self.id:
                for k in request.extra:
                    lose(
                        f"$.extra.{k}",
                        f"a {request.raw.protocol} parameter means nothing to Gemini",
                    )
            else:
                _merge(body, request.extra)
        return restore(body, raw, TOP_MODELED, unmodeled=False)

    @staticmethod
    def _encode_tool_choice(
        choice: ToolChoice | None, raw: Mapping[str, Any] | None, conv: Conversion
    ) -> dict[str, Any] | None:
        if choice is None:
            return None
        if choice.parallel is not None:
            conv.lose("$.tool_choice.parallel", "Gemini has no parallel tool call switch")
        word = _MODE_WORDS[choice.mode]
        raw_fcc = None
        if raw is not None:
            raw_tc = raw.get(key_of(raw, "toolConfig") or "")
            if isinstance(raw_tc, Mapping):
                raw_fcc = raw_tc.get(key_of(raw_tc, "functionCallingConfig") or "")
        if isinstance(raw_fcc, Mapping):
            raw_mode = raw_fcc.get(key_of(raw_fcc, "mode") or "")
            if isinstance(raw_mode, str) and raw_mode.upper() == word:
                word = raw_mode
        fcc: dict[str, Any] = {"mode": word}
        if choice.mode == "tool":
            fcc["allowedFunctionNames"] = [choice.name]
        return {"functionCallingConfig": fcc}

    def _encode_generation(
        self, request: Request, raw: Mapping[str, Any] | None, conv: Conversion
    ) -> dict[str, Any]:
        lose = conv.lose
        raw_gc = raw.get(key_of(raw, "generationConfig") or "") if raw is not None else None
        if not isinstance(raw_gc, Mapping):
            raw_gc = None
        gc: dict[str, Any] = {}
        for name, value in (
            ("temperature", request.temperature),
            ("topP", request.top_p),
            ("topK", request.top_k),
            ("candidateCount", request.n),
            ("maxOutputTokens", request.max_tokens),
            ("stopSequences", list(request.stop) if request.stop else None),
            ("seed", request.seed),
            ("presencePenalty", request.presence_penalty),
            ("frequencyPenalty", request.frequency_penalty),
            ("responseLogprobs", request.logprobs),
            ("logprobs", request.top_logprobs),
        ):
            if value is not None:
                gc[name] = value
        fmt = request.response_format
        if fmt is not None:
            for name in ("name", "strict", "description"):
                if getattr(fmt, name) is not None:
                    lose(f"$.response_format.{name}", f"Gemini response schemas carry no {name}")
            if fmt.type == "text":
                gc["responseMimeType"] = "text/plain"
            elif fmt.type in ("json_object", "json_schema"):
                gc["responseMimeType"] = JSON
                if fmt.schema is not None:
                    use_old = raw_gc is not None and key_of(raw_gc, "responseSchema") is not None
                    gc["responseSchema" if use_old else "responseJsonSchema"] = dict(fmt.schema)
                if (fmt.type == "json_schema") != (fmt.schema is not None):
                    lose(
                        "$.response_format.type",
                        "Gemini tells JSON with and without a schema apart by the schema alone",
                    )
            else:
                lose("$.response_format.type", f"Gemini has no {fmt.type} response format")
        if request.reasoning is not None:
            gc["thinkingConfig"] = self._encode_reasoning(request.reasoning, raw_gc, conv)
        return restore(gc, raw_gc, GC_MODELED, unmodeled=False)

    @staticmethod
    def _encode_reasoning(
        r: Reasoning, raw_gc: Mapping[str, Any] | None, conv: Conversion
    ) -> dict[str, Any]:
        """Gemini spells "off" as thinkingBudget 0 and "on, dynamic" as -1."""
        lose = conv.lose
        tc: dict[str, Any] = {}
        if r.budget_tokens is not None:
            budget = r.budget_tokens
            if r.enabled is False:
                lose("$.reasoning.budget_tokens", "reasoning is off; Gemini sends thinkingBudget 0")
                budget = 0
            elif r.enabled is True:
                lose("$.reasoning.enabled", "a Gemini thinking budget implies reasoning is on")
            if budget in (0, -1) and r.enabled is None:
                lose(
                    "$.reasoning.budget_tokens",
                    "Gemini reads a budget of 0 as off and -1 as dynamic",
                )
            tc["thinkingBudget"] = budget
        elif r.enabled is not None:
            tc["thinkingBudget"] = -1 if r.enabled else 0
        if r.include_thoughts is not None:
            tc["includeThoughts"] = r.include_thoughts
        if r.effort is not None:
            if r.effort.lower() in LEVELS:
                word = r.effort.upper()
                raw_tc = raw_gc.get(key_of(raw_gc, "thinkingConfig") or "") if raw_gc else None
                if isinstance(raw_tc, Mapping):
                    raw_level = raw_tc.get(key_of(raw_tc, "thinkingLevel") or "")
                    if isinstance(raw_level, str) and raw_level.lower() == r.effort:
                        word = raw_level
                if r.effort != r.effort.lower():
                    lose("$.reasoning.effort", "Gemini thinking levels are case-insensitive")
                tc["thinkingLevel"] = word
            else:
                lose("$.reasoning.effort", f"Gemini has no thinking level {r.effort!r}")
        if r.summary is not None:
            lose("$.reasoning.summary", "Gemini has no reasoning summary setting")
        return tc

    # -- responses --------------------------------------------------------------------

    def decode_response(self, body: Any, conv: Conversion) -> Response:
        """A GenerateContentResponse; a JSON array of them (``:streamGenerateContent``
        without ``alt=sse``) is decoded as a stream and folded."""
        if isinstance(body, list):
            return self._fold_array(body, conv)
        body = obj_at(body, "$")
        if "error" in body and "candidates" not in body:
            raise error_from_body(None, {}, body, self.provider)
        rid = field(body, "responseId", str, "$")
        choices = [
            self._decode_candidate(cand, c_path, i, rid, conv)
            for i, (c_path, cand) in enumerate(items(body, "candidates", "$"))
        ]
        pf = field(body, "promptFeedback", dict, "$")
        if not choices and pf is not None:
            block = field(pf, "blockReason", str, "$.promptFeedback")
            if block is not None:
                raw = Raw(self.id, {BLOCKED: True})
                choices.append(Choice((), StopReason.CONTENT_FILTER, block, raw=raw))
        usage, tier = None, None
        um_key = key_of(body, "usageMetadata")
        if um_key is not None and body[um_key] is not None:
            usage, tier = decode_usage(body[um_key], f"$.{um_key}")
        return Response(
            id=rid,
            model=field(body, "modelVersion", str, "$"),
            choices=choices,
            usage=usage,
            created=decode_time(field(body, "createTime", str, "$"), "$.createTime"),
            service_tier=tier,
            raw=Raw(self.id, body),
        )

    def _decode_candidate(
        self, cand: Any, path: str, position: int, rid: str | None, conv: Conversion
    ) -> Choice:
        cand = obj_at(cand, path)
        index = _int(cand, "index", path)
        index = position if index is None else index
        dec = ContentDecoder(conv, prefix=call_prefix(rid, index))
        content_key = key_of(cand, "content")
        content = field(cand, "content", dict, path)
        parts = dec.parts(content, f"{path}.{content_key}") if content is not None else []
        word = field(cand, "finishReason", str, path)
        has_calls = any(isinstance(p, ToolCallPart) for p in parts)
        stop = decode_finish(word, has_calls) if word is not None else None
        return Choice(
            parts,
            stop,
            word,
            index=index,
            logprobs=field(cand, "logprobsResult", dict, path),
            raw=Raw(self.id, cand),
        )

    def _fold_array(self, chunks: list[Any], conv: Conversion) -> Response:
        from omniwire.model import fold

        from ._stream import GeminiStreamDecoder

        decoder = GeminiStreamDecoder(self, conv)
        events = []
        for i, chunk in enumerate(chunks):
            events.extend(decoder.chunk(chunk, f"$[{i}]"))
        events.extend(decoder.close())
        return fold(events)

    def encode_response(
        self, response: Response, conv: Conversion, *, request: Any = None
    ) -> dict[str, Any]:
        if not isinstance(response, Response):
            raise ProtocolError(f"expected a Response, got {type(response).__name__}", path="$")
        raw = raw_data(response.raw, self.id)
        candidates = []
        for i, choice in enumerate(response.choices):
            craw = raw_data(choice.raw, self.id)
            if craw is not None and craw.get(BLOCKED):
                continue
            candidates.append(self.encode_candidate(choice, conv, f"$.choices[{i}]", craw))
        out: dict[str, Any] = {"candidates": candidates}
        um_raw = raw.get(key_of(raw, "usageMetadata") or "") if raw is not None else None
        if response.usage is not None or response.service_tier is not None:
            out["usageMetadata"] = encode_usage(
                response.usage,
                response.service_tier,
                conv,
                "$.usage",
                um_raw if isinstance(um_raw, Mapping) else None,
            )
        if response.model is not None:
            out["modelVersion"] = response.model
        if response.id is not None:
            out["responseId"] = response.id
        if response.created is not None:
            out["createTime"] = encode_time(
                response.created, raw.get(key_of(raw, "createTime") or "") if raw else None
            )
        return restore(out, raw, RESPONSE_MODELED)

    def encode_candidate(
        self,
        choice: Choice,
        conv: Conversion,
        path: str,
        craw: Mapping[str, Any] | None,
        *,
        content: bool = True,
    ) -> dict[str, Any]:
        """One Choice -> one candidate (``content=False``: finish and index only, for the
        last chunk of a stream)."""
        cand: dict[str, Any] = {}
        has_calls = any(isinstance(p, ToolCallPart) for p in choice.content)
        if content:
            parts = ContentEncoder(conv).parts(choice.content, f"{path}.content")
            raw_content = craw.get(key_of(craw, "content") or "") if craw is not None else None
            if parts or isinstance(raw_content, Mapping):
                body: dict[str, Any] = {"parts": parts, "role": "model"}
                if isinstance(raw_content, Mapping):
                    restore(body, raw_content, {"parts", "role"})
                    if key_of(raw_content, "role") is None:
                        del body["role"]
                cand["content"] = body
        if choice.stop_reason is not None or choice.stop_raw is not None:
            cand["finishReason"] = encode_finish(
                choice.stop_reason, choice.stop_raw, has_calls, conv, f"{path}.stop_reason"
            )
        cand["index"] = choice.index
        if choice.logprobs is not None:
            if isinstance(choice.logprobs, Mapping) and (choice.raw is None or craw is not None):
                cand["logprobsResult"] = dict(choice.logprobs)
            else:
                conv.lose(f"{path}.logprobs", "these logprobs are not in Gemini's shape")
        return restore(cand, craw, CANDIDATE_MODELED)

    # -- streams ----------------------------------------------------------------------

    def stream_decoder(self, conv: Conversion) -> Any:
        from ._stream import GeminiStreamDecoder

        return GeminiStreamDecoder(self, conv)

    def stream_encoder(self, conv: Conversion, request: Any = None) -> Any:
        from ._stream import GeminiStreamEncoder

        return GeminiStreamEncoder(self, conv)

    # -- pass-through -----------------------------------------------------------------

    def usage_of(self, body: Any) -> Usage | None:
        """Usage of a native response body (or of the last element of a JSON-array
        stream); None when it has none or is not Gemini-shaped."""
        if isinstance(body, list):
            body = body[-1] if body else None
        if not isinstance(body, dict):
            return None
        um = body.get("usageMetadata")
        if not isinstance(um, dict):
            return None
        try:
            return decode_usage(um, "$.usageMetadata")[0]
        except ProtocolError:
            return None

    def usage_of_event(self, event: SSEEvent) -> Usage | None:
        """Usage of one native stream chunk. Gemini repeats the running total on every
        chunk, so the last value seen is the stream's usage."""
        if '"usageMetadata"' not in event.data:
            return None
        try:
            return self.usage_of(json.loads(event.data))
        except ValueError:
            return None


def call_prefix(rid: str | None, index: int) -> str:
    """Ids made up for id-less calls in a response: ``call_<responseId>_<candidate>_<n>``."""
    return f"call_{rid}_{index}_" if rid else f"call_{index}_"
