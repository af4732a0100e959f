"""openai.chat: options, bridging losses and the stream grammar the SDK expects."""

from __future__ import annotations

import json
from typing import Any

from oai_helpers import run_decoder, run_encoder, sse_text
from omniwire.model import (
    Choice,
    ImagePart,
    MediaSource,
    Message,
    OpaquePart,
    PartEnd,
    PartStart,
    Raw,
    Reasoning,
    ReasoningDelta,
    ReasoningPart,
    Request,
    Response,
    ResponseEnd,
    ResponseStart,
    Role,
    StopReason,
    TextDelta,
    TextPart,
    Tool,
    ToolCallPart,
    ToolResultPart,
    Usage,
    UsageUpdate,
    fold,
)
from omniwire.normalize import normalize
from omniwire.report import Conversion
from omniwire_openai.chat import OpenAIChat

CHAT = OpenAIChat()


def _roundtrip_body(body: dict[str, Any], codec: OpenAIChat = CHAT) -> dict[str, Any]:
    conv = Conversion()
    out = codec.encode_request(codec.decode_request(body, conv), conv).body
    assert conv.losses == []
    return out  # type: ignore[no-any-return]


def test_path_and_stream_flag() -> None:
    wire = CHAT.encode_request(Request.simple("gpt-x", "hi", stream=True), Conversion())
    assert wire.path == "/chat/completions" and wire.stream
    assert wire.body["stream_options"] == {"include_usage": True}
    assert CHAT.routes == ("/v1/chat/completions",)


def test_typed_content_switch() -> None:
    req = Request("m", (Message.text(Role.SYSTEM, "be brief"), Message.text(Role.USER, "hi")))
    plain = CHAT.encode_request(req, Conversion()).body["messages"]
    typed = OpenAIChat(typed_content=True).encode_request(req, Conversion()).body["messages"]
    assert [m["content"] for m in plain] == ["be brief", "hi"]
    assert [m["content"] for m in typed] == [
        [{"type": "text", "text": "be brief"}],
        [{"type": "text", "text": "hi"}],
    ]


def test_max_tokens_keeps_the_key_it_came_with() -> None:
    for key in ("max_tokens", "max_completion_tokens"):
        body = {"model": "m", "messages": [], key: 10}
        assert CHAT.decode_request(body, Conversion()).max_tokens == 10
        assert _roundtrip_body(body) == body
    both = {"model": "m", "messages": [], "max_tokens": 5, "max_completion_tokens": 10}
    req = CHAT.decode_request(both, Conversion())
    assert req.max_tokens == 10 and req.extra == {"max_tokens": 5}
    assert _roundtrip_body(both) == both
    assert (
        "max_completion_tokens"
        in CHAT.encode_request(Request("m", max_tokens=3), Conversion()).body
    )


def test_stop_string_or_list_and_tool_choice_forms() -> None:
    for body in (
        {"model": "m", "messages": [], "stop": "END"},
        {"model": "m", "messages": [], "stop": ["a", "b"]},
        {"model": "m", "messages": [], "parallel_tool_calls": False},
        {
            "model": "m",
            "messages": [],
            "tool_choice": {"type": "function", "function": {"name": "f"}},
        },
        {
            "model": "m",
            "messages": [],
            "tool_choice": {"type": "allowed_tools", "allowed_tools": {"mode": "auto"}},
        },
        {
            "model": "m",
            "messages": [],
            "modalities": ["text", "audio"],
            "audio": {"voice": "alloy", "format": "wav"},
        },
    ):
        assert _roundtrip_body(body) == body


def test_anthropic_shaped_tool_results_become_tool_messages_first() -> None:
    user = Message(Role.USER, (TextPart("and now?"), ToolResultPart("call_1", (TextPart("42"),))))
    body = CHAT.encode_request(Request("m", (user,)), Conversion()).body
    assert body["messages"] == [
        {"role": "tool", "tool_call_id": "call_1", "content": "42"},
        {"role": "user", "content": "and now?"},
    ]
    back = CHAT.decode_request(json.loads(json.dumps(body)), Conversion())
    assert normalize(back.messages) == normalize((user,))


def test_bridging_losses_name_canonical_paths() -> None:
    req = Request(
        "m",
        (
            Message(
                Role.USER,
                (
                    ImagePart(MediaSource(file_id="file-1")),
                    ToolResultPart("c", (TextPart("x"),), is_error=True),
                ),
            ),
            Message(Role.ASSISTANT, (ReasoningPart("hmm", signature="sig"), TextPart("ok"))),
        ),
        tools=(
            Tool(
                "web_search",
                kind="web_search",
                config={"type": "web_search"},
                raw=Raw("openai.responses", {}),
            ),
        ),
        top_k=5,
        reasoning=Reasoning(effort="high", budget_tokens=1000),
        extra={"previous_response_id": "resp_1"},
        raw=Raw("openai.responses", {}),
    )
    conv = Conversion()
    body = CHAT.encode_request(req, conv).body
    assert body["reasoning_effort"] == "high"
    assert set(conv.report().paths) == {
        "$.messages[0].content[0]",
        "$.messages[0].content[1].is_error",
        "$.messages[1].content[0]",
        "$.tools[0]",
        "$.top_k",
        "$.reasoning.budget_tokens",
        "$.extra.previous_response_id",
    }


def test_reasoning_field_for_compatible_servers() -> None:
    resp = Response(
        "c1",
        "m",
        (Choice((ReasoningPart("think"), TextPart("hi")), StopReason.END_TURN),),
        created=1,
    )
    conv = Conversion()
    assert "reasoning_content" not in json.dumps(CHAT.encode_response(resp, conv))
    assert [r.path for r in conv.losses] == ["$.choices[0].content[0]"]
    deepseek = OpenAIChat(reasoning_field="reasoning_content")
    body = deepseek.encode_response(resp, Conversion(strict=True))
    assert body["choices"][0]["message"]["reasoning_content"] == "think"
    assert deepseek.decode_response(body, Conversion()) == resp


def test_opaque_message_fields_survive() -> None:
    body = {
        "id": "c",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-audio",
        "choices": [
            {
                "index": 0,
                "finish_reason": "function_call",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "audio": {"id": "audio_1", "data": "AAA=", "expires_at": 9, "transcript": "hi"},
                    "function_call": {"name": "f", "arguments": "{}"},
                },
            }
        ],
    }
    resp = CHAT.decode_response(body, Conversion())
    kinds = [p.kind for p in resp.content if isinstance(p, OpaquePart)]
    assert kinds == ["audio", "function_call"]
    assert resp.stop_reason == StopReason.TOOL_CALLS and resp.choices[0].stop_raw == "function_call"
    assert CHAT.encode_response(resp, Conversion()) == body


# -- streams ---------------------------------------------------------------------------------


def _chunks(sse: str) -> list[Any]:
    return [json.loads(line[6:]) for line in sse.splitlines() if line.startswith("data: {")]


def test_stream_encoder_grammar() -> None:
    events = [
        ResponseStart("chatcmpl-1", "gpt-x", 1700000000, service_tier="default"),
        PartStart(
            0, TextPart(""), choice=1
        ),  # choice 1 first: choice 0's role chunk must still lead
        TextDelta(0, "Hel"),
        TextDelta(0, "lo"),
        PartEnd(0),
        PartStart(1, ToolCallPart("call_1", "f", ""), choice=0),
        PartEnd(1, ToolCallPart("call_1", "f", '{"a":1}')),  # final form fills in the arguments
        ResponseEnd(StopReason.TOOL_CALLS, choice=0),
        ResponseEnd(StopReason.END_TURN, choice=1),
        UsageUpdate(Usage(10, 3)),
    ]
    sse = sse_text(run_encoder(CHAT, events))
    assert sse.rstrip().endswith("data: [DONE]")
    chunks = _chunks(sse)
    for c in chunks:
        assert (c["id"], c["object"], c["created"], c["model"]) == (
            "chatcmpl-1",
            "chat.completion.chunk",
            1700000000,
            "gpt-x",
        )
    assert [c["choices"][0]["index"] for c in chunks[:2]] == [0, 1]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    tool = [c for c in chunks if c["choices"] and "tool_calls" in c["choices"][0]["delta"]]
    assert tool[0]["choices"][0]["delta"]["tool_calls"][0] == {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "f", "arguments": ""},
    }
    assert tool[1]["choices"][0]["delta"]["tool_calls"][0] == {
        "index": 0,
        "function": {"arguments": '{"a":1}'},
    }
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 13
    folded = fold(run_decoder(CHAT, sse))
    assert [c.stop_reason for c in folded.choices] == [StopReason.TOOL_CALLS, StopReason.END_TURN]
    assert folded.choices[0].content == (ToolCallPart("call_1", "f", '{"a":1}'),)
    assert folded.choices[1].content == (TextPart("Hello"),)


def test_stream_usage_follows_include_usage() -> None:
    req = CHAT.decode_request({"model": "m", "messages": [], "stream": True}, Conversion())
    events = [
        ResponseStart("c", "m", 1),
        ResponseEnd(StopReason.END_TURN),
        UsageUpdate(Usage(1, 1)),
    ]
    sse = sse_text(run_encoder(CHAT, events, request=req))
    assert all(c["choices"] for c in _chunks(sse))  # the client did not ask for usage
    asked = CHAT.decode_request(
        {"model": "m", "messages": [], "stream": True, "stream_options": {"include_usage": True}},
        Conversion(),
    )
    assert not _chunks(sse_text(run_encoder(CHAT, events, request=asked)))[-1]["choices"]


def test_stream_decoder_reasoning_and_odd_deltas() -> None:
    sse = (
        "".join(
            f"data: {json.dumps(c)}\n\n"
            for c in [
                {
                    "id": "g",
                    "object": "chat.completion.chunk",
                    "created": 1,
                    "model": "m",
                    "choices": [
                        {
                            "index": 0,
                            "delta": {"role": "assistant", "content": None, "reasoning": "think"},
                        }
                    ],
                },
                {
                    "id": "g",
                    "object": "chat.completion.chunk",
                    "created": 1,
                    "model": "m",
                    "choices": [{"index": 0, "delta": {"content": "hi", "refusal": None}}],
                },
                {
                    "id": "g",
                    "object": "chat.completion.chunk",
                    "created": 1,
                    "model": "m",
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                },
                {
                    "id": "g",
                    "object": "chat.completion.chunk",
                    "created": 1,
                    "model": "m",
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                },  # repeated: ignored
            ]
        )
        + "data: [DONE]\n\n"
    )
    events = run_decoder(CHAT, sse)
    assert sum(isinstance(e, ResponseEnd) for e in events) == 1
    assert any(isinstance(e, ReasoningDelta) for e in events)
    assert fold(events).content == (ReasoningPart("think"), TextPart("hi"))
    # and the same protocol streams it back in the field it came in
    again = sse_text(run_encoder(CHAT, events))
    assert '"reasoning":"think"' in again


def test_a_streamed_original_sent_plain_drops_its_stream_fields():
    """The kernel's stream fallback sends a client's streamed request non-streamed: the
    same-protocol original's ``stream: true`` and ``stream_options`` must not come back."""
    import attrs
    from omniwire_openai.responses import OpenAIResponses

    for codec, body in (
        (
            CHAT,
            {
                "model": "m",
                "messages": [{"role": "user", "content": "hi"}],
                "stream": True,
                "stream_options": {"include_usage": True},
            },
        ),
        (OpenAIResponses(), {"model": "m", "input": "hi", "stream": True}),
    ):
        request = codec.decode_request(body, Conversion(codec.id, None))
        assert request.stream
        plain = codec.encode_request(attrs.evolve(request, stream=False), Conversion())
        assert "stream" not in plain.body and "stream_options" not in plain.body
        assert plain.stream is False
        explicit = dict(body, stream=False)
        explicit.pop("stream_options", None)
        request = codec.decode_request(explicit, Conversion(codec.id, None))
        assert codec.encode_request(request, Conversion()).body["stream"] is False
