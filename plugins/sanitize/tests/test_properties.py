"""Property: for requests carrying random secrets in every place a credential travels,
no secret survives sanitizing, in any encoding (raw, URL-encoded, base64 of JSON)."""

from __future__ import annotations

import base64
import binascii
import json
import re
import string
from urllib.parse import quote, quote_plus, urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omniwire import Secret
from omniwire_sanitize import Sanitizer

S = Sanitizer()

ALPHABET = string.ascii_letters + string.digits + "-_.~+/="
secrets_st = st.text(ALPHABET, min_size=12, max_size=40).filter(
    # key-like: mixed case with digits (a secret that is an ordinary word, such as a
    # field name, would be "found" in the legitimate text around it)
    lambda s: (
        len(set(s)) >= 8
        and any(c.isdigit() for c in s)
        and any(c.isupper() for c in s)
        and any(c.islower() for c in s)
    )
)
SENSITIVE_HEADERS = [
    "authorization",
    "x-api-key",
    "api-key",
    "x-goog-api-key",
    "cookie",
    "set-cookie",
    "proxy-authorization",
]
SENSITIVE_PARAMS = [
    "key",
    "api_key",
    "apikey",
    "token",
    "access_token",
    "sig",
    "signature",
    "X-Amz-Signature",
    "X-Amz-Credential",
]
SENSITIVE_FIELDS = [
    "api_key",
    "apiKey",
    "token",
    "access_token",
    "refresh_token",
    "secret",
    "client_secret",
    "password",
    "authorization",
]
plain_names = st.sampled_from(["note", "prompt", "content", "q", "label", "x-trace"])


def nest(value, path):
    for key in reversed(path):
        value = {key: value} if isinstance(key, str) else [value]
    return value


@st.composite
def requests(draw):
    """A request (headers, URL, JSON body) and the secrets hidden in it."""
    unknown = draw(st.lists(secrets_st, min_size=3, max_size=3, unique=True))
    known = draw(st.lists(secrets_st, min_size=2, max_size=2, unique=True))
    for value in known:
        Secret(value)  # registered with the kernel: must vanish wherever it appears
    headers = {
        draw(st.sampled_from(SENSITIVE_HEADERS)): draw(st.sampled_from(["Bearer ", "", "session="]))
        + unknown[0],
        "x-request-note": f"for {known[0]}",
        "content-type": "application/json",
    }
    query = [
        (draw(st.sampled_from(SENSITIVE_PARAMS)), unknown[1]),
        (draw(plain_names), f"text {known[1]} more"),
        ("alt", "sse"),
    ]
    url = f"https://api.example/v1/{quote(known[0], safe='')}/chat?{urlencode(query)}"
    path = draw(st.lists(st.one_of(plain_names, st.just(0)), max_size=3))
    inner = {draw(st.sampled_from(SENSITIVE_FIELDS)): unknown[2], "user": "u"}
    b64 = draw(st.sampled_from([base64.b64encode, base64.urlsafe_b64encode]))
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": f"my key is {known[1]}, ok?"}],
        draw(st.sampled_from(SENSITIVE_FIELDS)): unknown[0],
        "meta": nest({draw(st.sampled_from(SENSITIVE_FIELDS)): unknown[1]}, path),
        "blob": b64(json.dumps(inner).encode()).decode(),
        "doc": b64(
            json.dumps({"pad": "x" * draw(st.integers(0, 5)), "v": known[0]}).encode()
        ).decode(),
        "link": f"https://cb.example/done?{urlencode({'note': known[1]})}",
    }
    return headers, url, body, unknown + known


def base64_hides(secret: str, text: str) -> bool:
    """Independent check: decode every base64-looking run at every start offset, in both
    alphabets, and look for the secret's bytes."""
    needle = secret.encode()
    for run in re.findall(r"[A-Za-z0-9+/_\-]{8,}", text):
        for start in range(4):
            chunk = run[start:]
            chunk = chunk[: len(chunk) - len(chunk) % 4]
            for decode in (base64.b64decode, base64.urlsafe_b64decode):
                try:
                    if needle in decode(chunk):
                        return True
                except (binascii.Error, ValueError):
                    pass
    return False


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_no_secret_survives_in_any_encoding(case):
    headers, url, body, secrets = case
    out = json.dumps(
        {
            "headers": S.sanitize_headers(headers),
            "url": S.sanitize_url(url),
            "body": S.sanitize_json(body),
            "text": S.sanitize_text(f"{url}\n{json.dumps(body)}"),
        }
    )
    for secret in secrets:
        for form in {secret, quote(secret, safe=""), quote(secret), quote_plus(secret)}:
            assert form not in out, (secret, form)
        assert not base64_hides(secret, out), secret


@settings(max_examples=40, deadline=None)
@given(
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=30)),
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(st.text(max_size=8), children, max_size=4),
        ),
        max_leaves=20,
    )
)
def test_sanitizing_is_idempotent_and_total(doc):
    once = S.sanitize_json(doc)
    assert S.sanitize_json(once) == once
