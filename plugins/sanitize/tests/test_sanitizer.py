"""The default rules, one behaviour at a time."""

from __future__ import annotations

import base64
import json

import pytest
from omniwire import Secret
from omniwire.plugins import PluginManager
from omniwire_sanitize import REDACTED, Sanitizer

S = Sanitizer()


@pytest.mark.parametrize(
    "name",
    [
        "authorization",
        "Proxy-Authorization",
        "x-api-key",
        "api-key",
        "X-Goog-Api-Key",
        "cookie",
        "Set-Cookie",
    ],
)
def test_credential_headers_are_redacted(name):
    out = S.sanitize_headers({name: "opaque-credential-value", "content-type": "text/plain"})
    assert out == {name: REDACTED, "content-type": "text/plain"}


def test_authorization_keeps_its_scheme_word():
    out = S.sanitize_headers([("Authorization", "Bearer abc.def.ghi-123456")])
    assert out == {"Authorization": f"Bearer {REDACTED}"}


@pytest.mark.parametrize(
    "param",
    [
        "key",
        "api_key",
        "apikey",
        "token",
        "access_token",
        "sig",
        "signature",
        "X-Amz-Signature",
        "X-Amz-Credential",
        "X-Amz-Security-Token",
    ],
)
def test_query_credentials_are_redacted(param):
    url = f"https://h.example/p?alt=sse&{param}=abc%2Fdef&x=1#frag"
    assert S.sanitize_url(url) == f"https://h.example/p?alt=sse&{param}={REDACTED}&x=1#frag"


def test_untouched_url_parts_are_byte_identical():
    url = "https://h.example/v1/models/m:streamGenerate?alt=sse&q=a+b%20c"
    assert S.sanitize_url(url) == url


def test_userinfo_is_redacted():
    assert S.sanitize_url("https://bob:pw@h.example/x") == f"https://{REDACTED}@h.example/x"


@pytest.mark.parametrize(
    "field",
    [
        "api_key",
        "apiKey",
        "token",
        "access_token",
        "refresh_token",
        "secret",
        "client_secret",
        "password",
        "authorization",
    ],
)
def test_json_fields_are_redacted_at_any_depth(field):
    doc = {"a": [{"b": {field: "value-123", "max_tokens": 5, "tokens": ["x"]}}]}
    out = S.sanitize_json(doc)
    assert out["a"][0]["b"] == {field: REDACTED, "max_tokens": 5, "tokens": ["x"]}
    assert doc["a"][0]["b"][field] == "value-123"  # a copy, never in place


def test_non_string_credentials_and_nulls():
    out = S.sanitize_json({"password": 1234, "token": None, "secret": {"k": "v"}, "apiKey": False})
    assert out == {"password": REDACTED, "token": None, "secret": REDACTED, "apiKey": False}


def test_registered_secret_values_vanish_everywhere():
    value = "omni-test-" + "q8Zr3mPx7Wk2"
    Secret(value)
    doc = {
        "text": f"key {value} was rejected",
        "url": f"https://h.example/{value}/x?q={value}",
        value: "as a key",
    }
    dumped = json.dumps(S.sanitize_json(doc))
    assert value not in dumped and dumped.count(REDACTED) == 4


def test_constructor_secrets_in_every_spelling():
    value = "my+own/secret=value-42"
    s = Sanitizer(secrets=[value])
    from urllib.parse import quote, quote_plus

    text = " ".join(
        [
            value,
            quote(value, safe=""),
            quote_plus(value),
            base64.b64encode(b"xx" + value.encode() + b"yy").decode(),
        ]
    )
    cleaned = s.sanitize_text(text)
    for form in (value, quote(value, safe=""), quote_plus(value)):
        assert form not in cleaned


def test_known_key_formats_in_text():
    text = (
        "bad key sk-proj-AbCdEfGhIjKlMnOpQrStUv, google AIzaSyA1234567890abcdefghijklmnopqrs, "
        "aws AKIAABCDEFGHIJKLMNOP, jwt eyJhbGciOiJIUzI1.eyJzdWIiOiIxMjM0.SflKxwRJSMeKKF2QT4"
    )
    assert S.sanitize_text(text) == (
        f"bad key {REDACTED}, google {REDACTED}, aws {REDACTED}, jwt {REDACTED}"
    )


def test_text_shapes_header_lines_json_pairs_and_query_pairs():
    text = (
        "authorization: Bearer abcdefgh12345\n"
        'data: {"api_key": "k1", "model": "m"}\n'
        'tool {\\"password\\": \\"hunter2\\"}\n'
        "see https://h.example/?key=abc&alt=sse"
    )
    assert S.sanitize_text(text) == (
        f"authorization: Bearer {REDACTED}\n"
        f'data: {{"api_key": "{REDACTED}", "model": "m"}}\n'
        f'tool {{\\"password\\": \\"{REDACTED}\\"}}\n'
        f"see https://h.example/?key={REDACTED}&alt=sse"
    )


def test_base64_of_json_is_decoded_cleaned_and_reencoded():
    inner = json.dumps({"client_secret": "abcdef-999", "n": 1}).encode()
    out = S.sanitize_json({"blob": base64.b64encode(inner).decode()})
    decoded = json.loads(base64.b64decode(out["blob"]))
    assert decoded == {"client_secret": REDACTED, "n": 1}
    urlsafe = base64.urlsafe_b64encode(inner).decode().rstrip("=")
    cleaned = S.sanitize_text(urlsafe)
    assert b"abcdef-999" not in base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))


def test_large_base64_is_truncated_with_size_and_hash():
    payload = bytes(range(256)) * 600
    encoded = base64.b64encode(payload).decode()
    out = S.sanitize_json({"image": f"data:image/png;base64,{encoded}", "small": "aGVsbG8="})
    import hashlib

    digest = hashlib.sha256(payload).hexdigest()[:16]
    assert out["image"] == f"data:image/png;base64,<base64 {len(payload)} bytes sha256:{digest}>"
    assert out["small"] == "aGVsbG8="


def test_blob_exempt_fields_and_threshold_zero():
    encoded = base64.b64encode(bytes(range(256)) * 16).decode()
    assert S.sanitize_json({"body_base64": encoded}) == {"body_base64": encoded}
    assert Sanitizer(blob_threshold=0).sanitize_text(encoded) == encoded


def test_idempotent():
    doc = {
        "headers": {"authorization": "Bearer abcdefgh123"},
        "blob": base64.b64encode(b"\x01" * 3000).decode(),
        "text": "sk-ant-api03-abcdefghijklmnopqrstuvwxyz",
    }
    once = S.sanitize_json(doc)
    assert S.sanitize_json(once) == once


def test_custom_rules():
    s = Sanitizer(
        extra_headers=["X-Internal-Auth"],
        extra_fields=["ssn"],
        extra_query_params=["session"],
        extra_patterns=[r"ACME-\d{6}", r"pin=(?P<secret>\d+)"],
    )
    assert s.sanitize_headers({"x-internal-auth": "v"}) == {"x-internal-auth": REDACTED}
    assert s.sanitize_json({"SSN": "123-45-6789"}) == {"SSN": REDACTED}
    assert s.sanitize_url("https://h/?session=zz") == f"https://h/?session={REDACTED}"
    assert s.sanitize_text("id ACME-123456, pin=9876") == f"id {REDACTED}, pin={REDACTED}"
    # replacing the defaults instead of adding to them
    bare = Sanitizer(headers=[], fields=[], query_params=[], patterns=[])
    assert bare.sanitize_headers({"authorization": "x"}) == {"authorization": "x"}


def test_from_config(monkeypatch):
    monkeypatch.setenv("OMNI_TEST_VENDOR_KEY", "vendor-secret-abcdef")
    s = Sanitizer.from_config(
        {"fields": ["ssn"], "secret_env": ["OMNI_TEST_VENDOR_KEY"], "blob_threshold": 64}
    )
    assert s.blob_threshold == 64
    assert s.sanitize_text("x vendor-secret-abcdef y") == f"x {REDACTED} y"
    assert s.sanitize_json({"ssn": "1"}) == {"ssn": REDACTED}


def test_never_raises_on_odd_input():
    assert S.sanitize_json({1: b"bytes", "x": 1.5, "y": [None, True]}) == {
        1: b"bytes",
        "x": 1.5,
        "y": [None, True],
    }
    assert S.sanitize_url("not a url %zz ?&=&key") == "not a url %zz ?&=&key"
    assert S.sanitize_text("") == ""


def test_hook_registers_default_sanitizer():
    import omniwire_sanitize

    pm = PluginManager(entry_points=False)
    pm.register(omniwire_sanitize, name="sanitize")
    sanitizer = pm.get("sanitizers", "default")
    assert isinstance(sanitizer, Sanitizer)
    assert pm.plugins()[-1].provides == {"sanitizers": ["default"], "commands": ["sanitize"]}


def test_json_in_text_is_cleaned_as_json():
    sse = 'event: delta\ndata: {"type":"x","token":"t0k","n":1}\n\ndata: [DONE]\n\n'
    assert S.sanitize_text(sse) == (
        f'event: delta\ndata: {{"type": "x", "token": "{REDACTED}", "n": 1}}\n\ndata: [DONE]\n\n'
    )
    untouched = 'data: {"type":"x","text":"fine"}\n\n'
    assert S.sanitize_text(untouched) == untouched  # formatting kept when nothing changed
    pretty = '{\n  "auth": {\n    "password": "p"\n  }\n}\n'
    assert json.loads(S.sanitize_text(pretty)) == {"auth": {"password": REDACTED}}
    args = S.sanitize_json({"arguments": '{"api_key": "abc", "q": "x"}'})
    assert json.loads(args["arguments"]) == {"api_key": REDACTED, "q": "x"}


def test_content_that_only_looks_like_credentials_is_kept():
    logprobs = {"logprobs": {"content": [{"token": "Hello", "logprob": -0.1}]}}
    assert S.sanitize_json(logprobs) == logprobs
    for text in ("use sorted(items, key=len)", "exit code=1", "max_tokens: 5"):
        assert S.sanitize_text(text) == text
    form = "grant_type=x&access_token=abc&expires_in=3"
    assert S.sanitize_text(form) == f"grant_type=x&access_token={REDACTED}&expires_in=3"
