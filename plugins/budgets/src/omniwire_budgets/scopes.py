"""What a budget applies to: limits from configuration, and the scopes of one call.

A :class:`Limit` is a configured rule (``[[budgets.limits]]``, or a route's
``budget_usd``); per call it yields at most one :class:`Scope` — the thing a backend
counts spend against (``key`` + ``window``, checked against ``limit``).

``per`` names what is counted:

* ``global`` — every call of the stack (key ``global``);
* ``model`` — the model name the client asked for (a ``[[models]]`` route name, or
  ``provider:model``); key ``model:<name>``;
* ``tenant`` — ``request.metadata["tenant"]`` (the metadata key is configurable), else
  ``request.user``; key ``tenant:<id>``; calls with neither are not counted;
* ``key`` — the alias of the upstream API key the attempt uses; key ``key:<alias>``;
* ``provider`` — the configured provider (endpoint) name; key ``provider:<name>``;
* ``metadata:<name>`` — any request metadata value; key ``metadata:<name>:<value>``.

``name`` picks one value (``name = "acme"``), or ``"*"`` (the default) gives every value
its own budget of the same size.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Mapping

import attrs
from omniwire.errors import ConfigError
from omniwire.money import Cost

if TYPE_CHECKING:
    from omniwire.call import Call
    from omniwire.routing import Candidate

__all__ = ["Limit", "Scope", "money", "parse_limit", "tenant_of"]

PER = ("global", "model", "tenant", "key", "provider")
_WINDOW = re.compile(r"total|day|month|rolling:\d+(?:\.\d+)?[smhd]?")


def money(value: Any, where: str) -> Cost:
    """A USD amount from config or code (TOML floats by their shortest repr)."""
    if isinstance(value, Cost):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise ConfigError(f"{where}: expected an amount in USD, got {type(value).__name__}")
    try:
        amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    except ArithmeticError:
        raise ConfigError(f"{where}: {value!r} is not an amount") from None
    if not amount.is_finite() or amount < 0:
        raise ConfigError(f"{where}: expected a non-negative amount, got {value!r}")
    return Cost(amount)


def window_spec(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _WINDOW.fullmatch(value):
        raise ConfigError(
            f"{where}: expected total, day, month or rolling:<n>[smhd] (e.g. rolling:24h), "
            f"got {value!r}"
        )
    return value


@attrs.frozen(slots=True)
class Scope:
    """One budget a call counts against: what backends receive."""

    key: str
    limit: Cost
    window: str = "total"


@attrs.frozen(slots=True)
class Limit:
    per: str
    limit: Cost
    name: str = "*"
    window: str = "total"

    def scope(self, value: str) -> Scope:
        key = "global" if self.per == "global" else f"{self.per}:{value}"
        return Scope(key, self.limit, self.window)


def parse_limit(data: Any, where: str) -> Limit:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a table")
    unknown = set(data) - {"per", "name", "usd", "window"}
    if unknown:
        raise ConfigError(f"{where}: unknown setting {sorted(unknown)[0]!r}")
    per = data.get("per", "global")
    if not isinstance(per, str) or not (per in PER or per.startswith("metadata:") and per[9:]):
        raise ConfigError(
            f"{where}.per: expected one of {', '.join(PER)} or metadata:<name>, got {per!r}"
        )
    if "usd" not in data:
        raise ConfigError(f"{where}.usd: required")
    name = data.get("name", "*")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}.name: expected a string")
    return Limit(
        per,
        money(data["usd"], f"{where}.usd"),
        name,
        window_spec(data.get("window", "total"), f"{where}.window"),
    )


def tenant_of(request: Any, metadata_key: str = "tenant") -> str | None:
    """``request.metadata[metadata_key]``, else ``request.user``, else None."""
    metadata = getattr(request, "metadata", None)
    if metadata:
        found = metadata.get(metadata_key)
        if found:
            return str(found)
    user = getattr(request, "user", None)
    return str(user) if user else None


def value_of(per: str, call: Call, candidate: Candidate, tenant_key: str) -> str | None:
    """The value ``per`` takes for this attempt (None: the limit does not apply)."""
    if per == "global":
        return "*"
    if per == "model":
        return getattr(call.request, "model", None)
    if per == "tenant":
        return tenant_of(call.request, tenant_key)
    if per == "key":
        return candidate.key.alias if candidate.key is not None else None
    if per == "provider":
        return candidate.endpoint.name
    metadata = getattr(call.request, "metadata", None) or {}
    found = metadata.get(per[len("metadata:") :])
    return str(found) if found else None
