"""The canonical generation call: a request of messages, a response of choices.

Conventions every codec follows (they are what makes cross-protocol conversion exact):

* System and developer instructions are messages with role SYSTEM / DEVELOPER, in order.
* Tool results are ``ToolResultPart``s. They may sit in a TOOL message (one per result,
  as OpenAI Chat sends them) or in a USER message next to other parts (as Anthropic does);
  ``omniwire.normalize`` folds both shapes to one for comparison.
* ``Usage.input_tokens`` counts *every* input token, including cache reads and cache
  writes; ``output_tokens`` includes reasoning tokens. Codecs convert to and from each
  provider's own arithmetic (Anthropic reports cache tokens apart from input tokens).
"""

from __future__ import annotations

from typing import Any, Mapping

import attrs

from .common import CacheHint, Raw, Role, StopReason
from .parts import Part, ReasoningPart, RefusalPart, TextPart, ToolCallPart

__all__ = [
    "Choice",
    "Message",
    "PromptCache",
    "Reasoning",
    "Request",
    "Response",
    "ResponseFormat",
    "Tool",
    "ToolChoice",
    "Usage",
]

_raw = attrs.field(default=None, eq=False, repr=False, kw_only=True)


def _tuple(value: Any) -> tuple[Any, ...]:
    return value if type(value) is tuple else tuple(value)


def _role(value: Any) -> Role:
    return value if type(value) is Role else Role(value)


@attrs.frozen
class Message:
    role: Role = attrs.field(converter=_role)
    content: tuple[Part, ...] = attrs.field(default=(), converter=_tuple)
    name: str | None = None
    cache: CacheHint | None = None
    raw: Raw | None = _raw

    @classmethod
    def text(cls, role: Role | str, text: str) -> Message:
        return cls(_role(role), (TextPart(text),))

    @property
    def plain_text(self) -> str:
        return "".join(p.text for p in self.content if isinstance(p, TextPart))


@attrs.frozen
class Tool:
    """A function the model may call. ``parameters`` is a JSON Schema object.

    Provider built-in tools (web search, code execution, ...) are kept with ``kind`` set
    to the provider's type name and their whole definition in ``config``.
    """

    name: str
    description: str | None = None
    parameters: Mapping[str, Any] | None = None
    strict: bool | None = None
    kind: str = "function"
    config: Mapping[str, Any] | None = None
    cache: CacheHint | None = None
    raw: Raw | None = _raw


@attrs.frozen
class ToolChoice:
    """``mode`` is auto, none, required (any tool) or tool (``name`` must be set)."""

    mode: str = "auto"
    name: str | None = None
    parallel: bool | None = None

    def __attrs_post_init__(self) -> None:
        if self.mode not in ("auto", "none", "required", "tool"):
            raise ValueError(f"unknown tool choice mode {self.mode!r}")
        if (self.mode == "tool") != (self.name is not None):
            raise ValueError("tool choice 'tool' needs a name, and only it takes one")


@attrs.frozen
class ResponseFormat:
    """Structured output: ``type`` is text, json_object or json_schema."""

    type: str = "text"
    schema: Mapping[str, Any] | None = None
    name: str | None = None
    strict: bool | None = None
    description: str | None = None


@attrs.frozen
class Reasoning:
    """Reasoning intent: an ``effort`` word (minimal, low, medium, high...) and/or a token
    ``budget``; ``summary`` asks for summaries (auto, concise, detailed); ``enabled`` False
    turns reasoning off where a provider allows it."""

    effort: str | None = None
    budget_tokens: int | None = None
    summary: str | None = None
    include_thoughts: bool | None = None
    enabled: bool | None = None


@attrs.frozen
class PromptCache:
    """Request-level prompt-cache intent (OpenAI's ``prompt_cache_key``/retention,
    Gemini's ``cachedContent``)."""

    key: str | None = None
    retention: str | None = None
    cached_content: str | None = None


@attrs.frozen
class Request:
    model: str
    messages: tuple[Message, ...] = attrs.field(default=(), converter=_tuple)
    tools: tuple[Tool, ...] = attrs.field(default=(), converter=_tuple)
    tool_choice: ToolChoice | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    n: int | None = None
    stop: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: Mapping[str, float] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    response_format: ResponseFormat | None = None
    reasoning: Reasoning | None = None
    cache: PromptCache | None = None
    metadata: Mapping[str, str] | None = None
    user: str | None = None
    service_tier: str | None = None
    stream: bool = False
    extra: Mapping[str, Any] | None = None
    """Provider parameters with no canonical meaning, sent as-is to the same protocol."""
    raw: Raw | None = _raw

    @classmethod
    def simple(cls, model: str, prompt: str, **kwargs: Any) -> Request:
        return cls(model=model, messages=(Message.text(Role.USER, prompt),), **kwargs)


@attrs.frozen
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    details: Mapping[str, int] | None = None
    """Finer counts some providers give (cache writes by TTL, audio tokens...)."""

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        details: dict[str, int] | None = None
        if self.details or other.details:
            details = dict(self.details or {})
            for k, v in (other.details or {}).items():
                details[k] = details.get(k, 0) + v
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
            details,
        )


@attrs.frozen
class Choice:
    content: tuple[Part, ...] = attrs.field(default=(), converter=_tuple)
    stop_reason: StopReason | None = None
    stop_raw: str | None = attrs.field(default=None, eq=False)
    """The provider's own stop word; informative, not compared across protocols."""
    index: int = 0
    logprobs: Any = attrs.field(default=None, eq=False, repr=False)
    raw: Raw | None = _raw


@attrs.frozen
class Response:
    id: str | None = None
    model: str | None = None
    choices: tuple[Choice, ...] = attrs.field(default=(), converter=_tuple)
    usage: Usage | None = None
    created: int | None = None
    service_tier: str | None = None
    raw: Raw | None = _raw

    @property
    def content(self) -> tuple[Part, ...]:
        return self.choices[0].content if self.choices else ()

    @property
    def stop_reason(self) -> StopReason | None:
        return self.choices[0].stop_reason if self.choices else None

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.content if isinstance(p, TextPart))

    @property
    def tool_calls(self) -> tuple[ToolCallPart, ...]:
        return tuple(p for p in self.content if isinstance(p, ToolCallPart))

    @property
    def reasoning(self) -> tuple[ReasoningPart, ...]:
        return tuple(p for p in self.content if isinstance(p, ReasoningPart))

    @property
    def refusal(self) -> str | None:
        texts = [p.text for p in self.content if isinstance(p, RefusalPart)]
        return "".join(texts) if texts else None

    def as_message(self, choice: int = 0) -> Message:
        """The assistant turn to append to the conversation for the next request."""
        return Message(Role.ASSISTANT, self.choices[choice].content)
