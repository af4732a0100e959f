"""Malformed payloads raise ProtocolError naming the exact offending field."""

from __future__ import annotations

from typing import Any

import pytest
from omniwire.errors import ProtocolError
from omniwire.report import Conversion
from omniwire.sse import SSEEvent
from omniwire.wire import MultipartBody
from omniwire_openai.chat import OpenAIChat
from omniwire_openai.embeddings import OpenAIEmbeddings
from omniwire_openai.images import OpenAIImages
from omniwire_openai.responses import OpenAIResponses
from omniwire_openai.speech import OpenAISpeech
from omniwire_openai.transcriptions import OpenAITranscriptions

CHAT, RESPONSES = OpenAIChat(), OpenAIResponses()
USER = {"role": "user", "content": "hi"}


def _req(**kw: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [USER], **kw}


def _choice(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "x",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
    }


CASES = [
    # -- chat requests
    (
        "chat-model-type",
        CHAT.decode_request,
        {"model": 1, "messages": []},
        "$.model",
        "expected string, got integer",
    ),
    (
        "chat-model-missing",
        CHAT.decode_request,
        {"messages": []},
        "$.model",
        "required field is missing",
    ),
    (
        "chat-messages-type",
        CHAT.decode_request,
        {"model": "m", "messages": {}},
        "$.messages",
        "expected array, got object",
    ),
    (
        "chat-message-not-object",
        CHAT.decode_request,
        _req(messages=["hi"]),
        "$.messages[0]",
        "expected object, got string",
    ),
    (
        "chat-role-missing",
        CHAT.decode_request,
        _req(messages=[USER, {"content": "x"}]),
        "$.messages[1].role",
        "missing",
    ),
    (
        "chat-role-unknown",
        CHAT.decode_request,
        _req(messages=[{"role": "robot", "content": ""}]),
        "$.messages[0].role",
        "unknown role",
    ),
    (
        "chat-user-content-missing",
        CHAT.decode_request,
        _req(messages=[{"role": "user"}]),
        "$.messages[0].content",
        "missing",
    ),
    (
        "chat-part-type-missing",
        CHAT.decode_request,
        _req(messages=[{"role": "user", "content": [{"text": "x"}]}]),
        "$.messages[0].content[0].type",
        "missing",
    ),
    (
        "chat-text-not-string",
        CHAT.decode_request,
        _req(messages=[{"role": "user", "content": [{"type": "text", "text": 5}]}]),
        "$.messages[0].content[0].text",
        "expected string, got integer",
    ),
    (
        "chat-image-url-missing",
        CHAT.decode_request,
        _req(messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]),
        "$.messages[0].content[0].image_url.url",
        "missing",
    ),
    (
        "chat-file-empty",
        CHAT.decode_request,
        _req(
            messages=[
                {"role": "user", "content": [{"type": "file", "file": {"filename": "a.pdf"}}]}
            ]
        ),
        "$.messages[0].content[0].file",
        "file_data or file_id",
    ),
    (
        "chat-breakpoint-type",
        CHAT.decode_request,
        _req(
            messages=[
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "x", "prompt_cache_breakpoint": "now"}],
                }
            ]
        ),
        "$.messages[0].content[0].prompt_cache_breakpoint",
        "expected object",
    ),
    (
        "chat-tool-call-id-missing",
        CHAT.decode_request,
        _req(messages=[{"role": "tool", "content": "x"}]),
        "$.messages[0].tool_call_id",
        "missing",
    ),
    (
        "chat-tool-args-type",
        CHAT.decode_request,
        _req(
            messages=[
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "c", "type": "function", "function": {"name": "f", "arguments": {}}}
                    ],
                }
            ]
        ),
        "$.messages[0].tool_calls[0].function.arguments",
        "expected string, got object",
    ),
    (
        "chat-tool-name-type",
        CHAT.decode_request,
        _req(tools=[{"type": "function", "function": {"name": 3}}]),
        "$.tools[0].function.name",
        "expected string, got integer",
    ),
    (
        "chat-tool-choice-unknown",
        CHAT.decode_request,
        _req(tool_choice="sometimes"),
        "$.tool_choice",
        "unknown tool_choice",
    ),
    (
        "chat-tool-choice-fn",
        CHAT.decode_request,
        _req(tool_choice={"type": "function", "function": {}}),
        "$.tool_choice.function.name",
        "missing",
    ),
    (
        "chat-temperature-type",
        CHAT.decode_request,
        _req(temperature="hot"),
        "$.temperature",
        "expected number, got string",
    ),
    (
        "chat-temperature-bool",
        CHAT.decode_request,
        _req(temperature=True),
        "$.temperature",
        "expected number, got boolean",
    ),
    (
        "chat-stop-item",
        CHAT.decode_request,
        _req(stop=["a", 1]),
        "$.stop[1]",
        "expected string, got integer",
    ),
    (
        "chat-logit-bias-value",
        CHAT.decode_request,
        _req(logit_bias={"50256": "x"}),
        "$.logit_bias.50256",
        "expected number",
    ),
    (
        "chat-metadata-value",
        CHAT.decode_request,
        _req(metadata={"a": 1}),
        "$.metadata.a",
        "expected string",
    ),
    (
        "chat-schema-name",
        CHAT.decode_request,
        _req(response_format={"type": "json_schema", "json_schema": {}}),
        "$.response_format.json_schema.name",
        "missing",
    ),
    (
        "chat-max-tokens-type",
        CHAT.decode_request,
        _req(max_completion_tokens=1.5),
        "$.max_completion_tokens",
        "expected integer",
    ),
    # -- chat responses
    ("chat-resp-choices-missing", CHAT.decode_response, {"id": "x"}, "$.choices", "missing"),
    (
        "chat-resp-message-missing",
        CHAT.decode_response,
        {"choices": [{"index": 0}]},
        "$.choices[0].message",
        "missing",
    ),
    (
        "chat-resp-index-type",
        CHAT.decode_response,
        {"choices": [{"index": "0", "message": {"role": "assistant"}}]},
        "$.choices[0].index",
        "expected integer",
    ),
    (
        "chat-resp-content-type",
        CHAT.decode_response,
        _choice({"role": "assistant", "content": 4}),
        "$.choices[0].message.content",
        "expected string or array, got integer",
    ),
    (
        "chat-resp-call-id",
        CHAT.decode_response,
        _choice(
            {
                "role": "assistant",
                "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": ""}}],
            }
        ),
        "$.choices[0].message.tool_calls[0].id",
        "missing",
    ),
    (
        "chat-resp-usage-count",
        CHAT.decode_response,
        {**_choice({"role": "assistant"}), "usage": {"prompt_tokens": "3"}},
        "$.usage.prompt_tokens",
        "expected integer, got string",
    ),
    (
        "chat-resp-usage-details",
        CHAT.decode_response,
        {
            **_choice({"role": "assistant"}),
            "usage": {"prompt_tokens_details": {"cached_tokens": 1.5}},
        },
        "$.usage.prompt_tokens_details.cached_tokens",
        "expected integer",
    ),
    (
        "chat-resp-created-fraction",
        CHAT.decode_response,
        {**_choice({"role": "assistant"}), "created": 1.5},
        "$.created",
        "expected integer",
    ),
    (
        "chat-resp-annotation",
        CHAT.decode_response,
        _choice({"role": "assistant", "content": "x", "annotations": ["cite"]}),
        "$.choices[0].message.annotations[0]",
        "expected object",
    ),
    # -- responses requests
    (
        "resp-input-type",
        RESPONSES.decode_request,
        {"model": "m", "input": 3},
        "$.input",
        "expected array, got integer",
    ),
    (
        "resp-item-type-missing",
        RESPONSES.decode_request,
        {"model": "m", "input": [{"content": "x"}]},
        "$.input[0].type",
        "missing",
    ),
    (
        "resp-item-role-unknown",
        RESPONSES.decode_request,
        {"model": "m", "input": [{"role": "robot", "content": "x"}]},
        "$.input[0].role",
        "unknown role",
    ),
    (
        "resp-part-text",
        RESPONSES.decode_request,
        {"model": "m", "input": [{"role": "user", "content": [{"type": "input_text"}]}]},
        "$.input[0].content[0].text",
        "missing",
    ),
    (
        "resp-image-source",
        RESPONSES.decode_request,
        {
            "model": "m",
            "input": [{"role": "user", "content": [{"type": "input_image", "detail": "auto"}]}],
        },
        "$.input[0].content[0]",
        "image_url or file_id",
    ),
    (
        "resp-call-output",
        RESPONSES.decode_request,
        {"model": "m", "input": [{"type": "function_call_output", "call_id": "c"}]},
        "$.input[0].output",
        "missing",
    ),
    (
        "resp-call-args",
        RESPONSES.decode_request,
        {
            "model": "m",
            "input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": None}],
        },
        "$.input[0].arguments",
        "expected string, got null",
    ),
    (
        "resp-summary-text",
        RESPONSES.decode_request,
        {
            "model": "m",
            "input": [{"type": "reasoning", "id": "rs", "summary": [{"type": "summary_text"}]}],
        },
        "$.input[0].summary[0].text",
        "missing",
    ),
    (
        "resp-tool-name",
        RESPONSES.decode_request,
        {"model": "m", "tools": [{"type": "function"}]},
        "$.tools[0].name",
        "missing",
    ),
    (
        "resp-format-name",
        RESPONSES.decode_request,
        {"model": "m", "text": {"format": {"type": "json_schema"}}},
        "$.text.format.name",
        "missing",
    ),
    (
        "resp-reasoning-effort",
        RESPONSES.decode_request,
        {"model": "m", "reasoning": {"effort": 1}},
        "$.reasoning.effort",
        "expected string",
    ),
    # -- responses objects
    ("resp-output-missing", RESPONSES.decode_response, {"id": "r"}, "$.output", "missing"),
    (
        "resp-output-item",
        RESPONSES.decode_response,
        {"output": ["x"]},
        "$.output[0]",
        "expected object",
    ),
    (
        "resp-output-call",
        RESPONSES.decode_response,
        {"output": [{"type": "function_call", "name": "f", "arguments": ""}]},
        "$.output[0].call_id",
        "missing",
    ),
    (
        "resp-output-text",
        RESPONSES.decode_response,
        {
            "output": [
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": None}],
                }
            ]
        },
        "$.output[0].content[0].text",
        "expected string, got null",
    ),
    (
        "resp-usage",
        RESPONSES.decode_response,
        {"output": [], "usage": {"input_tokens": -0.5}},
        "$.usage.input_tokens",
        "expected integer",
    ),
    # -- other families
    (
        "emb-input-item",
        OpenAIEmbeddings().decode_request,
        {"model": "m", "input": ["a", 3]},
        "$.input[1]",
        "expected string or array",
    ),
    (
        "emb-token",
        OpenAIEmbeddings().decode_request,
        {"model": "m", "input": [[1, "2"]]},
        "$.input[0][1]",
        "expected integer",
    ),
    ("emb-input-missing", OpenAIEmbeddings().decode_request, {"model": "m"}, "$.input", "missing"),
    (
        "emb-base64",
        OpenAIEmbeddings().decode_response,
        {"data": [{"embedding": "not base64!"}]},
        "$.data[0].embedding",
        "base64",
    ),
    (
        "emb-base64-length",
        OpenAIEmbeddings().decode_response,
        {"data": [{"embedding": "AAAAAAA="}]},
        "$.data[0].embedding",
        "multiple of 4",
    ),
    (
        "emb-vector-item",
        OpenAIEmbeddings().decode_response,
        {"data": [{"embedding": [0.5, "x"]}]},
        "$.data[0].embedding[1]",
        "expected number",
    ),
    ("img-prompt", OpenAIImages().decode_request, {"model": "m"}, "$.prompt", "missing"),
    ("img-n", OpenAIImages().decode_request, {"prompt": "p", "n": "2"}, "$.n", "expected integer"),
    (
        "img-data-item",
        OpenAIImages().decode_response,
        {"created": 1, "data": [3]},
        "$.data[0]",
        "expected object",
    ),
    (
        "stt-file",
        OpenAITranscriptions().decode_request,
        MultipartBody({"model": "whisper-1"}),
        "$.file",
        "missing",
    ),
    (
        "stt-model",
        OpenAITranscriptions().decode_request,
        MultipartBody({}, {"file": ("a.wav", b"x", None)}),
        "$.model",
        "missing",
    ),
    (
        "stt-temperature",
        OpenAITranscriptions().decode_request,
        MultipartBody({"model": "m", "temperature": "warm"}, {"file": ("a.wav", b"x", None)}),
        "$.temperature",
        "number",
    ),
    ("stt-text", OpenAITranscriptions().decode_response, {"language": "en"}, "$.text", "missing"),
    (
        "stt-segment",
        OpenAITranscriptions().decode_response,
        {"text": "", "segments": [1]},
        "$.segments[0]",
        "expected object",
    ),
    (
        "tts-voice",
        OpenAISpeech().decode_request,
        {"model": "m", "input": "hi", "voice": 3},
        "$.voice",
        "expected string or object",
    ),
    (
        "tts-voice-id",
        OpenAISpeech().decode_request,
        {"model": "m", "input": "hi", "voice": {}},
        "$.voice.id",
        "missing",
    ),
    ("tts-body", OpenAISpeech().decode_response, {"audio": "x"}, "$", "expected audio bytes"),
]


@pytest.mark.parametrize(
    ("fn", "payload", "path", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_malformed(fn: Any, payload: Any, path: str, words: str) -> None:
    with pytest.raises(ProtocolError) as info:
        fn(payload, Conversion())
    assert info.value.path == path
    assert words in info.value.message


STREAM_CASES = [
    ("chat-not-json", CHAT, [SSEEvent("{nope")], "$", "not JSON"),
    ("chat-chunk-array", CHAT, [SSEEvent("[1]")], "$", "expected object, got array"),
    (
        "chat-delta-content",
        CHAT,
        [SSEEvent('{"id":"x","choices":[{"index":0,"delta":{"content":5}}]}')],
        "$.choices[0].delta.content",
        "expected string, got integer",
    ),
    (
        "chat-choice-index",
        CHAT,
        [SSEEvent('{"id":"x","choices":[{"delta":{}}]}')],
        "$.choices[0].index",
        "missing",
    ),
    (
        "chat-tool-index",
        CHAT,
        [SSEEvent('{"id":"x","choices":[{"index":0,"delta":{"tool_calls":[{"id":"c"}]}}]}')],
        "$.choices[0].delta.tool_calls[0].index",
        "missing",
    ),
    (
        "resp-delta-missing",
        RESPONSES,
        [
            SSEEvent('{"type":"response.created","response":{"id":"r","output":[]}}'),
            SSEEvent(
                '{"type":"response.output_item.added","output_index":0,"item":{"type":"message","id":"m","content":[]}}'
            ),
            SSEEvent(
                '{"type":"response.content_part.added","output_index":0,"content_index":0,"part":{"type":"output_text","text":""}}'
            ),
            SSEEvent('{"type":"response.output_text.delta","output_index":0,"content_index":0}'),
        ],
        "$.delta",
        "missing",
    ),
    (
        "resp-item-missing",
        RESPONSES,
        [SSEEvent('{"type":"response.output_item.added","output_index":0}')],
        "$.item",
        "missing",
    ),
    (
        "resp-orphan-delta",
        RESPONSES,
        [
            SSEEvent(
                '{"type":"response.function_call_arguments.delta","output_index":4,"delta":"{"}'
            )
        ],
        "$.output_index",
        "never added",
    ),
    ("resp-type", RESPONSES, [SSEEvent('{"type":7}')], "$.type", "missing"),
]


@pytest.mark.parametrize(
    ("codec", "events", "path", "words"),
    [c[1:] for c in STREAM_CASES],
    ids=[c[0] for c in STREAM_CASES],
)
def test_malformed_stream(codec: Any, events: list[SSEEvent], path: str, words: str) -> None:
    decoder = codec.stream_decoder(Conversion())
    with pytest.raises(ProtocolError) as info:
        for ev in events:
            decoder.feed(ev)
    assert info.value.path == path
    assert words in info.value.message


@pytest.mark.parametrize("codec", [CHAT, RESPONSES], ids=["chat", "responses"])
def test_cut_stream_is_an_error(codec: Any) -> None:
    """A stream that stops before its terminal event (no [DONE] and unfinished choices;
    no response.completed) is a ProtocolError at close."""
    decoder = codec.stream_decoder(Conversion())
    first = (
        '{"id":"x","object":"chat.completion.chunk","created":1,"model":"m",'
        '"choices":[{"index":0,"delta":{"content":"hal"}}]}'
        if codec is CHAT
        else '{"type":"response.created","response":{"id":"r","output":[]}}'
    )
    decoder.feed(SSEEvent(first))
    with pytest.raises(ProtocolError, match="stream ended before"):
        decoder.close()
