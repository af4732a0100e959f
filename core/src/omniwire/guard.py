"""Guards and retry policies: the seams routing, rate limiting, breakers and budgets
plug into.

A :class:`Guard` is asked to ``admit`` every attempt before a byte is sent, and is told
how each admitted attempt ended: ``complete`` (success; ``call.usage``/``call.cost`` set)
or ``abort`` (failure, cancellation, or a stream cut mid-way; ``call.usage`` holds what
was seen, if anything). Every admitted attempt gets exactly one of the two, so a budget
reservation or a concurrency slot can never leak. ``admit`` refuses by raising: a
retryable error (``CircuitOpen``, ``RateLimited``) moves the call to the next
candidate, anything else (``BudgetExceeded``) ends it.

A :class:`RetryPolicy` decides, after a retryable failure, whether the next candidate
is tried and how long to wait first.
"""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .call import Call
    from .errors import OmniwireError
    from .routing import Candidate

__all__ = ["Backoff", "Failover", "Guard", "RetryPolicy"]


class Guard(Protocol):
    async def admit(self, call: Call, candidate: Candidate) -> None: ...

    async def complete(self, call: Call) -> None: ...

    async def abort(self, call: Call, error: OmniwireError | None) -> None: ...


class RetryPolicy(Protocol):
    async def before_next(self, call: Call, error: OmniwireError, candidate: Candidate) -> bool:
        """Return False to stop and raise ``error``; may sleep before returning True."""
        ...


class Failover:
    """Try the next candidate at once (the kernel default)."""

    async def before_next(self, call: Call, error: OmniwireError, candidate: Candidate) -> bool:
        return True


class Backoff:
    """Jittered exponential backoff within an overall deadline.

    The wait before attempt *n* is a random fraction of ``min(cap, base * 2**n)``, or
    exactly what the upstream asked (``retry_after``) when it is longer. Moving to a
    different endpoint does not wait: another provider is not the one that failed.
    """

    def __init__(
        self,
        *,
        base: float = 0.25,
        cap: float = 8.0,
        deadline: float | None = 60.0,
        max_attempts: int | None = None,
    ) -> None:
        self.base = base
        self.cap = cap
        self.deadline = deadline
        self.max_attempts = max_attempts

    def delay(self, call: Call, error: OmniwireError, candidate: Candidate) -> float:
        previous = call.attempts[-1].endpoint if call.attempts else None
        if previous != candidate.endpoint.name:
            return 0.0
        n = len(call.attempts) - 1
        wait = random.uniform(0, min(self.cap, self.base * 2**n))
        asked = getattr(error, "retry_after", None)
        return max(wait, float(asked)) if asked else wait

    async def before_next(self, call: Call, error: OmniwireError, candidate: Candidate) -> bool:
        if self.max_attempts is not None and len(call.attempts) >= self.max_attempts:
            return False
        wait = self.delay(call, error, candidate)
        if self.deadline is not None:
            remaining = self.deadline - (time.perf_counter() - call.started)
            if wait >= remaining:
                return False
        if wait > 0:
            import anyio

            await anyio.sleep(wait)
        return True
