"""Provider "rtoy" for the replay tests: the kit's toy protocol on a fake upstream that
quotes the caller's credentials back (raw, and as base64 of JSON) in a field the codec
ignores, as some providers do in error text, and sets a cookie, so the tests can check a
recording never keeps them; and an auth scheme sending the key twice."""

from __future__ import annotations

import base64
import json
from typing import Any

import attrs
from omniwire import OmniwireError
from omniwire.plugins import hookimpl
from omniwire.report import Conversion
from omniwire.sse import SSEEvent
from omniwire.wire import WireRequest
from omniwire_testing.events import events_for
from omniwire_testing.toy import ToyCodec
from omniwire_testing.upstream import RawResponse, RecordedRequest, echo_response

CODEC = ToyCodec("rtoy.chat", provider="rtoy", routes=("/chat",), path="/chat")


def quoting(recorded: RecordedRequest, answer: Any) -> RawResponse:
    """``answer`` (a Response, streamed when asked, or an OmniwireError) in the toy
    protocol, its JSON body or first stream event carrying the credentials."""
    auth = recorded.headers.get("authorization", "")
    blob = base64.b64encode(json.dumps({"auth": auth}).encode()).decode()
    debug = {"seen": auth, "blob": blob}
    headers = {"set-cookie": "session=server-cookie-value-123"}
    if isinstance(answer, OmniwireError):
        status, body = CODEC.encode_error(answer)
        return RawResponse(status, {**body, "debug": debug}, headers)
    if not recorded.stream:
        body = {**CODEC.encode_response(answer, Conversion()), "debug": debug}
        return RawResponse(200, body, headers)
    encoder = CODEC.stream_encoder(Conversion())
    sse = [e for event in events_for(answer) for e in encoder.feed(event)] + encoder.close()
    sse[0] = SSEEvent(json.dumps({**json.loads(sse[0].data), "debug": debug}), sse[0].event)
    headers["content-type"] = "text/event-stream"
    return RawResponse(200, headers=headers, chunks=[e.encode() for e in sse])


def quoting_echo(canonical: Any, recorded: RecordedRequest) -> RawResponse:
    """The fake upstream's responder: the kit's echo, quoting the credentials."""
    return quoting(recorded, echo_response(canonical, recorded.index))


@attrs.frozen
class QueryAndBearer:
    """An auth scheme that sends the key twice: bearer header and ``?key=`` (URL-encoded),
    like providers that accept either."""

    name: str = "query-and-bearer"

    def apply(self, wire: WireRequest, key: Any) -> WireRequest:
        from urllib.parse import quote

        secret = key.secret.reveal()
        sep = "&" if "?" in (wire.url or "") else "?"
        return attrs.evolve(
            wire,
            url=f"{wire.url}{sep}key={quote(secret, safe='')}",
            headers={**wire.headers, "authorization": f"Bearer {secret}"},
        )


class RToyPlugin:
    @hookimpl
    def omniwire_register_codecs(self, register: Any) -> None:
        register(CODEC)

    @hookimpl
    def omniwire_register_auth_schemes(self, register: Any) -> None:
        register(QueryAndBearer())
