"""Hypothesis profiles for omniwire suites, and which one a run uses.

``ci``: derandomized (the same examples on every run, so a red build is reproducible
from its log), no deadline, ~150 examples, the reproduction blob printed on failure, no
example database, no too-slow health check. It replaces Hypothesis' built-in ``ci``.
``dev``: random, ~100 examples. ``fast``: ~20 examples, for a quick local loop.
Deadlines are off everywhere: codec properties do variable-size work on shared CI
machines, and a timing failure there says nothing about correctness.

Selection: the ``--omniwire-profile`` option, else ``OMNIWIRE_HYPOTHESIS_PROFILE``, else
``ci`` when ``CI=true`` and ``dev`` otherwise. Hypothesis is imported only when a profile
is registered or loaded, never when this module is imported.
"""

from __future__ import annotations

from typing import Any, Mapping

__all__ = ["PROFILES", "activate", "register_profiles", "select_profile"]

PROFILES: dict[str, dict[str, Any]] = {
    "ci": {"derandomize": True, "deadline": None, "max_examples": 150, "print_blob": True},
    "dev": {"deadline": None, "max_examples": 100},
    "fast": {"deadline": None, "max_examples": 20},
}

ENV_PROFILE = "OMNIWIRE_HYPOTHESIS_PROFILE"


def select_profile(option: str | None, environ: Mapping[str, str]) -> str:
    """The profile name a run should use (see the module docstring)."""
    if option:
        return option
    if environ.get(ENV_PROFILE):
        return environ[ENV_PROFILE]
    return "ci" if environ.get("CI", "").lower() in ("true", "1") else "dev"


def register_profiles() -> None:
    """Register the kit's profiles with Hypothesis (idempotent)."""
    from hypothesis import HealthCheck, Phase, settings

    # from Hypothesis' own defaults, not from whatever is loaded now (Hypothesis loads
    # its built-in "ci" profile by itself when CI is set)
    base = settings.get_profile("default")
    # no explain phase: it traces every line of a failing example's replays, which turns
    # a shrink of a large canonical request from seconds into minutes
    phases = tuple(p for p in base.phases if p is not Phase.explain)
    for name, values in PROFILES.items():
        extra: dict[str, Any] = {"phases": phases}
        if name == "ci":  # shared runners are slow and keep no database
            extra.update(database=None, suppress_health_check=[HealthCheck.too_slow])
        settings.register_profile(name, base, **values, **extra)


def activate(option: str | None, environ: Mapping[str, str], *, load: bool = True) -> str:
    """Register the profiles and load the selected one; returns its name. An unknown
    name raises ValueError (it may also be a profile the project registered itself)."""
    from hypothesis import settings
    from hypothesis.errors import InvalidArgument

    register_profiles()
    name = select_profile(option, environ)
    if load:
        try:
            settings.load_profile(name)
        except InvalidArgument:
            known = ", ".join(sorted(PROFILES))
            raise ValueError(
                f"unknown Hypothesis profile {name!r} (omniwire profiles: {known})"
            ) from None
    return name
