"""Convert a payload from one protocol to another through the canonical model.

Directions: a *request* is decoded server-side by the source codec and encoded
client-side by the target codec (what a gateway does inbound -> upstream); a *response*
is decoded client-side by the source and encoded server-side by the target (upstream ->
inbound); a *stream* is an SSE body converted event by event.
"""

from __future__ import annotations

from typing import Any, Mapping

from .codec import Codec
from .errors import ProtocolError
from .report import Conversion, ConversionReport
from .sse import SSEParser

__all__ = ["KINDS", "transcode", "transcode_stream"]

KINDS = ("request", "response", "stream")


def _codec(pm: Any, codec_id: str) -> Codec:
    if pm is None:
        from .plugins import get_plugin_manager

        pm = get_plugin_manager()
    codec: Codec = pm.codec(codec_id)
    return codec


def transcode(
    payload: Any,
    source: str,
    target: str,
    *,
    kind: str = "request",
    strict: bool = False,
    params: Mapping[str, str] | None = None,
    plugin_manager: Any = None,
) -> tuple[Any, ConversionReport]:
    """Convert ``payload`` (parsed JSON; SSE bytes for ``stream``) from codec ``source``
    to codec ``target``. Returns the converted payload and the conversion report."""
    if kind not in KINDS:
        raise ProtocolError(f"unknown kind {kind!r} (expected one of {', '.join(KINDS)})")
    src, dst = _codec(plugin_manager, source), _codec(plugin_manager, target)
    if src.family != dst.family:
        raise ProtocolError(
            f"cannot convert {src.family} codec {source} to {dst.family} codec {target}"
        )
    conv = Conversion(source, target, strict=strict)
    if kind == "stream":
        return transcode_stream(payload, src, dst, conv), conv.report()
    if kind == "request":
        canonical = src.decode_request(payload, conv, params=params)
        wire = dst.encode_request(canonical, conv)
        return wire.body, conv.report()
    canonical = src.decode_response(payload, conv)
    return dst.encode_response(canonical, conv), conv.report()


def transcode_stream(body: bytes | str, src: Codec, dst: Codec, conv: Conversion) -> bytes:
    parser = SSEParser()
    decoder = src.stream_decoder(conv)
    encoder = dst.stream_encoder(conv)
    out: list[bytes] = []
    events = parser.feed(body) + parser.close()
    for sse in events:
        for event in decoder.feed(sse):
            out.extend(e.encode() for e in encoder.feed(event))
    for event in decoder.close():
        out.extend(e.encode() for e in encoder.feed(event))
    out.extend(e.encode() for e in encoder.close())
    return b"".join(out)
