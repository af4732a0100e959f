"""From configuration to a running gateway: the stack, the settings, the local default."""

from __future__ import annotations

import os
from typing import Any, Mapping

from omniwire.config import Config, config_from_env, load_config
from omniwire.endpoint import Endpoint
from omniwire.plugins import PluginManager
from omniwire.stack import Stack

from .app import Gateway
from .local_model import LOCAL_MODEL, PROFILE, LocalModelPlugin
from .security import check_upstreams, default_key
from .settings import GatewaySettings, settings_from

__all__ = ["build_gateway", "local_endpoint"]


def local_endpoint() -> Endpoint:
    """The embedded default: the local model, reached through the canonical protocol."""
    return Endpoint(
        name="local",
        protocol="omniwire.canonical",
        base_url="http://omniwire.local",
        profile=PROFILE,
        auth="none",
        models=(LOCAL_MODEL,),
    )


def build_gateway(
    config_path: str | None = None,
    *,
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    announce: Any = print,
) -> tuple[Gateway, GatewaySettings]:
    env = os.environ if env is None else env
    if config_path:
        config = load_config(config_path)
    elif env.get("OMNIWIRE_CONFIG"):
        config = load_config(env["OMNIWIRE_CONFIG"])
    else:
        config = config_from_env()
    settings = settings_from(config.server, env, flags or {})
    pm = PluginManager()
    local = not config.endpoints
    endpoints = list(config.endpoints)
    if local:
        pm.register(LocalModelPlugin(), name="gateway-local-model")
        endpoints = [local_endpoint()]
    check_upstreams(endpoints, allow_local=settings.allow_local_upstreams)
    if not settings.api_keys:
        key, path, created = default_key()
        settings = _with_keys(settings, key)
        if created:
            announce(f"omniwire: generated a gateway key (saved to {path}): {key.reveal()}")
        else:
            announce(f"omniwire: using the gateway key saved in {path}")
    transport = "aiohttp" if "aiohttp" in pm.table("transports") else "httpx"
    stack = Stack(
        endpoints,
        routes=config.routes,
        plugin_manager=pm,
        strict=settings.strict,
        stream_fallback=config.stream_fallback,
        singleflight=config.singleflight,
        transport_name=transport,
        options=_options(config, settings),
    )
    return Gateway(stack, settings, local=local), settings


def _with_keys(settings: GatewaySettings, key: Any) -> GatewaySettings:
    import attrs

    return attrs.evolve(settings, api_keys=(key,))


def _options(config: Config, settings: GatewaySettings) -> Mapping[str, Any]:
    """The config document as plugins read it, with the settings that flags and the
    environment may have changed (so ``--redis-url`` reaches the Redis plugin)."""
    options = dict(config.data)
    server = dict(options.get("server", {}))
    if settings.redis_url:
        server["redis_url"] = settings.redis_url
    options["server"] = server
    return options
