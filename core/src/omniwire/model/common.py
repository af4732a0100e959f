"""Small values shared by every canonical type."""

from __future__ import annotations

import enum
from typing import Any, Mapping

import attrs

__all__ = ["CacheHint", "Raw", "Role", "StopReason"]


@attrs.frozen
class Raw:
    """The provider object a canonical value was decoded from.

    Encoders for the same ``protocol`` use it to restore fields the canonical model does
    not describe, so a same-protocol round trip is exact. Never compared, never printed.
    """

    protocol: str
    data: Mapping[str, Any]


@attrs.frozen
class CacheHint:
    """Prompt-cache intent on a block: "cache everything up to here" (Anthropic's
    ``cache_control``). ``ttl`` is the provider's string (``"5m"``, ``"1h"``) or None."""

    ttl: str | None = None


class Role(str, enum.Enum):
    SYSTEM = "system"
    DEVELOPER = "developer"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


class StopReason(str, enum.Enum):
    """Why generation ended. Codecs keep the provider's own word in ``stop_raw``."""

    END_TURN = "end_turn"
    MAX_TOKENS = "max_tokens"
    STOP_SEQUENCE = "stop_sequence"
    TOOL_CALLS = "tool_calls"
    CONTENT_FILTER = "content_filter"
    REFUSAL = "refusal"
    PAUSE_TURN = "pause_turn"
    ERROR = "error"
    OTHER = "other"
