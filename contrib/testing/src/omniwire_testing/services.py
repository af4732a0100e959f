"""Reachability checks for the real services tests talk to (no client libraries)."""

from __future__ import annotations

import os
import socket
from typing import NoReturn
from urllib.parse import unquote, urlsplit

__all__ = ["DEFAULT_REDIS_URL", "in_ci", "redis_ping", "require_redis", "unavailable"]

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"


def _command(*args: str) -> bytes:
    out = [f"*{len(args)}\r\n".encode()]
    for a in args:
        data = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def redis_ping(url: str, timeout: float = 0.5) -> str | None:
    """None when Redis at ``url`` answers AUTH (if any), SELECT and PING; else why not."""
    parts = urlsplit(url)
    if parts.scheme != "redis":
        return f"unsupported Redis URL scheme {parts.scheme!r} (only redis://)"
    host, port = parts.hostname or "127.0.0.1", parts.port or 6379
    commands = []
    if parts.password is not None:
        user = unquote(parts.username) if parts.username else None
        password = unquote(parts.password)
        commands.append(_command("AUTH", user, password) if user else _command("AUTH", password))
    db = parts.path.strip("/")
    if db:
        commands.append(_command("SELECT", db))
    commands.append(_command("PING"))
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(b"".join(commands))
            data = b""
            while data.count(b"\r\n") < len(commands):
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
    except OSError as exc:
        return f"Redis at {host}:{port} is unreachable: {exc}"
    replies = data.split(b"\r\n")[: len(commands)]
    for reply in replies:
        if reply.startswith(b"-"):
            return f"Redis at {host}:{port} refused: {reply[1:].decode(errors='replace')}"
    if not replies or replies[-1] != b"+PONG":
        return f"Redis at {host}:{port} did not answer PING"
    return None


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1")


def unavailable(why: str) -> NoReturn:
    """Skip the current test, or fail it under ``CI=true`` where nothing may be missing."""
    import pytest

    if in_ci():
        pytest.fail(f"required under CI=true: {why}")
    pytest.skip(why)


def require_redis(url: str | None = None) -> str:
    """``url`` (default ``$OMNIWIRE_REDIS_URL`` or redis://127.0.0.1:6379/15) once Redis
    answers there; otherwise :func:`unavailable`."""
    url = url or os.environ.get("OMNIWIRE_REDIS_URL") or DEFAULT_REDIS_URL
    problem = redis_ping(url)
    if problem:
        unavailable(problem)
    return url
