"""Mapping decisions of ``anthropic.messages`` and the losses it reports."""

from __future__ import annotations

import base64

import pytest
from omniwire.errors import ProtocolError
from omniwire.model import (
    AudioPart,
    CacheHint,
    Choice,
    FilePart,
    ImagePart,
    MediaSource,
    Message,
    OpaquePart,
    PromptCache,
    Raw,
    Reasoning,
    ReasoningPart,
    RefusalPart,
    Request,
    Response,
    ResponseFormat,
    Role,
    StopReason,
    TextPart,
    Tool,
    ToolChoice,
    ToolResultPart,
    Usage,
)
from omniwire.report import Conversion
from omniwire_anthropic.messages import DEFAULT_MAX_TOKENS, AnthropicMessages

CODEC = AnthropicMessages()
HI = Message.text(Role.USER, "hi")


def encode(request: Request) -> tuple[dict, list[str]]:
    conv = Conversion()
    wire = CODEC.encode_request(request, conv)
    return wire.body, [loss.path for loss in conv.losses]


def test_wire_request_basics() -> None:
    wire = CODEC.encode_request(Request("claude", (HI,), stream=True), Conversion(strict=True))
    assert wire.path == "/v1/messages" and wire.method == "POST" and wire.stream
    assert wire.headers == {"anthropic-version": "2023-06-01"}
    assert wire.body == {
        "model": "claude",
        "max_tokens": DEFAULT_MAX_TOKENS,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        "stream": True,
    }
    assert (CODEC.routes, CODEC.default_auth, CODEC.provider) == (
        ("/v1/messages",),
        "x-api-key",
        "anthropic",
    )


def test_default_max_tokens_leaves_room_for_thinking() -> None:
    body, losses = encode(Request("m", (HI,), reasoning=Reasoning(budget_tokens=8000)))
    assert body["max_tokens"] == 8000 + DEFAULT_MAX_TOKENS and losses == []
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 8000}


def test_headers_travel_in_extra() -> None:
    request = Request(
        "m", (HI,), extra={"anthropic-beta": "files-api-2025-04-14", "container": "c1"}
    )
    wire = CODEC.encode_request(request, Conversion(strict=True))
    assert wire.headers == {
        "anthropic-version": "2023-06-01",
        "anthropic-beta": "files-api-2025-04-14",
    }
    assert wire.body["container"] == "c1" and "anthropic-beta" not in wire.body
    params = {"Anthropic-Version": "2026-10-21", "anthropic-beta": "x,y"}
    decoded = CODEC.decode_request(wire.body, Conversion(), params=params)
    assert decoded.extra == {
        "container": "c1",
        "anthropic-version": "2026-10-21",
        "anthropic-beta": "x,y",
    }
    default = CODEC.decode_request(
        wire.body, Conversion(), params={"anthropic-version": "2023-06-01"}
    )
    assert default.extra == {"container": "c1"}


def test_reasoning_forms() -> None:
    def thinking(reasoning: Reasoning) -> tuple[dict | None, dict | None]:
        body, _ = encode(Request("m", (HI,), max_tokens=9, reasoning=reasoning))
        return body.get("thinking"), body.get("output_config")

    assert thinking(Reasoning(enabled=True)) == ({"type": "adaptive"}, None)
    assert thinking(Reasoning(enabled=False, effort="low")) == (
        {"type": "disabled"},
        {"effort": "low"},
    )
    assert thinking(Reasoning(budget_tokens=2000, include_thoughts=False)) == (
        {"type": "enabled", "budget_tokens": 2000, "display": "omitted"},
        None,
    )
    # enabled=True beside a budget is implied by it: same wire, decoded without it
    body, _ = encode(
        Request("m", (HI,), max_tokens=9, reasoning=Reasoning(budget_tokens=2000, enabled=True))
    )
    assert CODEC.decode_request(body, Conversion()).reasoning == Reasoning(budget_tokens=2000)


def test_unknown_thinking_form_goes_to_extra() -> None:
    body = {
        "model": "m",
        "max_tokens": 5,
        "messages": [],
        "thinking": {"type": "interleaved", "x": 1},
    }
    request = CODEC.decode_request(body, Conversion(strict=True))
    assert request.reasoning is None and request.extra == {"thinking": body["thinking"]}
    assert CODEC.encode_request(request, Conversion(strict=True)).body == body


def test_structured_output() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    body, losses = encode(
        Request(
            "m",
            (HI,),
            response_format=ResponseFormat("json_schema", schema, name="out", strict=True),
        )
    )
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    assert losses == ["$.response_format.name", "$.response_format.strict"]
    _, losses = encode(Request("m", (HI,), response_format=ResponseFormat("json_object")))
    assert losses == ["$.response_format"]
    body, losses = encode(Request("m", (HI,), response_format=ResponseFormat("text")))
    assert "output_config" not in body and losses == ["$.response_format"]


def test_system_forms() -> None:
    body, _ = encode(Request("m", (Message.text(Role.SYSTEM, "be brief"), HI)))
    assert body["system"] == "be brief"
    cached = Message(Role.SYSTEM, (TextPart("long", cache=CacheHint("1h")),))
    body, losses = encode(Request("m", (cached, Message.text(Role.SYSTEM, "two"), HI)))
    assert losses == ["$.messages"]  # one system field: the second message merges in
    assert body["system"] == [
        {"type": "text", "text": "long", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
        {"type": "text", "text": "two"},
    ]
    body, losses = encode(Request("m", (HI, Message.text(Role.DEVELOPER, "mid"))))
    assert "system" not in body
    assert body["messages"][1] == {"role": "system", "content": [{"type": "text", "text": "mid"}]}
    assert losses == ["$.messages[1].role"]


def test_tool_messages_merge_into_user_turns() -> None:
    result = ToolResultPart("t1", (TextPart("42"),))
    body, _ = encode(
        Request(
            "m",
            (
                HI,
                Message(Role.TOOL, (result,)),
                Message.text(Role.ASSISTANT, "ok"),
                Message(Role.TOOL, (ToolResultPart("t2"),)),
            ),
        )
    )
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "hi"}]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "42"}],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "ok"}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t2"}]},
    ]


def test_text_documents_and_sources() -> None:
    text = "plain text ✓"
    doc = FilePart(
        MediaSource(data=base64.b64encode(text.encode()).decode(), media_type="text/plain"),
        title="T",
        citations=True,
    )
    body, losses = encode(Request("m", (Message(Role.USER, (doc,)),)))
    assert body["messages"][0]["content"][0] == {
        "type": "document",
        "source": {"type": "text", "media_type": "text/plain", "data": text},
        "title": "T",
        "citations": {"enabled": True},
    }
    assert losses == []
    decoded = CODEC.decode_request(body, Conversion(strict=True))
    assert decoded.messages[0].content[0] == doc


def test_cross_protocol_losses() -> None:
    foreign = Raw("openai.responses", {})
    request = Request(
        "m",
        (
            Message(
                Role.USER,
                (TextPart("hi"), AudioPart(MediaSource(data="AA"), format="wav")),
                name="bob",
            ),
            Message(
                Role.USER,
                (
                    ImagePart(
                        MediaSource(url="https://x/y.png", media_type="image/png"), detail="high"
                    ),
                    FilePart(MediaSource(file_id="f1"), filename="a.pdf"),
                    ToolResultPart("t", name="lookup"),
                ),
                cache=CacheHint(),
            ),
            Message(
                Role.ASSISTANT,
                (
                    ReasoningPart(summary=("s",), id="rs_1", encrypted="gAAA"),
                    ReasoningPart(text="t", signature="gemini-sig", raw=foreign),
                    ReasoningPart(redacted=True),
                    OpaquePart("openai.responses", "web_search_call", {"id": "ws"}),
                    RefusalPart("no"),
                ),
            ),
        ),
        tools=(
            Tool(
                "web_search_preview",
                kind="web_search_preview",
                config={"type": "web_search_preview"},
            ),
            Tool("f", parameters={"type": "object"}, config={"x": 1}),
        ),
        tool_choice=ToolChoice("none", parallel=False),
        n=2,
        seed=1,
        presence_penalty=0.1,
        frequency_penalty=0.1,
        logit_bias={"1": 1.0},
        logprobs=True,
        top_logprobs=2,
        reasoning=Reasoning(effort="minimal", summary="auto", include_thoughts=True),
        metadata={"k": "v"},
        cache=PromptCache(key="k"),
        extra={"store": True},
        raw=Raw("openai.chat", {}),
    )
    body, losses = encode(request)
    assert sorted(losses) == sorted(
        [
            "$.messages[0].name",
            "$.messages[0].content[1]",
            "$.messages[1].content[0].source.media_type",
            "$.messages[1].content[0].detail",
            "$.messages[1].content[1].filename",
            "$.messages[1].content[2].name",
            "$.messages[1].cache",
            "$.messages[1].content[2]",
            "$.messages[2].content[0].summary",
            "$.messages[2].content[0].id",
            "$.messages[2].content[0].encrypted",
            "$.messages[2].content[0]",
            "$.messages[2].content[1]",
            "$.messages[2].content[2]",
            "$.messages[2].content[3]",
            "$.messages[2].content[4]",
            "$.tools[0]",
            "$.tools[1].config",
            "$.tool_choice.parallel",
            "$.n",
            "$.seed",
            "$.presence_penalty",
            "$.frequency_penalty",
            "$.logit_bias",
            "$.logprobs",
            "$.top_logprobs",
            "$.reasoning.effort",
            "$.reasoning.summary",
            "$.reasoning.include_thoughts",
            "$.metadata",
            "$.cache",
            "$.extra.store",
        ]
    )
    assert body["messages"][2] == {"role": "assistant", "content": [{"type": "text", "text": "no"}]}
    assert body["messages"][1]["content"][-1]["cache_control"] == {"type": "ephemeral"}
    assert "store" not in body and len(body["tools"]) == 1
    with pytest.raises(ProtocolError, match="cannot convert losslessly"):
        CODEC.encode_request(request, Conversion(strict=True))


def test_n_of_one_is_still_reported() -> None:
    """n=1 means what Anthropic does anyway, but the field itself does not survive."""
    assert encode(Request("m", (HI,), n=1))[1] == ["$.n"]


def test_response_encoding() -> None:
    response = Response(
        "msg_1",
        "claude",
        (Choice((TextPart("hi"), ReasoningPart(text="why")), StopReason.CONTENT_FILTER),),
        usage=Usage(100, 7, cache_read_tokens=60, cache_write_tokens=30, reasoning_tokens=2),
        service_tier="priority",
        created=5,
    )
    conv = Conversion()
    body = CODEC.encode_response(response, conv)
    assert body == {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude",
        "content": [
            {"type": "text", "text": "hi"},
            {"type": "thinking", "thinking": "why", "signature": ""},
        ],
        "stop_reason": "refusal",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 10,
            "cache_creation_input_tokens": 30,
            "cache_read_input_tokens": 60,
            "output_tokens": 7,
            "output_tokens_details": {"thinking_tokens": 2},
            "service_tier": "priority",
        },
    }
    assert sorted(loss.path for loss in conv.losses) == ["$.choices[0].stop_reason", "$.created"]


def test_provider_stop_words_survive() -> None:
    body = {
        "id": "m",
        "type": "message",
        "role": "assistant",
        "model": "x",
        "content": [],
        "stop_reason": "model_context_window_exceeded",
        "stop_sequence": None,
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
    response = CODEC.decode_response(body, Conversion())
    assert response.stop_reason is StopReason.MAX_TOKENS
    assert CODEC.encode_response(response, Conversion(strict=True)) == body
    # the word is only reused while it still means the canonical reason
    import attrs

    changed = attrs.evolve(
        response, choices=(attrs.evolve(response.choices[0], stop_reason=StopReason.END_TURN),)
    )
    assert CODEC.encode_response(changed, Conversion())["stop_reason"] == "end_turn"


def test_impossible_usage_is_reported() -> None:
    conv = Conversion()
    body = CODEC.encode_response(
        Response("m", "x", (Choice(),), Usage(5, 1, cache_read_tokens=10)), conv
    )
    assert body["usage"]["input_tokens"] == 0
    assert [loss.path for loss in conv.losses] == ["$.usage.input_tokens"]
