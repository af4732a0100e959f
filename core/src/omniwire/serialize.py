"""The canonical model as JSON, through one cattrs converter.

Parts and stream events are tagged unions: a part carries its ``type`` (``text``,
``tool_call``...), an event its class name under ``event``. ``raw`` provider objects
are left out (they belong to the wire, not to the canonical record); bytes become base64.
cattrs is imported here only, so ``import omniwire`` does not pay for it.
"""

from __future__ import annotations

import base64
import collections.abc
from functools import cache
from typing import Any, Mapping, TypeVar, Union, get_args, get_origin

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from . import model
from .errors import ProtocolError

__all__ = ["converter", "from_json", "to_json"]

T = TypeVar("T")

_PARTS = {cls.__attrs_attrs__.type.default: cls for cls in get_args(model.Part)}  # type: ignore[attr-defined]
_EVENTS = {cls.__name__: cls for cls in get_args(model.StreamEvent)}


@cache
def converter() -> cattrs.Converter:
    c = cattrs.Converter()
    c.register_unstructure_hook(bytes, lambda b: base64.b64encode(b).decode())
    c.register_structure_hook(bytes, lambda v, _: base64.b64decode(v))
    c.register_structure_hook(Any, lambda v, _: v)
    c.register_unstructure_hook(model.Role, lambda v: v.value)
    c.register_unstructure_hook(model.StopReason, lambda v: v.value)

    def is_mapping(t: Any) -> bool:
        return get_origin(t) in (Mapping, collections.abc.Mapping)

    c.register_structure_hook_func(is_mapping, lambda v, _: dict(v))
    c.register_unstructure_hook_func(is_mapping, lambda v: dict(v))

    def has_raw(cls: type) -> bool:
        return any(a.name == "raw" for a in attrs.fields(cls))

    def unstructure_factory(cls: type) -> Any:
        extra: dict[str, Any] = {"raw": override(omit=True)} if has_raw(cls) else {}
        return make_dict_unstructure_fn(cls, c, _cattrs_omit_if_default=True, **extra)

    def structure_factory(cls: type) -> Any:
        extra: dict[str, Any] = {"raw": override(omit=True)} if has_raw(cls) else {}
        return make_dict_structure_fn(cls, c, **extra)

    c.register_unstructure_hook_factory(attrs.has, unstructure_factory)
    c.register_structure_hook_factory(attrs.has, structure_factory)

    part_fns = {cls: unstructure_factory(cls) for cls in _PARTS.values()}

    def unstructure_part(part: Any) -> dict[str, Any]:
        out: dict[str, Any] = part_fns[type(part)](part)
        out["type"] = part.type
        return out

    def structure_part(value: Any, _: Any) -> Any:
        if not isinstance(value, Mapping) or value.get("type") not in _PARTS:
            raise ProtocolError(f"not a canonical part: {str(value)[:80]}")
        data = {k: v for k, v in value.items() if k != "type"}
        return c.structure(data, _PARTS[value["type"]])

    def is_embedding_input(t: Any) -> bool:
        return t == (str | tuple[int, ...]) or (
            get_origin(t) is Union and set(get_args(t)) == {str, tuple[int, ...]}
        )

    def structure_embedding_input(value: Any, _: Any) -> Any:
        if isinstance(value, str):
            return value
        if isinstance(value, list) and all(isinstance(v, int) for v in value):
            return tuple(value)
        raise ProtocolError("an embedding input is a string or an array of token ids")

    c.register_structure_hook_func(is_embedding_input, structure_embedding_input)

    part_set = set(_PARTS.values())

    def is_part_union(t: Any) -> bool:
        return get_origin(t) is Union and set(get_args(t)) - {type(None)} == part_set

    def structure_part_or_none(value: Any, t: Any) -> Any:
        return None if value is None else structure_part(value, t)

    c.register_unstructure_hook_func(is_part_union, unstructure_part)
    c.register_structure_hook_func(is_part_union, structure_part_or_none)
    for cls in _PARTS.values():
        c.register_unstructure_hook(cls, unstructure_part)

    event_fns = {
        cls: make_dict_unstructure_fn(cls, c, _cattrs_omit_if_default=True)
        for cls in _EVENTS.values()
    }

    def unstructure_event(event: Any) -> dict[str, Any]:
        out = {"event": type(event).__name__}
        out.update(event_fns[type(event)](event))
        return out

    def structure_event(value: Any, _: Any) -> Any:
        cls = _EVENTS.get(value.get("event")) if isinstance(value, Mapping) else None
        if cls is None:
            raise ProtocolError(f"not a canonical stream event: {str(value)[:80]}")
        return c.structure({k: v for k, v in value.items() if k != "event"}, cls)

    event_set = set(_EVENTS.values())

    def is_event_union(t: Any) -> bool:
        return get_origin(t) is Union and set(get_args(t)) == event_set

    c.register_unstructure_hook_func(is_event_union, unstructure_event)
    c.register_structure_hook_func(is_event_union, structure_event)
    for cls in _EVENTS.values():
        c.register_unstructure_hook(cls, unstructure_event)
    return c


def to_json(value: Any) -> Any:
    """A canonical value as JSON-ready data."""
    return converter().unstructure(value)


def from_json(data: Any, cls: type[T]) -> T:
    """JSON-ready data back to the canonical type ``cls``; errors name what is wrong."""
    try:
        return converter().structure(data, cls)
    except ProtocolError:
        raise
    except Exception as exc:
        detail = (
            "; ".join(cattrs.transform_error(exc))
            if isinstance(exc, cattrs.BaseValidationError)
            else str(exc)
        )
        raise ProtocolError(f"not a canonical {cls.__name__}: {detail}") from None
