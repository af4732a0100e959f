"""Hypothesis strategies for Anthropic wire payloads as real clients and the API write
them: string-or-blocks content, nulls and ``false`` where the API allows them, fields the
canonical model does not describe (``caller``, ``defer_loading``, ``container``...).

They drive the exactness property: ``encode(decode(x)) == x``.
"""

from __future__ import annotations

import base64
from typing import Any

from anthropic_strategies import citations, idents, json_objects, nonempty, texts
from hypothesis import strategies as st

Obj = dict[str, Any]


def _maybe(draw: st.DrawFn, out: Obj, key: str, values: st.SearchStrategy[Any]) -> None:
    if draw(st.booleans()):
        out[key] = draw(values)


cache_controls = st.none() | st.sampled_from(
    [{"type": "ephemeral"}, {"type": "ephemeral", "ttl": "5m"}, {"type": "ephemeral", "ttl": "1h"}]
)
b64 = st.binary(max_size=16).map(lambda b: base64.b64encode(b).decode("ascii"))


@st.composite
def text_blocks(draw: st.DrawFn, *, cache: bool = True) -> Obj:
    out: Obj = {"type": "text", "text": draw(texts)}
    _maybe(draw, out, "citations", st.none() | st.lists(citations(), max_size=2))
    if cache:
        _maybe(draw, out, "cache_control", cache_controls)
    return out


@st.composite
def image_blocks(draw: st.DrawFn) -> Obj:
    source = draw(
        st.one_of(
            st.builds(lambda d: {"type": "base64", "media_type": "image/png", "data": d}, b64),
            st.builds(lambda d: {"type": "base64", "data": d}, b64),
            st.builds(lambda u: {"type": "url", "url": f"https://x.test/{u}"}, idents),
            st.builds(lambda f: {"type": "file", "file_id": f}, idents),
        )
    )
    out: Obj = {"type": "image", "source": source}
    _maybe(draw, out, "cache_control", cache_controls)
    return out


@st.composite
def document_blocks(draw: st.DrawFn) -> Obj:
    source = draw(
        st.one_of(
            st.builds(
                lambda d: {"type": "base64", "media_type": "application/pdf", "data": d}, b64
            ),
            st.builds(lambda t: {"type": "text", "media_type": "text/plain", "data": t}, texts),
            st.builds(lambda u: {"type": "url", "url": f"https://x.test/{u}.pdf"}, idents),
            st.builds(lambda f: {"type": "file", "file_id": f}, idents),
            st.builds(lambda t: {"type": "content", "content": t}, texts),
            st.builds(
                lambda ts: {
                    "type": "content",
                    "content": [{"type": "text", "text": t} for t in ts],
                },
                st.lists(texts, max_size=3),
            ),
        )
    )
    out: Obj = {"type": "document", "source": source}
    _maybe(draw, out, "title", st.none() | texts)
    _maybe(draw, out, "context", st.none() | texts)
    _maybe(draw, out, "citations", st.none() | st.builds(lambda b: {"enabled": b}, st.booleans()))
    _maybe(draw, out, "cache_control", cache_controls)
    return out


@st.composite
def tool_use_blocks(draw: st.DrawFn, *, cache: bool = True) -> Obj:
    out: Obj = {
        "type": "tool_use",
        "id": "toolu_" + draw(idents),
        "name": draw(idents),
        "input": draw(json_objects),
    }
    _maybe(draw, out, "caller", st.just({"type": "direct"}))
    if cache:
        _maybe(draw, out, "cache_control", cache_controls)
    return out


@st.composite
def tool_result_blocks(draw: st.DrawFn) -> Obj:
    out: Obj = {"type": "tool_result", "tool_use_id": "toolu_" + draw(idents)}
    _maybe(
        draw,
        out,
        "content",
        st.none() | texts | st.lists(st.one_of(text_blocks(), image_blocks()), max_size=3),
    )
    _maybe(draw, out, "is_error", st.booleans())
    _maybe(draw, out, "cache_control", cache_controls)
    return out


thinking_blocks = st.builds(
    lambda t, s: {"type": "thinking", "thinking": t, "signature": s}, texts, texts
)
redacted_blocks = st.builds(lambda d: {"type": "redacted_thinking", "data": d}, idents)
server_blocks = st.one_of(
    st.builds(
        lambda i, q: {
            "type": "server_tool_use",
            "id": "srvtoolu_" + i,
            "name": "web_search",
            "input": {"query": q},
        },
        idents,
        texts,
    ),
    st.builds(
        lambda i: {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_" + i, "content": []},
        idents,
    ),
    st.builds(lambda f: {"type": "container_upload", "file_id": f}, idents),
)


def contents(blocks: st.SearchStrategy[Obj]) -> st.SearchStrategy[Any]:
    return texts | st.lists(blocks, max_size=4)


user_blocks = st.one_of(
    text_blocks(), image_blocks(), document_blocks(), tool_result_blocks(), server_blocks
)
assistant_blocks = st.one_of(
    text_blocks(), tool_use_blocks(), thinking_blocks, redacted_blocks, server_blocks
)
messages = st.one_of(
    st.builds(lambda c: {"role": "user", "content": c}, contents(user_blocks)),
    st.builds(lambda c: {"role": "assistant", "content": c}, contents(assistant_blocks)),
    st.builds(lambda c: {"role": "system", "content": c}, contents(text_blocks())),
)


@st.composite
def tools(draw: st.DrawFn) -> Obj:
    if draw(st.booleans()):
        return {
            "type": "web_search_20250305",
            "name": "web_search",
            **({"max_uses": draw(st.integers(1, 5))} if draw(st.booleans()) else {}),
            **({"cache_control": draw(cache_controls)} if draw(st.booleans()) else {}),
        }
    out: Obj = {"name": draw(idents), "input_schema": {"type": "object", "properties": {}}}
    _maybe(draw, out, "type", st.just("custom"))
    _maybe(draw, out, "description", texts)
    _maybe(draw, out, "strict", st.booleans())
    _maybe(draw, out, "defer_loading", st.booleans())
    _maybe(draw, out, "cache_control", cache_controls)
    return out


@st.composite
def tool_choices(draw: st.DrawFn) -> Obj:
    kind = draw(st.sampled_from(["auto", "any", "tool", "none"]))
    out: Obj = {"type": kind}
    if kind == "tool":
        out["name"] = draw(idents)
    if kind != "none":
        _maybe(draw, out, "disable_parallel_tool_use", st.booleans())
    return out


thinking_configs = st.one_of(
    st.builds(lambda b: {"type": "enabled", "budget_tokens": b}, st.integers(1024, 9999)),
    st.builds(
        lambda b, d: {"type": "enabled", "budget_tokens": b, "display": d},
        st.integers(1024, 9999),
        st.sampled_from(["summarized", "omitted"]),
    ),
    st.just({"type": "adaptive"}),
    st.just({"type": "adaptive", "display": "omitted"}),
    st.just({"type": "disabled"}),
)


@st.composite
def request_bodies(draw: st.DrawFn) -> Obj:
    body: Obj = {
        "model": draw(idents),
        "max_tokens": draw(st.integers(1, 64000)),
        "messages": draw(st.lists(messages, max_size=5)),
    }
    _maybe(draw, body, "system", st.none() | texts | st.lists(text_blocks(), max_size=3))
    _maybe(draw, body, "temperature", st.none() | st.floats(0, 1))
    _maybe(draw, body, "top_p", st.floats(0, 1))
    _maybe(draw, body, "top_k", st.integers(1, 100))
    _maybe(draw, body, "stop_sequences", st.lists(nonempty, max_size=2))
    _maybe(draw, body, "metadata", st.just({}) | st.builds(lambda u: {"user_id": u}, idents))
    _maybe(draw, body, "thinking", thinking_configs)
    _maybe(
        draw,
        body,
        "output_config",
        st.fixed_dictionaries(
            {},
            optional={
                "effort": st.sampled_from(["low", "high", "max"]),
                "format": st.just(
                    {"type": "json_schema", "schema": {"type": "object", "properties": {}}}
                ),
            },
        ),
    )
    _maybe(draw, body, "tools", st.lists(tools(), max_size=3))
    _maybe(draw, body, "tool_choice", tool_choices())
    _maybe(draw, body, "service_tier", st.sampled_from(["auto", "standard_only"]))
    _maybe(draw, body, "stream", st.booleans())
    _maybe(draw, body, "container", idents)
    _maybe(draw, body, "cache_control", cache_controls)
    _maybe(draw, body, "inference_geo", st.none() | st.just("us"))
    return body


@st.composite
def usage_objects(draw: st.DrawFn) -> Obj:
    out: Obj = {"input_tokens": draw(st.integers(0, 9999))}
    _maybe(draw, out, "cache_creation_input_tokens", st.integers(0, 9999))
    _maybe(draw, out, "cache_read_input_tokens", st.integers(0, 9999))
    _maybe(
        draw,
        out,
        "cache_creation",
        st.builds(
            lambda a, b: {"ephemeral_5m_input_tokens": a, "ephemeral_1h_input_tokens": b},
            st.integers(0, 99),
            st.integers(0, 99),
        ),
    )
    out["output_tokens"] = draw(st.integers(0, 9999))
    _maybe(
        draw,
        out,
        "output_tokens_details",
        st.builds(lambda t: {"thinking_tokens": t}, st.integers(0, 99)),
    )
    _maybe(
        draw,
        out,
        "server_tool_use",
        st.builds(
            lambda a, b: {"web_search_requests": a, "web_fetch_requests": b},
            st.integers(0, 3),
            st.integers(0, 3),
        ),
    )
    _maybe(draw, out, "service_tier", st.sampled_from(["standard", "priority"]))
    _maybe(draw, out, "inference_geo", st.sampled_from(["global", "not_available"]))
    return out


@st.composite
def response_bodies(draw: st.DrawFn) -> Obj:
    stop = draw(
        st.sampled_from(
            ["end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal", None]
        )
    )
    body: Obj = {
        "id": "msg_" + draw(idents),
        "type": "message",
        "role": "assistant",
        "model": draw(idents),
        "content": draw(
            st.lists(
                st.one_of(
                    text_blocks(cache=False),
                    tool_use_blocks(cache=False),
                    thinking_blocks,
                    redacted_blocks,
                    server_blocks,
                ),
                max_size=4,
            )
        ),
        "stop_reason": stop,
    }
    if draw(st.booleans()):
        body["stop_sequence"] = draw(nonempty) if stop == "stop_sequence" else None
    _maybe(draw, body, "stop_details", st.none())
    _maybe(
        draw,
        body,
        "container",
        st.builds(lambda i: {"id": i, "expires_at": "2030-01-01T00:00:00Z"}, idents),
    )
    _maybe(draw, body, "context_management", st.just({"applied_edits": []}))
    body["usage"] = draw(usage_objects())
    return body
