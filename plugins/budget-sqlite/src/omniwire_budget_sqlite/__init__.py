"""omniwire-budget-sqlite: the ``sqlite`` budget backend (persistent, atomic across the
processes of one machine). See :mod:`omniwire_budget_sqlite.backend`."""

from __future__ import annotations

from typing import Any, Callable

from omniwire.plugins import hookimpl

__all__ = ["SQLiteBudgetBackend"]


def __getattr__(name: str) -> Any:
    if name == "SQLiteBudgetBackend":
        from .backend import SQLiteBudgetBackend

        return SQLiteBudgetBackend
    raise AttributeError(name)


@hookimpl
def omniwire_register_budget_backends(register: Callable[[Any], None]) -> None:
    from .backend import SQLiteBudgetBackend

    register(SQLiteBudgetBackend)
