"""The aiohttp transport: one pooled ClientSession per transport.

Errors are mapped in one place, as the httpx transport does: timeouts ->
:class:`~omniwire.errors.Timeout`, connection failures -> retryable
:class:`~omniwire.errors.UpstreamError` without a status.
"""

from __future__ import annotations

import json
from typing import Any, AsyncIterator, ClassVar, Mapping

import aiohttp
from omniwire.errors import ProtocolError, Timeout, UpstreamError
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
        # one ClientTimeout per distinct per-request timeout (endpoints set one on every
        # request): built once, not per call
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

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

    def _client_timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        found = self._timeouts.get(seconds)
        if found is None:
            found = aiohttp.ClientTimeout(total=seconds, sock_connect=self._connect_timeout)
            if len(self._timeouts) < 64:
                self._timeouts[seconds] = found
        return found

    async def send(self, wire: WireRequest) -> WireResponse:
        url = wire.url
        assert url is not None, "the encode stage sets the URL"
        session = self._session
        if session is None or session.closed:
            session = self._get_session()
        body = wire.body
        headers: Mapping[str, str] = wire.headers
        data: Any
        if body is None or isinstance(body, (bytes, bytearray)):
            data = body
        elif isinstance(body, MultipartBody):
            form = aiohttp.FormData()
            for k, v in body.fields.items():
                form.add_field(k, v)
            for k, (fname, content, mtype) in body.file_items():
                form.add_field(
                    k, content, filename=fname, content_type=mtype or "application/octet-stream"
                )
            data = form
        else:  # JSON-ready data, serialised as dump_body does
            data = _dumps(body).encode()
            if "content-type" not in headers:
                headers = {**headers, "content-type": "application/json"}
        timeout = None if wire.timeout is None else self._client_timeout(wire.timeout)
        try:
            response = await session.request(
                wire.method,
                url,
                data=data,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
            )
        except (UnicodeEncodeError, ValueError) as exc:
            raise ProtocolError(
                f"request to {_host(url)} cannot be sent: {type(exc).__name__}", path="$.headers"
            ) from None
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise Timeout(f"timed out talking to {_host(url)}", endpoint=_host(url)) from None
        except aiohttp.ClientError as exc:
            host = _host(url)
            raise UpstreamError(
                f"connection to {host} failed: {type(exc).__name__}", endpoint=host, retryable=True
            ) from None
        # lower-case names, as httpx.Headers iterates them
        headers_out = {k.lower(): v for k, v in response.headers.items()}
        status = response.status
        if not wire.stream or not 200 <= status < 300:
            try:
                content = await response.read()
            except TimeoutError:
                host = _host(url)
                raise Timeout(f"timed out reading from {host}", endpoint=host) from None
            except aiohttp.ClientError as exc:
                host = _host(url)
                raise UpstreamError(
                    f"connection to {host} failed: {type(exc).__name__}",
                    endpoint=host,
                    retryable=True,
                ) from None
            finally:
                response.release()
            return WireResponse(status, headers_out, content)

        def close() -> None:
            if response.content.at_eof():
                response.release()  # back to the pool
            else:
                response.close()  # a half-read stream cannot be reused

        return WireResponse(status, headers_out, b"", _chunks(response, _host(url)), close)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _host(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0]


async def _chunks(response: aiohttp.ClientResponse, host: str) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.content.iter_any():
            yield chunk
    except TimeoutError:
        raise Timeout(f"timed out reading a stream from {host}", endpoint=host) from None
    except aiohttp.ClientError as exc:
        raise UpstreamError(
            f"stream from {host} broke: {type(exc).__name__}", endpoint=host, retryable=True
        ) from None
    finally:
        response.release()
