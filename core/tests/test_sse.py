from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from omniwire.sse import SSEEvent, SSEParser, encode_event, parse_sse


def test_line_endings_comments_and_multiline():
    body = b": keep-alive\r\nevent: a\r\ndata: one\r\ndata: two\r\n\r\nid: 7\ndata: x\n\ndata: tail"
    events = parse_sse(body)
    assert events == [
        SSEEvent("one\ntwo", "a"),
        SSEEvent("x", None, "7"),
        SSEEvent("tail", None, "7"),
    ]


def test_crlf_split_across_chunks():
    p = SSEParser()
    out = p.feed(b"data: a\r") + p.feed(b"\n\r") + p.feed(b"\ndata: b\r\n\r\n")
    assert [e.data for e in out] == ["a", "b"]


def test_no_space_after_colon_and_retry():
    assert parse_sse("data:x\nretry: 10\n\n") == [SSEEvent("x", retry=10)]


@given(
    st.lists(
        st.tuples(
            st.text(st.characters(blacklist_categories=("Cs",)), max_size=30),
            st.none() | st.sampled_from(["message_start", "ping", "response.completed"]),
        ),
        max_size=8,
    ),
    st.integers(1, 7),
)
def test_encode_parse_round_trip_in_any_chunking(events, size):
    body = b"".join(encode_event(d, e) for d, e in events)
    p = SSEParser()
    out = []
    for i in range(0, len(body), size):
        out += p.feed(body[i : i + size])
    out += p.close()
    expected = [(d.replace("\r\n", "\n").replace("\r", "\n"), e) for d, e in events]
    assert [(x.data, x.event) for x in out] == expected


_PIECES = st.sampled_from(
    [
        "data: ",
        "data:",
        "event: e",
        "id: 7",
        ": note",
        "retry: 5",
        '{"a": 1}',
        "x",
        "é",
        "\n",
        "\n\n",
        "\r\n",
        "\r",
    ]
)


@given(st.lists(_PIECES, max_size=40), st.lists(st.integers(1, 9), min_size=1, max_size=12))
def test_any_stream_parses_as_it_would_one_character_at_a_time(pieces, cuts):
    """Whole ``data:`` blocks take a shortcut; every other shape, and any chunking,
    must give exactly the events of the line-by-line walk (one character per feed
    never holds a blank line, so it never takes the shortcut)."""
    data = "".join(pieces).encode()
    slow = SSEParser()
    expected = [e for i in range(len(data)) for e in slow.feed(data[i : i + 1])] + slow.close()
    fast, got, at, k = SSEParser(), [], 0, 0
    while at < len(data):
        step = cuts[k % len(cuts)] * 7
        got += fast.feed(data[at : at + step])
        at, k = at + step, k + 1
    got += fast.close()
    assert got == expected
