"""Every hook is documented with its exact signature and has a test of its own."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import anyio
import pytest
from kernel_toy import ToyCodec
from omniwire import Endpoint, Request, hookspecs
from omniwire.plugins import PluginManager, hookimpl
from omniwire.stack import Stack
from omniwire.wire import WireResponse

ROOT = Path(__file__).resolve().parents[2]
HOOKS = [
    name
    for name, _ in inspect.getmembers(hookspecs, inspect.isfunction)
    if name.startswith("omniwire_")
]


def signature_line(name: str) -> str:
    sig = str(inspect.signature(getattr(hookspecs, name))).replace("'", "")
    return f"def {name}{sig}: ..."


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_is_documented_with_its_signature(name):
    docs = (ROOT / "docs" / "hooks.md").read_text()
    params = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
    assert f"### {name}({params})" in docs, f"docs/hooks.md lacks a heading for {name}"
    assert signature_line(name) in docs, f"docs/hooks.md has a stale signature for {name}"


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_has_a_test(name):
    pattern = re.compile(rf"def test_hook_{name}\b")
    found = any(
        pattern.search(p.read_text())
        for p in ROOT.glob("**/tests/**/*.py")
        if ".venv" not in p.parts
    )
    assert found, f"no test_hook_{name} anywhere in the tests"


# -- one test per hook --------------------------------------------------------------


class Recorder:
    def __init__(self, pm: PluginManager) -> None:
        self.calls: list[str] = []
        pm.pm.add_hookcall_monitoring(
            lambda name, impls, kw: self.calls.append(name), lambda *a: None
        )


def _registered(hook: str, table: str) -> list[str]:
    pm = PluginManager(entry_points=False)
    return sorted(pm.table(table))


def test_hook_omniwire_register_codecs():
    pm = PluginManager(entry_points=False)

    class P:
        @hookimpl
        def omniwire_register_codecs(self, register):
            register(ToyCodec())

    pm.register(P(), name="toy")
    assert pm.codec("toy.chat").id == "toy.chat"
    assert pm.plugins()[-1].provides == {"codecs": ["toy.chat"]}


def test_hook_omniwire_register_transports():
    assert _registered("omniwire_register_transports", "transports") == ["httpx"]


def test_hook_omniwire_register_auth_schemes():
    assert _registered("omniwire_register_auth_schemes", "auth_schemes") == [
        "api-key",
        "bearer",
        "none",
        "x-api-key",
        "x-goog-api-key",
    ]


def test_hook_omniwire_register_endpoint_profiles():
    assert _registered("omniwire_register_endpoint_profiles", "endpoint_profiles") == [
        "compat",
        "default",
    ]


def _register_one(hook: str, table: str):
    pm = PluginManager(entry_points=False)
    obj = type("Thing", (), {"name": "thing"})()

    class P:
        pass

    def impl(register):
        register(obj)

    setattr(P, hook, staticmethod(hookimpl(impl)))
    pm.register(P(), name="p")
    return pm.table(table)["thing"] is obj


def test_hook_omniwire_register_strategies():
    assert _register_one("omniwire_register_strategies", "strategies")


def test_hook_omniwire_register_budget_backends():
    assert _register_one("omniwire_register_budget_backends", "budget_backends")


def test_hook_omniwire_register_sanitizers():
    assert _register_one("omniwire_register_sanitizers", "sanitizers")


def test_hook_omniwire_register_price_tables():
    assert _register_one("omniwire_register_price_tables", "price_tables")


def _stack(url: str, *plugins: object) -> tuple[Stack, Recorder]:
    pm = PluginManager(entry_points=False)
    rec = Recorder(pm)
    stack = Stack(
        [Endpoint("toy", "toy.chat", url, keys=("sk-hook-test-0000001",))],
        plugin_manager=pm,
        codecs=[ToyCodec()],
        plugins=plugins,
    )
    return stack, rec


def _call(stack: Stack, prompt: str = "hi"):
    async def main():
        async with stack:
            return await stack.invoke(Request.simple("m", prompt))

    return anyio.run(main)


def test_hook_omniwire_encode(toy_server):
    class Upper:
        @hookimpl(wrapper=True)
        def omniwire_encode(self, call, request):
            wire = yield
            return wire.with_headers(**{"x-wrapped": "yes"})

    stack, rec = _stack(toy_server.url, Upper())
    _call(stack)
    assert "omniwire_encode" in rec.calls
    assert toy_server.requests[0]["headers"]["x-wrapped"] == "yes"


def test_hook_omniwire_auth(toy_server):
    class Custom:
        @hookimpl
        def omniwire_auth(self, call, wire):
            return wire.with_headers(authorization="Custom " + call.key.alias)

    stack, rec = _stack(toy_server.url, Custom())
    _call(stack)
    assert toy_server.requests[0]["headers"]["authorization"].startswith("Custom ")


def test_hook_omniwire_transport():
    seen = []

    class Fake:
        @hookimpl
        def omniwire_transport(self, call, wire):
            seen.append(wire.url)

            async def send():
                return WireResponse(200, {}, b'{"id":"x","text":"fake","usage":{"in":1,"out":1}}')

            return send()

    stack, _ = _stack("http://127.0.0.1:1", Fake())
    assert _call(stack).response.text == "fake"
    assert seen == ["http://127.0.0.1:1/chat"]


def test_hook_omniwire_decode(toy_server):
    class Shout:
        @hookimpl(wrapper=True)
        def omniwire_decode(self, call, response):
            result = yield
            import attrs

            return attrs.evolve(result, id="decorated")

    stack, _ = _stack(toy_server.url, Shout())
    assert _call(stack).response.id == "decorated"


def test_hook_omniwire_price(toy_server):
    from omniwire.money import Cost

    class Flat:
        @hookimpl
        def omniwire_price(self, call, usage):
            return Cost("0.000001") if usage.input_tokens else None

    stack, _ = _stack(toy_server.url, Flat())
    assert _call(stack).cost == Cost("0.000001")


def test_hook_omniwire_observe(toy_server):
    events = []

    class Obs:
        @hookimpl
        def omniwire_observe(self, call, event):
            events.append((event, call.endpoint.name if call.endpoint else None))

    stack, _ = _stack(toy_server.url, Obs())
    _call(stack)
    assert events == [("start", None), ("attempt", "toy"), ("end", "toy")]


def test_observer_exception_never_breaks_a_call(toy_server):
    class Bad:
        @hookimpl
        def omniwire_observe(self, call, event):
            raise RuntimeError("observer bug")

    stack, _ = _stack(toy_server.url, Bad())
    assert _call(stack).response.text == "echo: hi"


def test_stages_only_kernel_skip_the_hook(toy_server):
    stack, rec = _stack(toy_server.url)
    _call(stack)
    assert rec.calls == []  # every stage called directly: no hook dispatch per call


def test_hook_omniwire_register_guards(toy_server):
    log = []

    class Counting:
        async def admit(self, call, candidate):
            log.append("admit")

        async def complete(self, call):
            log.append("complete")

        async def abort(self, call, error):
            log.append("abort")

    class Factory:
        name = "counting"
        order = 10

        @staticmethod
        def from_stack(stack):
            return Counting() if stack.options.get("count") else None

    class P:
        @hookimpl
        def omniwire_register_guards(self, register):
            register(Factory)

    for enabled in (False, True):
        pm = PluginManager(entry_points=False)
        pm.register(P(), name="p")
        stack = Stack(
            [Endpoint("toy", "toy.chat", toy_server.url)],
            plugin_manager=pm,
            codecs=[ToyCodec()],
            options={"count": enabled},
        )
        assert len(stack.guards) == int(enabled)
        _call(stack)
    assert log == ["admit", "complete"]


def test_hook_omniwire_register_commands(monkeypatch, capsys):
    from omniwire import cli, plugins

    class Hello:
        name = "hello"
        help = "say hello"

        def configure(self, parser):
            parser.add_argument("--who", default="world")

        def run(self, args):
            print(f"hello {args.who}")
            return 0

    class P:
        @hookimpl
        def omniwire_register_commands(self, register):
            register(Hello())

    pm = PluginManager(entry_points=False)
    pm.register(P(), name="p")
    monkeypatch.setattr(plugins, "_default", pm)
    assert cli.main(["hello", "--who", "omniwire"]) == 0
    assert capsys.readouterr().out == "hello omniwire\n"
    assert cli.main(["hello", "--bogus"]) == 2
