"""Matching paths against ``Codec.routes`` patterns, and the ``params`` the kit passes to
``Codec.decode_request``.

Routes are written as the official SDKs call them (``/v1/chat/completions``,
``/v1beta/models/{model}:generateContent``). A ``WireRequest.path`` is relative to the
SDK's base URL, so it may be a suffix of a route (OpenAI's base URL ends in ``/v1``):
:func:`match_wire_path` allows that, :func:`match_route` (the fake server) does not.

``params`` holds the ``{name}`` placeholders, plus:

* ``method``: the text after the last ``:`` of the route (``streamGenerateContent``);
* ``stream``: ``"true"`` when that method starts with ``stream``, else ``"false"``
  (only present when the route has a ``:method``);
* the query parameters (``alt=sse``), which never override the keys above.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any, Iterable, Mapping

__all__ = ["compile_route", "match_route", "match_wire_path", "route_params", "wire_params"]

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@cache
def compile_route(pattern: str) -> re.Pattern[str]:
    """``/v1beta/models/{model}:generateContent`` -> a regex with a ``model`` group."""
    out, pos = [], 0
    for m in _PLACEHOLDER.finditer(pattern):
        out.append(re.escape(pattern[pos : m.start()]))
        out.append(f"(?P<{m.group(1)}>[^/]+?)")
        pos = m.end()
    out.append(re.escape(pattern[pos:]))
    return re.compile("".join(out))


def route_params(
    pattern: str, groups: Mapping[str, str], query: Mapping[str, str] | None = None
) -> dict[str, str]:
    params = dict(query or {})
    params.update(groups)
    last = pattern.rsplit("/", 1)[-1]
    if ":" in last:
        method = last.rsplit(":", 1)[1]
        if "{" not in method:
            params["method"] = method
            params["stream"] = "true" if method.lower().startswith("stream") else "false"
    return params


def match_route(
    routes: Iterable[str], path: str, query: Mapping[str, str] | None = None
) -> tuple[str, dict[str, str]] | None:
    """The first route matching ``path`` exactly, with its params."""
    for pattern in routes:
        m = compile_route(pattern).fullmatch(path)
        if m:
            return pattern, route_params(pattern, m.groupdict(), query)
    return None


def match_wire_path(
    routes: Iterable[str], path: str, query: Mapping[str, str] | None = None
) -> tuple[str, str, dict[str, str]] | None:
    """Match a client-side path (relative to the SDK base URL) against routes, allowing
    the route to carry leading segments the base URL holds. Returns
    ``(route, prefix, params)``: ``prefix`` is what the base URL adds (``/v1``)."""
    routes = tuple(routes)
    exact = match_route(routes, path, query)
    if exact:
        return exact[0], "", exact[1]
    for pattern in routes:
        segments = pattern.split("/")
        for k in range(2, len(segments)):
            prefix, rest = "/".join(segments[:k]), "/" + "/".join(segments[k:])
            if "{" in prefix:
                break
            m = compile_route(rest).fullmatch(path)
            if m:
                return pattern, prefix, route_params(pattern, m.groupdict(), query)
    return None


def wire_params(codec: Any, wire: Any) -> dict[str, str] | None:
    """The params a server would pass to ``codec.decode_request`` for ``wire``."""
    found = match_wire_path(getattr(codec, "routes", ()), wire.path, wire.query)
    if found is None:
        return dict(wire.query) or None
    return found[2]
