"""Retries between candidates from configuration: ``[retry]`` builds the kernel's
jittered exponential :class:`~omniwire.guard.Backoff`, made key-aware.

The kernel's Backoff waits before retrying on the same provider, at least what the
upstream asked (``retry_after``). A 429, 401 or 403 is about one *key*, though: the next
key of the same provider should be tried at once, not after the first key's cooldown
(the breaker rests the refused key meanwhile). :class:`KeyAwareBackoff` does that.

Guard factories run before a stack sets its retry policy, so a factory cannot hand one
over (kernel gap). The ``retry`` guard factory therefore installs the configured policy
on the stack at its first attempt, unless the stack was given a policy in code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from omniwire.errors import RateLimited, UpstreamError
from omniwire.guard import Backoff, Failover

from .settings import RetrySettings, parse_table

if TYPE_CHECKING:
    from omniwire.call import Call
    from omniwire.errors import OmniwireError
    from omniwire.routing import Candidate

__all__ = ["KeyAwareBackoff", "RetryInstaller", "retry_policy"]


def _about_the_key(error: OmniwireError) -> bool:
    if isinstance(error, RateLimited):
        return True
    return isinstance(error, UpstreamError) and error.status in (401, 403, 429)


class KeyAwareBackoff(Backoff):
    """Backoff that never makes a different key wait for another key's refusal."""

    def delay(self, call: Call, error: OmniwireError, candidate: Candidate) -> float:
        if call.attempts and _about_the_key(error):
            last = call.attempts[-1]
            alias = candidate.key.alias if candidate.key is not None else None
            if (last.endpoint, last.key_alias) != (candidate.endpoint.name, alias):
                return 0.0
        return super().delay(call, error, candidate)


def retry_policy(options: Mapping[str, Any]) -> KeyAwareBackoff | None:
    """The policy a stack's ``[retry]`` table asks for; None when there is no table.
    Use it to pass the policy explicitly: ``Stack(..., retry=retry_policy(options))``."""
    table = options.get("retry")
    if table is None:
        return None
    s = parse_table(RetrySettings, table, "retry")
    return KeyAwareBackoff(
        base=s.base, cap=s.cap, deadline=s.deadline, max_attempts=s.max_attempts or None
    )


class RetryInstaller:
    """A guard that only puts ``policy`` on the stack at its first attempt (when the
    stack still has the kernel's default), then admits everything."""

    def __init__(self, policy: KeyAwareBackoff) -> None:
        self.policy = policy

    async def admit(self, call: Call, candidate: Candidate) -> None:
        stack = call.stack
        if type(stack.retry) is Failover:
            stack.retry = self.policy

    async def complete(self, call: Call) -> None:
        return None

    async def abort(self, call: Call, error: OmniwireError | None) -> None:
        return None
