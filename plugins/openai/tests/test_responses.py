"""openai.responses: instructions, item grouping, bridging losses, the event grammar."""

from __future__ import annotations

import json
from typing import Any

from oai_helpers import run_decoder, run_encoder, sse_text
from omniwire.model import (
    Choice,
    Message,
    OpaquePart,
    PartEnd,
    PartStart,
    Raw,
    ReasoningPart,
    Request,
    Response,
    ResponseEnd,
    ResponseStart,
    Role,
    StopReason,
    StreamError,
    TextDelta,
    TextPart,
    Tool,
    ToolCallPart,
    Usage,
    fold,
)
from omniwire.report import Conversion
from omniwire_openai.chat import OpenAIChat
from omniwire_openai.responses import OpenAIResponses

RESPONSES, CHAT = OpenAIResponses(), OpenAIChat()


def _events(sse: str) -> list[tuple[str | None, dict[str, Any]]]:
    out = []
    for block in sse.strip().split("\n\n"):
        name = next((line[7:] for line in block.splitlines() if line.startswith("event: ")), None)
        data = "".join(line[6:] for line in block.splitlines() if line.startswith("data: "))
        out.append((name, json.loads(data)))
    return out


def test_instructions_are_the_leading_system_message() -> None:
    body = {"model": "m", "instructions": "be brief", "input": "hi"}
    req = RESPONSES.decode_request(body, Conversion())
    assert req.messages == (Message.text(Role.SYSTEM, "be brief"), Message.text(Role.USER, "hi"))
    assert RESPONSES.encode_request(req, Conversion()).body == body
    # from chat: the first system message becomes instructions, later ones stay items
    chat_req = CHAT.decode_request(
        {
            "model": "m",
            "messages": [
                {"role": "system", "content": "a"},
                {"role": "developer", "content": "b"},
                {"role": "user", "content": "c"},
                {"role": "system", "content": "d"},
            ],
        },
        Conversion(),
    )
    out = RESPONSES.encode_request(chat_req, Conversion()).body
    assert out["instructions"] == "a"
    assert [(i["role"], i["content"]) for i in out["input"]] == [
        ("developer", [{"type": "input_text", "text": "b"}]),
        ("user", [{"type": "input_text", "text": "c"}]),
        ("system", [{"type": "input_text", "text": "d"}]),
    ]
    assert RESPONSES.decode_request(out, Conversion()).messages == chat_req.messages


def test_assistant_items_group_into_turns() -> None:
    items = [
        {"role": "user", "content": "q"},
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "a", "annotations": []}],
        },
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "42"},
        {"role": "assistant", "content": "one"},
        {"role": "assistant", "content": "two"},  # two message items in a row: two turns
    ]
    req = RESPONSES.decode_request({"model": "m", "input": items}, Conversion())
    assert [m.role for m in req.messages] == [
        Role.USER,
        Role.ASSISTANT,
        Role.TOOL,
        Role.ASSISTANT,
        Role.ASSISTANT,
    ]
    assert [p.type for p in req.messages[1].content] == ["reasoning", "text", "tool_call"]
    conv = Conversion()
    assert RESPONSES.encode_request(req, conv).body["input"] == items
    assert conv.losses == []


def test_turn_boundary_loss() -> None:
    req = Request(
        "m",
        (
            Message(Role.ASSISTANT, (TextPart("a"),)),
            Message(Role.ASSISTANT, (ToolCallPart("c", "f"),)),
        ),
    )
    conv = Conversion()
    RESPONSES.encode_request(req, conv)
    assert conv.report().paths == ("$.messages[1]",)


def test_bridging_losses() -> None:
    anthropic_thinking = ReasoningPart("hmm", signature="sig", raw=Raw("anthropic.messages", {}))
    req = Request(
        "m",
        (
            Message(Role.USER, (TextPart("q"),), name="bob"),
            Message(Role.ASSISTANT, (anthropic_thinking, TextPart("a"))),
        ),
        tools=(
            Tool(
                "web_search",
                kind="web_search_20250305",
                config={"type": "web_search_20250305"},
                raw=Raw("anthropic.messages", {}),
            ),
        ),
        stop=("END",),
        seed=3,
        extra={"thinking": {"type": "enabled"}},
        raw=Raw("anthropic.messages", {}),
    )
    conv = Conversion()
    RESPONSES.encode_request(req, conv)
    assert set(conv.report().paths) == {
        "$.messages[0].name",
        "$.messages[1].content[0]",
        "$.tools[0]",
        "$.stop",
        "$.seed",
        "$.extra.thinking",
    }
    # and the other way: a Responses built-in tool cannot go to chat
    conv = Conversion()
    resp_req = RESPONSES.decode_request(
        {"model": "m", "tools": [{"type": "web_search"}], "input": "q"}, Conversion()
    )
    CHAT.encode_request(resp_req, conv)
    assert conv.report().paths == ("$.tools[0]",)


def test_status_and_stop_reasons() -> None:
    base = {"id": "r", "object": "response", "created_at": 1, "model": "m", "output": []}
    for status, details, stop in (
        ("completed", None, StopReason.END_TURN),
        ("incomplete", {"reason": "max_output_tokens"}, StopReason.MAX_TOKENS),
        ("incomplete", {"reason": "content_filter"}, StopReason.CONTENT_FILTER),
        ("failed", None, StopReason.ERROR),
        ("queued", None, None),
    ):
        body = {**base, "status": status, "incomplete_details": details}
        resp = RESPONSES.decode_response(body, Conversion())
        assert resp.stop_reason == stop
        assert RESPONSES.encode_response(resp, Conversion()) == body
    fresh = RESPONSES.encode_response(
        Response("r", "m", (Choice((), StopReason.MAX_TOKENS),), created=1), Conversion()
    )
    assert fresh["status"] == "incomplete" and fresh["incomplete_details"] == {
        "reason": "max_output_tokens"
    }


def test_stream_encoder_grammar() -> None:
    events = [
        ResponseStart("resp_1", "gpt-x", 1700000000),
        PartStart(0, ReasoningPart(id="rs_1")),
        PartEnd(0, ReasoningPart("", summary=("plan",), encrypted="enc", id="rs_1")),
        PartStart(1, TextPart("")),
        TextDelta(1, "Hel"),
        TextDelta(1, "lo"),
        PartEnd(1),
        PartStart(2, ToolCallPart("call_1", "f", "")),
        PartEnd(2, ToolCallPart("call_1", "f", '{"a":1}')),
        PartStart(
            3,
            OpaquePart(
                "openai.responses",
                "web_search_call",
                {"type": "web_search_call", "id": "ws_1", "status": "completed"},
            ),
        ),
        PartEnd(3),
        ResponseEnd(StopReason.TOOL_CALLS, usage=Usage(5, 6)),
    ]
    sse = sse_text(run_encoder(RESPONSES, events))
    evs = _events(sse)
    assert all(name == data["type"] for name, data in evs)
    assert [d["sequence_number"] for _, d in evs] == list(range(len(evs)))
    assert evs[0][1]["type"] == "response.created" and evs[1][1]["type"] == "response.in_progress"
    final = evs[-1][1]
    assert final["type"] == "response.completed" and final["response"]["status"] == "completed"
    assert [o["type"] for o in final["response"]["output"]] == [
        "reasoning",
        "message",
        "function_call",
        "web_search_call",
    ]
    assert final["response"]["usage"]["input_tokens_details"] == {
        "cached_tokens": 0,
        "cache_write_tokens": 0,
    }
    folded = fold(run_decoder(RESPONSES, sse))
    assert folded.content == (
        ReasoningPart("", summary=("plan",), encrypted="enc", id="rs_1"),
        TextPart("Hello"),
        ToolCallPart("call_1", "f", '{"a":1}'),
        OpaquePart(
            "openai.responses",
            "web_search_call",
            {"type": "web_search_call", "id": "ws_1", "status": "completed"},
        ),
    )
    assert folded.stop_reason == StopReason.TOOL_CALLS and folded.usage == Usage(5, 6)


def test_stream_encoder_echoes_the_request() -> None:
    req = RESPONSES.decode_request(
        {
            "model": "gpt-x",
            "instructions": "be brief",
            "input": "hi",
            "temperature": 0.5,
            "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
        },
        Conversion(),
    )
    created = _events(sse_text(run_encoder(RESPONSES, [], request=req)))[0][1]["response"]
    assert created["instructions"] == "be brief" and created["temperature"] == 0.5
    assert created["tools"][0]["name"] == "f" and created["model"] == "gpt-x"


def test_stream_error_becomes_error_then_failed() -> None:
    events = [ResponseStart("resp_1", "m", 1), StreamError("quota", "insufficient_quota", 429)]
    evs = _events(sse_text(run_encoder(RESPONSES, events)))
    assert [d["type"] for _, d in evs] == [
        "response.created",
        "response.in_progress",
        "error",
        "response.failed",
    ]
    assert evs[2][1]["code"] == "insufficient_quota"
    back = run_decoder(RESPONSES, sse_text(run_encoder(RESPONSES, events)))
    assert [e for e in back if isinstance(e, StreamError)] == [
        StreamError("quota", "insufficient_quota", 429)
    ]
    assert fold(back).stop_reason == StopReason.ERROR
