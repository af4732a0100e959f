"""Where and how to reach a provider: endpoints, their keys, and endpoint profiles.

An :class:`Endpoint` is one configured upstream (a base URL speaking one protocol, with a
pool of keys). An :class:`EndpointProfile` turns the codec's relative path into the full
URL: the ``default`` profile joins ``base_url`` and the path the way the provider's SDK
does; ``compat`` treats ``base_url`` as the complete URL (wrappers that serve one fixed
path). Plugins register more (Azure deployments, Vertex AI, Bedrock regions).
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping
from urllib.parse import urlencode

import attrs

from .errors import ConfigError
from .secrets import Secret
from .wire import WireRequest

__all__ = ["CompatProfile", "DefaultProfile", "Endpoint", "EndpointProfile", "Key"]


def _secret(value: str | Secret) -> Secret:
    return value if isinstance(value, Secret) else Secret(value)


@attrs.frozen
class Key:
    """One credential of an endpoint's pool. ``alias`` is what logs and traces show."""

    secret: Secret = attrs.field(converter=_secret)
    alias: str = ""
    weight: int = 1

    def __attrs_post_init__(self) -> None:
        if not self.alias:
            object.__setattr__(self, "alias", self.secret.alias)


def _keys(value: Any) -> tuple[Key, ...]:
    out = []
    for i, k in enumerate(value or ()):
        if isinstance(k, Key):
            out.append(k)
        else:
            out.append(Key(_secret(k), alias=f"#{i}"))  # Endpoint prefixes its name
    return tuple(out)


def _base_url(value: str) -> str:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise ConfigError(f"base_url must be an http(s) URL, got {value!r}")
    return value.rstrip("/")


@attrs.frozen
class Endpoint:
    """An upstream: ``name`` (what ``provider:model`` routing and logs use), the codec
    id it speaks, its base URL as the provider's own SDK means it, and its key pool.

    ``auth`` names the auth scheme (default: the codec's ``default_auth``); ``profile``
    names the endpoint profile; ``options`` carries profile settings (api-version...).
    """

    name: str
    protocol: str
    base_url: str = attrs.field(converter=_base_url)
    keys: tuple[Key, ...] = attrs.field(default=(), converter=_keys)
    auth: str | None = None
    profile: str = "default"
    headers: Mapping[str, str] = attrs.field(factory=dict)
    timeout: float = 600.0
    connect_timeout: float = 10.0
    options: Mapping[str, Any] = attrs.field(factory=dict)
    models: tuple[str, ...] = ()
    """Models this endpoint serves (informative; used by ``/v1/models`` and routing)."""

    def __attrs_post_init__(self) -> None:
        if any(k.alias.startswith("#") for k in self.keys):
            named = tuple(
                attrs.evolve(k, alias=self.name + k.alias) if k.alias.startswith("#") else k
                for k in self.keys
            )
            object.__setattr__(self, "keys", named)

    @property
    def host(self) -> str:
        return self.base_url.split("://", 1)[1].split("/", 1)[0]


class EndpointProfile:
    """Base for profiles: ``url(endpoint, wire)`` returns the full request URL."""

    name: ClassVar[str] = ""

    def url(self, endpoint: Endpoint, wire: WireRequest) -> str:
        raise NotImplementedError

    @staticmethod
    def with_query(url: str, query: Mapping[str, str]) -> str:
        if not query:
            return url
        return f"{url}{'&' if '?' in url else '?'}{urlencode(query)}"


class DefaultProfile(EndpointProfile):
    name = "default"

    def url(self, endpoint: Endpoint, wire: WireRequest) -> str:
        return self.with_query(endpoint.base_url + wire.path, wire.query)


class CompatProfile(EndpointProfile):
    """``base_url`` is the full URL of the one path a wrapper serves."""

    name = "compat"

    def url(self, endpoint: Endpoint, wire: WireRequest) -> str:
        return self.with_query(endpoint.base_url, wire.query)
