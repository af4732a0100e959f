"""Property tests: canonical -> Anthropic wire -> canonical is the identity (after
``omniwire.normalize``) for everything the codec declares, with no loss reported."""

from __future__ import annotations

import json
import os

from anthropic_strategies import requests, responses, streams
from hypothesis import HealthCheck, given, settings
from omniwire.model import Request, Response, fold
from omniwire.normalize import normalize
from omniwire.report import Conversion
from omniwire.sse import parse_sse
from omniwire_anthropic.messages import AnthropicMessages
from wire_strategies import request_bodies, response_bodies

CODEC = AnthropicMessages()
EXAMPLES = int(os.environ.get("OMNIWIRE_HYPOTHESIS_EXAMPLES", "150"))
"""Examples per property; raise it for a deep run (3000 took about a minute here)."""
SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def json_trip(value: object) -> object:
    return json.loads(json.dumps(value))


@SETTINGS
@given(requests())
def test_request_round_trip(request: Request) -> None:
    conv = Conversion(strict=True)
    wire = CODEC.encode_request(request, conv)
    assert wire.path == "/v1/messages"
    assert wire.stream is request.stream
    body = json_trip(wire.body)
    decoded = CODEC.decode_request(body, Conversion(strict=True), params=wire.headers)
    assert normalize(decoded) == normalize(request)
    # the decoded request re-encodes to the same wire body (raw-driven exactness)
    assert CODEC.encode_request(decoded, Conversion(strict=True)).body == body


@SETTINGS
@given(responses())
def test_response_round_trip(response: Response) -> None:
    body = json_trip(CODEC.encode_response(response, Conversion(strict=True)))
    decoded = CODEC.decode_response(body, Conversion(strict=True))
    assert normalize(decoded) == normalize(response)
    assert CODEC.encode_response(decoded, Conversion(strict=True)) == body
    assert CODEC.usage_of(body) == response.usage


@SETTINGS
@given(streams())
def test_stream_round_trip(case: tuple[Response, list]) -> None:
    response, events = case
    assert fold(events) == response  # the generator is right
    encoder = CODEC.stream_encoder(Conversion(strict=True))
    sse = [e for event in events for e in encoder.feed(event)] + encoder.close()
    text = b"".join(e.encode() for e in sse)
    decoder = CODEC.stream_decoder(Conversion(strict=True))
    decoded = [e for event in parse_sse(text) for e in decoder.feed(event)] + decoder.close()
    assert normalize(fold(decoded)) == normalize(response)
    # wire grammar: name == data.type, blocks opened and closed in order, message_stop last
    parsed = parse_sse(text)
    names = [e.event for e in parsed]
    assert names[0] == "message_start" and names[-1] == "message_stop"
    open_block = None
    expected_index = 0
    for event in parsed:
        data = json.loads(event.data)
        assert data["type"] == event.event
        if event.event == "content_block_start":
            assert open_block is None and data["index"] == expected_index
            open_block = data["index"]
        elif event.event == "content_block_delta":
            assert data["index"] == open_block
        elif event.event == "content_block_stop":
            assert data["index"] == open_block
            open_block, expected_index = None, expected_index + 1
    assert open_block is None


@SETTINGS
@given(request_bodies())
def test_wire_request_exact(body: dict) -> None:
    """Anthropic -> canonical -> Anthropic restores the body exactly, nulls and all."""
    decoded = CODEC.decode_request(body, Conversion())
    assert CODEC.encode_request(decoded, Conversion(strict=True)).body == body


@SETTINGS
@given(response_bodies())
def test_wire_response_exact(body: dict) -> None:
    decoded = CODEC.decode_response(body, Conversion(strict=True))
    assert CODEC.encode_response(decoded, Conversion(strict=True)) == body
