"""Server-sent events, both ways, as the WHATWG spec defines them.

The parser is incremental (feed it whatever bytes arrived) and accepts ``\\n``, ``\\r\\n``
and ``\\r`` line ends, comments, multi-line ``data`` and a missing final blank line at
close. It is the one SSE implementation every codec and transport shares.
"""

from __future__ import annotations

import codecs

import attrs

__all__ = ["SSEEvent", "SSEParser", "encode_event", "parse_sse"]


@attrs.frozen
class SSEEvent:
    data: str
    event: str | None = None
    id: str | None = None
    retry: int | None = None

    def encode(self) -> bytes:
        return encode_event(self.data, self.event, self.id)


def encode_event(data: str, event: str | None = None, id: str | None = None) -> bytes:
    """One event as bytes: ``event:`` (if any), ``data:`` per line, a blank line."""
    head = f"event: {event}\n" if event else ""
    if id is not None:
        head += f"id: {id}\n"
    if "\n" in data or "\r" in data:
        lines = data.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        body = "".join(f"data: {line}\n" for line in lines)
    else:
        body = f"data: {data}\n"
    return (head + body + "\n").encode()


class SSEParser:
    __slots__ = ("_buf", "_data", "_event", "_id", "_retry", "_pending_cr", "_utf8")

    def __init__(self) -> None:
        # bytes arrive split anywhere, also inside a multi-byte character
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buf = ""
        self._data: list[str] = []
        self._event: str | None = None
        self._id: str | None = None
        self._retry: int | None = None
        self._pending_cr = False

    def feed(self, chunk: bytes | str) -> list[SSEEvent]:
        text = self._utf8.decode(chunk) if isinstance(chunk, bytes) else chunk
        if self._pending_cr and text.startswith("\n"):
            text = text[1:]
        self._pending_cr = text.endswith("\r")
        buf = self._buf + text
        if "\r" in buf:
            buf = buf.replace("\r\n", "\n").replace("\r", "\n")
        out: list[SSEEvent] = []
        line = self._line
        if not self._data and self._event is None and "\n\n" in buf:
            # between events, most streams send nothing but ``data: <one line>`` blocks:
            # those become events without the line-by-line walk, which gives the same
            blocks = buf.split("\n\n")
            buf = blocks.pop()
            for block in blocks:
                if block[:6] == "data: " and "\n" not in block:
                    out.append(SSEEvent(block[6:], None, self._id, None))
                    continue
                for one in block.split("\n"):
                    line(one, out)
                line("", out)
        lines = buf.split("\n")
        self._buf = lines.pop()
        for one in lines:
            line(one, out)
        return out

    @property
    def between_events(self) -> bool:
        """Everything fed so far ended complete events (no partial line or event)."""
        return not self._buf and not self._data and self._event is None and not self._pending_cr

    def close(self) -> list[SSEEvent]:
        """Flush a final event that lacked its blank line."""
        out: list[SSEEvent] = []
        self._buf += self._utf8.decode(b"", final=True)
        if self._buf:
            self._line(self._buf, out)
            self._buf = ""
        self._line("", out)
        return out

    def _line(self, line: str, out: list[SSEEvent]) -> None:
        if not line:
            if self._data or self._event is not None:
                out.append(SSEEvent("\n".join(self._data), self._event, self._id, self._retry))
            self._data = []
            self._event = None
            self._retry = None
            return
        if line[0] == ":":
            return
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            self._id = value
        elif name == "retry" and value.isdigit():
            self._retry = int(value)


def parse_sse(body: bytes | str) -> list[SSEEvent]:
    """Parse a whole SSE body at once."""
    parser = SSEParser()
    return parser.feed(body) + parser.close()
