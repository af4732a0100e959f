"""The plugin manager: entry-point discovery, in-process registration, and the registries
(codecs, transports, auth schemes, strategies, budget backends, sanitizers, price tables,
endpoint profiles) that plugins fill through the registration hooks.

A broken plugin never takes the others down: its import or registration error is
recorded in :attr:`PluginManager.broken`, logged with the plugin's name, and skipped.

Environment:

* ``OMNIWIRE_PLUGINS`` — comma-separated allowlist of entry-point names; set but empty
  loads no entry point at all.
* ``OMNIWIRE_DISABLE_PLUGINS`` — comma-separated denylist (``builtins`` blocks the
  kernel's own defaults too).
"""

from __future__ import annotations

import logging
import os
from importlib import metadata
from typing import Any, Callable, Iterable

import attrs
import pluggy

from . import hookspecs
from .errors import ConfigError, PluginError

__all__ = ["BrokenPlugin", "PluginInfo", "PluginManager", "get_plugin_manager", "hookimpl"]

log = logging.getLogger("omniwire.plugins")

hookimpl = pluggy.HookimplMarker("omniwire")

ENTRY_POINT_GROUP = "omniwire"
BUILTINS = "builtins"

#: registration hook -> (registry name, attribute naming each object)
REGISTRIES: dict[str, tuple[str, str]] = {
    "omniwire_register_codecs": ("codecs", "id"),
    "omniwire_register_transports": ("transports", "name"),
    "omniwire_register_auth_schemes": ("auth_schemes", "name"),
    "omniwire_register_strategies": ("strategies", "name"),
    "omniwire_register_budget_backends": ("budget_backends", "name"),
    "omniwire_register_sanitizers": ("sanitizers", "name"),
    "omniwire_register_price_tables": ("price_tables", "name"),
    "omniwire_register_endpoint_profiles": ("endpoint_profiles", "name"),
    "omniwire_register_guards": ("guards", "name"),
    "omniwire_register_commands": ("commands", "name"),
}


@attrs.frozen
class BrokenPlugin:
    name: str
    distribution: str | None
    error: str


@attrs.frozen
class PluginInfo:
    name: str
    distribution: str | None
    version: str | None
    provides: dict[str, list[str]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "provides": self.provides,
        }


def _env_list(name: str) -> list[str] | None:
    value = os.environ.get(name)
    if value is None:
        return None
    return [x.strip() for x in value.split(",") if x.strip()]


class PluginManager:
    """Loads plugins and owns the registries they fill.

    ``entry_points=False`` builds a manager with only the built-ins and whatever is
    registered in code: what tests and stacks composed in code use.
    """

    def __init__(self, *, entry_points: bool = True, builtins: bool = True) -> None:
        self.pm = pluggy.PluginManager("omniwire")
        self.pm.add_hookspecs(hookspecs)
        self.broken: list[BrokenPlugin] = []
        self._dists: dict[str, tuple[str | None, str | None]] = {}
        self._tables: dict[str, dict[str, Any]] | None = None
        self._owners: dict[str, dict[str, str]] = {}
        deny = set(_env_list("OMNIWIRE_DISABLE_PLUGINS") or ())
        if builtins and BUILTINS not in deny:
            from . import builtins as builtin_plugin

            self.pm.register(builtin_plugin, name=BUILTINS)
            self._dists[BUILTINS] = ("omniwire", _version("omniwire"))
        if entry_points:
            self.load_entry_points()

    # -- loading ----------------------------------------------------------------------

    def load_entry_points(self) -> None:
        allow = _env_list("OMNIWIRE_PLUGINS")
        deny = set(_env_list("OMNIWIRE_DISABLE_PLUGINS") or ())
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in deny or (allow is not None and ep.name not in allow):
                continue
            if self.pm.has_plugin(ep.name):
                continue
            dist = getattr(ep, "dist", None)
            dist_name = dist.metadata["Name"] if dist is not None else None
            try:
                plugin = ep.load()
                self.pm.register(plugin, name=ep.name)
                self.pm.check_pending()
            except Exception as exc:  # a broken plugin must not break the others
                if self.pm.has_plugin(ep.name):
                    self.pm.unregister(name=ep.name)
                self._mark_broken(ep.name, dist_name, exc)
                continue
            self._dists[ep.name] = (dist_name, dist.version if dist is not None else None)
        self._tables = None

    def _mark_broken(self, name: str, dist: str | None, exc: BaseException) -> None:
        message = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        self.broken.append(BrokenPlugin(name, dist, message))
        log.warning("omniwire plugin %r (%s) failed to load: %s", name, dist or "?", message)

    def register(self, plugin: object, name: str | None = None) -> str:
        """Register an in-process plugin (a module or an object with hookimpls)."""
        try:
            registered = self.pm.register(plugin, name=name)
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            if name and self.pm.has_plugin(name):
                self.pm.unregister(name=name)
            raise PluginError(f"plugin {name or plugin!r} is invalid: {exc}") from None
        except ValueError as exc:
            raise PluginError(f"plugin {name or plugin!r} cannot be registered: {exc}") from None
        if registered is None:
            raise PluginError(f"plugin {name or plugin!r} is blocked")
        self._tables = None
        return registered

    def unregister(self, plugin: object | None = None, name: str | None = None) -> None:
        self.pm.unregister(plugin, name=name)
        self._tables = None

    @property
    def hook(self) -> Any:
        return self.pm.hook

    # -- registries -------------------------------------------------------------------

    def _build_tables(self) -> dict[str, dict[str, Any]]:
        tables: dict[str, dict[str, Any]] = {table: {} for table, _ in REGISTRIES.values()}
        owners: dict[str, dict[str, str]] = {table: {} for table in tables}
        for hook_name, (table, attr) in REGISTRIES.items():
            caller = getattr(self.pm.hook, hook_name)
            # call each implementation alone, to know who registered what
            for impl in caller.get_hookimpls():
                plugin_name = impl.plugin_name
                seen: list[tuple[str, Any]] = []

                def register(
                    obj: Any, _attr: str = attr, _seen: list[tuple[str, Any]] = seen
                ) -> None:
                    key = getattr(obj, _attr, None)
                    if not isinstance(key, str) or not key:
                        raise PluginError(f"registered object {obj!r} has no {_attr}")
                    _seen.append((key, obj))

                try:
                    impl.function(register)
                except Exception as exc:
                    self._mark_broken(plugin_name, self._dists.get(plugin_name, (None,))[0], exc)
                    continue
                for key, obj in seen:
                    if key in tables[table]:
                        raise PluginError(
                            f"{table[:-1].replace('_', ' ')} {key!r} is registered by both "
                            f"{owners[table][key]!r} and {plugin_name!r}"
                        )
                    tables[table][key] = obj
                    owners[table][key] = plugin_name
        self._owners = owners
        return tables

    def table(self, name: str) -> dict[str, Any]:
        if self._tables is None:
            self._tables = self._build_tables()
        return self._tables[name]

    def get(self, table: str, name: str) -> Any:
        entries = self.table(table)
        try:
            return entries[name]
        except KeyError:
            what = table[:-1].replace("_", " ")
            known = ", ".join(sorted(entries)) or "none installed"
            raise ConfigError(f"unknown {what} {name!r} (known: {known})") from None

    def codec(self, codec_id: str) -> Any:
        return self.get("codecs", codec_id)

    @property
    def codecs(self) -> dict[str, Any]:
        return self.table("codecs")

    # -- description ------------------------------------------------------------------

    def plugins(self) -> list[PluginInfo]:
        """Every loaded plugin with its distribution and what it registered."""
        if self._tables is None:
            self._tables = self._build_tables()
        out = []
        for name, plugin in sorted(self.pm.list_name_plugin()):
            provides: dict[str, list[str]] = {}
            for table, owners in self._owners.items():
                mine = sorted(k for k, owner in owners.items() if owner == name)
                if mine:
                    provides[table] = mine
            stages = sorted(
                caller.name.removeprefix("omniwire_")
                for caller in self.pm.get_hookcallers(plugin) or ()
                if caller.name not in REGISTRIES
            )
            if stages:
                provides["stages"] = stages
            dist, version = self._dists.get(name, (None, None))
            out.append(PluginInfo(name, dist, version, provides))
        return out

    def implementations(self, hook_name: str) -> list[str]:
        return [impl.plugin_name for impl in getattr(self.pm.hook, hook_name).get_hookimpls()]


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


_default: PluginManager | None = None


def get_plugin_manager() -> PluginManager:
    """The process-wide manager with every installed plugin, built on first use."""
    global _default
    if _default is None:
        _default = PluginManager()
    return _default


def iter_registered(register_hook: Callable[[Callable[[Any], None]], None]) -> Iterable[Any]:
    """Call one registration hookimpl and collect what it registers (test helper)."""
    out: list[Any] = []
    register_hook(out.append)
    return out
