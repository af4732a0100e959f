"""The transport contract and the default httpx transport.

A transport has a ``name``, ``async send(wire) -> WireResponse`` and ``async aclose()``.
For a streamed request ``send`` returns once the status line and headers are in; the
body arrives through ``WireResponse.chunks``. Network failures become kernel errors here,
in one place: timeouts -> :class:`~omniwire.errors.Timeout`, connection failures ->
retryable :class:`~omniwire.errors.UpstreamError` with no status.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, AsyncIterator, ClassVar, Iterator, Protocol

from .errors import OmniwireError, ProtocolError, Timeout, UpstreamError
from .wire import MultipartBody, WireRequest, WireResponse

if TYPE_CHECKING:
    import ssl

    import httpx

__all__ = ["HttpxTransport", "Transport", "dump_body"]


class Transport(Protocol):
    name: ClassVar[str]

    async def send(self, wire: WireRequest) -> WireResponse: ...

    async def aclose(self) -> None: ...


def dump_body(wire: WireRequest) -> tuple[bytes | None, dict[str, str]]:
    """The request body as bytes plus the content-type it needs (JSON or raw bytes)."""
    body = wire.body
    if body is None:
        return None, {}
    if isinstance(body, (bytes, bytearray)):
        return bytes(body), {}
    return (
        json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode(),
        {"content-type": "application/json"},
    )


@contextmanager
def _mapped_errors(host: str) -> Iterator[None]:
    import httpx

    try:
        yield
    except httpx.TimeoutException as exc:
        raise Timeout(f"{type(exc).__name__} talking to {host}", endpoint=host) from None
    except httpx.HTTPError as exc:
        raise UpstreamError(
            f"connection to {host} failed: {type(exc).__name__}",
            endpoint=host,
            retryable=True,
        ) from None


class HttpxTransport:
    """Pooled ``httpx.AsyncClient`` s per transport (so per stack), in small shards.

    httpcore's pool rescans every connection for every request it assigns, so one
    client with many connections slows down with the square of the requests in flight
    (here: 1,600 calls/s with one in flight, 120/s with 64). Each shard is a client
    with at most ``shard_size`` connections; a request goes to the least busy shard,
    and a new shard opens when every shard is full, up to ``max_connections`` in all.
    A ``client`` given in code is used as it is, alone.
    """

    name: ClassVar[str] = "httpx"

    def __init__(
        self,
        *,
        http2: bool = False,
        timeout: float = 600.0,
        connect_timeout: float = 10.0,
        max_connections: int = 256,
        shard_size: int = 4,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._http2 = http2
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._shard_size = max(1, shard_size)
        self._max_shards = max(1, max_connections // self._shard_size)
        self._clients: list[httpx.AsyncClient] = [client] if client is not None else []
        self._busy: list[int] = [0] * len(self._clients)
        self._fixed = client is not None
        self._tls: ssl.SSLContext | None = None

    def _new_client(self) -> httpx.AsyncClient:
        import httpx

        if self._tls is None:
            # loading the CA bundle takes ~20-80 ms: once per transport, not per shard
            self._tls = httpx.create_ssl_context(trust_env=False)
        return httpx.AsyncClient(
            verify=self._tls,
            http2=self._http2,
            timeout=httpx.Timeout(self._timeout, connect=self._connect_timeout),
            limits=httpx.Limits(
                max_connections=self._shard_size,
                max_keepalive_connections=self._shard_size,
            ),
            follow_redirects=False,
            trust_env=False,
        )

    def _take(self) -> int:
        """The shard for one more request (its busy count already raised)."""
        busy = self._busy
        shard = busy.index(min(busy)) if busy else -1
        if shard < 0 or (
            busy[shard] >= self._shard_size and len(busy) < self._max_shards and not self._fixed
        ):
            self._clients.append(self._new_client())
            busy.append(0)
            shard = len(busy) - 1
        busy[shard] += 1
        return shard

    @staticmethod
    def _give(busy: list[int], shard: int) -> None:
        # the list the request counted itself in: after aclose a new one is in use
        busy[shard] -= 1

    async def send(self, wire: WireRequest) -> WireResponse:
        import httpx

        assert wire.url is not None, "the encode stage sets the URL"
        headers = dict(wire.headers)
        kwargs: dict[str, Any] = {}
        if isinstance(wire.body, MultipartBody):
            kwargs["data"] = dict(wire.body.fields)
            kwargs["files"] = [  # a list: a name may repeat (image[])
                (name, (fname, content, mtype or "application/octet-stream"))
                for name, (fname, content, mtype) in wire.body.file_items()
            ]
        else:
            content, extra = dump_body(wire)
            for k, v in extra.items():
                headers.setdefault(k, v)
            kwargs["content"] = content
        timeout = None
        if wire.timeout is not None:
            timeout = httpx.Timeout(wire.timeout, connect=self._connect_timeout)
        host = wire.url.split("://", 1)[-1].split("/", 1)[0]
        shard = self._take()
        client, busy = self._clients[shard], self._busy
        try:
            request = client.build_request(
                wire.method,
                wire.url,
                headers=headers,
                timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
                **kwargs,
            )
        except (UnicodeEncodeError, httpx.InvalidURL) as exc:
            self._give(busy, shard)
            raise ProtocolError(
                f"request to {host} cannot be sent: {type(exc).__name__}", path="$.headers"
            ) from None
        try:
            with _mapped_errors(host):
                response = await client.send(request, stream=wire.stream)
        except BaseException:
            self._give(busy, shard)
            raise
        if not wire.stream:
            self._give(busy, shard)
            return WireResponse(response.status_code, response.headers, response.content)
        released = False

        async def close() -> None:
            nonlocal released
            try:
                await response.aclose()
            finally:
                if not released:
                    released = True
                    self._give(busy, shard)

        return WireResponse(
            response.status_code, response.headers, b"", _chunks(response, host), close
        )

    async def aclose(self) -> None:
        clients, self._clients = self._clients, []
        self._busy = []
        for client in clients:
            await client.aclose()


async def _chunks(response: httpx.Response, host: str) -> AsyncIterator[bytes]:
    with _mapped_errors(host):
        async for chunk in response.aiter_bytes():
            yield chunk


async def read_all(response: WireResponse) -> bytes:
    """The whole body of a (possibly streamed) response, then release it."""
    if response.chunks is None:
        return response.body
    parts = []
    try:
        async for chunk in response.chunks:
            parts.append(chunk)
    except OmniwireError:
        pass
    finally:
        await response.aclose()
    return b"".join(parts)
