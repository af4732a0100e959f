"""omniwire-budgets: pre-reserve then settle, as a guard.

Registers the ``budgets`` guard factory. A stack whose configuration asks for budgets
(``[budgets]`` limits, or a route's ``budget_usd``) gets a
:class:`~omniwire_budgets.guard.BudgetGuard` backed by the configured budget backend
(``[budgets] backend``, default ``memory``; backends are separate plugins:
omniwire-budget-memory, omniwire-budget-sqlite). See docs/budgets.md.
"""

from __future__ import annotations

from typing import Any, Callable

from omniwire.plugins import hookimpl

__all__ = [
    "BudgetGuard",
    "BudgetGuardFactory",
    "BudgetSettings",
    "BudgetStatus",
    "Limit",
    "Scope",
    "estimate_input_tokens",
    "worst_case_usage",
]

_LAZY = {
    "BudgetGuard": "guard",
    "BudgetGuardFactory": "guard",
    "BudgetSettings": "guard",
    "BudgetStatus": "guard",
    "Limit": "scopes",
    "Scope": "scopes",
    "estimate_input_tokens": "estimate",
    "worst_case_usage": "estimate",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(name)
    from importlib import import_module

    return getattr(import_module(f"{__name__}.{module}"), name)


@hookimpl
def omniwire_register_guards(register: Callable[[Any], None]) -> None:
    from .guard import BudgetGuardFactory

    register(BudgetGuardFactory())
