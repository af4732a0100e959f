"""omniwire-budget-memory: the ``memory`` budget backend (one process, exact under
threads and tasks). See :mod:`omniwire_budget_memory.backend` for the backend API."""

from __future__ import annotations

from typing import Any, Callable

from omniwire.plugins import hookimpl

__all__ = ["MemoryBudgetBackend"]


def __getattr__(name: str) -> Any:
    if name == "MemoryBudgetBackend":
        from .backend import MemoryBudgetBackend

        return MemoryBudgetBackend
    raise AttributeError(name)


@hookimpl
def omniwire_register_budget_backends(register: Callable[[Any], None]) -> None:
    from .backend import MemoryBudgetBackend

    register(MemoryBudgetBackend)
