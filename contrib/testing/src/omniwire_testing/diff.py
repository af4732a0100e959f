"""A structural diff over canonical values (attrs classes, tuples, mappings), yielding
the canonical field paths where two values differ (``$.messages[1].content[0].cache``).

It exists so property failures name a field instead of dumping two large reprs, and so a
difference can be matched against the loss paths a codec reported. Fields declared with
``eq=False`` (``raw``, ``stop_raw``...) are ignored, exactly as ``==`` ignores them.
Sequences of different lengths are aligned first, so one dropped message is reported once
rather than as a change of every message after it.
"""

from __future__ import annotations

import difflib
import enum
import json
import re
from functools import cache
from typing import Any, Iterable, Mapping, Sequence

import attrs

__all__ = [
    "Difference",
    "covered",
    "describe",
    "diff",
    "is_addition",
    "is_prefix",
    "prune_lost",
    "short",
]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Missing:
    def __repr__(self) -> str:
        return "<absent>"


MISSING: Any = _Missing()


@attrs.frozen
class Difference:
    """``kind``: ``changed``; ``removed`` (only on the left); ``added`` (only on the
    right, ``path`` is where it was inserted, in left coordinates)."""

    path: str
    left: Any
    right: Any
    kind: str = "changed"

    def __str__(self) -> str:
        if self.kind == "removed":
            return f"{self.path}: {short(self.left)} is gone"
        if self.kind == "added":
            return f"{self.path}: {short(self.right)} appeared"
        return f"{self.path}: {short(self.left)} became {short(self.right)}"


def short(value: Any, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@cache
def _eq_fields(cls: Any) -> tuple[str, ...]:
    return tuple(f.name for f in attrs.fields(cls) if f.eq)


def _key_path(path: str, key: Any) -> str:
    if isinstance(key, str) and _IDENT.match(key):
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key, ensure_ascii=False, default=str)}]"


def _same_scalar(a: Any, b: Any) -> bool:
    if isinstance(a, bool) != isinstance(b, bool):
        return False  # JSON true is not 1
    try:
        return bool(a == b)
    except Exception:
        return False


def freeze(value: Any) -> Any:
    """A hashable stand-in with the same equality as ``==`` on canonical values."""
    cls = type(value)
    if attrs.has(cls):
        return (cls.__name__, *(freeze(getattr(value, n)) for n in _eq_fields(cls)))
    if isinstance(value, (list, tuple)):
        return ("[", *(freeze(v) for v in value))
    if isinstance(value, Mapping):
        items = sorted(((str(k), freeze(v)) for k, v in value.items()), key=repr)
        return ("{", *items)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return value


def diff(left: Any, right: Any, path: str = "$") -> list[Difference]:
    """Every place where ``left`` and ``right`` differ, outermost first."""
    out: list[Difference] = []
    _diff(left, right, path, out)
    return out


def _diff(a: Any, b: Any, path: str, out: list[Difference]) -> None:
    if a is b:
        return
    ta: Any = type(a)
    tb: Any = type(b)
    if attrs.has(ta) or attrs.has(tb):
        if ta is not tb:
            out.append(Difference(path, a, b))
            return
        for name in _eq_fields(ta):
            _diff(getattr(a, name), getattr(b, name), f"{path}.{name}", out)
        return
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        _diff_seq(a, b, path, out)
        return
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        for key in a:
            sub = _key_path(path, key)
            if key not in b:
                out.append(Difference(sub, a[key], MISSING, "removed"))
            else:
                _diff(a[key], b[key], sub, out)
        for key in b:
            if key not in a:
                out.append(Difference(_key_path(path, key), MISSING, b[key], "added"))
        return
    if not _same_scalar(a, b):
        out.append(Difference(path, a, b))


def _diff_seq(a: Sequence[Any], b: Sequence[Any], path: str, out: list[Difference]) -> None:
    if len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            _diff(x, y, f"{path}[{i}]", out)
        return
    try:
        ka, kb = [freeze(x) for x in a], [freeze(y) for y in b]
        opcodes = difflib.SequenceMatcher(None, ka, kb, autojunk=False).get_opcodes()
    except TypeError:  # something unhashable slipped in: align by position
        opcodes = [("replace", 0, len(a), 0, len(b))]
    for op, i1, i2, j1, j2 in opcodes:
        if op == "equal":
            continue
        paired = min(i2 - i1, j2 - j1) if op == "replace" else 0
        for k in range(paired):
            _diff(a[i1 + k], b[j1 + k], f"{path}[{i1 + k}]", out)
        for i in range(i1 + paired, i2):
            out.append(Difference(f"{path}[{i}]", a[i], MISSING, "removed"))
        for j in range(j1 + paired, j2):
            out.append(Difference(f"{path}[{i1 + paired}]", MISSING, b[j], "added"))


def is_prefix(prefix: str, path: str) -> bool:
    """Whether ``prefix`` names ``path`` or one of its ancestors (component-wise:
    ``$.top`` is not a prefix of ``$.top_k``)."""
    if prefix == path or prefix == "$":
        return True
    return path.startswith(prefix) and path[len(prefix)] in ".["


def covered(path: str, loss_paths: Iterable[str]) -> bool:
    """A difference at ``path`` is explained by a loss at an ancestor or a descendant."""
    return any(is_prefix(loss, path) or is_prefix(path, loss) for loss in loss_paths)


def describe(differences: Sequence[Difference], limit: int = 6) -> str:
    lines = [f"  {d}" for d in differences[:limit]]
    if len(differences) > limit:
        lines.append(f"  ... and {len(differences) - limit} more")
    return "\n".join(lines)


def is_addition(d: Difference) -> bool:
    """The right side has something where the left had nothing (a default a protocol
    requires, a name a decoder recovers): information added, not lost."""
    if d.kind == "added":
        return True
    left = d.left
    return (
        left is None
        or left is MISSING
        or (isinstance(left, (str, tuple, list, Mapping)) and not left)
    )


_TOKEN = re.compile(r'\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]')


def _parse(path: str) -> list[str | int] | None:
    if not path.startswith("$"):
        return None
    out: list[str | int] = []
    pos = 1
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if m is None:
            return None
        name, index, key = m.groups()
        out.append(
            name if name is not None else int(index) if index is not None else json.loads(key)
        )
        pos = m.end()
    return out


def _format(tokens: Sequence[str | int]) -> str:
    out = "$"
    for t in tokens:
        out = f"{out}[{t}]" if isinstance(t, int) else _key_path(out, t)
    return out


def _remove(value: Any, tokens: Sequence[str | int]) -> Any:
    head, rest = tokens[0], tokens[1:]
    if attrs.has(type(value)) and isinstance(head, str):
        return attrs.evolve(value, **{head: _remove(getattr(value, head), rest)})
    if isinstance(value, tuple) and isinstance(head, int):
        if not rest:
            return value[:head] + value[head + 1 :]
        return (*value[:head], _remove(value[head], rest), *value[head + 1 :])
    if isinstance(value, Mapping):
        return {**value, head: _remove(value[head], rest)}
    raise LookupError(head)


def _is_element(value: Any, tokens: Sequence[str | int]) -> bool:
    """Whether ``tokens`` names an element of a tuple inside ``value``."""
    if not tokens or not isinstance(tokens[-1], int):
        return False
    for t in tokens[:-1]:
        try:
            value = (
                value[t] if isinstance(t, int) or isinstance(value, Mapping) else getattr(value, t)
            )
        except (LookupError, AttributeError, TypeError):
            return False
    return isinstance(value, tuple) and 0 <= tokens[-1] < len(value)


def prune_lost(value: Any, loss_paths: Sequence[str]) -> tuple[Any, list[str]]:
    """``value`` without the tuple elements a codec reported as wholly lost (a loss path
    that names an element, ``$.messages[2].content[1]``), and the loss paths renumbered
    to the pruned value. Comparing the pruned input with the output keeps one dropped
    part from shifting every later part into a reported difference."""
    parsed = [_parse(p) for p in loss_paths]
    lost: list[tuple[str | int, ...]] = sorted(
        {tuple(t) for t in parsed if t is not None and _is_element(value, t)},
        key=lambda t: (len(t), int(t[-1])),
        reverse=True,
    )
    # drop nested elements whose container is dropped too
    lost = [t for t in lost if not any(len(o) < len(t) and t[: len(o)] == o for o in lost)]
    for gone in lost:  # deepest and last first: earlier removals never shift later ones
        value = _remove(value, gone)
    remapped = list(loss_paths)
    for tokens in parsed:
        if tokens is None or tuple(tokens) in lost:
            continue
        shifted = list(tokens)
        for gone in lost:
            n = len(gone) - 1
            if len(shifted) > n and shifted[:n] == list(gone[:n]):
                index = shifted[n]
                if isinstance(index, int) and index > int(gone[-1]):
                    shifted[n] = index - 1
        remapped.append(_format(shifted))
    return value, remapped
