"""Small helpers for building plugin managers in tests."""

from __future__ import annotations

from typing import Any, Callable, Iterable

from omniwire.plugins import PluginManager, get_plugin_manager, hookimpl

__all__ = ["codec_plugin", "default_plugin_manager", "installed_codecs", "new_plugin_manager"]


def new_plugin_manager(*, entry_points: bool = False) -> PluginManager:
    """A fresh manager: built-ins only (plus entry points when asked)."""
    return PluginManager(entry_points=entry_points)


def default_plugin_manager() -> PluginManager:
    """The process-wide manager with every installed plugin."""
    return get_plugin_manager()


class _CodecPlugin:
    """An in-process plugin whose only job is to register the given codecs."""

    def __init__(self, codecs: Iterable[Any]) -> None:
        self.codecs = tuple(codecs)

    @hookimpl
    def omniwire_register_codecs(self, register: Callable[[Any], None]) -> None:
        for codec in self.codecs:
            register(codec)

    def __repr__(self) -> str:
        return f"<codec plugin {', '.join(c.id for c in self.codecs)}>"


def codec_plugin(*codecs: Any) -> Any:
    """A plugin object registering ``codecs``: ``pm.register(codec_plugin(MyCodec()))``."""
    return _CodecPlugin(codecs)


def installed_codecs(plugin_manager: PluginManager | None = None) -> list[Any]:
    """Every codec the manager (default: all installed plugins) provides, sorted by id."""
    pm = plugin_manager if plugin_manager is not None else default_plugin_manager()
    return [pm.codecs[k] for k in sorted(pm.codecs)]
