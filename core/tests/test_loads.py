"""``omniwire.wire.loads`` is ``json.loads``: the same value or the same error for any
text or bytes, whether or not its shortcut applies."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from omniwire.wire import loads

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
padding = st.sampled_from(["", " ", "\n", "\t ", "\ufeff", " x", "]", "}"])


def _outcome(parse: Any, text: Any) -> Any:
    try:
        return ("value", repr(parse(text)))
    except Exception as exc:  # the same type and message, or the test fails
        return ("error", type(exc).__name__, str(exc))


@given(json_values, padding, padding, st.booleans())
def test_any_json_parses_as_json_loads_parses_it(
    value: Any, before: str, after: str, compact: bool
) -> None:
    text = before + json.dumps(value, separators=(",", ":") if compact else None) + after
    assert _outcome(loads, text) == _outcome(json.loads, text)
    for encoding in ("utf-8", "utf-16", "utf-32"):
        data = text.encode(encoding, "surrogatepass")
        assert _outcome(loads, data) == _outcome(json.loads, data)
        assert _outcome(loads, bytearray(data)) == _outcome(json.loads, bytearray(data))


@given(st.text(max_size=40) | st.binary(max_size=40))
def test_any_text_or_bytes_gives_json_loads_value_or_error(text: Any) -> None:
    assert _outcome(loads, text) == _outcome(json.loads, text)


def test_the_usual_upstream_event_takes_the_shortcut_and_keeps_its_value() -> None:
    event = '{"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}'
    assert loads(event) == json.loads(event)
    assert loads(event.encode()) == json.loads(event)
