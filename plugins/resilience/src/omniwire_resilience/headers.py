"""What an upstream's error response asks for, and which attempts reached the wire.

Guards are told how an attempt ended, but not what the response's headers said nor
whether the request was sent at all (kernel gaps, see docs/routing.md). This plugin
therefore wraps the transport stage: when a request is handed to the transport the
attempt is marked as sent, and an error response's headers are kept on the call, so
the breaker can honour ``retry-after`` even when a codec did not parse it, and the rate
limiter can refund what an attempt that never left reserved.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Awaitable, Callable, Mapping

if TYPE_CHECKING:
    from omniwire.call import Call
    from omniwire.stack import Stack
    from omniwire.wire import WireResponse

__all__ = ["ERROR_HEADERS", "KILL_SWITCH", "SENT", "parse_duration", "retry_after_from_headers"]

SENT = "omniwire_resilience.sent"
"""``call.attributes`` key: the number of the last attempt handed to the transport."""
ERROR_HEADERS = "omniwire_resilience.error_headers"
"""``call.attributes`` key: ``(attempt number, headers)`` of the last error response."""
KILL_SWITCH = "omniwire_resilience.kill_switch"
"""``call.attributes`` key: the kill switch that admitted the current attempt (checked
again right before the request is handed to the transport)."""

_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|h|m|s)")
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(text: str) -> float | None:
    """Seconds from ``"1.5"``, ``"20ms"``, ``"6m0s"``, ``"1h2m3.5s"`` (the forms the
    ``x-ratelimit-reset-*`` headers use); None when unreadable."""
    text = text.strip().lower()
    if not text:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    total, at = 0.0, 0
    for match in _PART.finditer(text):
        if match.start() != at:
            return None
        total += float(match.group(1)) * _UNIT[match.group(2)]
        at = match.end()
    return total if at == len(text) else None


def retry_after_from_headers(
    headers: Mapping[str, str], now: Callable[[], float] = time.time
) -> float | None:
    """Seconds an upstream asked to wait: ``retry-after-ms``, else ``retry-after``
    (seconds or an HTTP date), else the ``x-ratelimit-reset-requests``/``-tokens`` of the
    limit that is exhausted (``x-ratelimit-remaining-*: 0``; the longer when both are, or
    when none says which). None when the response names no wait."""
    lower = {k.lower(): v for k, v in headers.items()}
    ms = lower.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    after = lower.get("retry-after")
    if after is not None:
        try:
            return max(0.0, float(after))
        except ValueError:
            from email.utils import parsedate_to_datetime

            try:
                return max(0.0, parsedate_to_datetime(after).timestamp() - now())
            except (TypeError, ValueError, IndexError):
                pass
    resets: list[tuple[bool, float]] = []
    for kind in ("requests", "tokens"):
        reset = lower.get(f"x-ratelimit-reset-{kind}")
        seconds = parse_duration(reset) if reset is not None else None
        if seconds is not None:
            remaining = lower.get(f"x-ratelimit-remaining-{kind}", "").strip()
            resets.append((remaining == "0", seconds))
    exhausted = [s for empty, s in resets if empty]
    if exhausted:
        return max(exhausted)
    return max((s for _, s in resets), default=None)


def watch_transport(call: Call, pending: Awaitable[WireResponse]) -> Awaitable[WireResponse]:
    """Mark the current attempt as sent and keep its headers if it is refused."""
    call.attributes[SENT] = len(call.attempts)
    return _watch(call, pending)


async def _watch(call: Call, pending: Awaitable[WireResponse]) -> WireResponse:
    response = await pending
    if not response.ok:
        call.attributes[ERROR_HEADERS] = (len(call.attempts), response.headers)
    return response


def error_headers(call: Call) -> Mapping[str, str] | None:
    """The headers of the current attempt's error response, if it got one."""
    found = call.attributes.get(ERROR_HEADERS)
    if found is not None and found[0] == len(call.attempts):
        headers: Mapping[str, str] = found[1]
        return headers
    return None


def watches_sends(stack: Stack) -> bool:
    """Whether this plugin's transport wrapper runs for ``stack`` (it does whenever the
    plugin is registered on the stack's plugin manager)."""
    return any(
        getattr(impl.function, "omniwire_resilience_watch", False)
        for impl in stack.pm.hook.omniwire_transport.get_hookimpls()
    )


def was_sent(call: Call, watched: bool) -> bool:
    """Whether the current attempt reached the transport; True when not ``watched``
    (assume the worst: the upstream counted it)."""
    return not watched or call.attributes.get(SENT) == len(call.attempts)
