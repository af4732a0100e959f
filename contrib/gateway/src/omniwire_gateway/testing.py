"""Run a real gateway on 127.0.0.1 inside a test (or a benchmark), in its own thread."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any, Mapping

from aiohttp import web

from .app import Gateway
from .build import build_gateway

__all__ = ["RunningGateway"]


class RunningGateway:
    """``with RunningGateway(config_text, keys=[...]) as gw: gw.url``.

    ``config`` is TOML text (or None for the embedded default); ``flags`` are what
    ``omniwire serve`` flags would set. The request log goes to ``database`` if given.
    """

    def __init__(
        self,
        config: str | None,
        *,
        keys: tuple[str, ...] = ("sk-gw-test-key-000000",),
        workdir: Path | None = None,
        database: str | None = None,
        flags: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.keys = keys
        self.workdir = workdir
        self.database = database
        self.flags = dict(flags or {})
        self.env = env
        self.gateway: Gateway | None = None
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> RunningGateway:
        path = None
        if self.config is not None:
            assert self.workdir is not None, "workdir is needed to write the config"
            path = self.workdir / "gateway.toml"
            path.write_text(self.config)
        flags = {
            "api_key": list(self.keys),
            "database": self.database or "",
            "allow_local_upstreams": True,
            **self.flags,
        }
        env = dict(self.env) if self.env is not None else {}
        self.gateway, _ = build_gateway(
            str(path) if path else None, flags=flags, env=env, announce=lambda *_: None
        )
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._start())
            except BaseException as exc:  # surfaced to the starting thread
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._stop())
            loop.close()

        self._thread = threading.Thread(target=run, name="omniwire-gateway", daemon=True)
        self._thread.start()
        ready.wait(30)
        if errors:
            raise errors[0]
        return self

    async def _start(self) -> None:
        assert self.gateway is not None
        self._runner = web.AppRunner(self.gateway.app(), handler_cancellation=True, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def close(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def __enter__(self) -> RunningGateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
