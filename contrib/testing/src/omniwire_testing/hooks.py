"""Record the hook calls of a plugin manager, to assert which hooks ran with what.

Built on pluggy's ``add_hookcall_monitoring``: every call through ``pm.hook.<name>(...)``
is recorded in order, with its keyword arguments, the implementations it reached and
its result or exception. (The kernel builds its registries by calling registration
implementations directly, so ``omniwire_register_*`` only show up when called through
``pm.hook``.)
"""

from __future__ import annotations

from typing import Any, Mapping

import attrs

__all__ = ["HookCall", "HookRecorder"]


@attrs.define
class HookCall:
    name: str
    kwargs: Mapping[str, Any]
    implementations: tuple[str, ...]
    result: Any = None
    exception: BaseException | None = None
    finished: bool = False

    def __getattr__(self, item: str) -> Any:
        # call.event rather than call.kwargs["event"]
        if item.startswith("_") or item == "kwargs":
            raise AttributeError(item)
        try:
            return self.kwargs[item]
        except KeyError:
            raise AttributeError(item) from None


class HookRecorder:
    """Attach to an omniwire ``PluginManager`` (or a bare pluggy one); ``close`` detaches."""

    def __init__(self, plugin_manager: Any) -> None:
        pm = getattr(plugin_manager, "pm", plugin_manager)
        self._calls: list[HookCall] = []
        self._open: list[HookCall] = []
        self._undo = pm.add_hookcall_monitoring(self._before, self._after)

    def _before(self, hook_name: str, hook_impls: Any, kwargs: Mapping[str, Any]) -> None:
        call = HookCall(hook_name, dict(kwargs), tuple(i.plugin_name for i in hook_impls))
        self._calls.append(call)
        self._open.append(call)

    def _after(self, outcome: Any, hook_name: str, hook_impls: Any, kwargs: Any) -> None:
        call = self._open.pop()
        call.exception = outcome.exception
        call.result = None if outcome.exception is not None else outcome.get_result()
        call.finished = True

    def calls(self, name: str | None = None) -> list[HookCall]:
        """Recorded calls in order, all or those of hook ``name``."""
        return [c for c in self._calls if name is None or c.name == name]

    def names(self) -> list[str]:
        """The hook names called, in order (repeats kept)."""
        return [c.name for c in self._calls]

    def last(self, name: str) -> HookCall:
        found = self.calls(name)
        if not found:
            raise AssertionError(f"hook {name} was not called (called: {self.names()})")
        return found[-1]

    def assert_called(self, name: str, **kwargs: Any) -> HookCall:
        """The first call of ``name`` whose arguments include ``kwargs``."""
        for call in self.calls(name):
            if all(call.kwargs.get(k) == v for k, v in kwargs.items()):
                return call
        raise AssertionError(f"no call {name}({kwargs}) among {self.names()}")

    def clear(self) -> None:
        self._calls.clear()

    def close(self) -> None:
        self._undo()

    def __enter__(self) -> HookRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
