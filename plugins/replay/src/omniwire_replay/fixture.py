"""The fixture file: a readable JSON document of recorded exchanges, and how a live
request is matched against it.

::

    {
      "omniwire_fixture": 1,
      "exchanges": [
        {
          "request": {"method": "POST", "url": "https://.../chat?key=[REDACTED]",
                      "headers": {...}, "body": {...}},
          "response": {"status": 200, "headers": {...},
                       "events": ["data: {...}", "data: [DONE]"]},
          "timing": {"headers": 0.21, "events": [0.25, 0.31]}
        }
      ]
    }

A body is stored under the key that says what it is: ``body`` (JSON), ``body_text``
(other UTF-8 text), ``body_base64`` (binary), ``multipart`` (form fields and file digests);
a streamed response under ``events`` (one SSE event per item, blank-line separators
dropped, plus ``tail`` if the stream ended mid-event) or ``chunks`` (non-SSE text). A
failed exchange has ``error`` (the kernel error's ``kind``, message, retryable flag)
instead of ``response``. Everything in the file went through the sanitizers first.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import tempfile
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import attrs
from omniwire.errors import ConfigError
from omniwire.wire import MultipartBody

__all__ = [
    "FORMAT_VERSION",
    "Fixture",
    "ReplayMismatch",
    "Sanitizers",
    "decode_body",
    "load_fixture",
    "write_fixture",
]

FORMAT_VERSION = 1
SSE_SEPARATOR = re.compile(r"\r?\n\r?\n")


class ReplayMismatch(ConfigError):
    """No recorded exchange matches a live request. ``closest`` is the index of the most
    similar recorded exchange (or None for an empty fixture), ``path`` the first body
    field that differs from it."""

    kind = "replay_mismatch"

    def __init__(
        self, message: str, *, closest: int | None = None, path: str | None = None
    ) -> None:
        self.closest = closest
        self.path = path
        super().__init__(message)


class Sanitizers:
    """The sanitizers a recorder or replayer runs, in order, as one.

    Plugins never import the sanitize plugin: with ``sanitizers=None`` the ones registered
    in the process-wide plugin manager (``omniwire_register_sanitizers``) are used, and a
    recorder refuses to run without any rather than write secrets to disk.
    """

    __slots__ = ("items",)

    def __init__(self, sanitizers: Iterable[Any] | None = None) -> None:
        if sanitizers is None:
            from omniwire.plugins import get_plugin_manager

            table = get_plugin_manager().table("sanitizers")
            sanitizers = [table[name] for name in sorted(table)]
            if not sanitizers:
                raise ConfigError(
                    "record/replay needs a sanitizer and none is registered: install "
                    "omniwire-sanitize (or pass sanitizers=[...] explicitly)"
                )
        self.items = tuple(sanitizers)

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        out = dict(headers)
        for s in self.items:
            out = s.sanitize_headers(out)
        return out

    def url(self, url: str) -> str:
        for s in self.items:
            url = s.sanitize_url(url)
        return url

    def json(self, data: Any) -> Any:
        for s in self.items:
            data = s.sanitize_json(data)
        return data

    def text(self, text: str) -> str:
        for s in self.items:
            text = s.sanitize_text(text)
        return text


# -- bodies ---------------------------------------------------------------------------------


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def encode_request_body(body: Any, sanitize: Sanitizers) -> dict[str, Any]:
    """A request body as fixture fields, sanitized."""
    if body is None:
        return {}
    if isinstance(body, MultipartBody):
        files: dict[str, Any] = {}
        for name, (filename, content, media_type) in sorted(
            body.file_items(), key=lambda item: item[0]
        ):
            entry = {
                "filename": filename,
                "media_type": media_type,
                "size": len(content),
                "digest": _digest(content),
            }
            if isinstance(body.files[name], list):  # a repeated part (image[]): in order
                files.setdefault(name, []).append(entry)
            else:
                files[name] = entry
        return {"multipart": {"fields": sanitize.json(dict(body.fields)), "files": files}}
    if isinstance(body, (bytes, bytearray)):
        return encode_bytes(bytes(body), sanitize, content_type=None, exempt=False)
    return {"body": sanitize.json(body)}


def encode_bytes(
    data: bytes, sanitize: Sanitizers, *, content_type: str | None, exempt: bool
) -> dict[str, Any]:
    """Bytes as ``body`` (JSON), ``body_text`` or ``body_base64``. ``exempt`` keeps binary
    verbatim (a response a replay must give back); a request keeps only its digest."""
    if not data:
        return {}
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        if exempt:
            return {"body_base64": base64.b64encode(data).decode()}
        return {"body_digest": _digest(data), "body_size": len(data)}
    if content_type is None or "json" in content_type:
        try:
            return {"body": sanitize.json(json.loads(text))}
        except ValueError:
            pass
    return {"body_text": sanitize.text(text)}


def decode_body(record: Mapping[str, Any]) -> bytes:
    """The bytes a recorded (non-streamed) body stands for."""
    if "body" in record:
        return json.dumps(record["body"], ensure_ascii=False, separators=(",", ":")).encode()
    if "body_text" in record:
        return str(record["body_text"]).encode()
    if "body_base64" in record:
        return base64.b64decode(record["body_base64"])
    return b""


def split_events(text: str) -> tuple[list[str], str]:
    """SSE text as whole events (separators dropped) and a trailing partial event."""
    parts = SSE_SEPARATOR.split(text)
    tail = parts.pop() if parts else ""
    return [p for p in parts if p], tail


# -- matching ---------------------------------------------------------------------------------


def _drop_volatile(data: Any, names: frozenset[str], paths: frozenset[str], at: str) -> Any:
    if isinstance(data, Mapping):
        out = {}
        for key, value in data.items():
            here = f"{at}.{key}"
            if key in names or here in paths:
                continue
            out[key] = _drop_volatile(value, names, paths, here)
        return out
    if isinstance(data, list):
        return [_drop_volatile(v, names, paths, f"{at}[{i}]") for i, v in enumerate(data)]
    return data


@attrs.frozen(slots=True)
class Matcher:
    """How requests are compared: method, URL (sanitized; host optional) and body
    (canonical JSON with sorted keys, volatile fields removed).

    ``volatile`` entries starting with ``$.`` are paths from the body root
    (``$.metadata.request_id``); any other entry is a key name ignored at every depth.
    """

    volatile: frozenset[str] = frozenset()
    match_host: bool = True

    def key(self, request: Mapping[str, Any]) -> tuple[str, str, str]:
        return (str(request.get("method", "")).upper(), self.url(request), self.body(request))

    def url(self, request: Mapping[str, Any]) -> str:
        url = str(request.get("url", ""))
        if self.match_host:
            return url
        rest = url.split("://", 1)[-1]
        return "/" + rest.split("/", 1)[1] if "/" in rest else "/"

    def body(self, request: Mapping[str, Any]) -> str:
        names = frozenset(v for v in self.volatile if not v.startswith("$."))
        paths = frozenset(v for v in self.volatile if v.startswith("$."))
        for field in ("body", "multipart", "body_text", "body_digest"):
            if field in request:
                value = request[field]
                if field in ("body", "multipart") and self.volatile:
                    value = _drop_volatile(value, names, paths, "$")
                return field + ":" + json.dumps(value, sort_keys=True, ensure_ascii=False)
        return ""


def _first_difference(recorded: Any, live: Any, at: str = "$") -> str | None:
    if type(recorded) is not type(live):
        return at
    if isinstance(recorded, dict):
        for key in sorted(set(recorded) | set(live)):
            if key not in recorded or key not in live:
                return f"{at}.{key}"
            found = _first_difference(recorded[key], live[key], f"{at}.{key}")
            if found:
                return found
        return None
    if isinstance(recorded, list):
        for i, (a, b) in enumerate(zip(recorded, live)):
            found = _first_difference(a, b, f"{at}[{i}]")
            if found:
                return found
        return f"{at}[{min(len(recorded), len(live))}]" if len(recorded) != len(live) else None
    return None if recorded == live else at


def _lookup(data: Any, path: str) -> Any:
    for token in re.findall(r"\.([^.\[]+)|\[(\d+)\]", path):
        key, index = token
        try:
            data = data[int(index)] if index else data[key]
        except (KeyError, IndexError, TypeError):
            return "<absent>"
    return data


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


@attrs.define(slots=True)
class Fixture:
    """Recorded exchanges plus which ones a replay has used."""

    path: Path
    exchanges: list[dict[str, Any]] = attrs.field(factory=list)
    used: set[int] = attrs.field(factory=set)

    def find(self, request: Mapping[str, Any], matcher: Matcher) -> int:
        """The index of the exchange answering ``request``: the first unused match, else
        the last used one (a request repeated more often than recorded). Raises
        :class:`ReplayMismatch` naming the closest recorded request."""
        wanted = matcher.key(request)
        repeat: int | None = None
        for i, exchange in enumerate(self.exchanges):
            if matcher.key(exchange.get("request", {})) == wanted:
                if i not in self.used:
                    self.used.add(i)
                    return i
                repeat = i
        if repeat is not None:
            return repeat
        raise self._mismatch(request, matcher, wanted)

    def _mismatch(
        self, request: Mapping[str, Any], matcher: Matcher, wanted: tuple[str, str, str]
    ) -> ReplayMismatch:
        method, url, _ = wanted
        live = f"{method} {url}"
        if not self.exchanges:
            return ReplayMismatch(f"no recorded exchange matches {live}: {self.path} is empty")
        best, best_score = 0, -1.0
        for i, exchange in enumerate(self.exchanges):
            rec = matcher.key(exchange.get("request", {}))
            score = (
                (2.0 if rec[0] == method else 0.0)
                + 2.0 * SequenceMatcher(None, rec[1], url).ratio()
                + SequenceMatcher(None, rec[2], wanted[2]).quick_ratio()
            )
            if score > best_score:
                best, best_score = i, score
        recorded = self.exchanges[best].get("request", {})
        rec_method, rec_url, _ = matcher.key(recorded)
        reasons = []
        if rec_method != method:
            reasons.append(f"method {rec_method} (recorded) vs {method} (live)")
        if rec_url != url:
            reasons.append(f"URL {rec_url} (recorded)")
        path = None
        if "body" in recorded and "body" in request:
            names = frozenset(v for v in matcher.volatile if not v.startswith("$."))
            paths = frozenset(v for v in matcher.volatile if v.startswith("$."))
            a = _drop_volatile(recorded["body"], names, paths, "$")
            b = _drop_volatile(request["body"], names, paths, "$")
            path = _first_difference(a, b)
            if path:
                reasons.append(
                    f"body differs at {path}: {_short(_lookup(a, path))} (recorded) vs "
                    f"{_short(_lookup(b, path))} (live)"
                )
        elif matcher.body(recorded) != matcher.body(request):
            reasons.append("body differs")
        why = "; ".join(reasons) or "already used"
        return ReplayMismatch(
            f"no recorded exchange matches {live} in {self.path}; closest is exchange "
            f"#{best} ({rec_method} {rec_url}): {why}",
            closest=best,
            path=path,
        )


def load_fixture(path: str | os.PathLike[str], *, missing_ok: bool = False) -> Fixture:
    target = Path(path)
    if not target.exists():
        if missing_ok:
            return Fixture(target)
        raise ConfigError(f"replay fixture {target} does not exist (record it first)")
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"replay fixture {target} is unreadable: {exc}") from None
    if isinstance(data, Mapping) and isinstance(data.get("exchanges"), list):
        version = data.get("omniwire_fixture", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            raise ConfigError(f"replay fixture {target} has format {version!r}, expected 1")
        return Fixture(target, list(data["exchanges"]))
    raise ConfigError(f"replay fixture {target} has no 'exchanges' list")


def write_fixture(path: Path, exchanges: Sequence[Mapping[str, Any]]) -> None:
    """Write atomically (temp file + rename), so a crash never leaves half a fixture."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"omniwire_fixture": FORMAT_VERSION, "exchanges": list(exchanges)}
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
