"""The aiohttp transport: one pooled ClientSession per transport.

Errors are mapped in one place, as the httpx transport does: timeouts ->
:class:`~omniwire.errors.Timeout`, connection failures -> retryable
:class:`~omniwire.errors.UpstreamError` without a status.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, ClassVar

import aiohttp

from omniwire.errors import ProtocolError, Timeout, UpstreamError
from omniwire.transport import dump_body
from omniwire.wire import MultipartBody, WireRequest, WireResponse

__all__ = ["AiohttpTransport"]


class AiohttpTransport:
    name: ClassVar[str] = "aiohttp"

    def __init__(
        self,
        *,
        timeout: float = 600.0,
        connect_timeout: float = 10.0,
        max_connections: int = 256,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._max_connections = max_connections
        self._session = session

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections, ttl_dns_cache=300),
                timeout=aiohttp.ClientTimeout(
                    total=self._timeout, sock_connect=self._connect_timeout
                ),
                auto_decompress=True,
                trust_env=False,
            )
        return self._session

    async def send(self, wire: WireRequest) -> WireResponse:
        assert wire.url is not None, "the encode stage sets the URL"
        session = self._get_session()
        headers = dict(wire.headers)
        data: Any
        if isinstance(wire.body, MultipartBody):
            form = aiohttp.FormData()
            for k, v in wire.body.fields.items():
                form.add_field(k, v)
            for k, (fname, content, mtype) in wire.body.files.items():
                form.add_field(k, content, filename=fname,
                               content_type=mtype or "application/octet-stream")
            data = form
        else:
            data, extra = dump_body(wire)
            for k, v in extra.items():
                headers.setdefault(k, v)
        timeout = None
        if wire.timeout is not None:
            timeout = aiohttp.ClientTimeout(total=wire.timeout, sock_connect=self._connect_timeout)
        host = wire.url.split("://", 1)[-1].split("/", 1)[0]
        try:
            response = await session.request(
                wire.method, wire.url, data=data, headers=headers, timeout=timeout,
                allow_redirects=False,
            )
        except (UnicodeEncodeError, ValueError) as exc:
            raise ProtocolError(
                f"request to {host} cannot be sent: {type(exc).__name__}", path="$.headers"
            ) from None
        except (asyncio.TimeoutError, aiohttp.ServerTimeoutError):
            raise Timeout(f"timed out talking to {host}", endpoint=host) from None
        except aiohttp.ClientError as exc:
            raise UpstreamError(
                f"connection to {host} failed: {type(exc).__name__}", endpoint=host, retryable=True
            ) from None
        headers_out = {k.lower(): v for k, v in response.headers.items()}
        if not wire.stream or not 200 <= response.status < 300:
            try:
                body = await response.read()
            except asyncio.TimeoutError:
                raise Timeout(f"timed out reading from {host}", endpoint=host) from None
            except aiohttp.ClientError as exc:
                raise UpstreamError(
                    f"connection to {host} failed: {type(exc).__name__}",
                    endpoint=host,
                    retryable=True,
                ) from None
            finally:
                response.release()
            return WireResponse(response.status, headers_out, body)

        def close() -> None:
            if response.content.at_eof():
                response.release()  # back to the pool
            else:
                response.close()  # a half-read stream cannot be reused

        return WireResponse(response.status, headers_out, b"", _chunks(response, host), close)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def _chunks(response: aiohttp.ClientResponse, host: str) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.content.iter_any():
            yield chunk
    except asyncio.TimeoutError:
        raise Timeout(f"timed out reading a stream from {host}", endpoint=host) from None
    except aiohttp.ClientError as exc:
        raise UpstreamError(
            f"stream from {host} broke: {type(exc).__name__}", endpoint=host, retryable=True
        ) from None
    finally:
        response.release()
