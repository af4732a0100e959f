"""The default rules: which names carry credentials and which text shapes are keys.

Names are compared *normalized* (lower case, ``-`` and ``_`` removed), so one entry
``api_key`` covers ``api-key``, ``apiKey``, ``API_KEY`` and ``x-api-key`` needs its own
entry only because its prefix makes it a different word.
"""

from __future__ import annotations

import re

__all__ = [
    "DEFAULT_FIELDS",
    "DEFAULT_HEADERS",
    "DEFAULT_PATTERNS",
    "DEFAULT_QUERY_PARAMS",
    "normalize_name",
]


def normalize_name(name: str) -> str:
    """The form names are compared in: ``X-Api-Key``, ``x_api_key`` -> ``xapikey``."""
    return name.lower().replace("-", "").replace("_", "")


DEFAULT_HEADERS: frozenset[str] = frozenset(
    normalize_name(n)
    for n in (
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "x-goog-api-key",
        "cookie",
        "set-cookie",
        "x-auth-token",
        "x-amz-security-token",
        "x-goog-user-project-key",
        "ocp-apim-subscription-key",
        "x-functions-key",
    )
)
"""Request and response headers whose whole value is a credential."""

DEFAULT_FIELDS: frozenset[str] = DEFAULT_HEADERS | frozenset(
    normalize_name(n)
    for n in (
        "api_key",
        "apikey",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "auth_token",
        "session_token",
        "bearer_token",
        "secret",
        "client_secret",
        "secret_key",
        "secret_access_key",
        "aws_secret_access_key",
        "password",
        "passwd",
        "private_key",
        "credential",
        "credentials",
    )
)
"""JSON object keys (at any depth) whose value is replaced whole. Header names are
included, so a recorded ``{"headers": {"authorization": ...}}`` is covered too."""

DEFAULT_QUERY_PARAMS: frozenset[str] = frozenset(
    normalize_name(n)
    for n in (
        "key",
        "api_key",
        "apikey",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "auth",
        "sig",
        "signature",
        "client_secret",
        "password",
        "secret",
        "code",
        "X-Amz-Signature",
        "X-Amz-Credential",
        "X-Amz-Security-Token",
        "X-Goog-Signature",
        "X-Goog-Credential",
    )
)
"""URL query parameters (also ``name=value`` pairs in free text)."""

DEFAULT_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p)
    for p in (
        # provider key formats (OpenAI / Anthropic / project keys)
        r"\bsk-(?:ant-|proj-|svcacct-)?[A-Za-z0-9_\-]{16,}",
        # Google API keys
        r"\bAIza[0-9A-Za-z_\-]{30,}",
        # AWS access key ids
        r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
        # GitHub and Slack tokens
        r"\bgh[pousr]_[A-Za-z0-9]{30,}",
        r"\bxox[abprs]-[A-Za-z0-9\-]{10,}",
        # JSON web tokens
        r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",
        # "Bearer <token>" / "Basic <token>" anywhere in text: keep the scheme word
        r"(?i)\b(?:bearer|basic)\s+(?P<secret>[A-Za-z0-9._~+/=\-]{8,})",
    )
)
"""Free-text shapes of well-known credentials. A pattern with a group named ``secret``
has only that group replaced; otherwise the whole match is."""
