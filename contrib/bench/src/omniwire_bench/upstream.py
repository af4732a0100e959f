"""The fast local upstream: an OpenAI-shaped chat completions server on 127.0.0.1.

Standalone (standard library only) so any interpreter can run it by path::

    python upstream.py [--port 0] [--chunks 200]

It prints ``READY <port>`` on stdout once listening. It is written to cost less than
anything it measures: a bare ``asyncio.Protocol``, HTTP/1.1 keep-alive, and every
answer precomputed per (model, stream) and sent with one ``write``:

* ``POST .../chat/completions`` -> a chat completion (JSON with usage), or, when the
  body asks for ``"stream": true``, an SSE stream in chunked transfer encoding: N
  content deltas (the first also carries the role), a finish chunk with usage, and
  ``data: [DONE]``. N comes from the model name (``m20`` -> 20, ``bench-200`` -> 200),
  else ``--chunks``.
* ``GET .../models`` -> a model list; anything else -> 404 JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import signal
import sys

_MODEL = re.compile(rb'"model"\s*:\s*"([^"]{1,200})"')
_STREAM = re.compile(rb'"stream"\s*:\s*true')
_DIGITS = re.compile(r"(\d+)$")
_WORDS = (
    "Hello",
    " there",
    "!",
    " This",
    " is",
    " a",
    " benchmark",
    " answer",
    " from",
    " the",
    " local",
    " upstream",
    ",",
    " written",
    " to",
    " be",
    " cheap",
    " and",
    " predictable",
    ".",
)


def _http(status: str, ctype: bytes, body: bytes) -> bytes:
    return (
        b"HTTP/1.1 "
        + status.encode()
        + b"\r\ncontent-type: "
        + ctype
        + b"\r\ncontent-length: "
        + str(len(body)).encode()
        + b"\r\nx-request-id: req-bench\r\n\r\n"
        + body
    )


def completion(model: str, chunks: int) -> bytes:
    text = "".join(_WORDS[i % len(_WORDS)] for i in range(max(chunks, 1)))
    body = {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1700000000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": chunks, "total_tokens": 12 + chunks},
        "system_fingerprint": "fp_bench",
    }
    return _http("200 OK", b"application/json", json.dumps(body, separators=(",", ":")).encode())


def stream(model: str, chunks: int) -> bytes:
    base = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": model,
        "system_fingerprint": "fp_bench",
    }
    events = []
    for i in range(chunks):
        delta: dict[str, object] = {"content": _WORDS[i % len(_WORDS)]}
        if i == 0:
            delta = {"role": "assistant", **delta}
        events.append(
            {
                **base,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}],
            }
        )
    events.append(
        {**base, "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]}
    )
    events.append(
        {
            **base,
            "choices": [],
            "usage": {
                "prompt_tokens": 12,
                "completion_tokens": chunks,
                "total_tokens": 12 + chunks,
            },
        }
    )
    out = [
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
        b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n"
    ]
    payloads = [b"data: " + json.dumps(e, separators=(",", ":")).encode() + b"\n\n" for e in events]
    payloads.append(b"data: [DONE]\n\n")
    for p in payloads:
        out.append(b"%x\r\n%s\r\n" % (len(p), p))
    out.append(b"0\r\n\r\n")
    return b"".join(out)


MODELS = _http(
    "200 OK",
    b"application/json",
    b'{"object":"list","data":[{"id":"m20","object":"model","created":0,"owned_by":"bench"}]}',
)
NOT_FOUND = _http(
    "404 Not Found",
    b"application/json",
    b'{"error":{"message":"not found","type":"invalid_request_error"}}',
)


class Upstream(asyncio.Protocol):
    cache: dict[tuple[bytes, bool], bytes] = {}
    default_chunks = 200
    served = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        out = []
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                break
            head = buf[:end].lower()
            start = end + 4
            i = head.find(b"content-length:")
            if i >= 0:
                j = head.find(b"\r\n", i)
                n = int(head[i + 15 : j if j > 0 else None])
                if len(buf) < start + n:
                    break
                body = buf[start : start + n]
                buf = buf[start + n :]
            elif b"transfer-encoding: chunked" in head:
                parsed = _dechunk(buf, start)
                if parsed is None:
                    break
                body, used = parsed
                buf = buf[used:]
            else:
                body = b""
                buf = buf[start:]
            out.append(self.answer(head, body))
        self.buf = buf
        if out:
            Upstream.served += len(out)
            self.transport.write(out[0] if len(out) == 1 else b"".join(out))

    def answer(self, head: bytes, body: bytes) -> bytes:
        line = head[: head.find(b"\r\n")]
        if line.startswith(b"post ") and b"/chat/completions" in line:
            m = _MODEL.search(body)
            model = m.group(1) if m else b"bench"
            key = (model, _STREAM.search(body) is not None)
            found = self.cache.get(key)
            if found is None:
                name = model.decode(errors="replace")
                d = _DIGITS.search(name)
                chunks = (
                    int(d.group(1))
                    if d and 0 < int(d.group(1)) <= 100000
                    else (self.default_chunks)
                )
                found = (stream if key[1] else completion)(name, chunks)
                if len(self.cache) < 1000:
                    self.cache[key] = found
            return found
        if line.startswith(b"get ") and b"/models" in line:
            return MODELS
        return NOT_FOUND


def _dechunk(buf: bytes, pos: int) -> tuple[bytes, int] | None:
    parts = []
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        size = int(buf[pos:eol].split(b";")[0], 16)
        pos = eol + 2
        if size == 0:
            end = buf.find(b"\r\n", pos)
            if end < 0:
                return None
            return b"".join(parts), end + 2
        if len(buf) < pos + size + 2:
            return None
        parts.append(buf[pos : pos + size])
        pos += size + 2


async def serve(host: str, port: int, chunks: int, seconds: float) -> None:
    Upstream.default_chunks = chunks
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Upstream, host, port, backlog=1024, reuse_address=True)
    bound = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"READY {bound}\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    with contextlib.suppress(TimeoutError):  # bounded: never outlives the run
        await asyncio.wait_for(stop.wait(), seconds)
    server.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--chunks", type=int, default=200)
    parser.add_argument("--max-seconds", type=float, default=3600.0)
    args = parser.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the benchmark upstream listens on loopback only")
    asyncio.run(serve(args.host, args.port, args.chunks, args.max_seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
