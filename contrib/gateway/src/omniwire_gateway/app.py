"""The gateway: an aiohttp application that serves every installed codec's routes.

One handler serves every protocol. It reads the inbound body, decodes it with the
route's codec (server side) into the canonical model, runs the call through the stack
(which encodes for whichever upstream the route picks), and encodes the answer back in
the inbound protocol: JSON, or SSE flushed event by event. Errors leave in the inbound
protocol's own error shape; lossy conversions carry an ``omniwire-conversion-loss``
header, or are refused in strict mode.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from typing import Any

import attrs
from aiohttp import web
from omniwire.codec import Codec
from omniwire.errors import OmniwireError, ProtocolError, Timeout, UpstreamError
from omniwire.model import Raw, StreamError
from omniwire.report import Conversion, ConversionReport
from omniwire.stack import Stack
from omniwire.wire import FileUpload, MultipartBody, loads

from .security import InboundKeys
from .settings import GatewaySettings
from .store import RequestLog

__all__ = ["Gateway", "LOSS_HEADER", "STRICT_HEADER"]

log = logging.getLogger("omniwire.gateway")

LOSS_HEADER = "omniwire-conversion-loss"
STRICT_HEADER = "omniwire-strict"
_LOCALHOST = re.compile(r"^https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$")


class AuthenticationError(OmniwireError):
    kind = "authentication_error"
    default_status = 401


class NotFound(OmniwireError):
    kind = "not_found"
    default_status = 404


class PayloadTooLarge(OmniwireError):
    kind = "request_too_large"
    default_status = 413


def _aiohttp_pattern(route: str) -> str:
    """``/v1beta/models/{model}:generateContent`` -> an aiohttp route whose model part
    stops at the colon (model names never contain one there)."""
    return route.replace("{model}", "{model:[^/:]+(?:/[^/:]+)*}")


@attrs.define
class Metrics:
    requests: dict[tuple[str, int], int] = attrs.Factory(dict)
    duration_sum: float = 0.0
    duration_count: int = 0
    in_flight: int = 0

    def record(self, inbound: str, status: int, seconds: float) -> None:
        key = (inbound, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        self.duration_sum += seconds
        self.duration_count += 1

    def render(self) -> str:
        lines = [
            "# TYPE omniwire_gateway_requests_total counter",
            *(
                f'omniwire_gateway_requests_total{{inbound="{p}",status="{s}"}} {n}'
                for (p, s), n in sorted(self.requests.items())
            ),
            "# TYPE omniwire_gateway_request_duration_seconds summary",
            f"omniwire_gateway_request_duration_seconds_sum {self.duration_sum:.6f}",
            f"omniwire_gateway_request_duration_seconds_count {self.duration_count}",
            "# TYPE omniwire_gateway_in_flight gauge",
            f"omniwire_gateway_in_flight {self.in_flight}",
        ]
        return "\n".join(lines) + "\n"


class Gateway:
    def __init__(self, stack: Stack, settings: GatewaySettings, *, local: bool = False) -> None:
        self.stack = stack
        self.settings = settings
        self.local = local
        self.keys = InboundKeys(settings.api_keys)
        self.metrics = Metrics()
        self.log: RequestLog | None = RequestLog(settings.database) if settings.database else None
        self.started = time.time()

    # -- application ------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(
            client_max_size=self.settings.max_body_bytes,
            middlewares=[self._cors],
        )
        seen: set[str] = set()
        for codec in sorted(self.stack.pm.codecs.values(), key=lambda c: c.id):
            for route in codec.routes:
                if route in seen:
                    continue
                seen.add(route)
                app.router.add_post(_aiohttp_pattern(route), self._handler(codec, route))
        app.router.add_get("/v1/models", self.models)
        app.router.add_get("/v1beta/models", self.gemini_models)
        app.router.add_get("/health", self.health)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics_page)
        app.router.add_route("*", "/{tail:.*}", self.not_found)
        app.on_cleanup.append(self._cleanup)
        return app

    async def _cleanup(self, app: web.Application) -> None:
        await self.stack.aclose()
        if self.log is not None:
            self.log.close()

    @web.middleware
    async def _cors(self, request: web.Request, handler: Any) -> web.StreamResponse:
        origin = request.headers.get("origin")
        allowed = origin is not None and (
            origin in self.settings.cors_origins
            or (not self.settings.cors_origins and _LOCALHOST.match(origin) is not None)
        )
        if request.method == "OPTIONS":
            response: web.StreamResponse = web.Response(status=204 if allowed else 403)
        else:
            response = await handler(request)
        if allowed and not response.prepared:
            response.headers["access-control-allow-origin"] = origin  # type: ignore[assignment]
            response.headers["vary"] = "origin"
            response.headers["access-control-allow-headers"] = (
                "authorization, content-type, x-api-key, x-goog-api-key, anthropic-version, "
                "anthropic-beta, " + STRICT_HEADER
            )
            response.headers["access-control-allow-methods"] = "GET, POST, OPTIONS"
        return response

    # -- the one handler --------------------------------------------------------------

    def _handler(self, codec: Codec, route: str) -> Any:
        method = route.rsplit(":", 1)[1] if ":" in route.rsplit("/", 1)[-1] else None

        async def handle(request: web.Request) -> web.StreamResponse:
            params = {"method": method} if method else {}
            if "model" in request.match_info:
                params["model"] = request.match_info["model"]
            if method is not None:
                params["stream"] = "true" if method.startswith("stream") else "false"
            # betas change what a request means, so they travel on (an Anthropic upstream
            # receives them; others report them as lost). The API version is the
            # client's business with its SDK, not part of the request.
            if "anthropic-beta" in request.headers:
                params["anthropic-beta"] = request.headers["anthropic-beta"]
            return await self.serve(request, codec, params)

        return handle

    async def serve(
        self, request: web.Request, codec: Codec, params: dict[str, str]
    ) -> web.StreamResponse:
        started = time.perf_counter()
        self.metrics.in_flight += 1
        status = 500
        record: dict[str, Any] = {"inbound": codec.id}
        try:
            response = await self._serve(request, codec, params, record)
            status = response.status
            return response
        except OmniwireError as exc:
            status = self._status(exc)
            record["error"] = exc.kind
            return self.error(codec, exc, status)
        except (asyncio.CancelledError, ConnectionResetError):
            status = 499  # the client went away
            record["error"] = "client_disconnected"
            raise
        except Exception:
            log.exception("unexpected error serving %s", codec.id)
            status = 500
            record["error"] = "internal_error"
            return self.error(codec, OmniwireError("internal gateway error"), 500)
        finally:
            elapsed = time.perf_counter() - started
            self.metrics.in_flight -= 1
            self.metrics.record(codec.id, status, elapsed)
            if self.log is not None:
                record.setdefault("status", status)
                self.log.add(duration_ms=elapsed * 1000, **record)

    async def _serve(
        self,
        request: web.Request,
        codec: Codec,
        params: dict[str, str],
        record: dict[str, Any],
    ) -> web.StreamResponse:
        alias = self.keys.check(request.headers)
        if alias is None:
            raise AuthenticationError(
                "missing or invalid API key: send it as 'Authorization: Bearer <key>', "
                "'x-api-key' or 'x-goog-api-key'"
            )
        record["key_alias"] = alias
        body = await self._body(request)
        strict = self.settings.strict or request.headers.get(STRICT_HEADER, "").lower() == "true"
        inbound = Conversion(codec.id, None, strict=strict)
        canonical = codec.decode_request(body, inbound, params=params)
        if getattr(canonical, "raw", None) is None:
            canonical = attrs.evolve(
                canonical, raw=Raw(codec.id, body if isinstance(body, dict) else {})
            )
        record["model"] = getattr(canonical, "model", None)
        stream = bool(getattr(canonical, "stream", False))
        record["stream"] = int(stream)
        if stream:
            return await self._stream(request, codec, canonical, inbound, strict, record)
        call = await self.stack.invoke(canonical, strict=strict)
        if (
            call.native is not None
            and self.settings.relay
            and call.codec is not None
            and call.codec.id == codec.id
            and _protocol_of(canonical) == codec.id
            and "json" in (call.response_headers or {}).get("content-type", "")
        ):
            # the upstream spoke the client's protocol: its answer goes out as it came
            report = inbound.report().merged(call.report)
            self._record_call(record, call, report)
            return web.Response(
                body=call.native,
                content_type="application/json",
                headers=self._loss_headers(report),
            )
        outbound = Conversion(None, codec.id, strict=strict)
        payload = codec.encode_response(call.response, outbound, request=canonical)
        report = inbound.report().merged(call.report).merged(outbound.report())
        self._record_call(record, call, report)
        headers = self._loss_headers(report)
        if isinstance(payload, (bytes, bytearray)):
            media = getattr(codec, "media_type_of", None)
            fmt = getattr(canonical, "response_format", None)
            ctype = media(fmt) if media is not None else "application/octet-stream"
            return web.Response(body=bytes(payload), content_type=ctype, headers=headers)
        if isinstance(payload, str):
            return web.Response(text=payload, content_type="text/plain", headers=headers)
        return web.Response(
            body=json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode(),
            content_type="application/json",
            headers=headers,
        )

    async def _stream(
        self,
        request: web.Request,
        codec: Codec,
        canonical: Any,
        inbound: Conversion,
        strict: bool,
        record: dict[str, Any],
    ) -> web.StreamResponse:
        result = self.stack.stream(canonical, strict=strict)
        # events in batches: everything one upstream read carried goes out in one write;
        # from an upstream speaking the client's protocol, its own bytes
        relay = codec.id if self.settings.relay and _protocol_of(canonical) == codec.id else None
        batches = result.batches(relay)
        try:
            # the first event decides the status: errors before it are plain HTTP errors
            try:
                first = await batches.__anext__()
            except StopAsyncIteration:
                first = None
            outbound = Conversion(None, codec.id, strict=strict)
            encoder = codec.stream_encoder(outbound, canonical)
            response = web.StreamResponse(
                status=200,
                headers={
                    "content-type": "text/event-stream; charset=utf-8",
                    "cache-control": "no-cache",
                    "x-accel-buffering": "no",
                    **self._loss_headers(inbound.report().merged(result.call.report)),
                },
            )
            await response.prepare(request)
            try:
                if first is not None:
                    await self._write_batch(response, encoder, first)
                    async for batch in batches:
                        await self._write_batch(response, encoder, batch)
                if not result.relayed:  # relayed, the upstream's own ending went out
                    await self._write(response, encoder.close())
                self._record_call(record, result.call, inbound.report().merged(result.call.report))
            except OmniwireError as exc:
                # headers are gone: the error travels as the protocol's own error event
                record["error"] = exc.kind
                record["status"] = self._status(exc)
                failure = StreamError(exc.message, exc.kind, self._status(exc))
                try:
                    if not result.error_relayed:
                        await self._write(response, encoder.feed(failure))
                    if not result.relayed:
                        await self._write(response, encoder.close())
                except OmniwireError:
                    pass
            await response.write_eof()
            return response
        except ConnectionResetError:
            # the client left mid-stream: nothing to answer, nobody to tell (aiohttp
            # finishes the response quietly); the call itself ends as cancelled
            record["error"] = "client_disconnected"
            record["status"] = 499
            return response
        finally:
            await result.aclose()

    @staticmethod
    async def _write_batch(
        response: web.StreamResponse, encoder: Any, batch: list[Any] | bytes
    ) -> None:
        if type(batch) is bytes:  # relayed as the upstream sent it
            await response.write(batch)
            return
        out = [e.encode() for event in batch for e in encoder.feed(event)]
        if out:
            await response.write(b"".join(out))

    @staticmethod
    async def _write(response: web.StreamResponse, events: list[Any]) -> None:
        if events:
            await response.write(b"".join(e.encode() for e in events))

    async def _body(self, request: web.Request) -> Any:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("multipart/form-data"):
            fields: dict[str, str] = {}
            files: dict[str, FileUpload | list[FileUpload]] = {}
            try:
                reader = await request.multipart()
                async for part in reader:  # type: ignore[union-attr]
                    if part.filename:  # type: ignore[union-attr]
                        data = await part.read()  # type: ignore[union-attr]
                        upload: FileUpload = (
                            part.filename,  # type: ignore[union-attr]
                            bytes(data),
                            part.headers.get("content-type"),  # type: ignore[union-attr]
                        )
                        name = part.name or "file"  # type: ignore[union-attr]
                        seen = files.get(name)
                        if seen is None:
                            files[name] = upload
                        elif isinstance(seen, list):  # a repeated part (image[])
                            seen.append(upload)
                        else:
                            files[name] = [seen, upload]
                    else:
                        fields[part.name or ""] = await part.text()  # type: ignore[union-attr]
            except web.HTTPRequestEntityTooLarge:
                raise PayloadTooLarge(self._too_large()) from None
            except ValueError as exc:
                raise ProtocolError(f"malformed multipart body: {exc}", path="$") from None
            return MultipartBody(fields, files)
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise PayloadTooLarge(self._too_large()) from None
        if not raw.strip():
            raise ProtocolError("the request body is empty; expected a JSON object", path="$")
        try:
            return loads(raw)
        except json.JSONDecodeError as exc:
            raise ProtocolError(
                f"the request body is not valid JSON: {exc.msg} at line {exc.lineno} "
                f"column {exc.colno}",
                path="$",
            ) from None
        except UnicodeDecodeError:
            raise ProtocolError("the request body is not UTF-8 text", path="$") from None

    def _too_large(self) -> str:
        return f"request body exceeds the limit of {self.settings.max_body_bytes} bytes"

    # -- shapes of answers ------------------------------------------------------------

    @staticmethod
    def _status(exc: OmniwireError) -> int:
        if isinstance(exc, Timeout):
            return 504
        if isinstance(exc, UpstreamError) and (exc.status is None or exc.status >= 500):
            return 502
        return exc.status or 500

    def error(self, codec: Codec | None, exc: OmniwireError, status: int) -> web.Response:
        if codec is None:
            body: Any = {"error": {"message": exc.message, "type": exc.kind, "code": status}}
        else:
            try:
                _, body = codec.encode_error(exc)
            except Exception:
                body = {"error": {"message": exc.message, "type": exc.kind}}
        headers = {}
        retry_after = getattr(exc, "retry_after", None)
        if retry_after:
            headers["retry-after"] = str(max(1, round(retry_after)))
        return web.Response(
            status=status,
            body=json.dumps(body).encode(),
            content_type="application/json",
            headers=headers,
        )

    @staticmethod
    def _loss_headers(report: ConversionReport) -> dict[str, str]:
        if not report.lossy:
            return {}
        value = report.header_value().encode("ascii", "replace").decode()
        return {LOSS_HEADER: value[:4000]}

    def _record_call(self, record: dict[str, Any], call: Any, report: ConversionReport) -> None:
        record["endpoint"] = call.endpoint.name if call.endpoint else None
        record["upstream_model"] = call.model
        if call.usage is not None:
            record["input_tokens"] = call.usage.input_tokens
            record["output_tokens"] = call.usage.output_tokens
        if call.cost is not None:
            record["cost"] = str(call.cost.amount)
        if report.lossy:
            record["loss"] = report.header_value()[:2000]

    # -- listing and health -----------------------------------------------------------

    def _authorized(self, request: web.Request) -> bool:
        return self.keys.check(request.headers) is not None

    def model_names(self) -> list[str]:
        names = self.stack.router.model_names()
        if not names and len(self.stack.endpoints) == 1:
            names = ["omniwire-local"] if self.local else []
        return names

    async def models(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self.error(None, AuthenticationError("missing or invalid API key"), 401)
        created = int(self.started)
        if "anthropic-version" in request.headers:
            data = [
                {
                    "type": "model",
                    "id": n,
                    "display_name": n,
                    "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created)),
                }
                for n in self.model_names()
            ]
            return web.json_response(
                {
                    "data": data,
                    "has_more": False,
                    "first_id": data[0]["id"] if data else None,
                    "last_id": data[-1]["id"] if data else None,
                }
            )
        data = [
            {"id": n, "object": "model", "created": created, "owned_by": "omniwire"}
            for n in self.model_names()
        ]
        return web.json_response({"object": "list", "data": data})

    async def gemini_models(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self.error(None, AuthenticationError("missing or invalid API key"), 401)
        models = [
            {
                "name": f"models/{n}",
                "displayName": n,
                "version": "omniwire",
                "supportedGenerationMethods": [
                    "generateContent",
                    "streamGenerateContent",
                    "countTokens",
                    "embedContent",
                ],
            }
            for n in self.model_names()
        ]
        return web.json_response({"models": models})

    async def health(self, request: web.Request) -> web.Response:
        providers = [
            {
                "name": e.name,
                "protocol": e.protocol,
                "host": e.host if e.profile != "local" else "local",
                "keys": len(e.keys),
                "key_aliases": [k.alias for k in e.keys],
            }
            for e in self.stack.endpoints.values()
        ]
        body: dict[str, Any] = {
            "status": "ok",
            "local_model": self.local,
            "providers": providers,
            "models": self.model_names(),
            "uptime_s": round(time.time() - self.started, 1),
        }
        try:
            pool = await self.stack.pool_status()  # the routing plugins' view of the pool
        except Exception:
            log.exception("pool status failed")
            pool = {}
        if pool:
            body["pool"] = pool
        return web.json_response(body)

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def metrics_page(self, request: web.Request) -> web.Response:
        return web.Response(text=self.metrics.render(), content_type="text/plain")

    async def not_found(self, request: web.Request) -> web.Response:
        if request.method == "OPTIONS":
            return web.Response(status=204)
        return self.error(None, NotFound(f"no such endpoint: {request.method} {request.path}"), 404)


def _protocol_of(canonical: Any) -> str | None:
    """The protocol a canonical request was read from (None: built in code)."""
    raw = getattr(canonical, "raw", None)
    return getattr(raw, "protocol", None)
