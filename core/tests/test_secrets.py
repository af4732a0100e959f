from __future__ import annotations

from omniwire import Secret, UpstreamError
from omniwire.secrets import constant_time_equal, scrub


def test_repr_str_format_hide_value():
    s = Secret("sk-proj-abcdefghijklmnopqrstuvwxyz")
    for text in (repr(s), str(s), f"{s}", f"{s!r}", "%s" % s):  # noqa: UP031
        assert "abcdefghijkl" not in text


def test_scrub_full_and_partially_masked_echo():
    value = "sk-proj-0123456789abcdefghijklmnop"
    Secret(value)
    assert scrub(f"bad key {value}") == "bad key [REDACTED]"
    masked = f"Incorrect API key provided: {value[:17]}****{value[-4:]}"
    assert value[:17] not in scrub(masked)


def test_errors_scrub_their_messages():
    value = "AIzaSyA-secret-gemini-key-000000000"
    Secret(value)
    err = UpstreamError(f"API key not valid: {value}", status=400)
    assert value not in str(err) and value not in repr(err)


def test_constant_time_equal():
    assert constant_time_equal("a" * 40, "a" * 40)
    assert not constant_time_equal("a" * 40, "a" * 39 + "b")
