"""The observer: one CLIENT span per call, GenAI metrics at its end.

Per call the work is a handful of dictionary writes at ``start``, ``attempt``, ``end`` or
``error`` (and one attribute at ``first_chunk``); nothing runs per stream chunk. The span
lives in ``call.attributes`` under :data:`STATE_KEY`, inside a small holder object.

A cancelled or abandoned call gets no ``end`` or ``error`` event from the kernel, so two
fallbacks end its span (``error.type`` ``cancelled``, or the exception's class name):

* a guard planted by this plugin (``omniwire_register_guards``) is told ``abort(call,
  None)`` as soon as the kernel gives up an admitted attempt without an omniwire error;
* otherwise the holder's ``__del__`` ends the span when the call record is collected.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from typing import TYPE_CHECKING, Any, Iterable
from urllib.parse import urlsplit

from omniwire.plugins import hookimpl

from . import names as n
from .content import finish_reason, input_messages, output_messages
from .pool import watched

if TYPE_CHECKING:
    from omniwire.call import Call

__all__ = [
    "CAPTURE_ENV",
    "STATE_KEY",
    "CancellationWatch",
    "GenAIObserver",
    "WatchFactory",
    "capture_enabled",
]

STATE_KEY = "omniwire_otel"
CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
_TRUE = {"1", "true", "yes", "on", "span_only", "span_and_event"}
_CANCELLED = "cancelled"
_SCOPE = "omniwire"


def capture_enabled(flag: bool | None = None) -> bool:
    """The constructor flag when given, else the conventions' environment variable."""
    if flag is not None:
        return flag
    return os.environ.get(CAPTURE_ENV, "").strip().lower() in _TRUE


def _version() -> str | None:
    try:
        from importlib.metadata import version

        return version("omniwire-otel")
    except Exception:
        return None


class _State:
    """What the observer keeps per call. Ends the span if the call is collected while it
    is still open (the cancelled-call fallback)."""

    __slots__ = ("observer", "span", "open")

    def __init__(self, observer: GenAIObserver, span: Any) -> None:
        self.observer = observer
        self.span = span
        self.open = True

    def __del__(self) -> None:
        if self.open:
            with contextlib.suppress(Exception):  # never raise from a finalizer
                self.observer._close_abandoned(self, _CANCELLED, None, None)


class GenAIObserver:
    """An ``omniwire_observe`` implementation emitting OpenTelemetry spans and metrics.

    :param tracer_provider: default: the global one (``opentelemetry.trace``).
    :param meter_provider: default: the global one (``opentelemetry.metrics``).
    :param capture_content: record message content; None reads
        ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` (``true``/``1``).
    :param metrics: also record the GenAI histograms.

    Register it as a plugin: ``PluginManager.register(GenAIObserver(...))``, or rely on
    the installed entry point, which builds one on the global providers.
    """

    def __init__(
        self,
        *,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        capture_content: bool | None = None,
        metrics: bool = True,
    ) -> None:
        from opentelemetry import metrics as otel_metrics
        from opentelemetry import trace

        self._trace = trace
        self._metrics_api = otel_metrics
        # with neither provider given nor any SDK installed globally, every span and
        # metric is a no-op: skip the work per call (checked per call, an SDK may be
        # installed after this observer was built)
        self._global = tracer_provider is None and (meter_provider is None or not metrics)
        version = _version()
        self.tracer = trace.get_tracer(_SCOPE, version, tracer_provider)
        self.capture_content = capture_enabled(capture_content)
        self._servers: dict[str, tuple[str, int | None]] = {}
        self.duration = self.tokens = self.ttfc = None
        if metrics:
            meter = otel_metrics.get_meter(_SCOPE, version or "", meter_provider)
            self.duration = _histogram(
                meter, n.METRIC_DURATION, "s", "GenAI operation duration.", n.DURATION_BUCKETS
            )
            self.tokens = _histogram(
                meter,
                n.METRIC_TOKENS,
                "{token}",
                "Number of input and output tokens used.",
                n.TOKEN_BUCKETS,
            )
            self.ttfc = _histogram(
                meter,
                n.METRIC_TTFC,
                "s",
                "Time to receive the first chunk of a streamed response.",
                n.DURATION_BUCKETS,
            )

    # -- the hooks --------------------------------------------------------------------------

    @hookimpl
    def omniwire_register_guards(self, register: Any) -> None:
        register(WatchFactory(f"otel-cancellation-{id(self):x}"))

    @hookimpl
    def omniwire_observe(self, call: Call, event: str) -> None:
        if event == "start":
            self._start(call)
            return
        state: _State | None = call.attributes.get(STATE_KEY)
        if state is None or not state.open:
            return
        if event == "attempt":
            self._attempt(call, state)
        elif event == "first_chunk":
            ttfc = call.time_to_first_chunk
            if ttfc is not None:
                state.span.set_attribute(n.RESPONSE_TTFC, ttfc)
        elif event == "retry":
            self._retry(call, state)
        elif event == "end":
            self._end(call, state)
        elif event == "error":
            self._error(call, state)

    # -- events -----------------------------------------------------------------------------

    def _idle(self) -> bool:
        """True while no SDK is installed: the API's proxies answer everything."""
        if not self._global:
            return False
        if type(self._trace.get_tracer_provider()) is not self._trace.ProxyTracerProvider:
            return False
        if self.duration is None:
            return True
        return type(self._metrics_api.get_meter_provider()).__name__ == "_ProxyMeterProvider"

    def _start(self, call: Call) -> None:
        if self._idle():
            return  # no state kept: the call's other events return at once
        request = call.request
        model = getattr(request, "model", None) or ""
        span = self.tracer.start_span(
            f"{call.operation} {model}".strip(),
            kind=self._trace.SpanKind.CLIENT,
            attributes={n.OPERATION: call.operation, n.REQUEST_MODEL: model},
        )
        call.attributes[STATE_KEY] = _State(self, span)
        if not span.is_recording():
            return  # no SDK, or sampled out: nothing more to describe
        span.set_attributes(_request_parameters(request, call.stream))
        if self.capture_content:
            system, messages = input_messages(request)
            if system:
                span.set_attribute(n.SYSTEM_INSTRUCTIONS, _dump(call, system))
            if messages:
                span.set_attribute(n.INPUT_MESSAGES, _dump(call, messages))

    def _attempt(self, call: Call, state: _State) -> None:
        span = state.span
        if not span.is_recording():
            return
        endpoint = call.endpoint
        attributes: dict[str, Any] = {}
        if call.provider:
            attributes[n.PROVIDER] = call.provider
        if endpoint is not None:
            attributes[n.ENDPOINT] = endpoint.name
            address, port = self._server(endpoint.base_url)
            attributes[n.SERVER_ADDRESS] = address
            if port is not None:
                attributes[n.SERVER_PORT] = port
        if call.key is not None:
            attributes[n.KEY_ALIAS] = call.key.alias  # the alias, never the secret
        requested = getattr(call.request, "model", None)
        if call.model and call.model != requested:
            attributes[n.REQUEST_MODEL] = call.model
            attributes[n.ROUTE] = requested
            span.update_name(f"{call.operation} {call.model}")
        elif call.model:
            attributes[n.REQUEST_MODEL] = call.model
        span.set_attributes(attributes)

    def _retry(self, call: Call, state: _State) -> None:
        attempt = call.attempts[-1] if call.attempts else None
        if attempt is not None and state.span.is_recording():
            state.span.add_event(
                n.RETRY_EVENT,
                {
                    n.ENDPOINT: attempt.endpoint,
                    n.REQUEST_MODEL: attempt.model,
                    n.ERROR_TYPE: attempt.error or "_OTHER",
                },
            )

    def _end(self, call: Call, state: _State) -> None:
        state.open = False
        span = state.span
        if span.is_recording():
            attributes = self._final_attributes(call)
            response = call.response
            response_id = getattr(response, "id", None)
            if isinstance(response_id, str):
                attributes[n.RESPONSE_ID] = response_id
            choices = getattr(response, "choices", None)
            if choices:
                attributes[n.RESPONSE_FINISH_REASONS] = [
                    finish_reason(c.stop_reason) for c in choices
                ]
            span.set_attributes(attributes)
            if self.capture_content and choices:
                span.set_attribute(n.OUTPUT_MESSAGES, _dump(call, output_messages(response)))
        span.end()
        self._record(call, None)

    def _error(self, call: Call, state: _State) -> None:
        state.open = False
        span = state.span
        error = call.error
        kind = getattr(error, "kind", None) or type(error).__name__
        if span.is_recording():
            attributes = self._final_attributes(call)
            attributes[n.ERROR_TYPE] = kind
            upstream = getattr(error, "upstream_kind", None)
            if upstream:
                attributes[n.UPSTREAM_ERROR] = str(upstream)
            message = getattr(error, "message", None) or str(error)
            span.set_attributes(attributes)
            span.add_event(
                "exception",
                {"exception.type": type(error).__name__, "exception.message": message},
            )
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, message))
        span.end()
        self._record(call, kind)

    def _close_abandoned(
        self, state: _State, kind: str, call: Call | None, description: str | None
    ) -> None:
        """End a span the kernel never reported an outcome for."""
        if not state.open:
            return
        state.open = False
        span = state.span
        if span.is_recording():
            attributes = self._final_attributes(call) if call is not None else {}
            attributes[n.ERROR_TYPE] = kind
            span.set_attributes(attributes)
            span.set_status(
                self._trace.Status(
                    self._trace.StatusCode.ERROR,
                    description or "the call ended without an end or error event",
                )
            )
        span.end()
        if call is not None:
            self._record(call, kind, now=True)

    # -- attributes and metrics ---------------------------------------------------------

    def _server(self, base_url: str) -> tuple[str, int | None]:
        found = self._servers.get(base_url)
        if found is None:
            parts = urlsplit(base_url)
            port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
            found = (parts.hostname or "", port)
            if len(self._servers) < 1024:
                self._servers[base_url] = found
        return found

    def _final_attributes(self, call: Call) -> dict[str, Any]:
        out: dict[str, Any] = {}
        response_model = getattr(call.response, "model", None)
        if isinstance(response_model, str) and response_model:
            out[n.RESPONSE_MODEL] = response_model
        usage = call.usage
        if usage is not None:
            out[n.USAGE_INPUT] = usage.input_tokens
            out[n.USAGE_OUTPUT] = usage.output_tokens
            if usage.cache_read_tokens:
                out[n.USAGE_CACHE_READ] = usage.cache_read_tokens
            if usage.cache_write_tokens:
                out[n.USAGE_CACHE_CREATION] = usage.cache_write_tokens
            if usage.reasoning_tokens:
                out[n.USAGE_REASONING] = usage.reasoning_tokens
        if call.status is not None:
            out[n.HTTP_STATUS] = call.status
        attempts = call.attempts
        out[n.ATTEMPTS] = len(attempts)
        out[n.RETRIES] = max(0, len(attempts) - 1)
        if len(attempts) > 1:
            out[n.FAILOVER_CHAIN] = [f"{a.endpoint}/{a.model}" for a in attempts]
            out[n.FAILOVER_ERRORS] = [a.error or "" for a in attempts]
        currency = None
        if call.reserved is not None:
            out[n.BUDGET_RESERVED] = float(call.reserved.amount)
            currency = call.reserved.currency
        if call.cost is not None:
            out[n.BUDGET_SETTLED] = float(call.cost.amount)
            currency = call.cost.currency
        if currency:
            out[n.COST_CURRENCY] = currency
        conversion = call.conversion
        if conversion.source is not None and conversion.source != conversion.target:
            out[n.CONVERSION_SOURCE] = conversion.source
            if conversion.target:
                out[n.CONVERSION_TARGET] = conversion.target
        if conversion.losses:
            out[n.CONVERSION_LOSSY] = True
            out[n.CONVERSION_LOSSES] = [str(r) for r in conversion.losses]
        return out

    def _record(self, call: Call, error: str | None, now: bool = False) -> None:
        gauges = watched(call.stack)
        if gauges is not None:
            gauges.maybe_refresh()
        if self.duration is None:
            return
        common: dict[str, Any] = {
            n.OPERATION: call.operation,
            n.REQUEST_MODEL: call.model or getattr(call.request, "model", None) or "",
        }
        if call.provider:
            common[n.PROVIDER] = call.provider
        if call.endpoint is not None:
            common[n.ENDPOINT] = call.endpoint.name
            address, port = self._server(call.endpoint.base_url)
            common[n.SERVER_ADDRESS] = address
            if port is not None:
                common[n.SERVER_PORT] = port
        model = getattr(call.response, "model", None)
        if isinstance(model, str) and model:
            common[n.RESPONSE_MODEL] = model
        duration = call.duration
        if duration is None and now:
            duration = time.perf_counter() - call.started
        if duration is not None:
            self.duration.record(duration, {**common, n.ERROR_TYPE: error} if error else common)
        usage = call.usage
        if usage is not None and self.tokens is not None:
            self.tokens.record(usage.input_tokens, {**common, n.TOKEN_TYPE: "input"})
            self.tokens.record(usage.output_tokens, {**common, n.TOKEN_TYPE: "output"})
        ttfc = call.time_to_first_chunk
        if call.stream and ttfc is not None and self.ttfc is not None:
            self.ttfc.record(ttfc, common)


def _histogram(meter: Any, name: str, unit: str, description: str, buckets: Iterable[float]) -> Any:
    try:
        return meter.create_histogram(
            name,
            unit=unit,
            description=description,
            explicit_bucket_boundaries_advisory=list(buckets),
        )
    except TypeError:  # an API older than the bucket advisory
        return meter.create_histogram(name, unit=unit, description=description)


def _request_parameters(request: Any, stream: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for attr, key in (
        ("max_tokens", n.REQUEST_MAX_TOKENS),
        ("temperature", n.REQUEST_TEMPERATURE),
        ("top_p", n.REQUEST_TOP_P),
        ("top_k", n.REQUEST_TOP_K),
        ("seed", n.REQUEST_SEED),
        ("frequency_penalty", n.REQUEST_FREQUENCY_PENALTY),
        ("presence_penalty", n.REQUEST_PRESENCE_PENALTY),
    ):
        value = getattr(request, attr, None)
        if value is not None:
            out[key] = value
    stop = getattr(request, "stop", None)
    if stop:
        out[n.REQUEST_STOP] = list(stop)
    count = getattr(request, "n", None)
    if isinstance(count, int) and count != 1:
        out[n.REQUEST_CHOICE_COUNT] = count
    encoding = getattr(request, "encoding_format", None)
    if isinstance(encoding, str):
        out[n.REQUEST_ENCODING_FORMATS] = [encoding]
    if stream:
        out[n.REQUEST_STREAM] = True
    return out


def _dump(call: Call, data: Any) -> str:
    """Content as JSON, through every registered sanitizer first."""
    try:
        sanitizers = call.stack.pm.table("sanitizers")
    except Exception:
        sanitizers = {}
    for name in sorted(sanitizers):
        try:
            data = sanitizers[name].sanitize_json(data)
        except Exception:  # a broken sanitizer must not break observation
            continue
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


class CancellationWatch:
    """A guard that only listens: ``abort(call, None)`` without an omniwire error in
    flight means the kernel is giving the call up (cancelled task, stream closed early,
    an unexpected exception). Admits everything, holds nothing."""

    async def admit(self, call: Call, candidate: Any) -> None:
        return None

    async def complete(self, call: Call) -> None:
        return None

    async def abort(self, call: Call, error: Any) -> None:
        if error is not None:
            return  # an omniwire error: the kernel reports it with 'retry' or 'error'
        state: _State | None = call.attributes.get(STATE_KEY)
        if state is None or not state.open:
            return
        from omniwire.errors import OmniwireError

        exc = sys.exc_info()[1]
        if isinstance(exc, OmniwireError):
            return  # a later guard refused; the attempt loop reports it
        kind = _CANCELLED
        description = "the call was cancelled or its stream closed before the end"
        if exc is not None and not _is_cancellation(exc):
            kind = type(exc).__qualname__
            description = f"the call ended with {kind}"
        state.observer._close_abandoned(state, kind, call, description)


def _is_cancellation(exc: BaseException) -> bool:
    if isinstance(exc, GeneratorExit):
        return True
    try:
        import anyio

        return isinstance(exc, anyio.get_cancelled_exc_class())
    except Exception:
        import asyncio

        return isinstance(exc, asyncio.CancelledError)


class WatchFactory:
    """Plants one :class:`CancellationWatch` per stack, after the other planted guards
    (``order`` 1000) so a refusal by an earlier guard never reaches it."""

    order = 1000

    def __init__(self, name: str = "otel-cancellation") -> None:
        self.name = name

    def from_stack(self, stack: Any) -> CancellationWatch:
        return CancellationWatch()
