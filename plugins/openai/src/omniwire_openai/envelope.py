"""Reasoning from another provider, carried through the Responses API and back.

When a gateway answers a Responses client from, say, an Anthropic upstream, the thinking
blocks carry Anthropic signatures the next turn must send back unchanged. A Responses
reasoning item has one opaque slot clients always echo: ``encrypted_content``. We seal
the foreign reasoning's origin protocol, its provider block, signature, redaction flag
and opaque payload into it (``omniwire:1:`` + base64url JSON), and unseal it when the
client sends the item back, so the signature reaches its own provider intact. OpenAI
itself never sees a sealed item: encoding a request for an OpenAI upstream drops foreign
reasoning with a loss reason, as before.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from omniwire.model import Raw, ReasoningPart

__all__ = ["PREFIX", "foreign", "seal", "unseal"]

PREFIX = "omniwire:1:"


def foreign(part: ReasoningPart) -> bool:
    """Reasoning whose signature or opaque payload belongs to another protocol."""
    origin = part.raw.protocol if part.raw is not None else None
    if origin is not None and origin.startswith("openai."):
        return False
    if origin is None:  # built in code: a signature is some provider's, not OpenAI's
        return part.signature is not None or part.redacted
    return part.signature is not None or part.redacted or part.encrypted is not None


def seal(part: ReasoningPart, signature: str | None = None) -> str:
    data: dict[str, Any] = {"p": part.raw.protocol if part.raw is not None else None}
    if part.raw is not None:
        data["b"] = dict(part.raw.data)
    sig = signature if signature is not None else part.signature
    if sig is not None:
        data["s"] = sig
    if part.encrypted is not None:
        data["e"] = part.encrypted
    if part.redacted:
        data["r"] = True
    if part.id is not None:
        data["i"] = part.id
    payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return PREFIX + base64.urlsafe_b64encode(payload).decode().rstrip("=")


def unseal(value: str | None, text: str, summary: tuple[str, ...]) -> ReasoningPart | None:
    """The reasoning part a sealed ``encrypted_content`` came from, or None."""
    if not value or not value.startswith(PREFIX):
        return None
    body = value[len(PREFIX) :]
    try:
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    origin = data.get("p")
    block = data.get("b")
    raw = Raw(origin, block if isinstance(block, dict) else {}) if isinstance(origin, str) else None
    return ReasoningPart(
        text,
        summary=summary,
        signature=data.get("s") if isinstance(data.get("s"), str) else None,
        encrypted=data.get("e") if isinstance(data.get("e"), str) else None,
        redacted=data.get("r") is True,
        id=data.get("i") if isinstance(data.get("i"), str) else None,
        raw=raw,
    )
