"""Building stacks with a budget guard over the btoy protocol, on either backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import omniwire_budgets
import pytest
from budgets_toy import BToyPlugin
from omniwire import Endpoint
from omniwire.plugins import PluginManager
from omniwire.routing import ModelRoute, Target
from omniwire.stack import Stack
from omniwire_budgets.guard import BudgetGuard

BACKENDS = ["memory", "sqlite"]
BACKEND_PLUGINS = {"memory": "omniwire_budget_memory", "sqlite": "omniwire_budget_sqlite"}


def plugin_manager(backend: str) -> PluginManager:
    pm = PluginManager(entry_points=False)
    pm.register(BToyPlugin(), name="btoy")
    pm.register(omniwire_budgets, name="budgets")
    module = pytest.importorskip(BACKEND_PLUGINS[backend])
    pm.register(module, name=f"budget-{backend}")
    return pm


def build(
    url: str,
    backend: str,
    tmp_path: Path,
    *,
    budget_usd: Any = None,
    budgets: dict[str, Any] | None = None,
    keys: tuple[str, ...] = ("sk-btoy-key-0001",),
    target: str = "btoy-1",
) -> Stack:
    options: dict[str, Any] = {"backend": backend, **(budgets or {})}
    if backend == "sqlite":
        options.setdefault("path", str(tmp_path / "budgets.db"))
    route_options = {} if budget_usd is None else {"budget_usd": budget_usd}
    return Stack(
        [Endpoint("up", "btoy.chat", url, keys=keys)],
        routes=[ModelRoute("m", (Target("up", target),), options=route_options)],
        plugin_manager=plugin_manager(backend),
        options={"budgets": options},
    )


def guard_of(stack: Stack) -> BudgetGuard:
    return next(g for g in stack.guards if isinstance(g, BudgetGuard))
