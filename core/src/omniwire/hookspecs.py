"""Every hook a plugin can implement, in one place.

Two kinds of hook:

* **Registration hooks** (``omniwire_register_*``) are called once, when a stack's
  registries are built. Each receives a ``register`` callback; the plugin calls it once
  per object it contributes. The kernel owns the tables, and a name registered twice is
  a :class:`~omniwire.errors.PluginError`.
* **Stage hooks** (``omniwire_encode``, ``omniwire_auth``, ``omniwire_transport``,
  ``omniwire_decode``, ``omniwire_price``, ``omniwire_observe``) run once per call.
  The kernel's built-in plugin implements the first five with ``trylast=True``; a plugin
  that returns a non-None value (``firstresult``) handles the stage instead, and a
  ``wrapper=True`` implementation wraps it (middleware). When nothing but the built-in
  implements a stage, the stack calls the built-in directly and skips the hook.

Hooks are called synchronously (pluggy never awaits). ``omniwire_transport`` returns an
awaitable; the stack awaits it. Nothing here runs per stream chunk.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Awaitable, Callable

import pluggy

if TYPE_CHECKING:
    from .call import Call
    from .codec import Codec
    from .model import Usage
    from .wire import WireRequest, WireResponse

hookspec = pluggy.HookspecMarker("omniwire")

# -- registration -------------------------------------------------------------------------


@hookspec
def omniwire_register_codecs(register: Callable[[Codec], None]) -> None:
    """Contribute codecs. Call ``register(codec)`` for each; the codec's ``id`` is its name.

    :param register: callback taking a :class:`~omniwire.codec.Codec` instance.

    Added in 0.1.
    """


@hookspec
def omniwire_register_transports(register: Callable[[Any], None]) -> None:
    """Contribute transports. Call ``register(factory)``; ``factory.name`` names it and
    ``factory(**options)`` builds a :class:`~omniwire.transport.Transport`.

    :param register: callback taking a transport factory (usually the class).

    Added in 0.1.
    """


@hookspec
def omniwire_register_auth_schemes(register: Callable[[Any], None]) -> None:
    """Contribute auth schemes (bearer, header keys, request signing). Call
    ``register(scheme)``; ``scheme.name`` names it and ``scheme.apply(wire, key)`` returns
    the authenticated :class:`~omniwire.wire.WireRequest`.

    :param register: callback taking an auth scheme.

    Added in 0.1.
    """


@hookspec
def omniwire_register_strategies(register: Callable[[Any], None]) -> None:
    """Contribute load-balancing strategies. Call ``register(factory)``; ``factory.name``
    is the name used in configuration (``round-robin``, ``latency``...).

    :param register: callback taking a strategy factory.

    Added in 0.1.
    """


@hookspec
def omniwire_register_budget_backends(register: Callable[[Any], None]) -> None:
    """Contribute budget backends (in-memory, SQLite, Redis...). Call
    ``register(factory)``; ``factory.name`` names it.

    :param register: callback taking a budget backend factory.

    Added in 0.1.
    """


@hookspec
def omniwire_register_sanitizers(register: Callable[[Any], None]) -> None:
    """Contribute sanitizers that redact secrets from anything recorded, logged or raised.
    Call ``register(sanitizer)``; ``sanitizer.name`` names it.

    :param register: callback taking a sanitizer.

    Added in 0.1.
    """


@hookspec
def omniwire_register_price_tables(register: Callable[[Any], None]) -> None:
    """Contribute price tables. Call ``register(table)``; ``table.name`` names it and
    ``table.price(provider, model, usage)`` returns a cost or None.

    :param register: callback taking a price table.

    Added in 0.1.
    """


@hookspec
def omniwire_register_endpoint_profiles(register: Callable[[Any], None]) -> None:
    """Contribute endpoint profiles: how to reach a provider (URL derivation, auth
    scheme, default headers). Call ``register(profile)``; ``profile.name`` names it.

    :param register: callback taking an :class:`~omniwire.endpoint.EndpointProfile`.

    Added in 0.1.
    """


@hookspec
def omniwire_register_guards(register: Callable[[Any], None]) -> None:
    """Contribute guard factories (circuit breakers, rate limits, budgets). Call
    ``register(factory)``; ``factory.name`` names it, ``factory.order`` (a number, lower
    runs first) places it, and ``factory.from_stack(stack)`` returns a
    :class:`~omniwire.guard.Guard` for that stack, or None when the stack's
    configuration does not ask for it. Called once per stack, at build time.

    :param register: callback taking a guard factory.

    Added in 0.1.
    """


@hookspec
def omniwire_register_commands(register: Callable[[Any], None]) -> None:
    """Contribute ``omniwire`` subcommands (``serve``, ``usage``, ``sanitize``...). Call
    ``register(command)``; ``command.name`` is the subcommand, ``command.help`` its one
    line, ``command.configure(parser)`` adds its arguments to an argparse parser and
    ``command.run(args) -> int`` runs it (raise OmniwireError for bad input).

    :param register: callback taking a command object.

    Added in 0.1.
    """


# -- stages -------------------------------------------------------------------------------


@hookspec(firstresult=True)
def omniwire_encode(call: Call, request: Any) -> WireRequest | None:
    """Encode stage: turn the canonical request into the WireRequest for
    ``call.endpoint``, with its URL set. Stops at the first non-None result.

    :param call: the call in flight (codec, endpoint, key, conversion log).
    :param request: the canonical request, with the upstream model name already applied.

    Added in 0.1.
    """


@hookspec(firstresult=True)
def omniwire_auth(call: Call, wire: WireRequest) -> WireRequest | None:
    """Auth stage: return ``wire`` with credentials for ``call.key`` attached.
    Stops at the first non-None result.

    :param call: the call in flight.
    :param wire: the encoded request, URL set, no credentials yet.

    Added in 0.1.
    """


@hookspec(firstresult=True)
def omniwire_transport(call: Call, wire: WireRequest) -> Awaitable[WireResponse] | None:
    """Transport stage: send ``wire`` and return an awaitable of the WireResponse (status
    and headers read, body read unless ``wire.stream``). Stops at the first non-None
    result.

    :param call: the call in flight.
    :param wire: the authenticated request.

    Added in 0.1.
    """


@hookspec(firstresult=True)
def omniwire_decode(call: Call, response: WireResponse) -> Any:
    """Decode stage: turn a successful non-streamed WireResponse into the canonical
    response, or, when ``call.stream`` is set, into a stream decoder
    (:class:`~omniwire.codec.StreamDecoder`) the stack feeds SSE events to.
    Stops at the first non-None result.

    :param call: the call in flight.
    :param response: the upstream response (status 2xx).

    Added in 0.1.
    """


@hookspec(firstresult=True)
def omniwire_price(call: Call, usage: Usage) -> Any:
    """Price stage: the exact cost of ``usage`` for ``call.endpoint``/``call.model``, as a
    :class:`~omniwire.money.Cost`, or None when no table knows the model.
    Stops at the first non-None result.

    :param call: the call in flight (provider and upstream model name).
    :param usage: the canonical usage the provider reported.

    Added in 0.1.
    """


@hookspec
def omniwire_observe(call: Call, event: str) -> None:
    """Observe stage: every implementation sees every call's life events.

    ``event`` is one of ``start`` (before routing), ``attempt`` (a candidate was chosen),
    ``first_chunk`` (first stream event), ``retry`` (the attempt failed and another
    follows), ``end`` (success; ``call.response``, ``call.usage``, ``call.cost`` set),
    ``error`` (``call.error`` set) or ``cancelled`` (the task was cancelled or the
    consumer stopped reading a stream; ``call.usage`` holds what was seen). Implementations must be cheap and must not raise;
    an exception is logged and swallowed.

    :param call: the call in flight.
    :param event: the life event.

    Added in 0.1.
    """
