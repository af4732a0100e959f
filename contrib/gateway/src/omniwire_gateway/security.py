"""Inbound authentication, the generated default key, and the SSRF guard."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import secrets
import socket
from pathlib import Path
from typing import Iterable, Mapping
from urllib.parse import urlsplit

from omniwire.endpoint import Endpoint
from omniwire.errors import ConfigError
from omniwire.secrets import Secret

__all__ = ["InboundKeys", "check_upstreams", "default_key", "key_alias"]


def key_alias(value: str) -> str:
    """A stable, non-reversible name for an inbound key (logs, the usage table)."""
    return "gw-" + hashlib.sha256(value.encode()).hexdigest()[:10]


class InboundKeys:
    """Accepts ``Authorization: Bearer``, ``x-api-key`` and ``x-goog-api-key``.

    Every configured key is compared, in constant time, whatever matched earlier, so
    the time taken says nothing about which key (or how much of one) was right.
    """

    def __init__(self, keys: Iterable[Secret]) -> None:
        self._keys = [(k.reveal().encode(), key_alias(k.reveal())) for k in keys]

    def presented(self, headers: Mapping[str, str]) -> str | None:
        auth = headers.get("authorization") or headers.get("Authorization")
        if auth:
            scheme, _, value = auth.partition(" ")
            if scheme.lower() == "bearer" and value.strip():
                return value.strip()
        for name in ("x-api-key", "x-goog-api-key", "api-key"):
            value = headers.get(name)
            if value:
                return value.strip()
        return None

    def check(self, headers: Mapping[str, str]) -> str | None:
        """The alias of the key presented, or None when it matches none."""
        value = self.presented(headers)
        if value is None:
            return None
        given = value.encode()
        found = None
        for key, alias in self._keys:
            if hmac.compare_digest(given, key):
                found = alias
        return found


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "omniwire"


def default_key() -> tuple[Secret, Path, bool]:
    """The persisted gateway key, generated on first use. Returns (key, path, created)."""
    path = Path(os.environ.get("OMNIWIRE_GATEWAY_KEY_PATH") or config_dir() / "gateway-key")
    if path.exists():
        value = path.read_text(encoding="utf-8").strip()
        if value:
            return Secret(value, alias="generated"), path, False
    value = "sk-omni-" + secrets.token_urlsafe(24)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(value + "\n")
    return Secret(value, alias="generated"), path, True


def _is_internal(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return (
        ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_reserved or ip.is_unspecified
    )


def check_upstreams(endpoints: Iterable[Endpoint], *, allow_local: bool) -> None:
    """Refuse upstreams on loopback, private or link-local addresses (where a gateway
    could be turned against its own network) unless ``allow_local_upstreams`` is set."""
    if allow_local:
        return
    for e in endpoints:
        if e.profile == "local":
            continue
        host = urlsplit(e.base_url).hostname or ""
        try:
            addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
        except OSError:
            continue  # unresolvable now; the transport will fail clearly later
        internal = sorted(a for a in addresses if _is_internal(a))
        if internal:
            raise ConfigError(
                f"provider {e.name!r} points at an internal address ({internal[0]}); "
                "set allow_local_upstreams = true in [server] to allow it"
            )
