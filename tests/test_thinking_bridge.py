"""Thinking and tool history survive a conversation held through another protocol.

A Responses client talks to the gateway; the upstream is Anthropic. Each Anthropic turn
(thinking with a signature, redacted thinking, text, tool use) goes anthropic ->
canonical -> openai.responses to the client, which sends the items back as input of the
next turn; openai.responses -> canonical -> anthropic must then rebuild the Anthropic
history exactly, every signature and tool id intact: the failure every other gateway has.
Both the JSON and the streamed (SSE) form of each answer are checked."""

from __future__ import annotations

import json

import pytest
from omniwire import ReasoningPart
from omniwire.plugins import get_plugin_manager
from omniwire.report import Conversion
from omniwire.sse import SSEParser

TOOLS = [
    {
        "name": "get_weather",
        "description": "Weather for a city",
        "input_schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    }
]
RESPONSES_TOOLS = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": TOOLS[0]["input_schema"],
    }
]

TURNS = [  # what the Anthropic upstream answers, turn by turn
    [
        {
            "type": "thinking",
            "thinking": "I should look up Paris first.",
            "signature": "EqQBCkYIBxgCKkBsig-paris-0123456789abcdef",
        },
        {"type": "text", "text": "Checking Paris."},
        {"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": {"city": "Paris"}},
    ],
    [
        {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlx"},
        {
            "type": "thinking",
            "thinking": "Now Oslo.",
            "signature": "EqQBCkYIBxgCKkBsig-oslo-fedcba9876543210",
        },
        {"type": "tool_use", "id": "toolu_01B", "name": "get_weather", "input": {"city": "Oslo"}},
    ],
]
RESULTS = ["18C, sunny", "4C, rain"]


def codecs():
    pm = get_plugin_manager()
    if "openai.responses" not in pm.codecs or "anthropic.messages" not in pm.codecs:
        pytest.skip("needs omniwire-openai and omniwire-anthropic")
    return pm.codec("anthropic.messages"), pm.codec("openai.responses")


def anthropic_message(content):
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": content,
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 5},
    }


def responses_output(content, streamed: bool) -> list:
    """What the Responses client receives for one Anthropic turn."""
    anthropic, responses = codecs()
    conv = Conversion("anthropic.messages", "openai.responses")
    canonical = anthropic.decode_response(anthropic_message(content), conv)
    if not streamed:
        body = json.loads(json.dumps(responses.encode_response(canonical, conv)))
        return body["output"]
    from omniwire_testing.events import events_for

    encoder = responses.stream_encoder(conv)
    wire = b"".join(e.encode() for ev in events_for(canonical) for e in encoder.feed(ev))
    wire += b"".join(e.encode() for e in encoder.close())
    done = [json.loads(e.data) for e in SSEParser().feed(wire)]
    completed = [d for d in done if d.get("type") == "response.completed"]
    assert completed, "the stream must end with response.completed"
    return completed[0]["response"]["output"]


@pytest.mark.parametrize("streamed", [False, True], ids=["json", "sse"])
def test_anthropic_history_survives_a_responses_client(streamed):
    anthropic, responses = codecs()
    inputs: list = [{"role": "user", "content": "Weather in Paris and Oslo?"}]
    expected = [
        {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Oslo?"}]}
    ]
    for content, result in zip(TURNS, RESULTS):
        output = responses_output(content, streamed)
        assert all("signature" not in json.dumps(i) or i["type"] == "reasoning" for i in output)
        inputs += output + [
            {"type": "function_call_output", "call_id": content[-1]["id"], "output": result}
        ]
        expected += [
            {"role": "assistant", "content": content},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": content[-1]["id"], "content": result}
                ],
            },
        ]
    request = {
        "model": "claude-sonnet-4-5",
        "input": inputs,
        "tools": RESPONSES_TOOLS,
        "max_output_tokens": 4096,
    }
    conv = Conversion("openai.responses", "anthropic.messages")
    canonical = responses.decode_request(json.loads(json.dumps(request)), conv)
    sigs = [
        p.signature
        for m in canonical.messages
        for p in m.content
        if isinstance(p, ReasoningPart) and p.signature
    ]
    assert sigs == [
        "EqQBCkYIBxgCKkBsig-paris-0123456789abcdef",
        "EqQBCkYIBxgCKkBsig-oslo-fedcba9876543210",
    ]
    body = json.loads(json.dumps(anthropic.encode_request(canonical, conv).body))
    assert body["messages"] == expected, json.dumps(body["messages"], indent=1)
    assert body["tools"] == TOOLS
    assert not [r for r in conv.losses if "signature" in r.reason or "thinking" in r.reason]


def test_an_openai_upstream_never_receives_foreign_reasoning():
    """Sealed Anthropic reasoning sent on to OpenAI itself is dropped, with a reason."""
    anthropic, responses = codecs()
    output = responses_output(TURNS[0], streamed=False)
    request = {
        "model": "gpt-5",
        "input": [
            {"role": "user", "content": "hi"},
            *output,
            {"type": "function_call_output", "call_id": "toolu_01A", "output": "x"},
        ],
    }
    conv = Conversion("openai.responses", "openai.responses")
    canonical = responses.decode_request(request, conv)
    wire = responses.encode_request(canonical, conv).body
    assert not [i for i in wire["input"] if i.get("type") == "reasoning"]
    assert any("reasoning" in r.reason for r in conv.losses)


def test_sealed_items_fold_like_plain_ones():
    anthropic, responses = codecs()
    conv = Conversion()
    canonical = anthropic.decode_response(anthropic_message(TURNS[0]), conv)
    body = responses.encode_response(canonical, conv)
    back = responses.decode_response(json.loads(json.dumps(body)), conv)
    assert back.reasoning[0].signature == TURNS[0][0]["signature"]
    assert back.tool_calls[0].id == "toolu_01A"
