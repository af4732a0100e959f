"""Vertex AI: the same Gemini bodies, under a project/location resource path.

The codecs always build ``/v1beta/models/{model}:{method}`` (the Gemini API). Vertex
differs only in where that lives, so it is an endpoint profile, not another codec:

.. code-block:: python

    Endpoint(
        "vertex", "gemini.generate_content", "https://us-central1-aiplatform.googleapis.com",
        profile="gemini.vertex",
        options={"project": "my-project", "location": "us-central1"},
    )

sends ``POST https://us-central1-aiplatform.googleapis.com/v1/projects/my-project/
locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent``.
Options: ``project`` and ``location`` (required), ``publisher`` (``google``),
``api_version`` (``v1``; ``v1beta1`` for preview features).

Vertex authenticates with OAuth bearer tokens from Google credentials; obtaining and
refreshing them is an auth scheme's job and is out of this plugin's scope. Configure the
endpoint with ``auth="bearer"`` and a key holding a current access token meanwhile.
"""

from __future__ import annotations

import re
from typing import ClassVar
from urllib.parse import quote

from omniwire.endpoint import Endpoint, EndpointProfile
from omniwire.errors import ConfigError
from omniwire.wire import WireRequest

__all__ = ["VertexProfile", "vertex_path"]


def vertex_path(
    project: str,
    location: str,
    model: str,
    method: str,
    publisher: str = "google",
    api_version: str = "v1",
) -> str:
    """``/v1/projects/{p}/locations/{l}/publishers/{publisher}/models/{m}:{method}``."""
    for name, value in (("project", project), ("location", location), ("model", model)):
        if not value or "/" in value:
            raise ConfigError(f"Vertex AI {name} must be a plain non-empty name, got {value!r}")
    return (
        f"/{api_version}/projects/{quote(project)}/locations/{quote(location)}"
        f"/publishers/{quote(publisher)}/models/{quote(model, safe='-_.@')}:{method}"
    )


_GEMINI_PATH = re.compile(r"^/v1(?:beta|alpha)?/models/(?P<model>[^:/]+):(?P<method>[A-Za-z]+)$")


class VertexProfile(EndpointProfile):
    """Rewrites a Gemini codec's path to the Vertex AI resource path."""

    name: ClassVar[str] = "gemini.vertex"

    def url(self, endpoint: Endpoint, wire: WireRequest) -> str:
        options = endpoint.options
        project, location = options.get("project"), options.get("location")
        if not isinstance(project, str) or not isinstance(location, str):
            raise ConfigError(
                f"endpoint {endpoint.name!r}: the gemini.vertex profile needs "
                "options 'project' and 'location'"
            )
        m = _GEMINI_PATH.match(wire.path)
        if m is None:
            raise ConfigError(
                f"endpoint {endpoint.name!r}: {wire.path!r} is not a Gemini model path"
            )
        path = vertex_path(
            project,
            location,
            m.group("model"),
            m.group("method"),
            publisher=str(options.get("publisher", "google")),
            api_version=str(options.get("api_version", "v1")),
        )
        return self.with_query(endpoint.base_url + path, wire.query)
