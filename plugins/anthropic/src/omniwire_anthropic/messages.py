"""``anthropic.messages``: the Messages API (``POST /v1/messages``), both directions.

Mapping decisions worth knowing (the rest is one field to one field):

* ``system`` (string or text blocks) <-> leading SYSTEM messages, one per block; a
  ``role: system`` message inside ``messages`` stays a SYSTEM message at its position.
* ``max_tokens`` is required on the wire: ``decode_request`` fails without it, and
  ``encode_request`` sends :data:`DEFAULT_MAX_TOKENS` (plus the thinking budget, when one
  is set) for a canonical ``max_tokens`` of None. That is a default, not a loss.
* ``thinking`` <-> ``Reasoning``: ``enabled`` + ``budget_tokens`` -> ``budget_tokens``;
  ``adaptive`` -> ``enabled=True``; ``disabled`` -> ``enabled=False``; ``display``
  summarized/omitted <-> ``include_thoughts`` True/False. ``output_config.effort`` <->
  ``Reasoning.effort``; ``output_config.format`` (json_schema) <-> ``response_format``.
* ``metadata.user_id`` <-> ``Request.user``.
* Top-level fields with no canonical meaning (``container``, ``context_management``,
  top-level ``cache_control``, ``mcp_servers``, ...) go to ``Request.extra`` as they are.
* Headers: ``Request.extra["anthropic-beta"]`` and ``Request.extra["anthropic-version"]``
  are sent as HTTP headers, never in the body (``anthropic-version`` defaults to
  ``2023-06-01`` and is kept in ``extra`` only when it differs). On the server side the
  kernel passes no headers to ``decode_request``; pass them in ``params`` under the same
  names.
* The matched ``stop_sequence`` has no canonical field: a same-protocol round trip keeps
  it through ``Response.raw``; a stream encoder infers it when the request had exactly
  one stop sequence.
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

from omniwire.codec import Codec, Family
from omniwire.errors import OmniwireError, ProtocolError
from omniwire.model import (
    Choice,
    Raw,
    Reasoning,
    Request,
    Response,
    ResponseFormat,
    Usage,
)
from omniwire.report import Conversion
from omniwire.sse import SSEEvent
from omniwire.wire import WireRequest, expect, opt, type_name

from . import convert as cv
from . import errors

__all__ = ["DEFAULT_MAX_TOKENS", "HEADER_KEYS", "AnthropicMessages"]

DEFAULT_MAX_TOKENS = 4096
"""``max_tokens`` sent when the canonical request sets none (Anthropic requires it)."""

HEADER_KEYS = ("anthropic-version", "anthropic-beta")
"""``Request.extra`` keys sent as HTTP headers instead of body fields."""

EFFORTS = frozenset({"low", "medium", "high", "xhigh", "max"})
"""``output_config.effort`` values Anthropic accepts."""

_DISPLAY = {"summarized": True, "omitted": False}

_MODELED = frozenset(
    {
        "model",
        "messages",
        "system",
        "max_tokens",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "metadata",
        "thinking",
        "output_config",
        "tools",
        "tool_choice",
        "service_tier",
        "stream",
    }
)
_RESPONSE_KEYS = frozenset(
    {"id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage"}
)


def _decode_reasoning(
    body: Mapping[str, Any], extra: dict[str, Any]
) -> tuple[Reasoning | None, ResponseFormat | None]:
    budget: int | None = None
    enabled: bool | None = None
    include: bool | None = None
    thinking = opt(body, "thinking", dict, "$")
    if thinking is not None:
        kind = expect(thinking, "type", str, "$.thinking")
        display = opt(thinking, "display", str, "$.thinking")
        known = set(thinking) <= {"type", "budget_tokens", "display"} and (
            display is None or display in _DISPLAY
        )
        if kind == "enabled" and known:
            budget = expect(thinking, "budget_tokens", int, "$.thinking")
        elif kind == "adaptive" and known and "budget_tokens" not in thinking:
            enabled = True
        elif kind == "disabled" and set(thinking) == {"type"}:
            enabled = False
        else:
            extra["thinking"] = thinking  # a form the canonical model cannot describe
            thinking = None
        if thinking is not None and display is not None:
            include = _DISPLAY[display]
    effort: str | None = None
    response_format: ResponseFormat | None = None
    config = opt(body, "output_config", dict, "$")
    if config is not None:
        effort = opt(config, "effort", str, "$.output_config")
        fmt = opt(config, "format", dict, "$.output_config")
        if fmt is not None:
            kind = expect(fmt, "type", str, "$.output_config.format")
            if kind != "json_schema":
                raise ProtocolError(
                    f"expected json_schema, got {kind!r}", path="$.output_config.format.type"
                )
            response_format = ResponseFormat(
                "json_schema", schema=expect(fmt, "schema", dict, "$.output_config.format")
            )
    if thinking is None and effort is None:
        return None, response_format
    reasoning = Reasoning(
        effort=effort, budget_tokens=budget, include_thoughts=include, enabled=enabled
    )
    return reasoning, response_format


def _encode_reasoning(
    reasoning: Reasoning, conv: Conversion
) -> tuple[dict[str, Any] | None, str | None]:
    """Reasoning -> (``thinking``, ``output_config.effort``)."""
    thinking: dict[str, Any] | None = None
    if reasoning.enabled is False:
        thinking = {"type": "disabled"}
        if reasoning.budget_tokens is not None:
            conv.lose("$.reasoning.budget_tokens", "a budget means nothing with thinking disabled")
    elif reasoning.budget_tokens is not None:
        thinking = {"type": "enabled", "budget_tokens": reasoning.budget_tokens}
        if reasoning.enabled is True:
            conv.lose("$.reasoning.enabled", "implied by the budget; it decodes as unset")
    elif reasoning.enabled is True:
        thinking = {"type": "adaptive"}
    if reasoning.include_thoughts is not None:
        if thinking is None or thinking["type"] == "disabled":
            conv.lose(
                "$.reasoning.include_thoughts", "Anthropic sets display only with thinking on"
            )
        else:
            thinking["display"] = "summarized" if reasoning.include_thoughts else "omitted"
    if reasoning.summary is not None:
        conv.lose("$.reasoning.summary", "Anthropic has no reasoning summary setting")
    effort = reasoning.effort
    if effort is not None and effort not in EFFORTS:
        conv.lose("$.reasoning.effort", f"Anthropic has no effort level {effort!r}")
        effort = None
    return thinking, effort


def _encode_response_format(fmt: ResponseFormat, conv: Conversion) -> dict[str, Any] | None:
    if fmt.type == "text":
        conv.lose("$.response_format", "plain text is Anthropic's only unstructured output")
        return None
    if fmt.type != "json_schema" or fmt.schema is None:
        conv.lose("$.response_format", "Anthropic structured output needs a JSON schema")
        return None
    if fmt.name is not None:
        conv.lose("$.response_format.name", "Anthropic output formats have no name")
    if fmt.description is not None:
        conv.lose("$.response_format.description", "Anthropic output formats have no description")
    if fmt.strict is not None:
        conv.lose("$.response_format.strict", "Anthropic output formats are always strict")
    return {"type": "json_schema", "schema": dict(fmt.schema)}


def _param(params: Mapping[str, str] | None, name: str) -> str | None:
    for key, value in (params or {}).items():
        if key.lower() == name:
            return value
    return None


class AnthropicMessages(Codec):
    """Anthropic Messages: requests, responses, streams and errors, client and server."""

    id: ClassVar[str] = "anthropic.messages"
    family: ClassVar[str] = Family.GENERATE
    provider: ClassVar[str] = "anthropic"
    default_auth: ClassVar[str] = "x-api-key"
    routes: ClassVar[tuple[str, ...]] = ("/v1/messages",)
    features: ClassVar[frozenset[str]] = cv.CONVERSATION_FEATURES | frozenset(
        {
            "tool_choice",
            "parallel_tool_calls",
            "max_tokens",
            "temperature",
            "top_p",
            "top_k",
            "stop",
            "json_schema",
            "reasoning_effort",
            "reasoning_budget",
            "user",
            "service_tier",
            "usage_cache_read",
            "usage_cache_write",
            "usage_reasoning",
            "stream",
        }
    )

    # -- requests -------------------------------------------------------------------------

    def encode_request(self, request: Request, conv: Conversion) -> WireRequest:
        original = cv.raw_data(request.raw, (self.id,))
        system, messages = cv.encode_conversation(
            request.messages,
            conv,
            original_system=original.get("system") if original else None,
        )
        budget = request.reasoning.budget_tokens if request.reasoning else None
        max_tokens = request.max_tokens
        if max_tokens is None:
            max_tokens = DEFAULT_MAX_TOKENS + (budget or 0)
        body: dict[str, Any] = {"model": request.model, "max_tokens": max_tokens}
        if system is not None:
            body["system"] = system
        body["messages"] = messages
        for name in ("temperature", "top_p", "top_k"):
            value = getattr(request, name)
            if value is not None:
                body[name] = value
        if request.stop:
            body["stop_sequences"] = list(request.stop)
        if request.tools:
            tools = (cv.encode_tool(t, f"$.tools[{i}]", conv) for i, t in enumerate(request.tools))
            body["tools"] = [t for t in tools if t is not None]
        if request.tool_choice is not None:
            body["tool_choice"] = cv.encode_tool_choice(request.tool_choice, conv)
        output_config: dict[str, Any] = {}
        if request.reasoning is not None:
            thinking, effort = _encode_reasoning(request.reasoning, conv)
            if thinking is not None:
                body["thinking"] = thinking
            if effort is not None:
                output_config["effort"] = effort
        if request.response_format is not None:
            fmt = _encode_response_format(request.response_format, conv)
            if fmt is not None:
                output_config["format"] = fmt
        raw_config = original.get("output_config") if original else None
        if isinstance(raw_config, Mapping):
            output_config = cv.restore(output_config, raw_config, ("effort", "format"))
        if output_config:
            body["output_config"] = output_config
        if request.user is not None:
            body["metadata"] = {"user_id": request.user}
        raw_metadata = original.get("metadata") if original else None
        if isinstance(raw_metadata, Mapping) and (request.user is not None or raw_metadata):
            body["metadata"] = cv.restore(body.get("metadata", {}), raw_metadata, ("user_id",))
        if request.service_tier is not None:
            body["service_tier"] = request.service_tier
        if request.stream:
            body["stream"] = True
        self._lose_unsupported(request, conv)
        headers = {"anthropic-version": cv.ANTHROPIC_VERSION}
        foreign = request.raw is not None and request.raw.protocol != self.id
        for key, value in (request.extra or {}).items():
            if foreign:
                conv.lose(f"$.extra.{key}", f"a {request.raw.protocol} parameter")  # type: ignore[union-attr]
            elif key in HEADER_KEYS:
                headers[key] = str(value)
            elif key not in body:
                body[key] = value
        if original is not None:  # neutral originals (``"stream": false``) come back
            body = cv.restore(body, original, original.keys())
        return WireRequest("/v1/messages", body, headers=headers, stream=request.stream)

    @staticmethod
    def _lose_unsupported(request: Request, conv: Conversion) -> None:
        if request.n is not None:  # even n=1: the field itself does not survive
            conv.lose("$.n", "Anthropic always returns one choice")
        for name in (
            "seed",
            "presence_penalty",
            "frequency_penalty",
            "logit_bias",
            "logprobs",
            "top_logprobs",
        ):
            if getattr(request, name) is not None:
                conv.lose(f"$.{name}", f"Anthropic has no {name}")
        if request.metadata:
            conv.lose("$.metadata", "Anthropic metadata holds only user_id (see Request.user)")
        if request.cache is not None:
            conv.lose("$.cache", "Anthropic has no request-level prompt cache key")

    def decode_request(
        self, body: Any, conv: Conversion, *, params: Mapping[str, str] | None = None
    ) -> Request:
        if not isinstance(body, Mapping):
            raise ProtocolError(f"expected object, got {type_name(body)}", path="$")
        model = expect(body, "model", str)
        max_tokens = expect(body, "max_tokens", int)
        raw_messages = expect(body, "messages", list)
        messages = cv.decode_system(body.get("system"), "$.system", conv)
        messages += [
            cv.decode_message(m, f"$.messages[{i}]", conv) for i, m in enumerate(raw_messages)
        ]
        tools = tuple(
            cv.decode_tool(t, f"$.tools[{i}]") for i, t in enumerate(opt(body, "tools", list) or ())
        )
        choice = opt(body, "tool_choice", dict)
        metadata = opt(body, "metadata", dict)
        user = opt(metadata, "user_id", str, "$.metadata") if metadata is not None else None
        extra = {k: v for k, v in body.items() if k not in _MODELED}
        reasoning, response_format = _decode_reasoning(body, extra)
        stop = opt(body, "stop_sequences", list) or []
        for i, s in enumerate(stop):
            if not isinstance(s, str):
                raise ProtocolError(
                    f"expected string, got {type_name(s)}", path=f"$.stop_sequences[{i}]"
                )
        version = _param(params, "anthropic-version")
        if version is not None and version != cv.ANTHROPIC_VERSION:
            extra["anthropic-version"] = version
        beta = _param(params, "anthropic-beta")
        if beta is not None:
            extra["anthropic-beta"] = beta
        return Request(
            model=model,
            messages=messages,
            tools=tools,
            tool_choice=cv.decode_tool_choice(choice, "$.tool_choice") if choice else None,
            max_tokens=max_tokens,
            temperature=opt(body, "temperature", float),
            top_p=opt(body, "top_p", float),
            top_k=opt(body, "top_k", int),
            stop=tuple(stop),
            reasoning=reasoning,
            response_format=response_format,
            user=user,
            service_tier=opt(body, "service_tier", str),
            stream=bool(opt(body, "stream", bool)),
            extra=extra or None,
            raw=Raw(self.id, body),
        )

    # -- responses ------------------------------------------------------------------------

    def decode_response(self, body: Any, conv: Conversion) -> Response:
        if not isinstance(body, Mapping):
            raise ProtocolError(f"expected object, got {type_name(body)}", path="$")
        if body.get("type") == "error":
            raise errors.decode_error(errors.status_of_kind(_error_kind(body)) or 500, {}, body)
        content = expect(body, "content", list)
        parts = tuple(cv.decode_block(b, f"$.content[{i}]", conv) for i, b in enumerate(content))
        stop_raw = opt(body, "stop_reason", str)
        usage_body = opt(body, "usage", dict)
        usage = cv.decode_usage(usage_body, "$.usage") if usage_body is not None else None
        return Response(
            id=expect(body, "id", str),
            model=opt(body, "model", str),
            choices=(Choice(parts, cv.stop_from_wire(stop_raw), stop_raw),),
            usage=usage,
            service_tier=opt(usage_body, "service_tier", str, "$.usage") if usage_body else None,
            raw=Raw(self.id, body),
        )

    def encode_response(
        self, response: Response, conv: Conversion, *, request: Any = None
    ) -> dict[str, Any]:
        original = cv.raw_data(response.raw, (self.id,))
        choice = response.choices[0] if response.choices else Choice()
        for extra_choice in response.choices[1:]:
            conv.lose(f"$.choices[{extra_choice.index}]", "Anthropic returns one choice")
        if response.created is not None:
            conv.lose("$.created", "Anthropic messages carry no creation time")
        blocks = (
            cv.encode_part(p, f"$.choices[0].content[{i}]", conv, request=False)
            for i, p in enumerate(choice.content)
        )
        stop = cv.stop_to_wire(
            choice.stop_reason, choice.stop_raw, conv, "$.choices[0].stop_reason"
        )
        stop_sequence = None
        if original is not None and stop == "stop_sequence" == original.get("stop_reason"):
            stop_sequence = original.get("stop_sequence")
        raw_usage = original.get("usage") if original else None
        out: dict[str, Any] = {
            "id": response.id if response.id is not None else cv.new_message_id(),
            "type": "message",
            "role": "assistant",
            "model": response.model if response.model is not None else "",
            "content": [b for b in blocks if b is not None],
            "stop_reason": stop,
            "stop_sequence": stop_sequence,
            "usage": cv.encode_usage(
                response.usage,
                conv,
                "$.usage",
                service_tier=response.service_tier,
                source=raw_usage if isinstance(raw_usage, Mapping) else None,
            ),
        }
        return cv.restore(out, original, _RESPONSE_KEYS, drop_if_absent=("stop_sequence",))

    # -- streams --------------------------------------------------------------------------

    def stream_decoder(self, conv: Conversion) -> Any:
        from .stream import MessagesStreamDecoder

        return MessagesStreamDecoder(conv)

    def stream_encoder(self, conv: Conversion, request: Any = None) -> Any:
        from .stream import MessagesStreamEncoder

        return MessagesStreamEncoder(conv, request)

    # -- errors ---------------------------------------------------------------------------

    def decode_error(self, status: int, headers: Mapping[str, str], body: bytes) -> OmniwireError:
        return errors.decode_error(status, headers, body)

    def encode_error(self, error: OmniwireError) -> tuple[int, Any]:
        return errors.encode_error(error)

    # -- pass-through ---------------------------------------------------------------------

    def usage_of(self, body: Any) -> Usage | None:
        if not isinstance(body, Mapping) or not isinstance(body.get("usage"), Mapping):
            return None
        try:
            return cv.decode_usage(body["usage"], "$.usage")
        except ProtocolError:
            return None

    def usage_of_event(self, event: SSEEvent) -> Usage | None:
        """``message_start`` carries input (and cache) counts, ``message_delta`` the
        running totals; both are cumulative, so later events replace earlier ones."""
        if event.event not in (None, "message_start", "message_delta"):
            return None
        from .stream import usage_in_event

        return usage_in_event(event)


def _error_kind(body: Mapping[str, Any]) -> str | None:
    inner = body.get("error")
    kind = inner.get("type") if isinstance(inner, Mapping) else None
    return kind if isinstance(kind, str) else None
