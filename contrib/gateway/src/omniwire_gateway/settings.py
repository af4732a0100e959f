"""Gateway settings: the ``[server]`` table of the config file, overridden by
environment variables, overridden by command-line flags (in that order).

=========================  ===============================  ==========================
``[server]`` key            environment                      flag
=========================  ===============================  ==========================
host                        OMNIWIRE_HOST                    --host
port                        OMNIWIRE_PORT                    --port
api_keys                    OMNIWIRE_GATEWAY_KEYS (a,b)      --api-key (repeatable)
api_key_file                OMNIWIRE_GATEWAY_KEY_FILE        --api-key-file
allow_local_upstreams       OMNIWIRE_ALLOW_LOCAL_UPSTREAMS   --allow-local-upstreams
database                    OMNIWIRE_DATABASE                --database
redis_url                   OMNIWIRE_REDIS_URL               --redis-url
strict                      OMNIWIRE_STRICT                  --strict
max_body_mb                 OMNIWIRE_MAX_BODY_MB
log_content                 OMNIWIRE_LOG_CONTENT
cors_origins                (list of exact origins; default: any localhost origin)
relay                       OMNIWIRE_RELAY
=========================  ===============================  ==========================
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import attrs
from omniwire.config import resolve_secret
from omniwire.errors import ConfigError
from omniwire.secrets import Secret

__all__ = ["GatewaySettings", "settings_from"]

DEFAULT_PORT = 8787


def _bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in (
        "1",
        "true",
        "yes",
        "on",
        "0",
        "false",
        "no",
        "off",
    ):
        return value.lower() in ("1", "true", "yes", "on")
    raise ConfigError(f"{where}: expected true/false, got {value!r}")


def _int(value: Any, where: str) -> int:
    try:
        if isinstance(value, bool):
            raise ValueError
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: expected an integer, got {value!r}") from None


@attrs.frozen
class GatewaySettings:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    api_keys: tuple[Secret, ...] = ()
    key_file: str | None = None
    allow_local_upstreams: bool = False
    database: str | None = "omniwire.db"
    redis_url: str | None = None
    strict: bool = False
    max_body_bytes: int = 32 * 1024 * 1024
    log_content: bool = False
    cors_origins: tuple[str, ...] = ()
    relay: bool = True
    """Same protocol in and out: answer with the upstream's own bytes (still decoded for
    usage, budgets and observers) instead of re-encoding them."""


def settings_from(
    server: Mapping[str, Any], env: Mapping[str, str], flags: Mapping[str, Any]
) -> GatewaySettings:
    """Merge the three sources; every error names where the bad value came from."""
    values: dict[str, Any] = {}
    keys: list[Secret] = []

    def take(name: str, value: Any, where: str) -> None:
        if name in ("port", "max_body_mb"):
            value = _int(value, where)
        elif name in ("allow_local_upstreams", "strict", "log_content", "relay"):
            value = _bool(value, where)
        elif name in ("host", "database", "redis_url", "api_key_file") and not isinstance(
            value, str
        ):
            raise ConfigError(f"{where}: expected a string, got {type(value).__name__}")
        values[name] = value

    known = {
        "host",
        "port",
        "api_keys",
        "api_key_file",
        "allow_local_upstreams",
        "database",
        "redis_url",
        "strict",
        "max_body_mb",
        "log_content",
        "cors_origins",
        "relay",
    }
    for name, value in server.items():
        if name not in known:
            raise ConfigError(f"server.{name}: unknown setting")
        if name == "api_keys":
            if not isinstance(value, list):
                raise ConfigError("server.api_keys: expected an array of strings")
            keys = [resolve_secret(v, f"server.api_keys[{i}]") for i, v in enumerate(value)]
        elif name == "cors_origins":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError("server.cors_origins: expected an array of strings")
            values[name] = tuple(value)
        else:
            take(name, value, f"server.{name}")

    env_names = {
        "OMNIWIRE_HOST": "host",
        "OMNIWIRE_PORT": "port",
        "OMNIWIRE_DATABASE": "database",
        "OMNIWIRE_REDIS_URL": "redis_url",
        "OMNIWIRE_STRICT": "strict",
        "OMNIWIRE_ALLOW_LOCAL_UPSTREAMS": "allow_local_upstreams",
        "OMNIWIRE_MAX_BODY_MB": "max_body_mb",
        "OMNIWIRE_LOG_CONTENT": "log_content",
        "OMNIWIRE_GATEWAY_KEY_FILE": "api_key_file",
        "OMNIWIRE_RELAY": "relay",
    }
    for var, name in env_names.items():
        if env.get(var):
            take(name, env[var], var)
    if env.get("OMNIWIRE_GATEWAY_KEYS"):
        keys = [Secret(k.strip()) for k in env["OMNIWIRE_GATEWAY_KEYS"].split(",") if k.strip()]

    for name, value in flags.items():
        if value is None or value is False or value == []:
            continue
        if name == "api_key":
            keys = [Secret(v) for v in value]
        else:
            take(name, value, f"--{name.replace('_', '-')}")

    key_file = values.pop("api_key_file", None)
    if key_file:
        keys += read_key_file(key_file)
    if "max_body_mb" in values:
        values["max_body_bytes"] = values.pop("max_body_mb") * 1024 * 1024
    if values.get("database") == "":
        values["database"] = None
    port = values.get("port", DEFAULT_PORT)
    if not 0 <= port <= 65535:
        raise ConfigError(f"port {port} is out of range")
    return GatewaySettings(api_keys=tuple(keys), key_file=key_file, **values)


def read_key_file(path: str) -> list[Secret]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read key file {path!r}: {exc.strerror}") from None
    keys = [Secret(line.strip()) for line in lines if line.strip() and not line.startswith("#")]
    if not keys:
        raise ConfigError(f"key file {path!r} holds no key")
    return keys


def environment() -> Mapping[str, str]:
    return os.environ
