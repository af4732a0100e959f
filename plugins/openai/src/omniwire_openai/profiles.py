"""Endpoint profiles for OpenAI-shaped services.

* ``azure``: Azure OpenAI. With ``options.api_version`` the classic deployment URLs
  (``{base}/openai/deployments/{deployment}/chat/completions?api-version=...``; the
  deployment is ``options.deployments[model]`` or the model name itself); without it the
  v1 API (``{base}/openai/v1/chat/completions``). Keys go in the ``api-key`` header unless
  the endpoint says otherwise (an Entra ID token works with ``auth = "bearer"``).

Wrappers that serve one fixed URL (Ollama, vLLM, LM Studio, llama.cpp, OpenRouter,
Groq) need no profile of their own: the kernel's ``compat`` profile treats ``base_url``
as the full URL, and the ``openai.chat_compat`` codec always sends typed content arrays
for servers that reject bare strings.
"""

from __future__ import annotations

from typing import Any, Mapping
from urllib.parse import quote, urlencode

from omniwire.endpoint import Endpoint, EndpointProfile
from omniwire.errors import ConfigError
from omniwire.wire import WireRequest

__all__ = ["AzureProfile"]

#: paths Azure serves per resource, not per deployment
_RESOURCE_PATHS = ("/responses",)


class AzureProfile(EndpointProfile):
    name = "azure"
    default_auth = "api-key"

    def url(self, endpoint: Endpoint, wire: WireRequest) -> str:
        options: Mapping[str, Any] = endpoint.options
        version = options.get("api_version")
        if version is None:
            return self.with_query(f"{endpoint.base_url}/openai/v1{wire.path}", wire.query)
        if not isinstance(version, str):
            raise ConfigError(f"provider {endpoint.name!r}: options.api_version must be a string")
        query = {**wire.query, "api-version": version}
        if wire.path in _RESOURCE_PATHS:
            return f"{endpoint.base_url}/openai{wire.path}?{urlencode(query)}"
        model = wire.body.get("model") if isinstance(wire.body, Mapping) else None
        if model is None:
            model = _multipart_model(wire)
        deployments = options.get("deployments") or {}
        deployment = deployments.get(model, model) if isinstance(deployments, Mapping) else model
        if not deployment:
            raise ConfigError(f"provider {endpoint.name!r}: no Azure deployment for this request")
        return (
            f"{endpoint.base_url}/openai/deployments/{quote(str(deployment), safe='')}"
            f"{wire.path}?{urlencode(query)}"
        )


def _multipart_model(wire: WireRequest) -> str | None:
    fields = getattr(wire.body, "fields", None)
    return fields.get("model") if isinstance(fields, Mapping) else None
