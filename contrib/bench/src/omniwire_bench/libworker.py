"""One library client under measurement, in its own process.

Standalone (standard library plus the client measured) so the competitors' venv runs it
by path. It reads one JSON command per line on stdin and answers one JSON line on
stdout; every measurement loop is bounded by a call count and a time limit::

    {"op": "setup", "client": "raw-aiohttp", "url": "http://127.0.0.1:PORT"}
    {"op": "seq", "calls": 2000, "seconds": 1.5, "model": "m20"}
    {"op": "conc", "tasks": 64, "calls": 20000, "seconds": 2.0, "model": "m20"}
    {"op": "stream", "calls": 300, "seconds": 1.5, "model": "m200"}
    {"op": "rss"}
    {"op": "quit"}

Clients: ``raw-aiohttp`` and ``raw-httpx`` (the floors: JSON in, JSON out, the cheapest
SSE split), ``openai`` (AsyncOpenAI), ``litellm`` (acompletion), ``omniwire-httpx`` /
``omniwire-aiohttp`` (an openai.chat stack on that transport) and ``omniwire-x-httpx`` /
``omniwire-x-aiohttp`` (cross-protocol: an Anthropic Messages request decoded to the
canonical model, sent to the OpenAI upstream, the answer encoded back to Anthropic).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import resource
import sys
import time
from typing import Any

KEY = "sk-bench-upstream-0000"
PROMPT = "Say hi"


def _body(model: str, stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": PROMPT}]}
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def _split_sse(buf: bytes, out: list[bytes]) -> bytes:
    """Cut complete events off ``buf`` (``data:`` payloads into ``out``); the rest."""
    while True:
        i = buf.find(b"\n\n")
        if i < 0:
            return buf
        event, buf = buf[:i], buf[i + 2 :]
        if event.startswith(b"data: "):
            out.append(event[6:])


class Client:
    name = ""
    version = ""

    async def setup(self, url: str) -> None: ...

    async def call(self, model: str) -> str:
        raise NotImplementedError

    async def stream(self, model: str, marks: list[float]) -> int:
        """Consume one stream; append perf_counter() at each content chunk to marks."""
        raise NotImplementedError

    async def aclose(self) -> None: ...


async def _content_chunks(chunks: Any, marks: list[float]) -> int:
    """What a floor does with a chat stream: split ``data:`` lines off the raw bytes,
    parse each, and stamp every chunk that carries content."""
    n = 0
    buf = b""
    events: list[bytes] = []
    async for chunk in chunks:
        buf = _split_sse(buf + chunk, events)
        for e in events:
            if e == b"[DONE]":
                continue
            choices = json.loads(e)["choices"]
            if choices and choices[0]["delta"].get("content"):
                marks.append(time.perf_counter())
                n += 1
        events.clear()
    return n


class RawAiohttp(Client):
    name = "raw-aiohttp"

    async def setup(self, url: str) -> None:
        import aiohttp

        self.version = aiohttp.__version__
        self.url = url + "/v1/chat/completions"
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256))
        self.headers = {"authorization": f"Bearer {KEY}", "content-type": "application/json"}

    async def call(self, model: str) -> str:
        data = json.dumps(_body(model, False)).encode()
        async with self.session.post(self.url, data=data, headers=self.headers) as r:
            payload = json.loads(await r.read())
        return str(payload["choices"][0]["message"]["content"])

    async def stream(self, model: str, marks: list[float]) -> int:
        data = json.dumps(_body(model, True)).encode()
        async with self.session.post(self.url, data=data, headers=self.headers) as r:
            return await _content_chunks(r.content.iter_any(), marks)

    async def aclose(self) -> None:
        await self.session.close()


class RawHttpx(Client):
    name = "raw-httpx"

    async def setup(self, url: str) -> None:
        import httpx

        self.version = httpx.__version__
        self.url = url + "/v1/chat/completions"
        self.client = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=256),
            timeout=60.0,
        )
        self.headers = {"authorization": f"Bearer {KEY}", "content-type": "application/json"}

    async def call(self, model: str) -> str:
        data = json.dumps(_body(model, False)).encode()
        r = await self.client.post(self.url, content=data, headers=self.headers)
        return str(json.loads(r.content)["choices"][0]["message"]["content"])

    async def stream(self, model: str, marks: list[float]) -> int:
        data = json.dumps(_body(model, True)).encode()
        async with self.client.stream("POST", self.url, content=data, headers=self.headers) as r:
            return await _content_chunks(r.aiter_bytes(), marks)

    async def aclose(self) -> None:
        await self.client.aclose()


class OpenAISDK(Client):
    name = "openai"

    async def setup(self, url: str) -> None:
        import openai

        self.version = openai.__version__
        self.client = openai.AsyncOpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0)

    async def call(self, model: str) -> str:
        r = await self.client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": PROMPT}]
        )
        return r.choices[0].message.content or ""

    async def stream(self, model: str, marks: list[float]) -> int:
        n = 0
        s = await self.client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": PROMPT}],
            stream=True,
            stream_options={"include_usage": True},
        )
        async for chunk in s:
            if chunk.choices and chunk.choices[0].delta.content:
                marks.append(time.perf_counter())
                n += 1
        return n

    async def aclose(self) -> None:
        await self.client.close()


class LiteLLM(Client):
    name = "litellm"

    async def setup(self, url: str) -> None:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        os.environ.setdefault("LITELLM_TELEMETRY", "False")
        import litellm

        try:
            from importlib.metadata import version

            self.version = version("litellm")
        except Exception:
            self.version = "?"
        litellm.telemetry = False
        litellm.suppress_debug_info = True
        litellm.turn_off_message_logging = True
        litellm.num_retries = 0
        self.litellm = litellm
        self.base = url + "/v1"

    async def call(self, model: str) -> str:
        r = await self.litellm.acompletion(
            model="openai/" + model,
            messages=[{"role": "user", "content": PROMPT}],
            api_base=self.base,
            api_key=KEY,
            num_retries=0,
        )
        return r.choices[0].message.content or ""

    async def stream(self, model: str, marks: list[float]) -> int:
        n = 0
        s = await self.litellm.acompletion(
            model="openai/" + model,
            messages=[{"role": "user", "content": PROMPT}],
            api_base=self.base,
            api_key=KEY,
            stream=True,
            stream_options={"include_usage": True},
            num_retries=0,
        )
        async for chunk in s:
            if chunk.choices and chunk.choices[0].delta.content:
                marks.append(time.perf_counter())
                n += 1
        return n


class Omniwire(Client):
    """An openai.chat stack; ``cross`` goes through the Anthropic codec both ways."""

    def __init__(self, transport: str, cross: bool) -> None:
        self.transport = transport
        self.cross = cross
        self.name = f"omniwire-{'x-' if cross else ''}{transport}"

    async def setup(self, url: str) -> None:
        import omniwire
        from omniwire import Endpoint, Request, Stack

        self.version = omniwire.__version__
        self.Request = Request
        self.stack = Stack(
            [Endpoint("up", "openai.chat", url + "/v1", keys=[KEY])],
            transport_name=self.transport,
        )
        if self.cross:
            from omniwire.report import Conversion

            self.Conversion = Conversion
            self.anthropic = self.stack.pm.codec("anthropic.messages")

    def _anthropic(self, model: str, stream: bool) -> Any:
        body: dict[str, Any] = {
            "model": model,
            "max_tokens": 1024,
            "messages": [{"role": "user", "content": PROMPT}],
        }
        if stream:
            body["stream"] = True
        return self.anthropic.decode_request(body, self.Conversion("anthropic.messages", None))

    async def call(self, model: str) -> str:
        if not self.cross:
            response = await self.stack.call(self.Request.simple(model, PROMPT))
            return str(response.text)
        call = await self.stack.invoke(self._anthropic(model, False))
        payload = self.anthropic.encode_response(
            call.response, self.Conversion(None, "anthropic.messages")
        )
        return str(payload["content"][0]["text"])

    async def stream(self, model: str, marks: list[float]) -> int:
        from omniwire.model import TextDelta

        n = 0
        if not self.cross:
            request = self.Request.simple(model, PROMPT, stream=True)
            async with self.stack.stream(request) as result:
                async for event in result:
                    if isinstance(event, TextDelta) and event.text:
                        marks.append(time.perf_counter())
                        n += 1
            return n
        canonical = self._anthropic(model, True)
        encoder = self.anthropic.stream_encoder(
            self.Conversion(None, "anthropic.messages"), canonical
        )
        async with self.stack.stream(canonical) as result:
            async for event in result:
                out = b"".join(e.encode() for e in encoder.feed(event))
                if isinstance(event, TextDelta) and event.text and out:
                    marks.append(time.perf_counter())
                    n += 1
            b"".join(e.encode() for e in encoder.close())
        return n

    async def aclose(self) -> None:
        await self.stack.aclose()


def make(name: str) -> Client:
    if name == "raw-aiohttp":
        return RawAiohttp()
    if name == "raw-httpx":
        return RawHttpx()
    if name == "openai":
        return OpenAISDK()
    if name == "litellm":
        return LiteLLM()
    if name.startswith("omniwire-"):
        rest = name[len("omniwire-") :]
        cross = rest.startswith("x-")
        return Omniwire(rest[2:] if cross else rest, cross)
    raise SystemExit(f"unknown client {name!r}")


# -- measurements ----------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


async def seq(client: Client, model: str, calls: int, seconds: float) -> dict[str, Any]:
    lat: list[float] = []
    clock = time.perf_counter
    start = clock()
    deadline = start + seconds
    for _ in range(calls):
        t = clock()
        await client.call(model)
        now = clock()
        lat.append(now - t)
        if now > deadline:
            break
    elapsed = clock() - start
    return {
        "calls": len(lat),
        "elapsed_s": elapsed,
        "calls_per_s": len(lat) / elapsed,
        "p50_ms": _pct(lat, 0.5) * 1e3,
        "p99_ms": _pct(lat, 0.99) * 1e3,
        "mean_ms": sum(lat) / len(lat) * 1e3,
    }


async def conc(
    client: Client, model: str, tasks: int, calls: int, seconds: float
) -> dict[str, Any]:
    lat: list[float] = []
    errors = 0
    clock = time.perf_counter
    start = clock()
    deadline = start + seconds
    budget = [calls]

    async def worker() -> None:
        nonlocal errors
        while budget[0] > 0 and clock() < deadline:
            budget[0] -= 1
            t = clock()
            try:
                await client.call(model)
            except Exception:
                errors += 1
                continue
            lat.append(clock() - t)

    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(tasks))), seconds + 60)
    elapsed = clock() - start
    return {
        "tasks": tasks,
        "calls": len(lat),
        "errors": errors,
        "elapsed_s": elapsed,
        "calls_per_s": len(lat) / elapsed,
        "p50_ms": _pct(lat, 0.5) * 1e3,
        "p99_ms": _pct(lat, 0.99) * 1e3,
        "per_call_ms": elapsed / max(len(lat), 1) * 1e3,
    }


async def streams(client: Client, model: str, calls: int, seconds: float) -> dict[str, Any]:
    ttfc: list[float] = []
    per_chunk: list[float] = []
    total: list[float] = []
    chunks = 0
    clock = time.perf_counter
    deadline = clock() + seconds
    for _ in range(calls):
        marks: list[float] = []
        t = clock()
        n = await client.stream(model, marks)
        end = clock()
        if not marks:
            raise RuntimeError(f"{client.name}: a stream without content chunks")
        chunks = n
        ttfc.append(marks[0] - t)
        if n > 1:
            per_chunk.append((marks[-1] - marks[0]) / (n - 1))
        total.append(end - t)
        if end > deadline:
            break
    return {
        "streams": len(total),
        "chunks": chunks,
        "ttfc_p50_ms": _pct(ttfc, 0.5) * 1e3,
        "per_chunk_us": _pct(per_chunk, 0.5) * 1e6,
        "total_p50_ms": _pct(total, 0.5) * 1e3,
    }


async def handle(state: dict[str, Any], cmd: dict[str, Any]) -> dict[str, Any]:
    op = cmd["op"]
    if op == "setup":
        client = make(cmd["client"])
        await client.setup(cmd["url"])
        state["client"] = client
        model = cmd.get("model", "m20")
        # warm up: connections, caches, lazy imports (bounded)
        for _ in range(int(cmd.get("warmup", 50))):
            await client.call(model)
        await client.stream(cmd.get("stream_model", "m20"), [])
        gc.collect()
        return {"client": client.name, "version": client.version}
    client = state["client"]
    if op == "seq":
        return await seq(client, cmd["model"], cmd["calls"], cmd["seconds"])
    if op == "conc":
        return await conc(client, cmd["model"], cmd["tasks"], cmd["calls"], cmd["seconds"])
    if op == "stream":
        return await streams(client, cmd["model"], cmd["calls"], cmd["seconds"])
    if op == "rss":
        return {"maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
    raise ValueError(f"unknown op {op!r}")


def main() -> int:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    state: dict[str, Any] = {}
    out = sys.stdout
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            cmd = json.loads(line)
            if cmd["op"] == "quit":
                break
            try:
                result: Any = loop.run_until_complete(handle(state, cmd))
                result = {"ok": True, **result}
            except Exception as exc:  # reported, never fatal to the harness
                result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:2000]}
            out.write(json.dumps(result) + "\n")
            out.flush()
    finally:
        client = state.get("client")
        if client is not None:
            loop.run_until_complete(client.aclose())
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
