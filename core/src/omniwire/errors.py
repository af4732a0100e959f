"""One error hierarchy for every stage, every plugin and the gateway.

::

    OmniwireError
    ├── ConfigError            bad configuration, unknown codec id
    │   └── UnknownModel       no route serves the model asked for (404)
    ├── PluginError            a plugin failed to load or registered a clashing name
    ├── ProtocolError          malformed or unconvertible payload (``path`` names the field)
    ├── NoAvailableKey         every candidate key is dead, cooling down or excluded
    ├── BudgetExceeded         the reservation did not fit the budget; nothing was sent
    ├── RateLimited            a local or upstream rate limit (``retry_after`` seconds)
    ├── CircuitOpen            the breaker for an endpoint or key is open
    ├── Timeout                connect/read/overall deadline passed
    └── UpstreamError          the provider answered with an error (``status``, ``retryable``)

Every message passes through :func:`omniwire.secrets.scrub`, so a key that leaks into an
upstream's error text (some providers quote it back) never reaches a log or a user.
"""

from __future__ import annotations

from typing import Any

from .secrets import scrub

__all__ = [
    "BudgetExceeded",
    "CircuitOpen",
    "ConfigError",
    "NoAvailableKey",
    "OmniwireError",
    "PluginError",
    "ProtocolError",
    "RateLimited",
    "Timeout",
    "UnknownModel",
    "UpstreamError",
]


class OmniwireError(Exception):
    """Base of every error omniwire raises on purpose.

    ``kind`` is a stable short name (used in gateway error bodies and ``error.type``);
    ``status`` the HTTP status that best describes it; ``retryable`` whether trying again
    (possibly elsewhere) may succeed.
    """

    kind = "omniwire_error"
    default_status = 500
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        endpoint: str | None = None,
        status: int | None = None,
        cause: str | None = None,
        retryable: bool | None = None,
    ) -> None:
        self.message = scrub(message)
        self.provider = provider
        self.endpoint = endpoint
        self.status = status if status is not None else self.default_status
        self.cause = scrub(cause) if cause else None
        if retryable is not None:
            self.retryable = retryable
        super().__init__(self.message)

    def __str__(self) -> str:
        where = "/".join(x for x in (self.provider, self.endpoint) if x)
        return f"{self.message} [{where}]" if where else self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status})"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe description (no traceback, no secrets)."""
        out: dict[str, Any] = {"type": self.kind, "message": self.message, "status": self.status}
        for name in ("provider", "endpoint", "cause"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


class ConfigError(OmniwireError):
    kind = "config_error"
    default_status = 400


class UnknownModel(ConfigError):
    """No route, provider prefix or single endpoint serves the model asked for."""

    kind = "model_not_found"
    default_status = 404


class PluginError(OmniwireError):
    kind = "plugin_error"


class ProtocolError(OmniwireError):
    """A payload that is malformed or cannot be converted. ``path`` is a JSON path into the
    offending payload (``$.messages[2].content[0].type``)."""

    kind = "invalid_request"
    default_status = 400

    def __init__(self, message: str, *, path: str | None = None, **kwargs: Any) -> None:
        self.path = path
        if path and not message.startswith(path):
            message = f"{path}: {message}"
        super().__init__(message, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if self.path:
            out["path"] = self.path
        return out


class NoAvailableKey(OmniwireError):
    kind = "no_available_key"
    default_status = 503
    retryable = True


class BudgetExceeded(OmniwireError):
    kind = "budget_exceeded"
    default_status = 429

    def __init__(self, message: str, *, budget: str | None = None, **kwargs: Any) -> None:
        self.budget = budget
        super().__init__(message, **kwargs)


class RateLimited(OmniwireError):
    kind = "rate_limited"
    default_status = 429
    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class CircuitOpen(OmniwireError):
    kind = "circuit_open"
    default_status = 503
    retryable = True


class Timeout(OmniwireError):
    kind = "timeout"
    default_status = 504
    retryable = True


class UpstreamError(OmniwireError):
    """The provider answered with an error. ``upstream_kind`` is the provider's own error
    type (``overloaded_error``, ``RESOURCE_EXHAUSTED``...), ``retry_after`` what it asked."""

    kind = "upstream_error"
    default_status = 502

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        upstream_kind: str | None = None,
        retry_after: float | None = None,
        retryable: bool | None = None,
        **kwargs: Any,
    ) -> None:
        self.upstream_kind = upstream_kind
        self.retry_after = retry_after
        if retryable is None:
            retryable = status is None or status in (408, 409, 425, 429) or status >= 500
        super().__init__(message, status=status, retryable=retryable, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if self.upstream_kind:
            out["upstream_type"] = self.upstream_kind
        return out
