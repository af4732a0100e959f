"""Configuration files (TOML) and the environment, turned into endpoints and routes.

The file format is a contract shared with the gateway (``docs/configuration.md``)::

    [[providers]]
    name = "up"
    protocol = "openai.chat"
    base_url = "http://127.0.0.1:9000/v1"
    api_keys = ["k1", "env:OPENAI_API_KEY"]

    [[models]]
    name = "smart"
    targets = ["up:gpt-4o-mini"]

Every error names the offending field (``providers[1].base_url``).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Mapping

import attrs

from .endpoint import Endpoint, Key
from .errors import ConfigError
from .routing import ModelRoute, Target
from .secrets import Secret

__all__ = ["Config", "config_from_env", "load_config"]

#: provider -> (codec id, official base URL, key variable, base URL variable)
ENV_PROVIDERS: dict[str, tuple[str, str, str, str]] = {
    "openai": ("openai.chat", "https://api.openai.com/v1", "OPENAI_API_KEY", "OPENAI_BASE_URL"),
    "anthropic": (
        "anthropic.messages",
        "https://api.anthropic.com",
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
    ),
    "gemini": (
        "gemini.generate_content",
        "https://generativelanguage.googleapis.com",
        "GEMINI_API_KEY",
        "GEMINI_BASE_URL",
    ),
}


@attrs.frozen
class Config:
    endpoints: tuple[Endpoint, ...] = ()
    routes: tuple[ModelRoute, ...] = ()
    server: Mapping[str, Any] = attrs.field(factory=dict)
    strict: bool = False
    stream_fallback: bool = True
    singleflight: bool = False
    data: Mapping[str, Any] = attrs.field(factory=dict, repr=False)
    """The whole parsed document, for sections other components read (gateway...)."""


def _type(value: Any, kind: type | tuple[type, ...], where: str) -> Any:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        ok = False
    else:
        ok = isinstance(value, kinds) or (float in kinds and isinstance(value, int))
    if not ok:
        names = " or ".join(
            {
                str: "a string",
                int: "an integer",
                float: "a number",
                bool: "true/false",
                list: "an array",
                dict: "a table",
            }.get(k, k.__name__)
            for k in kinds
        )
        raise ConfigError(f"{where}: expected {names}, got {type(value).__name__}")
    return value


def resolve_secret(value: Any, where: str) -> Secret:
    """A key as written in config: literal, or ``env:NAME`` read from the environment."""
    _type(value, str, where)
    if value.startswith("env:"):
        name = value[4:]
        found = os.environ.get(name)
        if not found:
            raise ConfigError(f"{where}: environment variable {name} is not set")
        return Secret(found, alias=f"env:{name}")
    return Secret(value)


_PROVIDER_KEYS = {
    "name",
    "protocol",
    "base_url",
    "api_keys",
    "api_key",
    "rpm",
    "tpm",
    "max_concurrency",
    "auth",
    "profile",
    "headers",
    "timeout",
    "connect_timeout",
    "models",
    "options",
    "weight",
    "key_aliases",
}
_MODEL_KEYS = {"name", "targets", "strategy", "weights", "budget_usd", "price", "options"}


def _provider(data: Any, i: int) -> Endpoint:
    where = f"providers[{i}]"
    _type(data, dict, where)
    unknown = set(data) - _PROVIDER_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown setting {sorted(unknown)[0]!r}")
    for field in ("name", "protocol", "base_url"):
        if field not in data:
            raise ConfigError(f"{where}.{field}: required")
        _type(data[field], str, f"{where}.{field}")
    keys_spec = data.get("api_keys", [data["api_key"]] if "api_key" in data else [])
    _type(keys_spec, list, f"{where}.api_keys")
    aliases = data.get("key_aliases") or []
    keys = []
    for j, spec in enumerate(keys_spec):
        secret = resolve_secret(spec, f"{where}.api_keys[{j}]")
        alias = aliases[j] if j < len(aliases) else f"{data['name']}#{j}"
        keys.append(Key(secret, alias=alias))
    options = dict(_type(data.get("options", {}), dict, f"{where}.options"))
    for limit in ("rpm", "tpm", "max_concurrency"):
        if limit in data:
            options[limit] = _type(data[limit], int, f"{where}.{limit}")
    try:
        return Endpoint(
            name=data["name"],
            protocol=data["protocol"],
            base_url=data["base_url"],
            keys=tuple(keys),
            auth=_type(data["auth"], str, f"{where}.auth") if "auth" in data else None,
            profile=_type(data.get("profile", "default"), str, f"{where}.profile"),
            headers=_type(data.get("headers", {}), dict, f"{where}.headers"),
            timeout=float(_type(data.get("timeout", 600.0), float, f"{where}.timeout")),
            connect_timeout=float(
                _type(data.get("connect_timeout", 10.0), float, f"{where}.connect_timeout")
            ),
            options=options,
            models=tuple(_type(data.get("models", []), list, f"{where}.models")),
        )
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc.message}") from None


def _model(data: Any, i: int) -> ModelRoute:
    where = f"models[{i}]"
    _type(data, dict, where)
    unknown = set(data) - _MODEL_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown setting {sorted(unknown)[0]!r}")
    if "name" not in data:
        raise ConfigError(f"{where}.name: required")
    _type(data["name"], str, f"{where}.name")
    targets = _type(data.get("targets"), list, f"{where}.targets") if "targets" in data else None
    if not targets:
        raise ConfigError(f"{where}.targets: at least one provider:model target is required")
    parsed = []
    for j, t in enumerate(targets):
        _type(t, str, f"{where}.targets[{j}]")
        try:
            parsed.append(Target.parse(t))
        except ConfigError as exc:
            raise ConfigError(f"{where}.targets[{j}]: {exc.message}") from None
    weights = tuple(
        _type(w, float, f"{where}.weights[{j}]")
        for j, w in enumerate(_type(data.get("weights", []), list, f"{where}.weights"))
    )
    options = dict(_type(data.get("options", {}), dict, f"{where}.options"))
    if "budget_usd" in data:
        options["budget_usd"] = _type(data["budget_usd"], float, f"{where}.budget_usd")
    if "price" in data:
        options["price"] = _type(data["price"], dict, f"{where}.price")
    return ModelRoute(
        name=data["name"],
        targets=tuple(parsed),
        strategy=_type(data.get("strategy", "priority"), str, f"{where}.strategy"),
        weights=weights,
        options=options,
    )


def parse_config(data: Mapping[str, Any]) -> Config:
    providers = _type(data.get("providers", []), list, "providers")
    models = _type(data.get("models", []), list, "models")
    server = _type(data.get("server", {}), dict, "server")
    strict = _type(data.get("strict", server.get("strict", False)), bool, "strict")
    fallback = _type(data.get("stream_fallback", True), bool, "stream_fallback")
    singleflight = _type(data.get("singleflight", False), bool, "singleflight")
    return Config(
        endpoints=tuple(_provider(p, i) for i, p in enumerate(providers)),
        routes=tuple(_model(m, i) for i, m in enumerate(models)),
        server=server,
        strict=strict,
        stream_fallback=fallback,
        singleflight=singleflight,
        data=data,
    )


def load_config(source: Any) -> Config:
    """From a path, TOML text, or a parsed mapping."""
    if isinstance(source, Mapping):
        return parse_config(source)
    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source):
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read config file {str(path)!r}: {exc.strerror}") from None
    else:
        text = source
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config is not valid TOML: {exc}") from None
    return parse_config(data)


def config_from_env() -> Config:
    path = os.environ.get("OMNIWIRE_CONFIG")
    if path:
        return load_config(path)
    endpoints = []
    for name, (protocol, base, key_var, url_var) in ENV_PROVIDERS.items():
        key = os.environ.get(key_var)
        if not key:
            continue
        endpoints.append(
            Endpoint(
                name=name,
                protocol=protocol,
                base_url=os.environ.get(url_var) or base,
                keys=(Key(Secret(key, alias=f"env:{key_var}"), alias=f"env:{key_var}"),),
            )
        )
    return Config(endpoints=tuple(endpoints))
