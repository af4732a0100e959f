"""A kill switch per provider and per model, as a guard (order 5: before the breaker, so
a killed candidate never takes a half-open probe or a rate-limit token).

``[kill_switch] killed = ["anthropic", "openai:gpt-4o", "*:some-model"]`` switches off
a whole provider (every model and key of the ``[[providers]]`` entry of that name), one
model of a provider, or a model on every provider. The model is the upstream's model of
a candidate (``gpt-4o`` of the target ``openai:gpt-4o``), not a route's virtual name.

A killed candidate is refused with NoAvailableKey (503, retryable: the call moves on to
its next candidate at once, nothing is sent). When every candidate of a call is killed
the caller gets that NoAvailableKey, naming the kill switch and what is killed.

:func:`kill` and :func:`revive` flip it at run time, without rebuilding the stack:
attempts admitted earlier finish; later ones are refused. An attempt that was admitted
before the switch and is still waiting (for a rate-limit token or an adaptive
concurrency slot) is refused when it reaches the transport, so a killed provider is
never sent a byte after the flip. The state is per stack and per process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from omniwire.errors import ConfigError, NoAvailableKey

from .headers import KILL_SWITCH
from .settings import KillSwitchSettings, parse_kill_pattern

if TYPE_CHECKING:
    from omniwire.call import Call
    from omniwire.errors import OmniwireError
    from omniwire.routing import Candidate
    from omniwire.stack import Stack

    from .status import PoolStatus

__all__ = ["KillSwitchGuard", "kill", "kill_switch_of", "revive"]

ANY = "*"


def _pattern(provider: str, model: str | None) -> str:
    return provider if model is None else f"{provider}:{model}"


class KillSwitchGuard:
    """The kill switch of one stack. ``providers`` are the names it accepts (a typo in a
    kill switch would otherwise silently switch nothing off); empty: any name."""

    def __init__(
        self,
        settings: KillSwitchSettings | None = None,
        *,
        providers: tuple[str, ...] | list[str] = (),
    ) -> None:
        self.providers = tuple(providers)
        self._providers: set[str] = set()
        self._models: dict[str, set[str]] = {}
        self.active = False
        """True while anything is killed (the per-attempt fast path reads only this)."""
        for provider, model in (settings or KillSwitchSettings()).killed:
            self._switch(provider, model, True, "kill_switch.killed")

    # -- the switch -------------------------------------------------------------------

    def kill(self, provider: str | None = None, model: str | None = None) -> bool:
        """Switch off ``provider`` (all its models), ``provider``'s ``model``, or
        ``model`` on every provider (``provider`` None or ``"*"``). Also takes a pattern
        as written in the config (``kill("openai:gpt-4o")``). True when it changed."""
        provider, model = self._parse(provider, model)
        return self._switch(provider, model, True, "kill")

    def revive(self, provider: str | None = None, model: str | None = None) -> bool:
        """Undo :meth:`kill` of exactly that provider / model / pattern (reviving
        ``openai`` does not revive a separately killed ``openai:gpt-4o``). True when it
        changed."""
        provider, model = self._parse(provider, model)
        return self._switch(provider, model, False, "revive")

    def revive_all(self) -> None:
        self._providers.clear()
        self._models.clear()
        self.active = False

    @property
    def killed(self) -> tuple[str, ...]:
        """What is killed, as config patterns (``openai``, ``openai:gpt-4o``, ``*:m``)."""
        out = [_pattern(p, None) for p in list(self._providers)]
        for provider, models in list(self._models.items()):
            out.extend(_pattern(provider, m) for m in list(models))
        return tuple(sorted(out))

    def killed_by(self, provider: str, model: str) -> str | None:
        """The pattern that kills ``model`` on ``provider``, or None."""
        if not self.active:
            return None
        if provider in self._providers:
            return provider
        models = self._models
        mine = models.get(provider)
        if mine is not None and model in mine:
            return _pattern(provider, model)
        anywhere = models.get(ANY)
        if anywhere is not None and model in anywhere:
            return _pattern(ANY, model)
        return None

    def killed_models(self, provider: str) -> tuple[str, ...]:
        """Models killed on ``provider`` (its own and those killed everywhere)."""
        found = set(self._models.get(provider, ())) | set(self._models.get(ANY, ()))
        return tuple(sorted(found))

    def _parse(self, provider: str | None, model: str | None) -> tuple[str, str | None]:
        if provider is None or provider == ANY:
            if model is None:
                raise ConfigError("kill switch: name a provider, a model, or both")
            return ANY, model
        if model is None and ":" in provider:
            return parse_kill_pattern(provider, "kill switch")
        return provider, model

    def _switch(self, provider: str, model: str | None, on: bool, where: str) -> bool:
        if provider != ANY and self.providers and provider not in self.providers:
            raise ConfigError(
                f"{where}: unknown provider {provider!r} (known: {', '.join(self.providers)})"
            )
        if model is None:
            found = self._providers
            changed = (provider in found) != on
            if on:
                found.add(provider)
            else:
                found.discard(provider)
        else:
            models = self._models.setdefault(provider, set())
            changed = (model in models) != on
            if on:
                models.add(model)
            else:
                models.discard(model)
                if not models:
                    del self._models[provider]
        self.active = bool(self._providers or self._models)
        return changed

    # -- the guard --------------------------------------------------------------------

    async def admit(self, call: Call, candidate: Candidate) -> None:
        call.attributes[KILL_SWITCH] = self
        if self.active:
            self.check(call, candidate.endpoint.name, candidate.model)

    def check(self, call: Call, provider: str, model: str) -> None:
        """Refuse (NoAvailableKey) when ``model`` on ``provider`` is killed."""
        pattern = self.killed_by(provider, model)
        if pattern is not None:
            raise self._refusal(call, provider, model, pattern)

    def _refusal(self, call: Call, provider: str, model: str, pattern: str) -> NoAvailableKey:
        from ._scope import candidates_left

        if candidates_left(call) <= 0 and self._all_killed(call):
            message = (
                f"every candidate of model {call.request.model!r} is switched off by the "
                f"kill switch (killed: {', '.join(self.killed)}); revive one with "
                "omniwire_resilience.revive() or remove it from [kill_switch] killed"
            )
        else:
            message = (
                f"model {model!r} of provider {provider!r} is switched off by the "
                f"kill switch ({pattern!r})"
            )
        return NoAvailableKey(message, endpoint=provider)

    def _all_killed(self, call: Call) -> bool:
        try:
            _route, targets = call.stack.router.targets(call.request.model)
        except ConfigError:
            return False
        return all(self.killed_by(t.endpoint, t.model) is not None for t in targets)

    async def complete(self, call: Call) -> None:
        return None

    async def abort(self, call: Call, error: OmniwireError | None) -> None:
        return None

    async def pool_status(self, stack: Stack) -> PoolStatus:
        """The stack's pool status (the same from every resilience guard)."""
        from .status import pool_status

        return await pool_status(stack)


def kill_switch_of(stack: Stack) -> KillSwitchGuard:
    """The stack's kill switch (ConfigError when it has none: ``[kill_switch] enabled =
    false``, ``auto_guards=False``, or this plugin is not registered on the stack)."""
    for guard in stack.guards:
        if isinstance(guard, KillSwitchGuard):
            return guard
    raise ConfigError(
        "this stack has no kill switch (omniwire-resilience is not registered on it, "
        "or [kill_switch] enabled = false)"
    )


def kill(stack: Stack, provider: str | None = None, model: str | None = None) -> bool:
    """Switch off a provider, a provider's model, or a model everywhere, at once and
    until :func:`revive`: ``kill(stack, "anthropic")``, ``kill(stack, "openai",
    model="gpt-4o")`` (or ``kill(stack, "openai:gpt-4o")``), ``kill(stack,
    model="some-model")``. Attempts in flight finish. True when it changed anything."""
    return kill_switch_of(stack).kill(provider, model)


def revive(stack: Stack, provider: str | None = None, model: str | None = None) -> bool:
    """Undo :func:`kill` (or a ``[kill_switch] killed`` entry) with the same arguments.
    True when it changed anything."""
    return kill_switch_of(stack).revive(provider, model)
