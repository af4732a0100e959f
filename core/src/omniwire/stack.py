"""The stack: a built pipeline that runs calls through the stages.

::

    route -> reserve -> encode -> auth -> transport -> decode -> price -> settle -> observe
                        '------------ one attempt; failover wraps it ------------'

Everything a call needs — codecs per endpoint, auth schemes, endpoint profiles, the
transport, and for each stage either the built-in function or the pluggy hook caller —
is resolved once in ``__init__``. Per call the stack does dictionary lookups and, only
for stages some plugin actually implements, one hook call.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable, Iterable, Mapping

import attrs

from . import builtins as _builtin
from .call import Attempt, Call
from .codec import Codec, Family
from .endpoint import Endpoint, EndpointProfile
from .errors import ConfigError, OmniwireError, PluginError, ProtocolError, UpstreamError
from .guard import Failover, Guard, RetryPolicy
from .model import (
    EmbeddingRequest,
    ImageEditRequest,
    ImageRequest,
    ImageVariationRequest,
    Request,
    RerankRequest,
    ResponseStart,
    SpeechRequest,
    StreamError,
    StreamEvent,
    StreamFold,
    TokenCountRequest,
    TranscriptionRequest,
    events_for,
)
from .plugins import PluginManager, get_plugin_manager, hookimpl
from .routing import Candidate, ModelRoute, Router
from .sse import SSEParser
from .transport import read_all
from .wire import WireRequest, WireResponse

if TYPE_CHECKING:
    from .model import Response

__all__ = ["Stack", "StreamResult"]

_FAMILY_OF: dict[type, tuple[str, str]] = {
    Request: (Family.GENERATE, "chat"),
    EmbeddingRequest: (Family.EMBED, "embeddings"),
    ImageRequest: (Family.IMAGE, "generate_image"),
    ImageEditRequest: (Family.IMAGE_EDIT, "edit_image"),
    ImageVariationRequest: (Family.IMAGE_VARIATION, "image_variation"),
    TranscriptionRequest: (Family.TRANSCRIBE, "transcription"),
    SpeechRequest: (Family.SPEECH, "speech"),
    RerankRequest: (Family.RERANK, "rerank"),
    TokenCountRequest: (Family.COUNT_TOKENS, "count_tokens"),
}

_STAGES = ("encode", "auth", "transport", "decode", "price")


class _CodePlugin:
    """Registers codecs and other objects handed to the Stack in code."""

    def __init__(self, codecs: Iterable[Codec]) -> None:
        self.codecs = list(codecs)

    @hookimpl
    def omniwire_register_codecs(self, register: Callable[[Any], None]) -> None:
        for codec in self.codecs:
            register(codec)


class Stack:
    """Build once, call many times. Async first; :meth:`sync` gives a blocking facade.

    :param endpoints: the upstreams.
    :param routes: virtual model names and their targets.
    :param plugin_manager: defaults to the process-wide manager with every installed
        plugin; pass ``PluginManager(entry_points=False)`` to compose in code only.
    :param plugins: extra in-process plugins (objects or modules with hookimpls).
    :param codecs: extra codec instances, registered as if a plugin had.
    :param transport: a transport object; default the registered ``transport_name``.
    :param strict: refuse lossy conversions (ProtocolError) instead of reporting them.
    :param guards: admission checks run around every attempt, in order (circuit
        breakers, rate limits, budgets); see :class:`~omniwire.guard.Guard`.
    :param retry: decides whether and when the next candidate is tried after a
        retryable failure; default :class:`~omniwire.guard.Failover` (at once).
    :param auto_guards: let registered guard factories (``omniwire_register_guards``)
        add the guards this stack's configuration asks for.
    :param options: stack-wide settings guard factories read (the config's ``[server]``
        and other sections).
    :param stream_fallback: a stream that fails before its first event reaches the
        caller is answered by a non-streamed call, re-streamed locally.
    :param singleflight: identical non-streamed requests in flight at the same time
        share one upstream call (the followers send and spend nothing).
    """

    def __init__(
        self,
        endpoints: Iterable[Endpoint] = (),
        *,
        routes: Iterable[ModelRoute] = (),
        plugin_manager: PluginManager | None = None,
        plugins: Iterable[object] = (),
        codecs: Iterable[Codec] = (),
        transport: Any = None,
        transport_name: str = "httpx",
        transport_options: Mapping[str, Any] | None = None,
        strict: bool = False,
        guards: Iterable[Guard] = (),
        retry: RetryPolicy | None = None,
        auto_guards: bool = True,
        options: Mapping[str, Any] | None = None,
        stream_fallback: bool = True,
        singleflight: bool = False,
    ) -> None:
        extra_codecs = list(codecs)
        plugins = list(plugins)
        if plugin_manager is None:
            # objects given in code belong to this stack: never add them to the shared
            # process-wide manager, where a second stack would find them twice
            plugin_manager = PluginManager() if extra_codecs or plugins else get_plugin_manager()
        self.pm = plugin_manager
        if extra_codecs:
            self.pm.register(_CodePlugin(extra_codecs), name=f"stack-codecs-{id(self)}")
        for i, plugin in enumerate(plugins):
            self.pm.register(plugin, name=f"stack-plugin-{id(self)}-{i}")
        self.router = Router(endpoints, routes)
        self.strict = strict
        self.stream_fallback = stream_fallback
        self._flights: dict[str, _Flight] | None = {} if singleflight else None
        self.retry: RetryPolicy = retry or Failover()
        """Guard factories may replace it at build time (a configured backoff)."""
        self.price_tables = list(self.pm.table("price_tables").values())
        # a route's strategy orders its candidates; "priority" is the kernel's own order
        self._strategies: dict[str, Any] = {}
        for route in self.router.routes.values():
            if route.strategy != "priority":
                factory = self.pm.get("strategies", route.strategy)
                self._strategies[route.name] = factory(route)
        # strategies that watch outcomes (in-flight, latency) take part as guards
        watching = [s for s in self._strategies.values() if hasattr(s, "admit")]
        self.options: Mapping[str, Any] = options or {}
        planted: list[Guard] = []
        if auto_guards:
            factories = sorted(self.pm.table("guards").values(), key=lambda f: f.order)
            planted = [g for g in (_plant(f, self) for f in factories) if g is not None]
        self.guards: tuple[Guard, ...] = (*watching, *planted, *guards)
        self._codecs: dict[tuple[str, str], Codec] = {}
        self._auth: dict[str, Any] = {}
        self._profiles: dict[str, EndpointProfile] = {}
        for endpoint in self.router.endpoints.values():
            self._resolve_endpoint(endpoint)
        if transport is None:
            factory = self.pm.get("transports", transport_name)
            transport = factory(**(transport_options or {}))
        self.transport = transport
        self._stage: dict[str, Callable[..., Any]] = {}
        # only the codec decodes answers: what the upstream sent is what the codec read,
        # so a same-protocol server may relay it (Call.native, StreamResult relay)
        self._native = False
        wanted: dict[int, Any] = {}
        for stage in _STAGES:
            hook_name = f"omniwire_{stage}"
            caller, impls = self._scoped(hook_name, stage, wanted)
            if impls == ["builtins"]:
                self._stage[stage] = getattr(_builtin, hook_name)
                if stage == "decode":
                    self._native = True
            elif not impls:
                raise ConfigError(f"nothing implements the {stage} stage")
            else:
                names = _STAGE_ARGS[stage]
                self._stage[stage] = _direct_caller(self.pm.pm, caller, names, firstresult=True)
        hook, observers = self._scoped("omniwire_observe", "observe", wanted)
        self._observe_hook = _direct_caller(self.pm.pm, hook, ("call", "event"), firstresult=False)
        self._observers = bool(observers)

    # -- build-time resolution ---------------------------------------------------------

    def _scoped(self, hook_name: str, stage: str, wanted: dict[int, Any]) -> tuple[Any, list[str]]:
        """The caller of a per-call hook for this stack, and the plugins it reaches.

        A plugin that is installed but not used by this stack (a cache nobody
        configured) says so with ``omniwire_stages(stack)``, the per-call hooks it needs
        here; it is left out of this stack's caller, so it costs its calls nothing.
        """
        hook = getattr(self.pm.hook, hook_name)
        names: list[str] = []
        drop: list[object] = []
        for impl in hook.get_hookimpls():
            plugin = impl.plugin
            ask = getattr(plugin, "omniwire_stages", None)
            if callable(ask):
                if id(plugin) not in wanted:
                    wanted[id(plugin)] = frozenset(ask(self))
                if stage not in wanted[id(plugin)]:
                    drop.append(plugin)
                    continue
            names.append(impl.plugin_name)
        if drop:
            hook = self.pm.pm.subset_hook_caller(hook_name, remove_plugins=drop)
        return hook, names

    def _resolve_endpoint(self, endpoint: Endpoint) -> None:
        primary: Codec = self.pm.codec(endpoint.protocol)
        self._codecs[(endpoint.name, primary.family)] = primary
        prefix = endpoint.protocol.split(".", 1)[0] + "."
        for codec in self.pm.codecs.values():
            if codec.id.startswith(prefix) and (endpoint.name, codec.family) not in self._codecs:
                self._codecs[(endpoint.name, codec.family)] = codec
        profile = self.pm.get("endpoint_profiles", endpoint.profile)
        # an explicit auth wins, then what the profile needs (Azure: api-key), then the codec's
        scheme = endpoint.auth or getattr(profile, "default_auth", None) or primary.default_auth
        self._auth[endpoint.name] = self.pm.get("auth_schemes", scheme)
        self._profiles[endpoint.name] = profile

    def codec_for(self, endpoint: Endpoint, family: str) -> Codec:
        codec = self._codecs.get((endpoint.name, family))
        if codec is None:
            raise ConfigError(f"provider {endpoint.name!r} has no codec for {family} requests")
        return codec

    def auth_for(self, endpoint: Endpoint) -> Any:
        return self._auth[endpoint.name]

    def profile_for(self, endpoint: Endpoint) -> EndpointProfile:
        return self._profiles[endpoint.name]

    def price(self, call: Call, usage: Any) -> Any:
        """``usage`` priced by this stack's price stage (what ``call.cost`` is made of),
        for guards that price estimates: the plugins this stack uses, nothing else."""
        return self._stage["price"](call, usage)

    @property
    def endpoints(self) -> Mapping[str, Endpoint]:
        return self.router.endpoints

    # -- observe ----------------------------------------------------------------------

    def _observe(self, call: Call, event: str) -> None:
        if not self._observers:
            return
        try:
            self._observe_hook(call, event)
        except Exception:  # an observer must never break a call
            import logging

            logging.getLogger("omniwire.observe").exception("observer failed on %s", event)

    # -- one attempt ------------------------------------------------------------------

    def _prepare(self, call: Call, candidate: Candidate, family: str) -> Any:
        call.endpoint = candidate.endpoint
        call.key = candidate.key
        call.model = candidate.model
        call.status = None
        call.sent = False
        call.response_headers = None
        call.codec = self.codec_for(candidate.endpoint, family)
        call.conversion.target = call.codec.id
        call.attempts.append(
            Attempt(
                candidate.endpoint.name,
                candidate.key.alias if candidate.key else None,
                candidate.model,
            )
        )
        request = call.request
        if request.model != candidate.model:
            request = attrs.evolve(request, model=candidate.model)
        if call.stream != getattr(request, "stream", call.stream):
            request = attrs.evolve(request, stream=call.stream)
        return request

    async def _send(self, call: Call, request: Any) -> WireResponse:
        stage = self._stage
        wire: WireRequest = stage["encode"](call, request)
        wire = stage["auth"](call, wire)
        call.sent = True
        response: WireResponse = await stage["transport"](call, wire)
        call.status = response.status
        call.response_headers = response.headers
        if not response.ok:
            body = await read_all(response)
            assert call.codec is not None
            raise call.codec.decode_error(response.status, response.headers, body)
        return response

    def _candidates(self, call: Call) -> list[Candidate]:
        model = call.request.model
        candidates = self.router.candidates(model)
        strategy = self._strategies.get(model)
        if strategy is not None:
            candidates = list(strategy.order(candidates))
        if not candidates:
            raise ConfigError(f"model {call.request.model!r} has no usable target")
        return candidates

    async def _attempts(
        self, call: Call, family: str, attempt: Callable[[Call, Any], Awaitable[Any]]
    ) -> Any:
        """Try candidates in order until one attempt succeeds.

        Guards admit each attempt (a guard refusing with a retryable error — an open
        breaker, a local rate limit — moves on to the next candidate; anything else,
        like BudgetExceeded, ends the call before a byte is sent). A failed attempt is
        aborted on every guard that admitted it, also on cancellation. The guards that
        admitted the successful attempt stay in ``call.admitted`` until
        :meth:`_finish` or :meth:`_fail` completes or aborts them.
        """
        candidates = self._candidates(call)
        last_index = len(candidates) - 1
        for i, candidate in enumerate(candidates):
            request = self._prepare(call, candidate, family)
            try:
                await self._admit(call, candidate)
            except OmniwireError as exc:
                self._failed(call, exc, i == last_index)
                continue
            self._observe(call, "attempt")
            try:
                return await attempt(call, request)
            except OmniwireError as exc:
                await self._abort(call, exc)
                self._failed(call, exc, i == last_index)
                if not await self.retry.before_next(call, exc, candidates[i + 1]):
                    raise exc from None
            except BaseException:
                await self._abort(call, None)
                raise
        raise AssertionError("unreachable: the last failure raises")

    async def _admit(self, call: Call, candidate: Candidate) -> None:
        call.admitted = []
        for guard in self.guards:
            try:
                await guard.admit(call, candidate)
            except BaseException:
                await self._abort(call, None)
                raise
            call.admitted.append(guard)

    async def _abort(self, call: Call, error: OmniwireError | None) -> None:
        admitted, call.admitted = call.admitted, []
        if not admitted:
            return
        import anyio

        with anyio.CancelScope(shield=True):
            for guard in reversed(admitted):
                try:
                    await guard.abort(call, error)
                except Exception:
                    import logging

                    logging.getLogger("omniwire.guard").exception("guard abort failed")

    def _failed(self, call: Call, exc: OmniwireError, last: bool) -> None:
        attempt = call.attempts[-1]
        attempt.error = exc.kind
        attempt.duration = time.perf_counter() - call.started
        if exc.endpoint is None and call.endpoint is not None:
            exc.endpoint = call.endpoint.name
        if exc.provider is None:
            exc.provider = call.provider
        if exc.retryable and not last:
            self._observe(call, "retry")
            return
        raise exc

    async def _finish(self, call: Call, usage: Any) -> None:
        call.usage = usage
        if usage is not None:
            call.cost = self._stage["price"](call, usage)
        admitted, call.admitted = call.admitted, []
        for guard in reversed(admitted):
            await guard.complete(call)
        call.ended = time.perf_counter()
        self._observe(call, "end")

    async def _fail(self, call: Call, exc: OmniwireError | None) -> None:
        """End a call that did not succeed: ``exc`` is the error, None a cancellation
        (or a consumer that stopped reading a stream)."""
        await self._abort(call, exc)
        call.ended = time.perf_counter()
        if exc is not None:
            call.error = exc
            self._observe(call, "error")
        else:
            self._observe(call, "cancelled")

    # -- public API -------------------------------------------------------------------

    def _new_call(self, request: Any, stream: bool, strict: bool | None) -> tuple[Call, str]:
        try:
            family, operation = _FAMILY_OF[type(request)]
        except KeyError:
            raise ConfigError(f"not a canonical request: {type(request).__name__}") from None
        call = Call(
            self,
            request,
            operation=operation,
            stream=stream,
            strict=self.strict if strict is None else strict,
        )
        raw = getattr(request, "raw", None)
        call.conversion.source = raw.protocol if raw is not None else None
        return call, family

    async def invoke(self, request: Any, *, strict: bool | None = None) -> Call:
        """Run a non-streamed call and return its full record (response, report, usage,
        cost, attempts). Raises an :class:`~omniwire.errors.OmniwireError` on failure."""
        if self._flights is not None:
            return await self._invoke_shared(request, strict)
        return await self._invoke(request, strict)

    async def _invoke_shared(self, request: Any, strict: bool | None) -> Call:
        """Singleflight: the first of several identical requests runs; the others wait
        for it and get its answer (or its error). A leader that is cancelled hands the
        work to one of its followers instead of failing them."""
        key = _flight_key(request, self.strict if strict is None else strict)
        flights = self._flights
        assert flights is not None
        while (flight := flights.get(key)) is not None:
            await flight.done.wait()
            if flight.call is not None:
                return self._follower(flight.call, request, strict)
            if flight.error is not None:
                raise flight.error
        flight = flights[key] = _Flight()
        try:
            flight.call = await self._invoke(request, strict)
            return flight.call
        except OmniwireError as exc:
            flight.error = exc
            raise
        finally:
            del flights[key]
            flight.done.set()

    def _follower(self, leader: Call, request: Any, strict: bool | None) -> Call:
        call, _family = self._new_call(request, False, strict)
        call.shared = True
        call.response = leader.response
        call.conversion = leader.conversion
        call.codec, call.endpoint, call.model = leader.codec, leader.endpoint, leader.model
        call.status = leader.status
        self._observe(call, "start")
        call.ended = time.perf_counter()
        self._observe(call, "end")
        return call

    async def _invoke(self, request: Any, strict: bool | None) -> Call:
        call, family = self._new_call(request, False, strict)
        self._observe(call, "start")
        try:
            await self._attempts(call, family, self._attempt_once)
            await self._finish(call, getattr(call.response, "usage", None))
            return call
        except OmniwireError as exc:
            await self._fail(call, exc)
            raise
        except BaseException:
            await self._fail(call, None)
            raise

    async def _attempt_once(self, call: Call, request: Any) -> None:
        response = await self._send(call, request)
        try:
            call.response = self._stage["decode"](call, response)
        except ProtocolError as exc:
            raise _upstream_fault(exc) from None
        if self._native:
            call.native = response.body

    async def call(self, request: Any, *, strict: bool | None = None) -> Any:
        """Run a non-streamed call and return the canonical response."""
        return (await self.invoke(request, strict=strict)).response

    def stream(self, request: Request, *, strict: bool | None = None) -> StreamResult:
        """Start a streamed call. Iterate the result for canonical stream events; use it
        as an async context manager to be sure the upstream connection is released."""
        call, _family = self._new_call(request, True, strict)
        return StreamResult(self, call)

    async def primitive_call(
        self,
        model: str,
        body: Mapping[str, Any],
        *,
        stream: bool = False,
    ) -> PrimitiveResult:
        """Send a provider-native payload untouched to the endpoint serving ``model``
        (which must speak that payload's protocol); usage is still extracted for
        budgets. Returns the native response with its usage."""
        probe = Request(model=model, stream=stream)
        call, family = self._new_call(probe, stream, False)
        call.operation = "primitive"

        async def attempt(call: Call, request: Any) -> PrimitiveResult:
            template = self._stage["encode"](call, attrs.evolve(probe, model=request.model))
            native = dict(body)
            if "model" in native:
                native["model"] = request.model
            wire = self._stage["auth"](call, attrs.evolve(template, body=native))
            call.sent = True
            response = await self._stage["transport"](call, wire)
            call.status = response.status
            call.response_headers = response.headers
            assert call.codec is not None
            if not response.ok:
                raise call.codec.decode_error(
                    response.status, response.headers, await read_all(response)
                )
            return PrimitiveResult(call, response)

        self._observe(call, "start")
        try:
            result: PrimitiveResult = await self._attempts(call, family, attempt)
            if not stream:
                assert call.codec is not None
                try:
                    result.body = _builtin.parse_json(result.response.body, "upstream response")
                except ProtocolError as exc:
                    raise _upstream_fault(exc) from None
                await self._finish(call, call.codec.usage_of(result.body))
            return result
        except OmniwireError as exc:
            await self._fail(call, exc)
            raise
        except BaseException:
            await self._fail(call, None)
            raise

    async def pool_status(self) -> dict[str, Any]:
        """The state of every endpoint and key as the routing guards see it (breakers,
        cooldowns, in-flight, limits); empty when no guard reports any."""
        for guard in self.guards:
            report = getattr(guard, "pool_status", None)
            if callable(report):
                found = report(self)
                if hasattr(found, "__await__"):
                    found = await found
                return dict(found.to_dict() if hasattr(found, "to_dict") else found)
        return {}

    def sync(self) -> Any:
        """A blocking facade over this stack (runs an event loop in a thread)."""
        from .sync import SyncStack

        return SyncStack(self)

    async def aclose(self) -> None:
        """Close the transport and every guard that holds resources (``aclose``)."""
        await self.transport.aclose()
        for guard in self.guards:
            close = getattr(guard, "aclose", None)
            if callable(close):
                await close()

    async def __aenter__(self) -> Stack:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- construction helpers ---------------------------------------------------------

    @classmethod
    def from_config(cls, source: Any, **kwargs: Any) -> Stack:
        """Build from a TOML file path, TOML text or an already parsed mapping."""
        from .config import load_config

        config = load_config(source)
        kwargs.setdefault("options", config.data)
        kwargs.setdefault("stream_fallback", config.stream_fallback)
        kwargs.setdefault("singleflight", config.singleflight)
        return cls(config.endpoints, routes=config.routes, strict=config.strict, **kwargs)

    @classmethod
    def from_env(cls, **kwargs: Any) -> Stack:
        """Build from ``OMNIWIRE_CONFIG`` if set, else from provider keys in the
        environment (``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``, ``GEMINI_API_KEY``)."""
        from .config import config_from_env

        config = config_from_env()
        kwargs.setdefault("stream_fallback", config.stream_fallback)
        kwargs.setdefault("singleflight", config.singleflight)
        return cls(config.endpoints, routes=config.routes, strict=config.strict, **kwargs)


class _Flight:
    """One request in flight that identical ones wait for."""

    __slots__ = ("done", "call", "error")

    def __init__(self) -> None:
        import anyio

        self.done = anyio.Event()
        self.call: Call | None = None
        self.error: OmniwireError | None = None


def _flight_key(request: Any, strict: bool) -> str:
    """Identical means the same canonical request (its ``raw`` wire form aside)."""
    import hashlib
    import json

    from .serialize import to_json

    doc = {"type": type(request).__name__, "strict": strict, "request": to_json(request)}
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def _plant(factory: Any, stack: Stack) -> Guard | None:
    try:
        guard: Guard | None = factory.from_stack(stack)
    except OmniwireError:
        raise
    except Exception as exc:
        raise PluginError(
            f"guard {factory.name!r} cannot be set up: {type(exc).__name__}: {exc}"
        ) from None
    return guard


_STAGE_ARGS: dict[str, tuple[str, str]] = {
    "encode": ("call", "request"),
    "auth": ("call", "wire"),
    "transport": ("call", "wire"),
    "decode": ("call", "response"),
    "price": ("call", "usage"),
}


def _kwargs_caller(caller: Any, names: tuple[str, str]) -> Callable[..., Any]:
    first, second = names
    return lambda a, b: caller(**{first: a, second: b})


def _direct_caller(
    pm: Any, hook: Any, names: tuple[str, str], *, firstresult: bool
) -> Callable[..., Any]:
    """A per-call hook's implementations called in pluggy's order and by its rules
    (the first result that is not None wins, or every one runs) without its dispatch,
    ~3 us a call. Through pluggy when one of them wraps the others, and while pluggy's
    call monitoring or tracing is on (the kit's hook recorder sees every call)."""
    slow = _kwargs_caller(hook, names)
    try:  # pluggy's own call loop: monitoring replaces it on the manager
        from pluggy._callers import _multicall
    except ImportError:  # a pluggy that moved it: always through pluggy
        return slow
    impls = hook.get_hookimpls()
    if getattr(pm, "_inner_hookexec", None) is None or any(
        i.wrapper or i.hookwrapper for i in impls
    ):
        return slow
    fns: list[Callable[..., Any]] = []
    for impl in reversed(impls):  # pluggy calls the last registered (and tryfirst) first
        fn = impl.function
        if tuple(impl.argnames) == names:
            fns.append(fn)
        else:  # an implementation may take fewer arguments than the spec names
            pick = tuple(names.index(n) for n in impl.argnames)
            fns.append(lambda *args, _fn=fn, _pick=pick: _fn(*(args[i] for i in _pick)))

    if firstresult:

        def first(a: Any, b: Any) -> Any:
            if pm._inner_hookexec is not _multicall:
                return slow(a, b)
            for fn in fns:
                result = fn(a, b)
                if result is not None:
                    return result
            return None

        return first

    def every(a: Any, b: Any) -> None:
        if pm._inner_hookexec is not _multicall:
            slow(a, b)
            return
        for fn in fns:
            fn(a, b)

    return every


class PrimitiveResult:
    """A pass-through response: ``body`` (parsed JSON) or ``events()`` (native SSE)."""

    def __init__(self, call: Call, response: WireResponse) -> None:
        self.call = call
        self.response = response
        self.body: Any = None

    @property
    def usage(self) -> Any:
        return self.call.usage

    async def events(self) -> AsyncIterator[Any]:
        """Native SSE events, untouched; usage is picked up on the way."""
        call = self.call
        assert call.codec is not None and self.response.chunks is not None
        parser = SSEParser()
        usage = None
        try:
            async for chunk in self.response.chunks:
                for event in parser.feed(chunk):
                    found = call.codec.usage_of_event(event)
                    if found is not None:
                        usage = found if usage is None else _merge(usage, found)
                    yield event
            for event in parser.close():
                yield event
        except OmniwireError as exc:
            await call.stack._fail(call, exc)
            raise
        except BaseException:
            await call.stack._fail(call, None)
            raise
        finally:
            await self.response.aclose()
        await call.stack._finish(call, usage)


def _merge(old: Any, new: Any) -> Any:
    from .model.stream import merge_usage

    return merge_usage(old, new)


class StreamResult:
    """An in-flight stream. ``async for event in result`` yields canonical events;
    afterwards :meth:`response` is the folded Response and ``call`` the full record.

    Failover happens only before the first event: once content has been delivered,
    an upstream failure surfaces as an error, never as a silent restart.
    """

    def __init__(self, stack: Stack, call: Call) -> None:
        self.stack = stack
        self.call = call
        self._fold = StreamFold()
        self._upstream: WireResponse | None = None
        self._iterator: AsyncIterator[StreamEvent] | None = None
        self._done = False
        self.relayed = False
        """Bytes of the upstream went to the consumer as they were (``batches(relay)``)."""
        self.error_relayed = False
        """The stream failed on an error event the upstream sent, and it was relayed."""

    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        if self._iterator is None:
            self._iterator = self._run(False)
        return self._iterator

    def batches(self, relay: str | None = None) -> AsyncIterator[list[StreamEvent] | bytes]:
        """The same events, as one list per upstream read that carried them (never
        empty). A server writes each list at once: one send for everything that arrived
        together, instead of one per event. Use either this or iteration, not both.

        ``relay`` is the protocol (codec id) the consumer writes. When the upstream
        that answers speaks it too, and only its codec reads the stream, the batches
        are the upstream's own bytes instead, to be written as they are: every event is
        still decoded and folded (usage, guards, observers, errors), nothing is
        re-encoded. A stream answered by the fallback is always events.
        """
        if self._iterator is None:
            self._iterator = self._run(True, relay)  # type: ignore[assignment]
        return self._iterator  # type: ignore[return-value]

    async def __aenter__(self) -> StreamResult:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._iterator is not None:
            await self._iterator.aclose()  # type: ignore[attr-defined]
        if self._upstream is not None:
            await self._upstream.aclose()

    def response(self) -> Response:
        return self._fold.response()

    async def collect(self) -> Response:
        """Consume the whole stream and return the folded response."""
        async for _ in self:
            pass
        return self.response()

    async def _connect(self, call: Call, request: Any) -> tuple[WireResponse, Any]:
        upstream = await self.stack._send(call, request)
        try:
            return upstream, self.stack._stage["decode"](call, upstream)
        except BaseException:
            await upstream.aclose()
            raise

    async def _run(self, batched: bool, relay: str | None = None) -> AsyncIterator[Any]:
        stack, call = self.stack, self.call
        stack._observe(call, "start")
        delivered = False  # once an event reached the consumer, failures are final
        connected = False
        try:
            try:
                upstream, decoder = await stack._attempts(call, Family.GENERATE, self._connect)
                connected = True
                self._upstream = upstream
                if upstream.chunks is None:
                    raise ProtocolError("upstream answered a stream request without a stream")
                parser = SSEParser()
                feed = self._fold.feed
                # a stream that opens (ResponseStart) and then errors, an overload say,
                # has delivered nothing yet: the opening waits for the event after it
                pending: list[StreamEvent] = []
                raw = (
                    relay is not None
                    and stack._native
                    and call.codec is not None
                    and call.codec.id == relay
                )
                held: list[bytes] = []  # relayed bytes waiting as ``pending`` does
                async for chunk in upstream.chunks:
                    batch: list[StreamEvent] = []
                    for sse in parser.feed(chunk):
                        for event in decoder.feed(sse):
                            if not delivered:
                                if type(event) is StreamError:
                                    raise _stream_failure(event, before_content=True)
                                if call.first_chunk_at is None:
                                    call.first_chunk_at = time.perf_counter()
                                    stack._observe(call, "first_chunk")
                            feed(event)
                            if batched:
                                batch.append(event)
                            elif delivered:
                                yield event
                            elif type(event) is ResponseStart:
                                pending.append(event)
                            else:
                                delivered = True
                                for early in pending:
                                    yield early
                                yield event
                    if raw:
                        # bytes go out whole events at a time, so an error event
                        # written after a cut never lands inside a half-sent one
                        held.append(chunk)
                        if not delivered and all(type(e) is ResponseStart for e in batch):
                            continue
                        delivered = self.relayed = True
                        ready = held[0] if len(held) == 1 else b"".join(held)
                        end = len(ready) if parser.between_events else _events_end(ready)
                        held = [ready[end:]] if end < len(ready) else []
                        if end:
                            yield ready[:end]
                    elif batch:
                        if delivered:
                            yield batch
                        elif all(type(e) is ResponseStart for e in batch):
                            pending += batch
                        else:
                            delivered = True
                            yield pending + batch
                tail = [e for sse in parser.close() for e in decoder.feed(sse)]
                tail += decoder.close()
                for event in tail:
                    if not delivered and type(event) is StreamError:
                        raise _stream_failure(event, before_content=True)
                    feed(event)
                if raw:
                    if held:
                        delivered = self.relayed = True
                        yield b"".join(held)
                    tail = []
                tail = pending + tail
                if tail:
                    delivered = True
                    if batched:
                        yield tail
                    else:
                        for event in tail:
                            yield event
            except OmniwireError as caught:
                # what the upstream sent and we could not read is its fault, not the client's
                exc = _upstream_fault(caught) if connected else caught
                # nothing reached the consumer yet: answer with a non-streamed call,
                # re-streamed here, when the failure is one another try can fix (a cut or
                # malformed stream, an overload); an upstream that blamed the request (a
                # 400, an invalid_request error event) is not
                if delivered or not stack.stream_fallback or not exc.retryable:
                    raise exc from None
                events = await self._restream(exc)
                if batched:
                    delivered = True
                    yield events
                else:
                    for event in events:
                        delivered = True
                        yield event
            fold = self._fold
            if fold.error is not None:
                # relayed, the upstream's error event already reached the consumer
                self.error_relayed = self.relayed
                raise _stream_failure(fold.error, before_content=False)
        except OmniwireError as exc:
            if exc.endpoint is None and call.endpoint is not None:
                exc.endpoint = call.endpoint.name
            if call.usage is None:
                call.usage = self._fold.response().usage  # what was used before the cut
            await stack._fail(call, exc)
            raise
        except BaseException:  # cancelled, or the consumer stopped early
            if call.usage is None:
                call.usage = self._fold.response().usage
            await stack._fail(call, None)
            raise
        finally:
            if self._upstream is not None:
                await self._upstream.aclose()
        call.response = self._fold.response()
        await stack._finish(call, call.response.usage)

    async def _restream(self, cause: OmniwireError) -> list[StreamEvent]:
        """Close the failed stream, then run the call non-streamed through every
        candidate (guards and retry policy as usual) and turn the answer into events."""
        stack, call = self.stack, self.call
        if self._upstream is not None:
            upstream, self._upstream = self._upstream, None
            await upstream.aclose()
        # a stream that broke after connecting still holds its attempt's guards; they
        # settle on what it reported before breaking (a budget charges that usage)
        call.usage = self._fold.response().usage
        await stack._abort(call, cause)
        call.usage = None
        attempt = call.attempts[-1] if call.attempts else None
        if attempt is not None and attempt.error is None:
            attempt.error = cause.kind
            attempt.duration = time.perf_counter() - call.started
        call.restreamed = True
        call.stream = False
        stack._observe(call, "retry")
        self._fold = StreamFold()  # forget what the failed stream had folded
        try:
            await stack._attempts(call, Family.GENERATE, stack._attempt_once)
        finally:
            call.stream = True
        events = events_for(call.response, chunk_size=None)
        if call.first_chunk_at is None:
            call.first_chunk_at = time.perf_counter()
            stack._observe(call, "first_chunk")
        feed = self._fold.feed
        for event in events:
            feed(event)
        return events


def _events_end(data: bytes) -> int:
    """Where the last complete SSE event in ``data`` ends (0: none does)."""
    end = 0
    for blank in (b"\n\n", b"\r\n\r\n", b"\r\r"):
        at = data.rfind(blank)
        if at >= 0:
            end = max(end, at + len(blank))
    return end


def _upstream_fault(exc: OmniwireError) -> OmniwireError:
    """A payload from the upstream we could not read: the provider's fault (a 502 at
    the gateway, worth another candidate), not the client's (400). A strict-mode
    refusal to convert stays what it is."""
    if not isinstance(exc, ProtocolError) or "cannot convert losslessly" in exc.message:
        return exc
    return UpstreamError(
        f"the upstream's answer is malformed: {exc.message}",
        endpoint=exc.endpoint,
        provider=exc.provider,
        retryable=True,
    )


# in-stream error kinds that another try will not fix (the request itself is at fault)
_CLIENT_KINDS = frozenset(
    {
        "invalid_request_error",
        "authentication_error",
        "permission_error",
        "not_found_error",
        "request_too_large",
        "invalid_request",
        "INVALID_ARGUMENT",
        "PERMISSION_DENIED",
        "UNAUTHENTICATED",
        "NOT_FOUND",
    }
)


def _stream_failure(error: StreamError, *, before_content: bool) -> UpstreamError:
    """An upstream's in-stream error event as the error the caller sees. Before any
    content it may be retried (elsewhere, or non-streamed); after, never."""
    retryable: bool | None = False
    if before_content:
        retryable = None if error.status is not None else error.kind not in _CLIENT_KINDS
    return UpstreamError(
        f"upstream stream error: {error.message}",
        status=error.status,
        upstream_kind=error.kind,
        retryable=retryable,
    )
