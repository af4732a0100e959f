"""The ``omniwire`` pytest plugin (entry point ``pytest11``): fixtures for plugin
managers, hook recording, real services and fake upstreams, and the Hypothesis profile
selection (see :mod:`omniwire_testing.profiles`).

Import-light on purpose: pytest loads it in every run of every project that has the kit
installed, so this module imports nothing beyond the standard library and pytest. The
kernel and the kit load when a fixture is first used; Hypothesis is imported in
``pytest_configure`` only when it is installed (its profiles must exist before test
modules build their ``settings``).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable, Iterator

import pytest

if TYPE_CHECKING:
    from omniwire.plugins import PluginManager

    from omniwire_testing.hooks import HookRecorder
    from omniwire_testing.upstream import FakeUpstream

_PROFILE = pytest.StashKey[str]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("omniwire")
    group.addoption(
        "--omniwire-profile",
        dest="omniwire_profile",
        default=None,
        metavar="NAME",
        help="Hypothesis profile for omniwire suites: ci, dev or fast "
        "(default: $OMNIWIRE_HYPOTHESIS_PROFILE, else ci when CI=true, else dev).",
    )


def pytest_configure(config: pytest.Config) -> None:
    from importlib.util import find_spec

    if find_spec("hypothesis") is None:
        return
    from omniwire_testing.profiles import activate

    # an explicit --hypothesis-profile wins: register ours, load nothing
    explicit = config.getoption("hypothesis_profile", default=None)
    try:
        name = activate(config.getoption("omniwire_profile"), os.environ, load=not explicit)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[_PROFILE] = explicit or name


def pytest_report_header(config: pytest.Config) -> str | None:
    name = config.stash.get(_PROFILE, None)
    return f"omniwire: hypothesis profile {name!r}" if name else None


# -- plugin managers ----------------------------------------------------------------------


@pytest.fixture
def plugin_manager() -> PluginManager:
    """A fresh ``omniwire.plugins.PluginManager(entry_points=False)``: built-ins only."""
    from omniwire_testing.support import new_plugin_manager

    return new_plugin_manager()


@pytest.fixture
def register_plugin(plugin_manager: PluginManager) -> Iterator[Callable[..., str]]:
    """``register_plugin(plugin, name=None) -> name`` on ``plugin_manager``; every
    registration is undone at teardown."""
    names: list[str] = []

    def register(plugin: object, name: str | None = None) -> str:
        registered = plugin_manager.register(plugin, name=name)
        names.append(registered)
        return registered

    yield register
    for name in reversed(names):
        if plugin_manager.pm.has_plugin(name):
            plugin_manager.unregister(name=name)


@pytest.fixture
def hook_recorder(plugin_manager: PluginManager) -> Iterator[HookRecorder]:
    """Records every hook call on ``plugin_manager``: ``.calls(name)``, ``.names()``."""
    from omniwire_testing.hooks import HookRecorder

    recorder = HookRecorder(plugin_manager)
    yield recorder
    recorder.close()


# -- services -----------------------------------------------------------------------------


@pytest.fixture
def redis_url() -> str:
    """``$OMNIWIRE_REDIS_URL`` (default ``redis://127.0.0.1:6379/15``) once it answers
    PING; skips when unreachable, fails under ``CI=true``."""
    from omniwire_testing.services import require_redis

    return require_redis()


@pytest.fixture
def oracle_sdks() -> Any:
    """The :mod:`omniwire_testing.oracles` module once the ``new`` SDK oracles are
    installed; skips otherwise (fails under ``CI=true``)."""
    from omniwire_testing import oracles
    from omniwire_testing.services import unavailable

    if not oracles.available("new"):
        unavailable("the official-SDK oracles are not installed (.oracles/new)")
    return oracles


# -- fake upstreams -----------------------------------------------------------------------


@pytest.fixture
def fake_upstream() -> Iterator[FakeUpstream]:
    """A started :class:`~omniwire_testing.upstream.FakeUpstream` speaking every
    installed codec."""
    from omniwire_testing.upstream import FakeUpstream

    with FakeUpstream() as upstream:
        yield upstream


@pytest.fixture
def fake_upstream_factory() -> Iterator[Callable[..., FakeUpstream]]:
    """``fake_upstream_factory(codecs, **options)`` -> a started FakeUpstream, closed at
    teardown (for toy codecs, raw answers, several upstreams in one test)."""
    from omniwire_testing.upstream import FakeUpstream

    started: list[FakeUpstream] = []

    def make(*args: Any, **kwargs: Any) -> FakeUpstream:
        upstream = FakeUpstream(*args, **kwargs).start()
        started.append(upstream)
        return upstream

    yield make
    for upstream in reversed(started):
        upstream.close()
