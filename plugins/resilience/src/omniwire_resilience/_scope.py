"""Names of the things the guards keep state for, and what a call has left to try."""

from __future__ import annotations

from typing import TYPE_CHECKING

from omniwire.errors import ConfigError

if TYPE_CHECKING:
    from omniwire.call import Call

__all__ = ["candidates_left", "endpoint_scope", "key_scope", "who"]


def endpoint_scope(endpoint: str) -> str:
    return f"provider:{endpoint}"


def key_scope(endpoint: str, alias: str | None) -> str:
    """A key of a provider; a provider without keys has one unnamed key."""
    return f"key:{endpoint}:{alias or ''}"


def who(endpoint: str, alias: str | None) -> str:
    """How messages name a key (by alias, never by value)."""
    return f"key {alias} of provider {endpoint!r}" if alias else f"provider {endpoint!r}"


def candidates_left(call: Call) -> int:
    """How many candidates the call has after the current attempt: every provider x key
    of the model's targets (strategies return all of them), minus those tried."""
    router = call.stack.router
    try:
        _route, targets = router.targets(call.request.model)
    except ConfigError:
        return 0
    total = sum(max(1, len(router.endpoints[t.endpoint].keys)) for t in targets)
    return total - len(call.attempts)
