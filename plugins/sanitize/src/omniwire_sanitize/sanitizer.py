"""The sanitizer: one object, four entry points (headers, URL, JSON, text).

Every method returns a cleaned copy and never raises on odd input: a sanitizer runs on
error paths and in recorders, where failing would lose the very data it protects.
Redaction is deterministic (same input, same output), which is what lets a replayer
compare a live request with a recorded one after both went through the same sanitizer.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from typing import Any, Iterable, Mapping
from urllib.parse import quote, unquote, unquote_plus

import attrs

from .known import all_spellings, registered_values
from .rules import (
    DEFAULT_FIELDS,
    DEFAULT_HEADERS,
    DEFAULT_PATTERNS,
    DEFAULT_QUERY_PARAMS,
    normalize_name,
)

__all__ = ["REDACTED", "Sanitizer"]

REDACTED = "[REDACTED]"

_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9_.\-]*)\s+\S")
_B64_RUN = re.compile(r"[A-Za-z0-9+/_\-]{16,}={0,2}")
_URL_USERINFO = re.compile(r"(?P<pre>\b[a-zA-Z][a-zA-Z0-9+.\-]*://)[^/\s:@]+:[^/\s@]+@")
_HEADER_LINE = re.compile(r"(?im)^(?P<name>[A-Za-z0-9_\-]+)[ \t]*:[ \t]*(?P<value>[^\r\n]+)$")
_JSON_PAIR = re.compile(r'"(?P<name>[A-Za-z0-9_\-]+)"\s*:\s*"(?P<value>(?:[^"\\]|\\.)*)"')
_ESCAPED_JSON_PAIR = re.compile(
    r'\\"(?P<name>[A-Za-z0-9_\-]+)\\"\s*:\s*\\"(?P<value>(?:[^"\\]|\\[^"])*)\\"'
)
# only in query strings (after ? or &, or a whole form-encoded text): "key=len" in prose or
# generated code is not a credential
_QUERY_PAIR = re.compile(r"(?P<pre>[?&]|^)(?P<name>[A-Za-z0-9_.\-]+)=(?P<value>[^&\s\"'#<>]*)")
# one JSON value per line, optionally an SSE "data:" field (what streams and JSON-lines are)
_JSON_LINE = re.compile(r"(?m)^(?P<prefix>data:[ ]?)?(?P<json>[\[{].*[\]}])[ \t]*\r?$")
_MAX_DEPTH = 3  # base64 inside base64 inside ... stops here


def _names(values: Iterable[str]) -> frozenset[str]:
    return frozenset(normalize_name(v) for v in values)


def _patterns(values: Iterable[str | re.Pattern[str]]) -> tuple[re.Pattern[str], ...]:
    return tuple(v if isinstance(v, re.Pattern) else re.compile(v) for v in values)


def _secret_values(values: Iterable[Any]) -> tuple[str, ...]:
    out = []
    for v in values:
        reveal = getattr(v, "reveal", None)
        out.append(reveal() if callable(reveal) else str(v))
    return tuple(x for x in out if x)


def _printable(text: str) -> bool:
    if not text:
        return False
    good = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return good / len(text) > 0.95


@attrs.frozen(slots=True)
class Sanitizer:
    """Redacts credentials and large blobs. Construct with extra rules to add to the
    defaults (``extra_*``) or replace them (``headers=``, ``fields=``...).

    :param name: the name it registers under (``default`` for the plugin's own).
    :param extra_headers: more header names whose value is a credential.
    :param extra_fields: more JSON keys whose value is replaced whole, at any depth.
    :param extra_query_params: more URL query parameters (and ``name=value`` text pairs).
    :param extra_patterns: more regexes for free text (a ``secret`` group limits the cut).
    :param secrets: literal values (``str`` or :class:`omniwire.Secret`) to remove in every
        spelling, beside the ones every ``Secret`` registers with the kernel.
    :param known_secrets: also remove every value the kernel's ``Secret`` registry holds.
    :param blob_threshold: base64 runs at least this long become
        ``<base64 N bytes sha256:...>``; 0 turns truncation off.
    :param blob_exempt_fields: JSON keys whose string value is never truncated (still
        scrubbed): recorded binary bodies a replayer must give back verbatim.
    """

    name: str = "default"
    headers: frozenset[str] = attrs.field(default=DEFAULT_HEADERS, converter=_names)
    fields: frozenset[str] = attrs.field(default=DEFAULT_FIELDS, converter=_names)
    query_params: frozenset[str] = attrs.field(default=DEFAULT_QUERY_PARAMS, converter=_names)
    patterns: tuple[re.Pattern[str], ...] = attrs.field(
        default=DEFAULT_PATTERNS, converter=_patterns
    )
    extra_headers: frozenset[str] = attrs.field(default=(), converter=_names)
    extra_fields: frozenset[str] = attrs.field(default=(), converter=_names)
    extra_query_params: frozenset[str] = attrs.field(default=(), converter=_names)
    extra_patterns: tuple[re.Pattern[str], ...] = attrs.field(default=(), converter=_patterns)
    secrets: tuple[str, ...] = attrs.field(default=(), converter=_secret_values, repr=False)
    known_secrets: bool = True
    blob_threshold: int = 1024
    blob_exempt_fields: frozenset[str] = attrs.field(default=("body_base64",), converter=_names)
    marker: str = REDACTED
    _header_names: frozenset[str] = attrs.field(init=False, repr=False)
    _field_names: frozenset[str] = attrs.field(init=False, repr=False)
    _query_names: frozenset[str] = attrs.field(init=False, repr=False)
    _text_pair_names: frozenset[str] = attrs.field(init=False, repr=False)
    _all_patterns: tuple[re.Pattern[str], ...] = attrs.field(init=False, repr=False)
    _own_spellings: tuple[str, ...] = attrs.field(init=False, repr=False)
    _cache: list[Any] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        headers = self.headers | self.extra_headers
        fields = self.fields | self.extra_fields | headers
        query = self.query_params | self.extra_query_params
        object.__setattr__(self, "_header_names", headers)
        object.__setattr__(self, "_field_names", fields)
        object.__setattr__(self, "_query_names", query)
        object.__setattr__(self, "_text_pair_names", fields | query)
        object.__setattr__(self, "_all_patterns", self.patterns + self.extra_patterns)
        object.__setattr__(self, "_own_spellings", all_spellings(self.secrets))
        # (registered values seen, their spellings merged with ours): rebuilt only when
        # the kernel's registry grows, so a call pays a tuple identity check
        object.__setattr__(self, "_cache", [(None, self._own_spellings)])

    @classmethod
    def from_config(cls, config: Mapping[str, Any], **kwargs: Any) -> Sanitizer:
        """Build from a mapping such as a ``[sanitize]`` TOML table: ``headers``,
        ``fields``, ``query_params``, ``patterns`` (lists, *added* to the defaults),
        ``blob_threshold`` (int), ``secret_env`` (names of environment variables whose
        values are secrets too)."""
        import os

        secrets = [os.environ[v] for v in config.get("secret_env", ()) if os.environ.get(v)]
        options: dict[str, Any] = {
            "extra_headers": tuple(config.get("headers", ())),
            "extra_fields": tuple(config.get("fields", ())),
            "extra_query_params": tuple(config.get("query_params", ())),
            "extra_patterns": tuple(config.get("patterns", ())),
            "secrets": tuple(secrets) + tuple(kwargs.pop("secrets", ())),
        }
        if "blob_threshold" in config:
            options["blob_threshold"] = int(config["blob_threshold"])
        options.update(kwargs)
        return cls(**options)

    # -- what counts as sensitive ---------------------------------------------------------

    def is_sensitive_header(self, name: str) -> bool:
        return normalize_name(name) in self._header_names

    def is_sensitive_field(self, name: str) -> bool:
        return normalize_name(name) in self._field_names

    def is_sensitive_param(self, name: str) -> bool:
        return normalize_name(name) in self._query_names

    def _spellings(self) -> tuple[str, ...]:
        if not self.known_secrets:
            return self._own_spellings
        registered = registered_values()
        seen, spellings = self._cache[0]
        if seen is not registered:
            merged = set(all_spellings(registered)) | set(self._own_spellings)
            spellings = tuple(sorted(merged, key=len, reverse=True))
            # one assignment, so threads never see values and spellings of two versions;
            # holding ``registered`` keeps its identity from being reused
            self._cache[0] = (registered, spellings)
        result: tuple[str, ...] = spellings
        return result

    # -- the four entry points ----------------------------------------------------------

    def sanitize_headers(
        self, headers: Mapping[str, str] | Iterable[tuple[str, str]]
    ) -> dict[str, str]:
        """A copy of ``headers`` with credential values redacted (``Bearer [REDACTED]``
        keeps the scheme word) and every other value scrubbed as text."""
        items = headers.items() if isinstance(headers, Mapping) else headers
        out: dict[str, str] = {}
        for name, value in items:
            value = str(value)
            if self.is_sensitive_header(name):
                out[name] = self._redact_credential(value)
            else:
                out[name] = self.sanitize_text(value)
        return out

    def sanitize_url(self, url: str) -> str:
        """The URL with credential query parameters and user info redacted and known
        secrets removed from path, query and fragment. Untouched parts stay byte-for-byte
        as they were (no re-encoding)."""
        try:
            head, sep, fragment = url.partition("#")
            base, qsep, query = head.partition("?")
            base = _URL_USERINFO.sub(lambda m: m["pre"] + self.marker + "@", base)
            base = self._scrub_encoded(base, plus=False)
            if qsep:
                query = "&".join(self._sanitize_query_item(i) for i in query.split("&"))
            if sep:
                fragment = self._scrub_encoded(fragment, plus=False)
            return base + qsep + query + sep + fragment
        except Exception:  # never fail: fall back to text scrubbing
            return self.sanitize_text(url)

    def sanitize_json(self, obj: Any) -> Any:
        """A deep copy of JSON-ready data with credential fields replaced, strings
        scrubbed as text (URLs as URLs) and large base64 values truncated."""
        return self._json(obj, 0, exempt=False)

    def sanitize_text(self, text: str) -> str:
        """Free text (error messages, SSE bodies, log lines): base64 payloads decoded and
        cleaned or truncated, credential header lines, JSON pairs and query pairs
        redacted, key-shaped tokens and every known secret spelling removed."""
        return self._text(text, 0, truncate=True)

    # -- internals ------------------------------------------------------------------------

    def _redact_credential(self, value: str) -> str:
        match = _SCHEME.match(value)
        if match and match["scheme"].lower() in ("bearer", "basic", "token", "aws4-hmac-sha256"):
            return f"{match['scheme']} {self.marker}"
        return self.marker

    def _sanitize_query_item(self, item: str) -> str:
        name, eq, value = item.partition("=")
        if eq and self.is_sensitive_param(unquote_plus(name)):
            return f"{name}={self.marker}"
        return self._scrub_encoded(item, plus=True)

    def _scrub_encoded(self, part: str, *, plus: bool) -> str:
        """Scrub a URL component: known spellings match it encoded; the decoded form is
        checked too and re-encoded only when something had to go."""
        cleaned = self._replace_known(part)
        decoded = unquote_plus(cleaned) if plus else unquote(cleaned)
        scrubbed = self._text(decoded, 0, truncate=False)
        if scrubbed == decoded:
            return cleaned
        return quote(scrubbed, safe="/=:@!$'()*,;[]")

    def _json(self, obj: Any, depth: int, *, exempt: bool) -> Any:
        if isinstance(obj, str):
            if obj.startswith(("http://", "https://")) and " " not in obj:
                return self.sanitize_url(obj)
            return self._text(obj, 0, truncate=not exempt)
        if isinstance(obj, Mapping):
            out: dict[Any, Any] = {}
            # OpenAI logprobs entries are {"token": "Hello", "logprob": -0.1}: not credentials
            logprobs = "logprob" in obj
            for key, value in obj.items():
                name = str(key)
                sensitive = self.is_sensitive_field(name) and not (logprobs and name == "token")
                if sensitive and _redactable(value):
                    out[key] = (
                        self._redact_credential(value) if isinstance(value, str) else self.marker
                    )
                else:
                    clean_key = self._replace_known(key) if isinstance(key, str) else key
                    out[clean_key] = self._json(
                        value,
                        depth + 1,
                        exempt=normalize_name(name) in self.blob_exempt_fields,
                    )
            return out
        if isinstance(obj, (list, tuple)):
            return [self._json(v, depth + 1, exempt=exempt) for v in obj]
        return obj

    def _text(self, text: str, depth: int, *, truncate: bool) -> str:
        """JSON found in the text (the whole text, or one value per line as in SSE and
        JSON lines) is cleaned as JSON, field names and all, and re-serialized only if
        something changed; everything else goes through the text rules."""
        if not text:
            return text
        if "{" not in text and "[" not in text:
            return self._rules(text, depth, truncate=truncate)
        stripped = text.strip()
        if stripped[:1] in "[{" and "\n" in stripped:
            cleaned = self._json_text(stripped, truncate, indent=2)
            if cleaned is not None:
                return text.replace(stripped, cleaned) if cleaned != stripped else text
        out: list[str] = []
        last = 0
        for m in _JSON_LINE.finditer(text):
            cleaned = self._json_text(m["json"], truncate, indent=None)
            if cleaned is None:
                continue
            out.append(self._rules(text[last : m.start("json")], depth, truncate=truncate))
            out.append(cleaned)
            last = m.end("json")
        if not out:
            return self._rules(text, depth, truncate=truncate)
        out.append(self._rules(text[last:], depth, truncate=truncate))
        return "".join(out)

    def _json_text(self, raw: str, truncate: bool, indent: int | None) -> str | None:
        """``raw`` cleaned as JSON (unchanged text when nothing had to go), or None if
        it is not JSON."""
        try:
            data = json.loads(raw)
        except ValueError:
            return None
        cleaned = self._json(data, 0, exempt=not truncate)
        if cleaned == data:
            return raw
        return json.dumps(cleaned, ensure_ascii=False, indent=indent)

    def _rules(self, text: str, depth: int, *, truncate: bool) -> str:
        if not text:
            return text
        if depth < _MAX_DEPTH and len(text) >= 16:
            text = _B64_RUN.sub(lambda m: self._base64_run(m[0], depth, truncate), text)
        text = self._replace_known(text)
        text = _URL_USERINFO.sub(lambda m: m["pre"] + self.marker + "@", text)
        text = _HEADER_LINE.sub(self._header_line, text)
        text = _JSON_PAIR.sub(self._json_pair, text)
        text = _ESCAPED_JSON_PAIR.sub(self._json_pair, text)
        text = _QUERY_PAIR.sub(self._query_pair, text)
        for pattern in self._all_patterns:
            text = pattern.sub(self._pattern_match, text)
        return text

    def _replace_known(self, text: str) -> str:
        if not text:
            return text
        for form in self._spellings():
            if form in text:
                text = text.replace(form, self.marker)
        from omniwire.secrets import scrub

        return scrub(text) if self.known_secrets else text

    def _base64_run(self, run: str, depth: int, truncate: bool) -> str:
        urlsafe = "-" in run or "_" in run
        body = run.rstrip("=")
        if len(body) % 4 == 1:
            return run
        padded = body + "=" * (-len(body) % 4)
        try:
            if urlsafe:
                if "+" in body or "/" in body:
                    return run
                data = base64.urlsafe_b64decode(padded)
            else:
                data = base64.b64decode(padded, validate=True)
        except (binascii.Error, ValueError):
            return run
        if truncate and self.blob_threshold and len(run) >= self.blob_threshold:
            digest = hashlib.sha256(data).hexdigest()[:16]
            return f"<base64 {len(data)} bytes sha256:{digest}>"
        try:
            inner = data.decode("utf-8")
        except UnicodeDecodeError:
            return run
        if not _printable(inner):
            return run
        cleaned = self._text(inner, depth + 1, truncate=False)
        if cleaned == inner:
            return run
        encoded = base64.b64encode(cleaned.encode())
        if urlsafe:
            encoded = base64.urlsafe_b64encode(cleaned.encode())
        result = encoded.decode()
        # keep the input's padding convention: unpadded input (JWT style) stays unpadded
        return result if len(run) % 4 == 0 else result.rstrip("=")

    def _header_line(self, m: re.Match[str]) -> str:
        if not self.is_sensitive_header(m["name"]):
            return m[0]
        return m[0][: m.start("value") - m.start()] + self._redact_credential(m["value"])

    def _json_pair(self, m: re.Match[str]) -> str:
        if normalize_name(m["name"]) not in self._field_names:
            return m[0]
        start, end = m.start("value") - m.start(), m.end("value") - m.start()
        value = m["value"]
        replacement = self._redact_credential(value) if value else value
        return m[0][:start] + replacement + m[0][end:]

    def _query_pair(self, m: re.Match[str]) -> str:
        if not m["value"] or normalize_name(m["name"]) not in self._text_pair_names:
            return m[0]
        return f"{m['pre']}{m['name']}={self.marker}"

    def _pattern_match(self, m: re.Match[str]) -> str:
        if m[0] == self.marker or self.marker in m[0]:
            return m[0]
        if "secret" in m.re.groupindex and m["secret"] is not None:
            start, end = m.start("secret") - m.start(), m.end("secret") - m.start()
            return m[0][:start] + self.marker + m[0][end:]
        return self.marker


def _redactable(value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return False
    return not (isinstance(value, str) and (not value or value == REDACTED))
