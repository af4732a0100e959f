"""A bounded HTTP/1.1 load generator: raw asyncio sockets, keep-alive, a fixed number of
connections, a time limit and a request limit. Standalone (standard library only)::

    python loadgen.py --port 8000 --path /v1/chat/completions --body-file b.json \
        --header "authorization: Bearer k" --connections 32 --seconds 5 [--rate 200]

Closed loop by default (each connection sends its next request when the previous
answer is complete). With ``--rate`` the connections share a fixed schedule and latency
is measured from each request's scheduled time whenever the previous answer made it
late, so a server that falls behind shows it (no coordinated omission). Answers may be ``content-length`` or chunked (SSE). Prints
one JSON object: requests, errors, status counts, requests/s, latency percentiles (ms).
Only loopback addresses are accepted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

LOOPBACK = ("127.0.0.1", "localhost", "::1")


class Conn(asyncio.Protocol):
    """One keep-alive connection that parses answers incrementally."""

    def __init__(self) -> None:
        self.buf = b""
        self.waiter: asyncio.Future[int] | None = None
        self.state = 0  # 0 head, 1 fixed body, 2 chunked
        self.need = 0
        self.status = 0
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection closed"))

    def send(self, request: bytes) -> asyncio.Future[int]:
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self.waiter

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while self._step():
            pass

    def _done(self) -> None:
        self.state = 0
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(self.status)

    def _step(self) -> bool:
        buf = self.buf
        if self.state == 0:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return False
            head = buf[:end].lower()
            self.buf = buf[end + 4 :]
            self.status = int(head[9:12])
            i = head.find(b"content-length:")
            if i >= 0:
                j = head.find(b"\r\n", i)
                self.need = int(head[i + 15 : j if j > 0 else None])
                self.state = 1
            elif b"transfer-encoding: chunked" in head:
                self.state = 2
            else:
                self.need = 0
                self.state = 1
            return True
        if self.state == 1:
            if len(buf) < self.need:
                return False
            self.buf = buf[self.need :]
            self._done()
            return bool(self.buf)
        # chunked: size line, data, CRLF; a 0 size ends it (no trailers expected)
        eol = buf.find(b"\r\n")
        if eol < 0:
            return False
        size = int(buf[:eol].split(b";")[0], 16)
        if size == 0:
            if len(buf) < eol + 4:
                return False
            self.buf = buf[eol + 4 :]
            self._done()
            return bool(self.buf)
        if len(buf) < eol + 2 + size + 2:
            return False
        self.buf = buf[eol + 2 + size + 2 :]
        return True


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] * 1e3


async def run(args: argparse.Namespace) -> dict[str, object]:
    loop = asyncio.get_running_loop()
    body = Path(args.body_file).read_bytes() if args.body_file else b""
    headers = [h.split(":", 1) for h in args.header]
    head = (
        f"POST {args.path} HTTP/1.1\r\nhost: {args.host}:{args.port}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\n"
        + "".join(f"{k.strip()}: {v.strip()}\r\n" for k, v in headers)
        + "\r\n"
    ).encode()
    request = head + body
    conns = []
    for _ in range(args.connections):
        _, proto = await loop.create_connection(Conn, args.host, args.port)
        conns.append(proto)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    sent = 0
    clock = time.perf_counter
    warm_until = clock() + args.warmup
    start = warm_until
    deadline = start + args.seconds
    limit = args.requests
    interval = args.connections / args.rate if args.rate else 0.0

    async def drive(i: int, conn: Conn) -> None:
        nonlocal errors, sent
        scheduled = start + i * (interval / args.connections) if interval else 0.0
        while True:
            now = clock()
            if now >= deadline or (limit and sent >= limit):
                return
            if interval:
                if scheduled > now:
                    # on time: measure from the actual send (the loop's timer lag is
                    # not the server's); behind schedule because the server was slow:
                    # measure from the scheduled time (no coordinated omission)
                    await asyncio.sleep(scheduled - now)
                    t0 = clock()
                else:
                    t0 = scheduled
                scheduled += interval
            else:
                t0 = clock()
            measuring = t0 >= start
            if measuring:
                sent += 1
            if conn.lost:
                errors += 1
                return
            try:
                status = await asyncio.wait_for(conn.send(request), args.timeout)
            except (TimeoutError, ConnectionError):
                errors += 1
                conn.transport.close()
                return
            if measuring:
                statuses[status] = statuses.get(status, 0) + 1
                if 200 <= status < 300:
                    latencies.append(clock() - t0)
                else:
                    errors += 1

    await asyncio.gather(*(drive(i, c) for i, c in enumerate(conns)))
    elapsed = min(clock(), deadline + args.timeout) - start
    for c in conns:
        c.transport.close()
    ok = len(latencies)
    return {
        "tool": "pyload",
        "connections": args.connections,
        "rate": args.rate,
        "requests": ok,
        "errors": errors,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "seconds": elapsed,
        "rps": ok / elapsed if elapsed > 0 else 0.0,
        "p50_ms": _pct(latencies, 0.50),
        "p90_ms": _pct(latencies, 0.90),
        "p99_ms": _pct(latencies, 0.99),
        "max_ms": max(latencies) * 1e3 if latencies else None,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--path", default="/v1/chat/completions")
    p.add_argument("--body-file")
    p.add_argument("--header", action="append", default=[])
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--warmup", type=float, default=0.0)
    p.add_argument("--requests", type=int, default=0, help="stop after this many (0: no limit)")
    p.add_argument("--rate", type=float, default=0.0, help="total requests/s (0: closed loop)")
    p.add_argument("--timeout", type=float, default=30.0, help="per request")
    args = p.parse_args(argv)
    if args.host not in LOOPBACK:
        p.error("the load generator targets loopback addresses only")
    if not 0 < args.seconds <= 600 or not 0 < args.connections <= 1024:
        p.error("--seconds must be in (0, 600] and --connections in (0, 1024]")
    result = asyncio.run(run(args))
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
