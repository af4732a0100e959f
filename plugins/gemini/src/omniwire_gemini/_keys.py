"""Reading and restoring Gemini JSON objects.

The Gemini API parses requests as protobuf JSON, which accepts every field both in
lowerCamelCase (``functionCall``) and as the proto name (``function_call``); real clients
send both. Decoders read either spelling with :func:`field`; encoders write camelCase and
then :func:`restore` puts back what a same-protocol ``raw`` object had: its spelling,
explicit default values (``"description": null``, ``"thought": false``), the absence of
defaults (no ``"index": 0`` when the original had none) and, where asked, the keys the
canonical model does not describe.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from omniwire.errors import ProtocolError
from omniwire.model import Raw
from omniwire.wire import opt, type_name

__all__ = [
    "CONTENT_PROTOCOL",
    "MARK",
    "camel",
    "field",
    "items",
    "raw_data",
    "restore",
    "snake",
]

CONTENT_PROTOCOL = "gemini.generate_content"
"""The ``Raw.protocol`` of contents, parts and tools. Every Gemini codec (generate, count
tokens) speaks the same content grammar, so they share it."""

MARK = "omniwire."
"""Prefix of the bookkeeping keys this plugin adds to ``Raw.data``; never sent."""

_UPPER = re.compile(r"([A-Z])")


def snake(name: str) -> str:
    return _UPPER.sub(lambda m: "_" + m.group(1).lower(), name)


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


def field(
    obj: Mapping[str, Any],
    name: str,
    kind: type | tuple[type, ...],
    path: str,
    *,
    required: bool = False,
) -> Any:
    """``obj[name]`` under either spelling; absent or null gives None (or raises when
    ``required``). Errors name the key as the payload spelled it."""
    key = name
    if name not in obj:
        alt = snake(name)
        if alt != name and alt in obj:
            key = alt
        elif required:
            raise ProtocolError("required field is missing", path=f"{path}.{name}")
        else:
            return None
    elif snake(name) != name and snake(name) in obj:
        raise ProtocolError(f"field given twice, as {name} and {snake(name)}", path=path)
    value = opt(obj, key, kind, path)
    if value is None and required:
        raise ProtocolError("required field is null", path=f"{path}.{key}")
    return value


def key_of(obj: Mapping[str, Any], name: str) -> str | None:
    """The spelling ``obj`` uses for ``name``, if it has the field at all."""
    if name in obj:
        return name
    alt = snake(name)
    return alt if alt in obj else None


def items(obj: Mapping[str, Any], name: str, path: str) -> list[tuple[str, Any]]:
    """``(path, element)`` pairs of an optional array field."""
    value = field(obj, name, list, path)
    if value is None:
        return []
    key = key_of(obj, name)
    return [(f"{path}.{key}[{i}]", v) for i, v in enumerate(value)]


def obj_at(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ProtocolError(f"expected object, got {type_name(value)}", path=path)
    return value


def raw_data(raw: Raw | None, protocol: str) -> Mapping[str, Any] | None:
    """The raw object when it came from ``protocol``, else None (foreign raw is ignored)."""
    if raw is None or raw.protocol != protocol or not isinstance(raw.data, Mapping):
        return None
    return raw.data


def _is_default(value: Any) -> bool:
    return value is None or value is False or value == 0 or value in ("", [], {})


def restore(
    out: dict[str, Any],
    raw: Mapping[str, Any] | None,
    modeled: frozenset[str] | set[str],
    *,
    unmodeled: bool = True,
) -> dict[str, Any]:
    """Make ``out`` (camelCase, built from the canonical value) match ``raw`` where the
    canonical model cannot tell: explicit defaults, absent defaults, spelling, and (when
    ``unmodeled``) the fields the model does not describe. Modifies and returns ``out``."""
    if raw is None:
        return out
    raw_camel = {}
    for k, v in raw.items():
        if k.startswith(MARK):
            continue
        ck = camel(k)
        raw_camel[ck] = k
        if ck in modeled:
            if ck not in out and _is_default(v):
                out[ck] = v
        elif unmodeled and ck not in out:
            out[ck] = v
    for k in list(out):
        if k in modeled and k not in raw_camel and _is_default(out[k]):
            del out[k]
    _respell(out, raw)
    return out


def _respell(out: dict[str, Any], raw: Mapping[str, Any]) -> None:
    """Rename ``out``'s keys to the spelling ``raw`` used, recursing into objects both
    have. Values ``out`` copied verbatim from ``raw`` already match and stay untouched."""
    for k in list(out):
        if k in raw:
            rk = k
        else:
            rk = snake(k)
            if rk == k or rk not in raw:
                continue
            out[rk] = out.pop(k)
        sub, rsub = out[rk], raw[rk]
        if isinstance(sub, dict) and isinstance(rsub, Mapping) and sub is not rsub:
            _respell(sub, rsub)
