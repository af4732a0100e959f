"""Secrets that cannot be printed by accident.

A :class:`Secret` hides its value from ``repr``/``str``/``format`` and registers it, so
:func:`scrub` can remove it from any text (error messages, upstream error bodies, logs).
"""

from __future__ import annotations

import hmac
import threading

__all__ = ["Secret", "constant_time_equal", "known_secrets", "scrub"]

_known: set[str] = set()
_lock = threading.Lock()
_MIN_LEN = 6  # shorter strings would scrub ordinary words


class Secret:
    __slots__ = ("_value", "alias")

    def __init__(self, value: str, alias: str | None = None) -> None:
        if not isinstance(value, str):
            raise TypeError("a Secret holds a string")
        self._value = value
        self.alias = alias or masked(value)
        if len(value) >= _MIN_LEN:
            with _lock:
                _known.add(value)

    def reveal(self) -> str:
        """The value, for the one place that must send it (the auth stage)."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.alias!r})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            return constant_time_equal(self._value, other._value)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("Secret", self.alias))

    def __reduce__(self) -> str:
        raise TypeError("a Secret is not pickled")


def masked(value: str) -> str:
    """A recognisable but useless form: the last four characters for long keys."""
    return f"...{value[-4:]}" if len(value) >= 16 else "..."


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def known_secrets() -> frozenset[str]:
    """Every secret value registered so far (for sanitizers that redact recordings)."""
    with _lock:
        return frozenset(_known)


def scrub(text: str) -> str:
    """Replace every registered secret (and its long prefixes/suffixes, which providers
    echo back when they mask a key partially) with ``[REDACTED]``."""
    if not text or not _known:
        return text
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for value in known:
        if value in text:
            text = text.replace(value, "[REDACTED]")
        elif len(value) >= 20:
            # "sk-abc...wxyz" style masking: a long head or tail still identifies the key
            head, tail = value[: len(value) // 2], value[-(len(value) // 2) :]
            if head in text:
                text = text.replace(head, "[REDACTED]")
            if tail in text:
                text = text.replace(tail, "[REDACTED]")
    return text
