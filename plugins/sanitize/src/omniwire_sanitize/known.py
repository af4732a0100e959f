"""Every spelling a known secret can take on the wire, so it can be found anywhere.

A key can reach a recording raw, URL-encoded (a query string), JSON-escaped, or inside
a base64 payload (a data URL, an encoded credentials document). Raw, URL and JSON forms
are plain substitutions. Base64 depends on where the key sits in the encoded bytes; for
each of the three byte alignments the characters that encode *only* key bits are the
same whatever surrounds it, so searching for those "stable middles" finds the key in any
base64 text without decoding it.
"""

from __future__ import annotations

import base64
import json
import threading
from typing import Iterable
from urllib.parse import quote, quote_plus

__all__ = ["all_spellings", "base64_middles", "registered_values", "spellings"]

_MIN_MIDDLE = 8  # shorter base64 fragments would match unrelated text


def base64_middles(value: str) -> list[str]:
    """The base64 fragments (standard and URL-safe alphabets) that appear in the encoding
    of any byte string containing ``value``, one per alignment."""
    raw = value.encode()
    out: list[str] = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode()
        start = (offset * 4 + 2) // 3  # characters touched by the padding bytes
        end = (offset + len(raw)) * 8 // 6  # characters made of value bits only
        middle = encoded[start:end]
        if len(middle) >= _MIN_MIDDLE:
            out.append(middle)
            safe = middle.translate(str.maketrans("+/", "-_"))
            if safe != middle:
                out.append(safe)
    return out


def spellings(value: str) -> list[str]:
    """The forms of ``value`` to search for: raw, URL-encoded (both flavours),
    JSON-escaped, and the base64 middles (also URL-encoded)."""
    forms = {
        value,
        quote(value, safe=""),
        quote(value),
        quote_plus(value),
        json.dumps(value)[1:-1],
    }
    for middle in base64_middles(value):
        forms.add(middle)
        forms.add(quote(middle, safe=""))
    return sorted(forms, key=len, reverse=True)


_cache_lock = threading.Lock()
_cache: tuple[int, tuple[str, ...]] = (-1, ())


def registered_values() -> tuple[str, ...]:
    """The values every :class:`omniwire.Secret` created so far registered (the set
    only grows, so the sorted tuple is cached by its size)."""
    global _cache
    from omniwire.secrets import known_secrets

    known = known_secrets()
    if len(known) == _cache[0]:
        return _cache[1]
    values = tuple(known)
    with _cache_lock:
        _cache = (len(known), values)
    return values


def all_spellings(values: Iterable[str]) -> tuple[str, ...]:
    """Every spelling of every value, longest first (so a longer form is replaced before
    a shorter one inside it)."""
    forms: set[str] = set()
    for value in values:
        if value:
            forms.update(spellings(value))
    return tuple(sorted(forms, key=len, reverse=True))
