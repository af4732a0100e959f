"""The codec conformance suite: property tests every codec must pass.

A codec author writes one line::

    class TestAcme(CodecConformance):
        codec = AcmeCodec()

and pytest collects the inherited ``test_*`` methods. The properties (see
``docs/testing.md``): request and response round trips within the declared features,
wire -> canonical -> wire identity, streamed and non-streamed forms agreeing, every
difference under *all* features explained by a reported loss, errors keeping their class
and status. ``CrossCodecConformance`` checks pairs of installed codecs of one family.

Each check is also a plain function (``check_*``) that raises AssertionError naming the
field path, so a test can pin one example without Hypothesis.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable, ClassVar, Iterable, Mapping, Sequence

import attrs
import pytest
from omniwire.codec import Codec, Family
from omniwire.errors import (
    OmniwireError,
    ProtocolError,
    RateLimited,
    UpstreamError,
)
from omniwire.model import (
    Message,
    PartStart,
    Request,
    Response,
    Role,
    StreamEvent,
    TokenCountRequest,
    fold,
)
from omniwire.normalize import normalize
from omniwire.report import Conversion
from omniwire.sse import SSEEvent, SSEParser
from omniwire.wire import MultipartBody

from .diff import Difference, covered, describe, diff, is_addition, is_prefix, prune_lost, short
from .features import unknown_words
from .routes import wire_params

__all__ = [
    "DEFAULT_ERROR_CASES",
    "CodecConformance",
    "CrossCodecConformance",
    "ErrorCase",
    "check_cross_request",
    "check_cross_request_losses",
    "check_error_round_trip",
    "check_request_losses",
    "check_request_round_trip",
    "check_request_wire_identity",
    "check_response_losses",
    "check_response_round_trip",
    "check_response_wire_identity",
    "check_stream",
    "codec_pairs",
    "json_round_trip",
    "run_property",
]

# -- helpers ------------------------------------------------------------------------------


def json_round_trip(body: Any, what: str = "body") -> Any:
    """``json.loads(json.dumps(body))``; bytes and multipart bodies pass unchanged. A body
    that is not JSON-ready fails with a clear message (codecs never ``json.dumps``)."""
    if isinstance(body, (bytes, bytearray, MultipartBody)):
        return body
    try:
        text = json.dumps(body, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise AssertionError(f"the codec produced a {what} that is not JSON-ready: {exc}") from None
    return json.loads(text)


def _canonical(value: Any) -> Any:
    # normalize leaves a TokenCountRequest alone: fold its messages like a Request's
    if isinstance(value, TokenCountRequest):
        return attrs.evolve(value, messages=normalize(value.messages))
    return normalize(value)


def _kept(diffs: Iterable[Difference], ignore: Sequence[str]) -> list[Difference]:
    return [d for d in diffs if not any(is_prefix(p, d.path) for p in ignore)]


def _unexpected_losses(conv: Conversion, ignore: Sequence[str]) -> list[str]:
    """Losses outside ``ignore_paths`` (a gap declared there may be reported)."""
    return [str(loss) for loss in conv.losses if not any(is_prefix(p, loss.path) for p in ignore)]


def _loss_lines(conv: Conversion) -> str:
    if not conv.losses:
        return "  (none)"
    return "\n".join(f"  {loss}" for loss in conv.losses[:8])


def _decode_request(codec: Codec, wire: Any, conv: Conversion) -> Any:
    body = json_round_trip(wire.body, "request body")
    return codec.decode_request(body, conv, params=wire_params(codec, wire))


# -- (a) (b) requests ---------------------------------------------------------------------


def check_request_round_trip(
    codec: Codec, request: Any, *, ignore_paths: Sequence[str] = ()
) -> None:
    """canonical -> encode_request -> JSON -> decode_request == canonical (normalized),
    with no loss reported on either side."""
    conv = Conversion(None, codec.id)
    wire = codec.encode_request(request, conv)
    if _unexpected_losses(conv, ignore_paths):
        raise AssertionError(
            f"{codec.id}.encode_request reported losses for a request within its declared "
            f"features:\n{_loss_lines(conv)}"
        )
    if getattr(request, "stream", False) and not wire.stream:
        raise AssertionError(f"{codec.id}.encode_request lost the stream flag (WireRequest.stream)")
    back_conv = Conversion(codec.id, None)
    back = _decode_request(codec, wire, back_conv)
    if _unexpected_losses(back_conv, ignore_paths):
        raise AssertionError(
            f"{codec.id}.decode_request reported losses reading its own payload:\n"
            f"{_loss_lines(back_conv)}"
        )
    diffs = _kept(diff(_canonical(request), _canonical(back)), ignore_paths)
    if diffs:
        raise AssertionError(
            f"request round trip through {codec.id} changed the request:\n{describe(diffs)}"
        )


def check_request_wire_identity(codec: Codec, request: Any) -> None:
    """For a payload the codec produced: encode(decode(body)) == body (same path too)."""
    wire = codec.encode_request(request, Conversion())
    body = json_round_trip(wire.body, "request body")
    back = codec.decode_request(body, Conversion(), params=wire_params(codec, wire))
    again = codec.encode_request(back, Conversion())
    body2 = json_round_trip(again.body, "request body")
    problems = [] if again.path == wire.path else [f"  path {wire.path!r} became {again.path!r}"]
    if dict(again.query) != dict(wire.query):
        problems.append(f"  query {dict(wire.query)} became {dict(again.query)}")
    problems += [f"  {d}" for d in diff(body, body2)[:6]]
    if problems:
        raise AssertionError(
            f"{codec.id}: encode_request(decode_request(body)) differs from the body it "
            f"produced (wire paths):\n" + "\n".join(problems)
        )


# -- (c) responses ------------------------------------------------------------------------


def check_response_round_trip(
    codec: Codec, response: Any, *, ignore_paths: Sequence[str] = ()
) -> None:
    """canonical -> encode_response -> JSON -> decode_response == canonical."""
    conv = Conversion(None, codec.id)
    body = json_round_trip(codec.encode_response(response, conv), "response body")
    if _unexpected_losses(conv, ignore_paths):
        raise AssertionError(
            f"{codec.id}.encode_response reported losses for a response within its "
            f"declared features:\n{_loss_lines(conv)}"
        )
    back_conv = Conversion(codec.id, None)
    back = codec.decode_response(body, back_conv)
    if _unexpected_losses(back_conv, ignore_paths):
        raise AssertionError(
            f"{codec.id}.decode_response reported losses reading its own payload:\n"
            f"{_loss_lines(back_conv)}"
        )
    diffs = _kept(diff(_canonical(response), _canonical(back)), ignore_paths)
    if diffs:
        raise AssertionError(
            f"response round trip through {codec.id} changed the response:\n{describe(diffs)}"
        )


def check_response_wire_identity(codec: Codec, response: Any) -> None:
    """For a response body the codec produced: encode(decode(body)) == body."""
    body = json_round_trip(codec.encode_response(response, Conversion()), "response body")
    back = codec.decode_response(body, Conversion())
    body2 = json_round_trip(codec.encode_response(back, Conversion()), "response body")
    diffs = diff(body, body2)
    if diffs:
        raise AssertionError(
            f"{codec.id}: encode_response(decode_response(body)) differs from the body it "
            f"produced (wire paths):\n{describe(diffs)}"
        )


# -- (d) streams --------------------------------------------------------------------------


def _chunks(data: bytes, sizes: Sequence[int]) -> list[bytes]:
    out, pos, i = [], 0, 0
    while pos < len(data):
        size = max(1, sizes[i % len(sizes)]) if sizes else len(data)
        out.append(data[pos : pos + size])
        pos += size
        i += 1
    return out


_PART_PATH = re.compile(r"^\$\.choices\[(\d+)\]\.content\[(\d+)\]")


def _event_hint(path: str, events: Sequence[StreamEvent]) -> str:
    """Name the canonical PartStart behind a difference at ``$.choices[c].content[i]``."""
    m = _PART_PATH.match(path)
    if not m:
        return ""
    choice, position = int(m.group(1)), int(m.group(2))
    starts = [
        (n, e) for n, e in enumerate(events) if isinstance(e, PartStart) and e.choice == choice
    ]
    if position >= len(starts):
        return ""
    n, event = starts[position]
    return f" (canonical event #{n}: PartStart(index={event.index}, part={short(event.part, 100)}))"


def check_stream(
    codec: Codec,
    response: Response,
    events: Sequence[StreamEvent],
    chunk_sizes: Sequence[int] = (),
    *,
    request: Any = None,
    ignore_paths: Sequence[str] = (),
) -> None:
    """events -> stream_encoder -> SSE bytes -> SSEParser (in ``chunk_sizes`` pieces) ->
    stream_decoder -> fold must equal decode_response(JSON(encode_response(response)))."""
    encoder = codec.stream_encoder(Conversion(None, codec.id), request)
    sse: list[SSEEvent] = []
    for event in events:
        sse += encoder.feed(event)
    sse += encoder.close()
    raw = b"".join(e.encode() for e in sse)
    parser, decoder = SSEParser(), codec.stream_decoder(Conversion(codec.id, None))
    decoded: list[StreamEvent] = []
    for chunk in _chunks(raw, chunk_sizes):
        for e in parser.feed(chunk):
            decoded += decoder.feed(e)
    for e in parser.close():
        decoded += decoder.feed(e)
    decoded += decoder.close()
    streamed = fold(decoded)
    body = json_round_trip(codec.encode_response(response, Conversion()), "response body")
    expected = codec.decode_response(body, Conversion())
    diffs = _kept(diff(_canonical(expected), _canonical(streamed)), ignore_paths)
    if diffs:
        lines = [f"  {d}{_event_hint(d.path, events)}" for d in diffs[:6]]
        sent = "\n".join(f"    {short(e, 120)}" for e in list(events)[:12])
        raise AssertionError(
            f"{codec.id}: the streamed form (left = non-streamed, right = streamed) "
            f"disagrees:\n" + "\n".join(lines) + f"\n  canonical events fed:\n{sent}"
        )


# -- (e) honest losses --------------------------------------------------------------------


def _encode_or_refuse(
    encode: Callable[[Any, Conversion], Any], value: Any, conv: Conversion
) -> Any:
    """Encode; a ProtocolError naming a path is an explicit refusal, not a silent drop
    (None is returned and the property holds for this example)."""
    try:
        return encode(value, conv)
    except ProtocolError as exc:
        if not exc.path:
            raise AssertionError(f"the encoder refused without naming a path: {exc}") from None
        return None


def _silent(sent: Any, back: Any, losses: Sequence[str], ignore: Sequence[str]) -> list[Difference]:
    """Differences no reported loss explains. Additions are not losses. When the plain
    comparison finds some, compare again without the elements reported as wholly lost,
    so one dropped part does not shift its neighbours into differences."""

    def unexplained(left: Any, paths: Sequence[str]) -> list[Difference]:
        diffs = _kept(diff(left, back), ignore)
        return [d for d in diffs if not is_addition(d) and not covered(d.path, paths)]

    silent = unexplained(sent, losses)
    if silent:
        pruned, remapped = prune_lost(sent, losses)
        if pruned is not sent:
            silent = unexplained(pruned, remapped)
    return silent


def check_request_losses(codec: Codec, request: Any, *, ignore_paths: Sequence[str] = ()) -> None:
    """Every difference after encode -> decode is explained by a loss the encoder
    reported at that canonical path (or an ancestor/descendant of it)."""
    request = _canonical(request)  # losses name paths in the request as given
    conv = Conversion(None, codec.id)
    wire = _encode_or_refuse(codec.encode_request, request, conv)
    if wire is None:
        return
    back = _decode_request(codec, wire, Conversion(codec.id, None))
    paths = [loss.path for loss in conv.losses]
    silent = _silent(request, _canonical(back), paths, ignore_paths)
    if silent:
        raise AssertionError(
            f"{codec.id}.encode_request dropped {silent[0].path} silently (no loss "
            f"reported for it):\n{describe(silent)}\nlosses reported:\n{_loss_lines(conv)}"
        )


def check_response_losses(codec: Codec, response: Any, *, ignore_paths: Sequence[str] = ()) -> None:
    response = _canonical(response)
    conv = Conversion(None, codec.id)
    encoded = _encode_or_refuse(codec.encode_response, response, conv)
    if encoded is None:
        return
    body = json_round_trip(encoded, "response body")
    back = codec.decode_response(body, Conversion(codec.id, None))
    paths = [loss.path for loss in conv.losses]
    silent = _silent(response, _canonical(back), paths, ignore_paths)
    if silent:
        raise AssertionError(
            f"{codec.id}.encode_response dropped {silent[0].path} silently (no loss "
            f"reported for it):\n{describe(silent)}\nlosses reported:\n{_loss_lines(conv)}"
        )


# -- (f) errors ---------------------------------------------------------------------------


@attrs.frozen
class ErrorCase:
    """An error to send through encode_error -> decode_error, and what must come back."""

    error: OmniwireError
    expect: tuple[type[OmniwireError], ...]
    status: int
    retryable: bool


DEFAULT_ERROR_CASES: tuple[ErrorCase, ...] = (
    ErrorCase(RateLimited("slow down, please", retry_after=2.0), (RateLimited,), 429, True),
    ErrorCase(UpstreamError("bad request here", status=400), (UpstreamError,), 400, False),
    ErrorCase(UpstreamError("invalid api key", status=401), (UpstreamError,), 401, False),
    ErrorCase(UpstreamError("not allowed", status=403), (UpstreamError,), 403, False),
    ErrorCase(UpstreamError("no such model", status=404), (UpstreamError,), 404, False),
    ErrorCase(UpstreamError("internal failure", status=500), (UpstreamError,), 500, True),
    ErrorCase(UpstreamError("try again later", status=503), (UpstreamError,), 503, True),
    ErrorCase(
        ProtocolError("required field is missing", path="$.model"),
        (ProtocolError, UpstreamError),
        400,
        False,
    ),
)


def check_error_round_trip(codec: Codec, case: ErrorCase) -> None:
    """encode_error (server) -> HTTP -> decode_error (client) keeps class, status,
    retryability, the message text and ``retry_after`` (sent as ``retry-after``)."""
    status, body = codec.encode_error(case.error)
    raw = body if isinstance(body, bytes) else json.dumps(json_round_trip(body)).encode()
    headers = {"content-type": "application/json"}
    retry_after = getattr(case.error, "retry_after", None)
    if retry_after is not None:
        headers["retry-after"] = f"{retry_after:g}"
    back = codec.decode_error(status, headers, raw)
    name = type(case.error).__name__
    problems = []
    if status != case.status:
        problems.append(f"encode_error gave HTTP {status}, expected {case.status}")
    if not isinstance(back, case.expect):
        problems.append(
            f"decode_error gave {type(back).__name__}, expected {case.expect[0].__name__}"
        )
    if back.status != case.status:
        problems.append(f"decoded status {back.status}, expected {case.status}")
    if back.retryable != case.retryable:
        problems.append(f"decoded retryable={back.retryable}, expected {case.retryable}")
    if case.error.message not in back.message:
        problems.append(f"message {case.error.message!r} not kept (got {back.message!r})")
    if retry_after is not None and getattr(back, "retry_after", None) != retry_after:
        problems.append(
            f"retry_after {retry_after} not kept (got {getattr(back, 'retry_after', None)})"
        )
    if problems:
        raise AssertionError(
            f"{codec.id}: {name} through encode_error/decode_error: " + "; ".join(problems)
        )


# -- cross codec --------------------------------------------------------------------------

#: never part of a common subset: provider blocks and provider tokens (signatures,
#: encrypted or redacted reasoning) mean nothing to another protocol, and reasoning
#: without them cannot be replayed to a provider that requires them
_NOT_BRIDGED = frozenset(
    {
        "opaque",
        "reasoning",
        "reasoning_signature",
        "reasoning_encrypted",
        "reasoning_redacted",
        "reasoning_summary",
    }
)


def check_cross_request(
    a: Codec, b: Codec, request: Any, *, ignore_paths: Sequence[str] = ()
) -> None:
    """A.encode -> A.decode -> B.encode -> B.decode keeps a request of the common subset."""
    w1 = a.encode_request(request, Conversion(None, a.id))
    r1 = _decode_request(a, w1, Conversion(a.id, None))
    conv = Conversion(a.id, b.id)
    w2 = b.encode_request(r1, conv)
    r2 = _decode_request(b, w2, Conversion(b.id, None))
    # what a protocol adds (a required default, a name recovered from the call) is fine
    diffs = [d for d in _kept(diff(_canonical(request), _canonical(r2)), ignore_paths)]
    diffs = [d for d in diffs if not is_addition(d)]
    if diffs:
        raise AssertionError(
            f"a request within the features common to {a.id} and {b.id} did not survive "
            f"{a.id} -> {b.id}:\n{describe(diffs)}\nlosses reported by {b.id}:\n{_loss_lines(conv)}"
        )


def check_cross_request_losses(
    a: Codec, b: Codec, request: Any, *, ignore_paths: Sequence[str] = ()
) -> None:
    """A request within A's features, bridged to B: every difference is a reported loss."""
    x = _canonical(request)
    w1 = a.encode_request(x, Conversion(None, a.id))
    r1 = _canonical(_decode_request(a, w1, Conversion(a.id, None)))
    conv = Conversion(a.id, b.id)
    w2 = _encode_or_refuse(b.encode_request, r1, conv)
    if w2 is None:
        return
    r2 = _decode_request(b, w2, Conversion(b.id, None))
    paths = [loss.path for loss in conv.losses]
    # compare against what A delivered, so A's own gaps are not blamed on B
    silent = _silent(r1, _canonical(r2), paths, ignore_paths)
    if silent:
        raise AssertionError(
            f"bridging {a.id} -> {b.id}: {b.id}.encode_request dropped {silent[0].path} "
            f"silently:\n{describe(silent)}\nlosses reported:\n{_loss_lines(conv)}"
        )


def codec_pairs(codecs: Iterable[Codec]) -> list[tuple[Codec, Codec]]:
    """Ordered pairs of distinct codecs of one family."""
    items = sorted(codecs, key=lambda c: c.id)
    return [(a, b) for a in items for b in items if a is not b and a.family == b.family]


# -- running properties -------------------------------------------------------------------


def _run(owner: Any, label: str, strategy: Any, check: Callable[[Any], None]) -> None:
    """Run ``check`` as a Hypothesis property under the active profile. Built at call
    time so the profile loaded by the pytest plugin applies; ``max_examples`` on the
    class caps the profile's count."""
    from hypothesis import HealthCheck, given, settings

    base = settings.default
    assert base is not None
    cap = getattr(owner, "max_examples", None)
    count = base.max_examples if cap is None else min(cap, base.max_examples)
    suppress = {*base.suppress_health_check, HealthCheck.too_slow, HealthCheck.data_too_large}

    def prop(value: Any) -> None:
        check(value)

    # one database key per class and property, not one for every nested ``prop``
    cls = type(owner)
    prop._hypothesis_internal_add_digest = f"{cls.__module__}.{cls.__qualname__}.{label}".encode()  # type: ignore[attr-defined]
    overrides = dict(getattr(owner, "settings_overrides", None) or {})
    test: Callable[[], None] = settings(
        base,
        max_examples=count,
        suppress_health_check=sorted(suppress, key=str),
        **overrides,
    )(given(strategy)(prop))  # type: ignore[no-untyped-call]
    test()


run_property = _run
"""``run_property(owner, label, strategy, check)``: run ``check`` over ``strategy`` with
the active profile and ``owner``'s ``max_examples``/``settings_overrides`` (for custom
properties in a conformance subclass)."""


class CodecConformance:
    """Subclass with ``codec = YourCodec()``. Optional class attributes:

    ``features``: the words to generate for the exact round trips (default
    ``codec.features``); ``max_examples``: a cap on the profile's example count;
    ``ignore_paths``: canonical path prefixes excluded from every comparison, for gaps
    the protocol cannot close (say why in a comment); ``opaque_shape``: ``typed`` or
    ``keyed`` (how generated OpaquePart data looks); ``error_cases``;
    ``settings_overrides``: extra Hypothesis settings (``{"phases": ...}``).

    Override ``request_strategy``/``response_strategy`` to shape what is generated and
    ``stream_request`` to give the stream encoder the request it answers.
    """

    __test__: ClassVar[bool] = False
    codec: ClassVar[Codec]
    features: ClassVar[frozenset[str] | None] = None
    max_examples: ClassVar[int | None] = None
    ignore_paths: ClassVar[tuple[str, ...]] = ()
    opaque_shape: ClassVar[str] = "typed"
    error_cases: ClassVar[tuple[ErrorCase, ...]] = DEFAULT_ERROR_CASES
    settings_overrides: ClassVar[Mapping[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__test__" not in cls.__dict__:
            cls.__test__ = True

    # -- what is generated (override to narrow further) ---------------------------------

    def declared_features(self) -> frozenset[str]:
        return frozenset(self.features if self.features is not None else self.codec.features)

    def request_strategy(self, features: frozenset[str] | None) -> Any:
        from .strategies import requests_for

        return requests_for(
            self.codec.family, features, protocol=self.codec.id, opaque_shape=self.opaque_shape
        )  # (token counting too: its opaque parts belong to the codec)

    def response_strategy(self, features: frozenset[str] | None) -> Any:
        from .strategies import responses_for

        return responses_for(
            self.codec.family, features, protocol=self.codec.id, opaque_shape=self.opaque_shape
        )

    def stream_request(self, response: Response) -> Any:
        """The canonical request the stream under test answers."""
        return Request(
            model=response.model or "model",
            messages=(Message.text(Role.USER, "hello"),),
            stream=True,
        )

    def _strategies_exist(self) -> None:
        from .strategies import requests_for

        try:
            requests_for(self.codec.family)
        except ValueError:
            pytest.skip(f"the kit has no strategies for family {self.codec.family!r}")

    # -- the properties -----------------------------------------------------------------

    def test_codec_declaration(self) -> None:
        codec = self.codec
        assert isinstance(codec, Codec), f"{codec!r} is not an omniwire.codec.Codec"
        assert codec.id and "." in codec.id, f"codec id {codec.id!r} should be '<provider>.<api>'"
        families = {v for k, v in vars(Family).items() if k.isupper()}
        assert codec.family in families, f"unknown family {codec.family!r}"
        bad = [r for r in codec.routes if not r.startswith("/")]
        assert not bad, f"routes must start with '/': {bad}"
        unknown = unknown_words(self.declared_features())
        assert not unknown, (
            f"{codec.id} declares feature words the kit does not know: {unknown} "
            "(see docs/codecs.md and docs/testing.md)"
        )

    def test_request_round_trip(self) -> None:
        self._strategies_exist()
        codec, ignore = self.codec, self.ignore_paths
        _run(
            self,
            "request_round_trip",
            self.request_strategy(self.declared_features()),
            lambda r: check_request_round_trip(codec, r, ignore_paths=ignore),
        )

    def test_request_wire_identity(self) -> None:
        self._strategies_exist()
        codec = self.codec
        _run(
            self,
            "request_wire_identity",
            self.request_strategy(self.declared_features()),
            lambda r: check_request_wire_identity(codec, r),
        )

    def test_response_round_trip(self) -> None:
        self._strategies_exist()
        codec, ignore = self.codec, self.ignore_paths
        _run(
            self,
            "response_round_trip",
            self.response_strategy(self.declared_features()),
            lambda r: check_response_round_trip(codec, r, ignore_paths=ignore),
        )

    def test_response_wire_identity(self) -> None:
        self._strategies_exist()
        codec = self.codec
        _run(
            self,
            "response_wire_identity",
            self.response_strategy(self.declared_features()),
            lambda r: check_response_wire_identity(codec, r),
        )

    def test_stream_matches_response(self) -> None:
        if self.codec.family != Family.GENERATE:
            pytest.skip("streams are checked for generation codecs only")
        if "stream" not in self.declared_features():
            pytest.skip(f"{self.codec.id} does not declare the 'stream' feature")
        from hypothesis import strategies as st

        from .strategies import stream_events

        codec, ignore = self.codec, self.ignore_paths
        strategy = self.response_strategy(self.declared_features()).flatmap(
            lambda r: st.tuples(
                st.just(r), stream_events(r), st.lists(st.integers(1, 64), min_size=1, max_size=4)
            )
        )

        def check(case: tuple[Response, list[StreamEvent], list[int]]) -> None:
            response, events, sizes = case
            check_stream(
                codec,
                response,
                events,
                sizes,
                request=self.stream_request(response),
                ignore_paths=ignore,
            )

        _run(self, "stream_matches_response", strategy, check)

    def test_request_losses_reported(self) -> None:
        self._strategies_exist()
        codec, ignore = self.codec, self.ignore_paths
        _run(
            self,
            "request_losses_reported",
            self.request_strategy(None),
            lambda r: check_request_losses(codec, r, ignore_paths=ignore),
        )

    def test_response_losses_reported(self) -> None:
        self._strategies_exist()
        codec, ignore = self.codec, self.ignore_paths
        _run(
            self,
            "response_losses_reported",
            self.response_strategy(None),
            lambda r: check_response_losses(codec, r, ignore_paths=ignore),
        )

    def test_error_round_trip(self) -> None:
        failures = []
        for case in self.error_cases:
            try:
                check_error_round_trip(self.codec, case)
            except AssertionError as exc:
                failures.append(str(exc))
        assert not failures, "\n".join(failures)


class CrossCodecConformance:
    """Every ordered pair of installed codecs of one family: the common feature subset
    survives A -> A -> B -> B, and what does not survive a bridge is reported.

    ``codecs``: the codecs to pair (default: every codec of ``plugin_manager``, itself
    defaulting to all installed plugins). ``max_examples`` and ``ignore_paths`` as in
    :class:`CodecConformance`. Tests are parametrized by ``codec_pair`` (``a->b``).
    """

    __test__: ClassVar[bool] = False
    codecs: ClassVar[Sequence[Codec] | None] = None
    plugin_manager: ClassVar[Any] = None
    max_examples: ClassVar[int | None] = None
    ignore_paths: ClassVar[tuple[str, ...]] = ()
    settings_overrides: ClassVar[Mapping[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__test__" not in cls.__dict__:
            cls.__test__ = True

    @classmethod
    def codec_pairs(cls) -> list[tuple[Codec, Codec]]:
        if cls.codecs is not None:
            return codec_pairs(cls.codecs)
        from .support import installed_codecs

        return codec_pairs(installed_codecs(cls.plugin_manager))

    def pytest_generate_tests(self, metafunc: Any) -> None:
        if "codec_pair" in metafunc.fixturenames:
            pairs = self.codec_pairs()
            metafunc.parametrize("codec_pair", pairs, ids=[f"{a.id}->{b.id}" for a, b in pairs])

    def common_features(self, a: Codec, b: Codec) -> frozenset[str]:
        return frozenset(a.features) & frozenset(b.features) - _NOT_BRIDGED

    def test_common_subset_survives(self, codec_pair: tuple[Codec, Codec]) -> None:
        from .strategies import requests_for

        a, b = codec_pair
        ignore = self.ignore_paths
        strategy = requests_for(a.family, self.common_features(a, b))
        _run(
            self,
            f"common:{a.id}->{b.id}",
            strategy,
            lambda r: check_cross_request(a, b, r, ignore_paths=ignore),
        )

    def test_bridge_losses_reported(self, codec_pair: tuple[Codec, Codec]) -> None:
        from .strategies import requests_for

        a, b = codec_pair
        ignore = self.ignore_paths
        strategy = requests_for(a.family, frozenset(a.features), protocol=a.id)
        _run(
            self,
            f"bridge:{a.id}->{b.id}",
            strategy,
            lambda r: check_cross_request_losses(a, b, r, ignore_paths=ignore),
        )
