"""The record of one call in flight: what every stage hook receives and fills in.

A :class:`Call` is mutable on purpose (stages write their results into it) and slotted
(there is one per request on the hot path). Observers read it; nothing in it holds a
secret except ``key``, whose repr is redacted.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .report import Conversion, ConversionReport

if TYPE_CHECKING:
    from .codec import Codec
    from .endpoint import Endpoint, Key
    from .errors import OmniwireError
    from .model import Usage
    from .money import Cost
    from .stack import Stack

__all__ = ["Attempt", "Call"]


class Attempt:
    """One try against one candidate, kept for observers and error messages."""

    __slots__ = ("endpoint", "key_alias", "model", "error", "duration")

    def __init__(self, endpoint: str, key_alias: str | None, model: str) -> None:
        self.endpoint = endpoint
        self.key_alias = key_alias
        self.model = model
        self.error: str | None = None
        self.duration: float | None = None

    def __repr__(self) -> str:
        return f"Attempt({self.endpoint}/{self.model}, key={self.key_alias}, error={self.error})"


class Call:
    __slots__ = (
        "stack",
        "request",
        "operation",
        "stream",
        "strict",
        "codec",
        "endpoint",
        "key",
        "model",
        "conversion",
        "attempts",
        "started",
        "first_chunk_at",
        "ended",
        "response",
        "usage",
        "cost",
        "reserved",
        "error",
        "status",
        "attributes",
        "admitted",
        "sent",
        "response_headers",
        "restreamed",
        "shared",
        "native",
    )

    def __init__(
        self,
        stack: Stack,
        request: Any,
        *,
        operation: str = "chat",
        stream: bool = False,
        strict: bool = False,
    ) -> None:
        self.stack = stack
        self.request = request
        self.operation = operation
        self.stream = stream
        self.strict = strict
        self.codec: Codec | None = None
        self.endpoint: Endpoint | None = None
        self.key: Key | None = None
        self.model: str | None = None
        self.conversion = Conversion(strict=strict)
        self.attempts: list[Attempt] = []
        self.started = time.perf_counter()
        self.first_chunk_at: float | None = None
        self.ended: float | None = None
        self.response: Any = None
        self.usage: Usage | None = None
        self.cost: Cost | None = None
        self.reserved: Cost | None = None
        self.error: OmniwireError | None = None
        self.status: int | None = None
        self.attributes: dict[str, Any] = {}
        self.admitted: list[Any] = []
        """Guards that admitted the current attempt (completed or aborted at the end)."""
        self.sent = False
        """Whether the current attempt reached the transport (a guard's abort can tell a
        refusal before sending from a failure after it)."""
        self.response_headers: Any = None
        """The upstream's response headers for the current attempt (rate-limit state)."""
        self.restreamed = False
        """A stream that failed before its first event, answered by a non-streamed call
        whose response was re-streamed locally."""
        self.shared = False
        """This call waited for an identical one in flight (singleflight) and got its
        answer: nothing was sent, nothing was spent."""
        self.native: bytes | None = None
        """The upstream's successful non-streamed answer as it came, kept when only the
        codec decoded it (no plugin's decode stage): a server speaking the same protocol
        as the upstream can relay these bytes instead of re-encoding the response."""

    @property
    def report(self) -> ConversionReport:
        return self.conversion.report()

    @property
    def provider(self) -> str | None:
        return self.codec.provider if self.codec is not None else None

    @property
    def duration(self) -> float | None:
        return None if self.ended is None else self.ended - self.started

    @property
    def time_to_first_chunk(self) -> float | None:
        return None if self.first_chunk_at is None else self.first_chunk_at - self.started

    def __repr__(self) -> str:
        where = self.endpoint.name if self.endpoint else "?"
        return f"<Call {self.operation} {where}/{self.model} attempts={len(self.attempts)}>"
