"""The bare aiohttp relay: the floor any Python gateway can reach on this machine.

It forwards ``POST /v1/chat/completions`` bytes to the upstream with one pooled
``aiohttp.ClientSession`` and copies the answer back (whole, or chunk by chunk for an
event stream) — no parsing, no auth, no logging. Standalone (aiohttp only)::

    python relay.py --upstream http://127.0.0.1:PORT [--port 0]

Prints ``READY <port>`` once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
import sys

from aiohttp import ClientSession, TCPConnector, web


def build(upstream: str) -> web.Application:
    state: dict[str, ClientSession] = {}

    async def start(app: web.Application) -> None:
        state["s"] = ClientSession(connector=TCPConnector(limit=256))

    async def stop(app: web.Application) -> None:
        await state["s"].close()

    async def relay(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {
            "content-type": "application/json",
            "authorization": "Bearer sk-bench-upstream-0000",
        }
        async with state["s"].post(upstream + request.path, data=body, headers=headers) as up:
            ctype = up.headers.get("content-type", "application/json")
            if not ctype.startswith("text/event-stream"):
                return web.Response(
                    body=await up.read(), status=up.status, headers={"content-type": ctype}
                )
            out = web.StreamResponse(status=up.status, headers={"content-type": ctype})
            await out.prepare(request)
            async for chunk in up.content.iter_any():
                await out.write(chunk)
            await out.write_eof()
            return out

    app = web.Application()
    app.router.add_post("/v1/chat/completions", relay)
    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    return app


async def serve(upstream: str, port: int, seconds: float) -> None:
    runner = web.AppRunner(build(upstream), access_log=None)
    await runner.setup()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    site = web.SockSite(runner, sock)
    await site.start()
    sys.stdout.write(f"READY {sock.getsockname()[1]}\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--upstream", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--max-seconds", type=float, default=3600.0)
    args = p.parse_args(argv)
    asyncio.run(serve(args.upstream.rstrip("/"), args.port, args.max_seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
