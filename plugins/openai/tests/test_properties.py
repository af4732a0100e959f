"""Property tests: canonical -> wire -> JSON text -> wire -> canonical is the identity for
everything the codecs declare, with no loss reported; streams survive
events -> SSE bytes -> events."""

from __future__ import annotations

import json
from typing import Any

import attrs
import oai_strategies as S
from hypothesis import given, reject
from hypothesis import strategies as st
from oai_helpers import CROSS, PROFILE, events_of, strip_raw
from omniwire.errors import ProtocolError
from omniwire.model import (
    EmbeddingRequest,
    FilePart,
    OpaquePart,
    Reasoning,
    ReasoningPart,
    Request,
    Response,
    Role,
    StreamEvent,
    TextPart,
    TranscriptionResponse,
    Usage,
    fold,
)
from omniwire.normalize import normalize
from omniwire.report import Conversion
from omniwire.sse import SSEParser
from omniwire.wire import MultipartBody
from omniwire_openai.chat import OpenAIChat
from omniwire_openai.embeddings import OpenAIEmbeddings
from omniwire_openai.images import OpenAIImages
from omniwire_openai.responses import OpenAIResponses
from omniwire_openai.speech import OpenAISpeech
from omniwire_openai.transcriptions import OpenAITranscriptions

CHAT, TYPED, RESPONSES = OpenAIChat(), OpenAIChat(typed_content=True), OpenAIResponses()


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _request_roundtrip(codec: Any, request: Any) -> None:
    conv = Conversion(strict=True)
    wire = codec.encode_request(request, conv)
    assert wire.stream == getattr(request, "stream", False)
    back = codec.decode_request(_json(wire.body), Conversion(strict=True))
    assert back == request


def _response_roundtrip(codec: Any, response: Any) -> None:
    body = codec.encode_response(response, Conversion(strict=True))
    assert codec.decode_response(_json(body), Conversion(strict=True)) == response


def _stream_roundtrip(codec: Any, response: Response, cuts: list[int]) -> None:
    events = events_of(response, cuts)
    assert fold(events) == response  # the generator is right
    encoder = codec.stream_encoder(Conversion(strict=True))
    wire = b"".join(e.encode() for ev in events for e in encoder.feed(ev))
    wire += b"".join(e.encode() for e in encoder.close())
    parser, decoder = SSEParser(), codec.stream_decoder(Conversion())
    out: list[StreamEvent] = []
    # feed in uneven slices: the parser and decoder must not care where TCP cut the bytes
    step = max(1, len(wire) // 7)
    for i in range(0, len(wire), step):
        for ev in parser.feed(wire[i : i + step]):
            out.extend(decoder.feed(ev))
    for ev in parser.close():
        out.extend(decoder.feed(ev))
    out.extend(decoder.close())
    assert fold(out) == response


# -- chat -------------------------------------------------------------------------------------


@PROFILE
@given(S.chat_request())
def test_chat_request_roundtrip(request: Any) -> None:
    _request_roundtrip(CHAT, request)


@PROFILE
@given(S.chat_request())
def test_chat_typed_content_request_roundtrip(request: Any) -> None:
    conv = Conversion(strict=True)
    body = TYPED.encode_request(request, conv).body
    for m in body["messages"]:
        assert isinstance(m.get("content", []), list)
    assert TYPED.decode_request(_json(body), Conversion(strict=True)) == request


@PROFILE
@given(S.chat_response())
def test_chat_response_roundtrip(response: Response) -> None:
    _response_roundtrip(CHAT, response)


@PROFILE
@given(S.chat_response(streaming=True), st.lists(st.integers(0, 40), max_size=4))
def test_chat_stream_roundtrip(response: Response, cuts: list[int]) -> None:
    _stream_roundtrip(CHAT, response, cuts)


# -- responses --------------------------------------------------------------------------------


@PROFILE
@given(S.responses_request())
def test_responses_request_roundtrip(request: Any) -> None:
    _request_roundtrip(RESPONSES, request)


@PROFILE
@given(S.responses_response())
def test_responses_response_roundtrip(response: Response) -> None:
    _response_roundtrip(RESPONSES, response)


@PROFILE
@given(S.responses_response(), st.lists(st.integers(0, 40), max_size=4))
def test_responses_stream_roundtrip(response: Response, cuts: list[int]) -> None:
    _stream_roundtrip(RESPONSES, response, cuts)


# -- other families ---------------------------------------------------------------------------


@PROFILE
@given(S.embedding_request)
def test_embeddings_request_roundtrip(request: EmbeddingRequest) -> None:
    _request_roundtrip(OpenAIEmbeddings(), request)


@PROFILE
@given(S.embedding_response, st.sampled_from(["float", "base64"]))
def test_embeddings_response_roundtrip(response: Any, fmt: str) -> None:
    codec = OpenAIEmbeddings()
    asked = EmbeddingRequest("m", ("x",), encoding_format=fmt)
    body = codec.encode_response(response, Conversion(strict=True), request=asked)
    for item in body["data"]:
        assert isinstance(item["embedding"], str if fmt == "base64" else list)
    # answering a request, the SDK-required usage is filled in (0) when there was none
    expected = response if response.usage is not None else attrs.evolve(response, usage=Usage())
    assert codec.decode_response(_json(body), Conversion(strict=True)) == expected


@PROFILE
@given(S.image_request)
def test_images_request_roundtrip(request: Any) -> None:
    _request_roundtrip(OpenAIImages(), request)


@PROFILE
@given(S.image_response)
def test_images_response_roundtrip(response: Any) -> None:
    _response_roundtrip(OpenAIImages(), response)


@PROFILE
@given(S.transcription_request)
def test_transcriptions_request_roundtrip(request: Any) -> None:
    codec = OpenAITranscriptions()
    wire = codec.encode_request(request, Conversion(strict=True))
    assert isinstance(wire.body, MultipartBody)
    assert all(isinstance(v, str) for v in wire.body.fields.values())
    assert codec.decode_request(wire.body, Conversion(strict=True)) == request


@PROFILE
@given(S.transcription_response)
def test_transcriptions_response_roundtrip(response: TranscriptionResponse) -> None:
    codec = OpenAITranscriptions()
    body = codec.encode_response(response, Conversion(strict=True))
    assert isinstance(body, dict)
    assert codec.decode_response(_json(body), Conversion(strict=True)) == response
    # the text formats carry the text alone, as the body itself
    plain = codec.encode_response(
        TranscriptionResponse(response.text), Conversion(strict=True), request=_asked("srt")
    )
    assert plain == response.text
    assert codec.decode_response(plain.encode(), Conversion()) == TranscriptionResponse(
        response.text
    )


def _asked(fmt: str) -> Any:
    from omniwire.model import TranscriptionRequest

    return TranscriptionRequest("whisper-1", b"", response_format=fmt)


@PROFILE
@given(S.speech_request)
def test_speech_request_roundtrip(request: Any) -> None:
    _request_roundtrip(OpenAISpeech(), request)


# -- across codecs: no silent loss ---------------------------------------------------------------


def _portable(request: Request) -> Request:
    """Drop what only one of chat/responses can carry (each is a *reported* loss, checked
    elsewhere), so most generated requests cross without any loss."""
    messages = []
    for m in request.messages:
        parts = tuple(p for p in m.content if not isinstance(p, (ReasoningPart, OpaquePart)))
        if m.role == Role.ASSISTANT:
            parts = tuple(
                attrs.evolve(p, citations=()) if isinstance(p, TextPart) else p for p in parts
            )
        if m.role == Role.USER:
            parts = tuple(
                attrs.evolve(p, cache=None) if isinstance(p, FilePart) else p for p in parts
            )
        if parts or m.role == Role.ASSISTANT:
            messages.append(attrs.evolve(m, content=parts, name=None))
    return attrs.evolve(
        request,
        messages=tuple(messages),
        tools=tuple(t for t in request.tools if t.kind == "function"),
        n=None,
        stop=(),
        seed=None,
        presence_penalty=None,
        frequency_penalty=None,
        logit_bias=None,
        logprobs=None,
        extra=None,
        reasoning=attrs.evolve(request.reasoning, summary=None) if request.reasoning else None,
    )


def _crossing(source: Any, target: Any, request: Request) -> None:
    """source-protocol canonical -> target wire -> canonical: equal (normalized) whenever
    the target reported no loss."""
    conv = Conversion(strict=True)
    try:
        body = target.encode_request(request, conv).body
    except ProtocolError:
        reject()  # a reported loss: fine, and covered by the loss tests
    back = target.decode_request(_json(body), Conversion(strict=True))
    assert _same_meaning(back) == _same_meaning(attrs.evolve(request, extra=None))


def _same_meaning(r: Request) -> Request:
    """normalize(), plus: an all-None Reasoning() says nothing, like None."""
    r = normalize(strip_raw(r))
    return attrs.evolve(r, reasoning=None) if r.reasoning == Reasoning() else r


@CROSS
@given(S.chat_request().map(_portable))
def test_chat_requests_cross_to_responses(request: Request) -> None:
    _crossing(CHAT, RESPONSES, request)


@CROSS
@given(S.responses_request().map(_portable))
def test_responses_requests_cross_to_chat(request: Request) -> None:
    _crossing(RESPONSES, CHAT, request)


def _crossing_response(target: Any, response: Response) -> None:
    try:
        body = target.encode_response(response, Conversion(strict=True))
    except ProtocolError:
        reject()
    back = target.decode_response(_json(body), Conversion(strict=True))
    assert normalize(strip_raw(back)) == normalize(response)


@CROSS
@given(S.chat_response())
def test_chat_responses_cross_to_responses(response: Response) -> None:
    _crossing_response(RESPONSES, attrs.evolve(response, choices=response.choices[:1]))


@CROSS
@given(S.responses_response())
def test_responses_responses_cross_to_chat(response: Response) -> None:
    _crossing_response(CHAT, response)
