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
    """One pooled ``httpx.AsyncClient`` per transport (so per stack)."""

    name: ClassVar[str] = "httpx"

    def __init__(
        self,
        *,
        http2: bool = False,
        timeout: float = 600.0,
        connect_timeout: float = 10.0,
        max_connections: int = 256,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._http2 = http2
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._max_connections = max_connections
        self._client = client

    def _get_client(self) -> httpx.AsyncClient:
        if self._client is None:
            import httpx

            self._client = httpx.AsyncClient(
                http2=self._http2,
                timeout=httpx.Timeout(self._timeout, connect=self._connect_timeout),
                limits=httpx.Limits(
                    max_connections=self._max_connections,
                    max_keepalive_connections=self._max_connections,
                ),
                follow_redirects=False,
                trust_env=False,
            )
        return self._client

    async def send(self, wire: WireRequest) -> WireResponse:
        import httpx

        client = self._get_client()
        assert wire.url is not None, "the encode stage sets the URL"
        headers = dict(wire.headers)
        kwargs: dict[str, Any] = {}
        if isinstance(wire.body, MultipartBody):
            kwargs["data"] = dict(wire.body.fields)
            kwargs["files"] = {
                name: (fname, content, mtype or "application/octet-stream")
                for name, (fname, content, mtype) in wire.body.files.items()
            }
        else:
            content, extra = dump_body(wire)
            for k, v in extra.items():
                headers.setdefault(k, v)
            kwargs["content"] = content
        timeout = None
        if wire.timeout is not None:
            timeout = httpx.Timeout(wire.timeout, connect=self._connect_timeout)
        host = wire.url.split("://", 1)[-1].split("/", 1)[0]
        try:
            request = client.build_request(
                wire.method,
                wire.url,
                headers=headers,
                timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
                **kwargs,
            )
        except (UnicodeEncodeError, httpx.InvalidURL) as exc:
            raise ProtocolError(
                f"request to {host} cannot be sent: {type(exc).__name__}", path="$.headers"
            ) from None
        with _mapped_errors(host):
            response = await client.send(request, stream=wire.stream)
        if not wire.stream:
            return WireResponse(response.status_code, response.headers, response.content)
        return WireResponse(
            response.status_code,
            response.headers,
            b"",
            _chunks(response, host),
            response.aclose,
        )

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


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
