"""Unit tests of the conventions the Gemini codecs fix, one behaviour at a time."""

from __future__ import annotations

import json
from typing import Any

import omniwire_gemini
import pytest
from omniwire.endpoint import Endpoint
from omniwire.errors import (
    BudgetExceeded,
    ConfigError,
    ProtocolError,
    RateLimited,
    Timeout,
    UpstreamError,
)
from omniwire.model import (
    Embedding,
    EmbeddingRequest,
    EmbeddingResponse,
    ImagePart,
    MediaSource,
    Message,
    OpaquePart,
    PartEnd,
    PartStart,
    Reasoning,
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
    TokenCountRequest,
    TokenCountResponse,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    Usage,
    fold,
)
from omniwire.plugins import PluginManager
from omniwire.report import Conversion
from omniwire.sse import SSEEvent, parse_sse
from omniwire_gemini.count_tokens import GeminiCountTokens
from omniwire_gemini.embed_content import GeminiEmbedContent
from omniwire_gemini.generate_content import GeminiGenerateContent, route_params
from omniwire_gemini.vertex import VertexProfile, vertex_path

gen = GeminiGenerateContent()
count = GeminiCountTokens()
embed = GeminiEmbedContent()
SIG = "c2lnbmF0dXJl"


def dec(body: dict[str, Any], **params: str) -> Request:
    return gen.decode_request(body, Conversion(), params={"model": "gemini-2.5-flash", **params})


def enc(request: Request, conv: Conversion | None = None) -> dict[str, Any]:
    return gen.encode_request(request, conv or Conversion()).body


def user(*parts: dict[str, Any]) -> dict[str, Any]:
    return {"role": "user", "parts": list(parts)}


def model(*parts: dict[str, Any]) -> dict[str, Any]:
    return {"role": "model", "parts": list(parts)}


# -- registration and identity -----------------------------------------------------------


def test_plugin_registers_codecs_and_vertex_profile():
    pm = PluginManager(entry_points=False)
    pm.register(omniwire_gemini, name="gemini")
    assert {"gemini.generate_content", "gemini.count_tokens", "gemini.embed_content"} <= set(
        pm.codecs
    )
    assert isinstance(pm.get("endpoint_profiles", "gemini.vertex"), VertexProfile)
    for c in (gen, count, embed):
        assert c.default_auth == "x-goog-api-key"
        assert c.provider == "gcp.gemini"


def test_init_is_import_light():
    import subprocess
    import sys

    code = "import sys, omniwire_gemini; print(any(m.startswith('omniwire_gemini.') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- paths, streaming flag, auth ------------------------------------------------------------


def test_paths_and_no_key_query():
    for stream in (False, True):
        for c, req in (
            (gen, Request.simple("gemini-2.5-flash", "hi", stream=stream)),
            (count, TokenCountRequest("gemini-2.5-flash", (Message.text(Role.USER, "hi"),))),
            (embed, EmbeddingRequest("text-embedding-004", ("a",))),
            (embed, EmbeddingRequest("text-embedding-004", ("a", "b"))),
        ):
            wire = c.encode_request(req, Conversion())
            assert "key" not in wire.query and "key=" not in wire.path
            assert not any(h.lower() in ("x-goog-api-key", "authorization") for h in wire.headers)
    wire = gen.encode_request(Request.simple("gemini-2.5-flash", "hi", stream=True), Conversion())
    assert wire.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    assert wire.query == {"alt": "sse"} and wire.stream
    wire = gen.encode_request(Request.simple("tunedModels/my-model", "hi"), Conversion())
    assert wire.path == "/v1beta/tunedModels/my-model:generateContent"
    assert route_params("/v1beta/models/gemini-2.5-flash:streamGenerateContent") == {
        "model": "gemini-2.5-flash",
        "method": "streamGenerateContent",
        "stream": "true",
    }


def test_stream_and_model_params():
    req = gen.decode_request(
        {"contents": []}, Conversion(), params={"model": "m", "stream": "true"}
    )
    assert req.model == "m" and req.stream
    req = gen.decode_request({"model": "models/x", "contents": []}, Conversion())
    assert req.model == "x" and not req.stream
    assert enc(req) == {"model": "models/x", "contents": []}
    with pytest.raises(ProtocolError) as exc:
        gen.decode_request({"contents": []}, Conversion())
    assert exc.value.path == "$.model"


def test_vertex_path_and_profile():
    assert (
        vertex_path("p1", "us-central1", "gemini-2.5-flash", "generateContent")
        == "/v1/projects/p1/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent"
    )
    ep = Endpoint(
        "v",
        gen.id,
        "https://us-central1-aiplatform.googleapis.com",
        profile="gemini.vertex",
        options={"project": "p1", "location": "us-central1"},
    )
    wire = gen.encode_request(Request.simple("gemini-2.5-flash", "hi", stream=True), Conversion())
    assert VertexProfile().url(ep, wire) == (
        "https://us-central1-aiplatform.googleapis.com/v1/projects/p1/locations/us-central1"
        "/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    )
    with pytest.raises(ConfigError):
        VertexProfile().url(Endpoint("v", gen.id, "https://x.example", options={}), wire)
    with pytest.raises(ConfigError):
        vertex_path("a/b", "l", "m", "generateContent")


# -- thought signatures ---------------------------------------------------------------------


def test_signature_on_text_is_a_reasoning_part_before_it():
    body = {"contents": [model({"text": "hello", "thoughtSignature": SIG})]}
    req = dec(body)
    assert req.messages[0].content == (ReasoningPart(signature=SIG), TextPart("hello"))
    assert enc(req) == body
    # built in code, without raw: the same convention applies
    built = Request(
        "m", (Message(Role.ASSISTANT, (ReasoningPart(signature=SIG), TextPart("hello"))),)
    )
    assert enc(built)["contents"] == body["contents"]


def test_signature_on_function_call_survives():
    body = {
        "contents": [
            model({"functionCall": {"name": "f", "args": {"a": 1}}, "thoughtSignature": SIG})
        ]
    }
    req = dec(body)
    sig, call = req.messages[0].content
    assert sig == ReasoningPart(signature=SIG)
    assert isinstance(call, ToolCallPart) and call.name == "f" and call.arguments == '{"a":1}'
    assert enc(req) == body


def test_signature_on_thought_part_is_its_signature():
    body = {
        "contents": [
            model({"text": "hmm", "thought": True, "thoughtSignature": SIG}, {"text": "ok"})
        ]
    }
    req = dec(body)
    assert req.messages[0].content == (ReasoningPart("hmm", signature=SIG), TextPart("ok"))
    assert enc(req) == body


def test_lone_signatures_stay_thought_parts():
    body = {
        "contents": [
            model(
                {"text": "", "thought": True, "thoughtSignature": SIG},
                {"text": "x", "thought": True},
            ),
            model({"thoughtSignature": SIG}),
        ]
    }
    assert enc(dec(body)) == body
    end = Request("m", (Message(Role.ASSISTANT, (TextPart("a"), ReasoningPart(signature=SIG))),))
    assert enc(end)["contents"][0]["parts"][1] == {
        "text": "",
        "thought": True,
        "thoughtSignature": SIG,
    }


def test_signature_cross_protocol_is_reported_by_the_other_side():
    # the signature lives in a canonical field, so a target without a slot must lose it
    req = dec({"contents": [model({"text": "hi", "thoughtSignature": SIG})]})
    assert any(isinstance(p, ReasoningPart) and p.signature == SIG for p in req.messages[0].content)


# -- function call ids ------------------------------------------------------------------------


def test_missing_call_ids_are_synthesised_and_paired():
    body = {
        "contents": [
            model(
                {"functionCall": {"name": "f", "args": {}}},
                {"functionCall": {"name": "g", "args": {}}},
            ),
            user(
                {"functionResponse": {"name": "g", "response": {"output": "G"}}},
                {"functionResponse": {"name": "f", "response": {"output": "F"}}},
            ),
        ]
    }
    req = dec(body)
    f, g = req.messages[0].content
    rg, rf = req.messages[1].content
    assert f.id != g.id and rf.tool_call_id == f.id and rg.tool_call_id == g.id
    assert dec(body).messages[0].content[0].id == f.id  # deterministic
    assert enc(req) == body  # no id added on the way back
    # the same conversation through a protocol without raw gets explicit ids
    bare = Request(
        "m",
        (
            Message(Role.ASSISTANT, (ToolCallPart(f.id, "f"),)),
            Message(Role.TOOL, (ToolResultPart(f.id, (TextPart("F"),)),)),
        ),
    )
    out = enc(bare)["contents"]
    assert out[0]["parts"][0]["functionCall"]["id"] == f.id
    assert out[1]["parts"][0]["functionResponse"] == {
        "id": f.id,
        "name": "f",
        "response": {"output": "F"},
    }


def test_response_call_ids_are_deterministic():
    body = {
        "candidates": [
            {
                "content": model({"functionCall": {"name": "f", "args": {}}}),
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "responseId": "R1",
    }
    a = gen.decode_response(body, Conversion())
    b = gen.decode_response(body, Conversion())
    assert a.tool_calls[0].id == b.tool_calls[0].id == "call_R1_0_1"
    assert a.stop_reason is StopReason.TOOL_CALLS and a.choices[0].stop_raw == "STOP"
    assert gen.encode_response(a, Conversion()) == body


def test_tool_result_name_comes_from_the_call():
    req = Request(
        "m",
        (
            Message(Role.ASSISTANT, (ToolCallPart("c1", "lookup", '{"q":"x"}'),)),
            Message(Role.TOOL, (ToolResultPart("c1", (TextPart('{"hits":3}'),)),)),
            Message(Role.TOOL, (ToolResultPart("c1", (TextPart("boom"),), is_error=True),)),
        ),
    )
    contents = enc(req)["contents"]
    assert len(contents) == 2  # consecutive tool results share one user turn
    assert contents[1]["parts"] == [
        {"functionResponse": {"id": "c1", "name": "lookup", "response": {"hits": 3}}},
        {"functionResponse": {"id": "c1", "name": "lookup", "response": {"error": "boom"}}},
    ]
    orphan = Request("m", (Message(Role.TOOL, (ToolResultPart("zz", (TextPart("x"),)),)),))
    with pytest.raises(ProtocolError) as exc:
        enc(orphan)
    assert exc.value.path == "$.messages[0].content[0].name"


def test_function_response_with_media_parts():
    body = {
        "contents": [
            user(
                {
                    "function_response": {
                        "id": "c1",
                        "name": "get",
                        "parts": [{"inline_data": {"data": "AAAA", "mime_type": "image/png"}}],
                        "response": {},
                    }
                }
            )
        ]
    }
    req = dec(body)
    (result,) = req.messages[0].content
    assert result.content == (ImagePart(MediaSource(data="AAAA", media_type="image/png")),)
    assert enc(req) == body


# -- snake_case input, explicit nulls, other exactness --------------------------------------


def test_snake_case_and_explicit_values_round_trip():
    body = {
        "contents": [user({"text": "hi", "thought": False})],
        "system_instruction": {"parts": [{"text": "be brief"}], "role": "user"},
        "generation_config": {
            "top_k": 40.0,
            "thinking_config": {"include_thoughts": True, "thinking_level": "low"},
        },
        "tools": [
            {
                "function_declarations": [
                    {"name": "f", "description": None, "parameters_json_schema": {}}
                ]
            }
        ],
        "safety_settings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
    }
    req = dec(body)
    assert req.top_k == 40 and req.reasoning == Reasoning(effort="low", include_thoughts=True)
    assert req.messages[0] == Message(Role.SYSTEM, (TextPart("be brief"),))
    assert req.extra == {"safety_settings": body["safety_settings"]}
    assert enc(req) == body


def test_generation_config_mapping():
    body = {
        "contents": [],
        "generationConfig": {
            "temperature": 0.5,
            "topP": 0.9,
            "candidateCount": 2,
            "maxOutputTokens": 100,
            "stopSequences": ["END"],
            "seed": 7,
            "presencePenalty": 0.1,
            "frequencyPenalty": 0.2,
            "responseLogprobs": True,
            "logprobs": 3,
            "responseMimeType": "application/json",
            "responseJsonSchema": {"type": "object"},
            "thinkingConfig": {"thinkingBudget": 0},
            "responseModalities": ["TEXT"],
        },
        "cachedContent": "cachedContents/abc",
        "labels": {"team": "a"},
        "serviceTier": "flex",
    }
    req = dec(body)
    assert (req.temperature, req.top_p, req.n, req.max_tokens, req.stop, req.seed) == (
        0.5,
        0.9,
        2,
        100,
        ("END",),
        7,
    )
    assert req.response_format.type == "json_schema" and req.response_format.schema == {
        "type": "object"
    }
    assert req.reasoning == Reasoning(enabled=False)
    assert req.cache.cached_content == "cachedContents/abc" and req.metadata == {"team": "a"}
    assert req.service_tier == "flex" and req.logprobs and req.top_logprobs == 3
    assert req.extra == {"generationConfig": {"responseModalities": ["TEXT"]}}
    assert enc(req) == body


def test_tool_config_mapping():
    def tc(fcc: dict[str, Any]) -> dict[str, Any]:
        return {"contents": [], "toolConfig": {"functionCallingConfig": fcc}}

    assert dec(tc({"mode": "AUTO"})).tool_choice == ToolChoice("auto")
    assert dec(tc({"mode": "NONE"})).tool_choice == ToolChoice("none")
    assert dec(tc({"mode": "ANY"})).tool_choice == ToolChoice("required")
    assert dec(tc({"mode": "ANY", "allowedFunctionNames": ["f"]})).tool_choice == ToolChoice(
        "tool", "f"
    )
    several = dec(tc({"mode": "ANY", "allowedFunctionNames": ["f", "g"]}))
    assert several.tool_choice == ToolChoice("required")
    assert enc(several) == tc({"mode": "ANY", "allowedFunctionNames": ["f", "g"]})
    validated = dec(tc({"mode": "VALIDATED"}))
    assert validated.tool_choice is None and enc(validated) == tc({"mode": "VALIDATED"})
    conv = Conversion()
    enc(Request("m", tool_choice=ToolChoice("auto", parallel=False)), conv)
    assert [r.path for r in conv.losses] == ["$.tool_choice.parallel"]


def test_tools_mapping():
    body = {
        "contents": [],
        "tools": [
            {
                "functionDeclarations": [
                    {"name": "f", "parameters": {"type": "OBJECT"}},
                    {"name": "g"},
                ]
            },
            {"googleSearch": {}},
            {"codeExecution": {}, "urlContext": {}},
        ],
    }
    req = dec(body)
    assert [t.name for t in req.tools] == ["f", "g", "googleSearch", "codeExecution", "urlContext"]
    assert req.tools[2] == Tool("googleSearch", kind="googleSearch", config={})
    assert enc(req) == body
    built = Request(
        "m",
        tools=(
            Tool("f", "d", {"type": "object"}),
            Tool("codeExecution", kind="codeExecution", config={}),
        ),
    )
    assert enc(built)["tools"] == [
        {
            "functionDeclarations": [
                {"name": "f", "description": "d", "parametersJsonSchema": {"type": "object"}}
            ]
        },
        {"codeExecution": {}},
    ]
    conv = Conversion()
    enc(Request("m", tools=(Tool("web_search", kind="web_search_20250305", config={}),)), conv)
    assert [r.path for r in conv.losses] == ["$.tools[0]"]


def test_reasoning_mapping():
    def think(cfg: dict[str, Any]) -> Reasoning:
        return dec({"contents": [], "generationConfig": {"thinkingConfig": cfg}}).reasoning

    assert think({"thinkingBudget": -1}) == Reasoning(enabled=True)
    assert think({"thinkingBudget": 1024, "includeThoughts": True}) == Reasoning(
        budget_tokens=1024, include_thoughts=True
    )
    assert think({"thinkingLevel": "HIGH"}) == Reasoning(effort="high")
    conv = Conversion()
    body = enc(Request("m", reasoning=Reasoning(effort="none", summary="auto")), conv)
    assert body["generationConfig"] == {"thinkingConfig": {}}
    assert sorted(r.path for r in conv.losses) == ["$.reasoning.effort", "$.reasoning.summary"]


def test_system_messages_placement():
    conv = Conversion()
    body = enc(
        Request(
            "m",
            (
                Message.text(Role.SYSTEM, "a"),
                Message.text(Role.DEVELOPER, "b"),
                Message.text(Role.USER, "q"),
                Message.text(Role.SYSTEM, "late"),
            ),
        ),
        conv,
    )
    assert body["systemInstruction"] == {"parts": [{"text": "a"}, {"text": "b"}]}
    assert body["contents"] == [user({"text": "q"}), user({"text": "late"})]
    assert [r.path for r in conv.losses] == [
        "$.messages[1].role",
        "$.messages",
        "$.messages[3].role",
    ]


def test_cross_protocol_losses_are_reported():
    conv = Conversion()
    req = Request(
        "m",
        (
            Message(Role.USER, (TextPart("x", citations=({"a": 1},)),), name="bob"),
            Message(Role.ASSISTANT, (ReasoningPart("t", summary=("s",), encrypted="e"),)),
            Message(Role.USER, (OpaquePart("anthropic.messages", "server_tool_use", {"x": 1}),)),
            Message(Role.USER, (ImagePart(MediaSource(file_id="file-1")),)),
        ),
        logit_bias={"1": 1.0},
        user="u",
        extra={"store": True},
        raw=None,
    )
    import attrs
    from omniwire.model import Raw

    req = attrs.evolve(req, raw=Raw("openai.chat", {}))
    enc(req, conv)
    paths = {r.path for r in conv.losses}
    assert {
        "$.messages[0].name",
        "$.messages[0].content[0].citations",
        "$.messages[1].content[0].summary",
        "$.messages[1].content[0].encrypted",
        "$.messages[2].content",
        "$.messages[3].content",
        "$.logit_bias",
        "$.user",
        "$.extra.store",
    } <= paths
    with pytest.raises(ProtocolError):
        enc(req, Conversion(strict=True))


# -- responses ------------------------------------------------------------------------------


def test_usage_mapping():
    um = {
        "promptTokenCount": 100,
        "candidatesTokenCount": 20,
        "thoughtsTokenCount": 30,
        "cachedContentTokenCount": 40,
        "toolUsePromptTokenCount": 5,
        "totalTokenCount": 155,
        "promptTokensDetails": [
            {"modality": "TEXT", "tokenCount": 60},
            {"modality": "AUDIO", "tokenCount": 40},
        ],
        "trafficType": "ON_DEMAND",
    }
    body = {"candidates": [], "usageMetadata": um}
    resp = gen.decode_response(body, Conversion())
    assert resp.usage == Usage(
        105,
        50,
        40,
        0,
        30,
        {"input_text_tokens": 60, "input_audio_tokens": 40, "tool_use_prompt_tokens": 5},
    )
    assert gen.encode_response(resp, Conversion()) == body
    assert gen.usage_of(body) == resp.usage
    assert gen.usage_of_event(SSEEvent(json.dumps(body))) == resp.usage
    assert gen.usage_of_event(SSEEvent('{"candidates":[]}')) is None


def test_finish_reasons():
    def stop(word: str, call: bool = False) -> StopReason | None:
        part = {"functionCall": {"name": "f", "args": {}}} if call else {"text": "x"}
        body = {"candidates": [{"content": model(part), "finishReason": word, "index": 0}]}
        resp = gen.decode_response(body, Conversion())
        assert gen.encode_response(resp, Conversion()) == body
        return resp.stop_reason

    assert stop("STOP") is StopReason.END_TURN
    assert stop("STOP", call=True) is StopReason.TOOL_CALLS
    assert stop("MAX_TOKENS") is StopReason.MAX_TOKENS
    assert stop("SAFETY") is StopReason.CONTENT_FILTER
    assert stop("RECITATION") is StopReason.CONTENT_FILTER
    assert stop("MALFORMED_FUNCTION_CALL") is StopReason.ERROR
    assert stop("SOMETHING_NEW") is StopReason.OTHER
    conv = Conversion()
    body = gen.encode_response(Response(choices=[_choice(StopReason.STOP_SEQUENCE)]), conv)
    assert body["candidates"][0]["finishReason"] == "STOP"
    assert [r.path for r in conv.losses] == ["$.choices[0].stop_reason"]


def _choice(reason: StopReason) -> Any:
    from omniwire.model import Choice

    return Choice((TextPart("x"),), reason)


def test_candidate_metadata_and_prompt_feedback():
    body = {
        "candidates": [
            {
                "content": model({"text": "x"}),
                "finishReason": "STOP",
                "safetyRatings": [
                    {"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"}
                ],
                "citationMetadata": {
                    "citations": [{"startIndex": 0, "endIndex": 1, "uri": "https://a"}]
                },
                "avgLogprobs": -0.5,
            }
        ],
        "createTime": "2026-02-17T04:29:17.523050Z",
        "promptFeedback": {"safetyRatings": []},
    }
    resp = gen.decode_response(body, Conversion())
    assert resp.created == 1771302557
    assert gen.encode_response(resp, Conversion()) == body
    blocked = {
        "promptFeedback": {"blockReason": "SAFETY"},
        "usageMetadata": {"promptTokenCount": 3, "totalTokenCount": 3},
    }
    resp = gen.decode_response(blocked, Conversion())
    assert resp.stop_reason is StopReason.CONTENT_FILTER and resp.choices[0].stop_raw == "SAFETY"
    assert gen.encode_response(resp, Conversion()) == blocked


def test_code_execution_parts_are_opaque():
    parts = [
        {"executableCode": {"language": "PYTHON", "code": "print(1)"}},
        {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "1\n"}},
    ]
    body = {"candidates": [{"content": model(*parts), "finishReason": "STOP", "index": 0}]}
    resp = gen.decode_response(body, Conversion())
    assert [type(p) for p in resp.content] == [OpaquePart, OpaquePart]
    assert resp.content[0].kind == "executableCode"
    assert gen.encode_response(resp, Conversion()) == body


# -- streams -------------------------------------------------------------------------------


def _chunks(*objs: dict[str, Any]) -> list[SSEEvent]:
    return [SSEEvent(json.dumps(o)) for o in objs]


def test_stream_decoder_extends_and_opens_parts():
    def cand(parts: list[dict[str, Any]], finish: str | None = None) -> dict[str, Any]:
        c: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
        if finish:
            c["finishReason"] = finish
        return {"candidates": [c], "responseId": "R"}

    d = gen.stream_decoder(Conversion())
    events = []
    for c in _chunks(
        cand([{"text": "Let me ", "thought": True}]),
        cand([{"text": "think", "thought": True}]),
        cand([{"text": "Hel"}]),
        cand([{"text": "lo"}]),
        cand([{"functionCall": {"name": "f", "args": {"x": 1}}, "thoughtSignature": SIG}], "STOP"),
    ):
        events += d.feed(c)
    events += d.close()
    resp = fold(events)
    assert resp.content == (
        ReasoningPart("Let me think"),
        TextPart("Hello"),
        ReasoningPart(signature=SIG),
        ToolCallPart("call_R_0_1", "f", '{"x":1}'),
    )
    assert resp.stop_reason is StopReason.TOOL_CALLS


def test_stream_decoder_rejects_a_cut_stream():
    d = gen.stream_decoder(Conversion())
    d.feed(SSEEvent(json.dumps({"candidates": [{"content": model({"text": "x"}), "index": 0}]})))
    with pytest.raises(ProtocolError, match="finishReason"):
        d.close()
    with pytest.raises(ProtocolError):
        gen.stream_decoder(Conversion()).close()
    with pytest.raises(ProtocolError) as exc:
        gen.stream_decoder(Conversion()).feed(SSEEvent("{not json"))
    assert exc.value.path == "$"


def test_stream_error_chunk_both_ways():
    d = gen.stream_decoder(Conversion())
    (err,) = d.feed(
        SSEEvent(
            json.dumps({"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}})
        )
    )
    assert err == StreamError("overloaded", "UNAVAILABLE", 503)
    assert d.close() == []
    e = gen.stream_encoder(Conversion())
    (sse,) = e.feed(StreamError("overloaded", "UNAVAILABLE", 503))
    assert json.loads(sse.data) == {
        "error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}
    }


def test_stream_encoder_buffers_tool_arguments():
    from omniwire.model import ArgumentsDelta

    e = gen.stream_encoder(Conversion())
    out = []
    for ev in (
        ResponseStart("R", "gemini-2.5-flash"),
        PartStart(0, TextPart(""), 0),
        TextDelta(0, "Hi"),
        PartEnd(0),
        PartStart(1, ReasoningPart(signature=SIG), 0),
        PartEnd(1),
        PartStart(2, ToolCallPart("c1", "f", ""), 0),
        ArgumentsDelta(2, '{"a":'),
        ArgumentsDelta(2, "1}"),
        PartEnd(2),
        ResponseEnd(StopReason.TOOL_CALLS, usage=Usage(10, 5)),
    ):
        out += e.feed(ev)
    out += e.close()
    chunks = [json.loads(s.data) for s in out]
    parts = [c["candidates"][0].get("content", {}).get("parts") for c in chunks]
    assert parts == [
        [{"text": "Hi"}],
        [{"functionCall": {"id": "c1", "name": "f", "args": {"a": 1}}, "thoughtSignature": SIG}],
        None,
    ]
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert chunks[-1]["usageMetadata"] == {
        "promptTokenCount": 10,
        "candidatesTokenCount": 5,
        "totalTokenCount": 15,
    }
    assert all(c["responseId"] == "R" for c in chunks)
    sse = b"".join(s.encode() for s in out)
    assert b"[DONE]" not in sse
    assert parse_sse(sse)[0].data == out[0].data


def test_stream_json_array_body_folds():
    chunks = [
        {"candidates": [{"content": model({"text": "a"}), "index": 0}]},
        {"candidates": [{"content": model({"text": "b"}), "finishReason": "STOP", "index": 0}]},
    ]
    assert gen.decode_response(chunks, Conversion()).text == "ab"


# -- malformed input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"contents": {}}, "$.contents"),
        ({"contents": [1]}, "$.contents[0]"),
        ({"contents": [{"role": "bot", "parts": []}]}, "$.contents[0].role"),
        ({"contents": [user({"text": 1})]}, "$.contents[0].parts[0].text"),
        ({"contents": [user({"text": "a", "inlineData": {}})]}, "$.contents[0].parts[0]"),
        (
            {"contents": [model({"functionCall": {"args": {}}})]},
            "$.contents[0].parts[0].functionCall.name",
        ),
        (
            {"contents": [model({"functionCall": {"name": "f", "args": "x"}})]},
            "$.contents[0].parts[0].functionCall.args",
        ),
        (
            {"contents": [user({"inlineData": {"data": "AA"}})]},
            "$.contents[0].parts[0].inlineData.mimeType",
        ),
        (
            {"contents": [user({"file_data": {"mime_type": "image/png"}})]},
            "$.contents[0].parts[0].file_data.fileUri",
        ),
        (
            {"contents": [], "generationConfig": {"temperature": "hot"}},
            "$.generationConfig.temperature",
        ),
        (
            {"contents": [], "generationConfig": {"maxOutputTokens": 1.5}},
            "$.generationConfig.maxOutputTokens",
        ),
        (
            {"contents": [], "generationConfig": {"stopSequences": ["a", 2]}},
            "$.generationConfig.stopSequences[1]",
        ),
        (
            {"contents": [], "tools": [{"functionDeclarations": [{"description": "x"}]}]},
            "$.tools[0].functionDeclarations[0].name",
        ),
        (
            {"contents": [], "toolConfig": {"functionCallingConfig": {"mode": 1}}},
            "$.toolConfig.functionCallingConfig.mode",
        ),
        ({"contents": [], "systemInstruction": "be nice"}, "$.systemInstruction"),
    ],
)
def test_malformed_requests_name_the_path(body, path):
    with pytest.raises(ProtocolError) as exc:
        dec(body)
    assert exc.value.path == path


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (
            {"candidates": [{"content": {"parts": [{"text": None, "thought": "yes"}]}}]},
            "$.candidates[0].content.parts[0].thought",
        ),
        ({"candidates": [{"index": "0"}]}, "$.candidates[0].index"),
        ({"usageMetadata": {"promptTokenCount": "3"}}, "$.usageMetadata.promptTokenCount"),
        (
            {"usageMetadata": {"promptTokensDetails": [{"modality": "TEXT", "tokenCount": -1}]}},
            "$.usageMetadata.promptTokensDetails[0].tokenCount",
        ),
        ({"createTime": "yesterday"}, "$.createTime"),
        ([1], "$[0]"),
    ],
)
def test_malformed_responses_name_the_path(body, path):
    with pytest.raises(ProtocolError) as exc:
        gen.decode_response(body, Conversion())
    assert exc.value.path == path


def test_bad_arguments_are_protocol_errors():
    for args in ("{", "[1]"):
        req = Request("m", (Message(Role.ASSISTANT, (ToolCallPart("c", "f", args),)),))
        with pytest.raises(ProtocolError) as exc:
            enc(req)
        assert exc.value.path == "$.messages[0].content[0].arguments"


# -- errors ----------------------------------------------------------------------------------


def test_decode_error_statuses():
    def err(status: int, word: str, **extra: Any) -> Any:
        body = {"error": {"code": status, "message": "m", "status": word, **extra}}
        return gen.decode_error(status, {}, json.dumps(body).encode())

    retry = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "12s"}]
    e = err(429, "RESOURCE_EXHAUSTED", details=retry)
    assert isinstance(e, RateLimited) and e.retry_after == 12.0 and e.retryable
    for status, word in ((500, "INTERNAL"), (503, "UNAVAILABLE")):
        e = err(status, word)
        assert isinstance(e, UpstreamError) and e.retryable and e.upstream_kind == word
    for status, word in ((400, "INVALID_ARGUMENT"), (403, "PERMISSION_DENIED"), (404, "NOT_FOUND")):
        e = err(status, word)
        assert isinstance(e, UpstreamError) and not e.retryable and e.status == status
    e = gen.decode_error(503, {"Retry-After": "7"}, b"<html>busy</html>")
    assert e.retryable and e.retry_after == 7.0 and "busy" in e.message
    e = gen.decode_error(
        500,
        {},
        json.dumps([{"error": {"code": 500, "message": "x", "status": "INTERNAL"}}]).encode(),
    )
    assert e.message == "x"


def test_encode_error_kernel_errors():
    status, body = gen.encode_error(RateLimited("slow down", retry_after=34.4))
    assert status == 429
    assert body["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert body["error"]["details"] == [
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "34.4s"}
    ]
    back = gen.decode_error(status, {}, json.dumps(body).encode())
    assert isinstance(back, RateLimited) and back.retry_after == 34.4
    assert (
        gen.encode_error(BudgetExceeded("over budget"))[1]["error"]["status"]
        == "RESOURCE_EXHAUSTED"
    )
    assert gen.encode_error(Timeout("late"))[1]["error"] == {
        "code": 504,
        "message": "late",
        "status": "DEADLINE_EXCEEDED",
    }
    status, body = gen.encode_error(ProtocolError("bad", path="$.contents"))
    assert status == 400 and body["error"]["status"] == "INVALID_ARGUMENT"
    assert body["error"]["details"][0]["fieldViolations"][0]["field"] == "$.contents"
    status, body = gen.encode_error(
        UpstreamError("nope", status=403, upstream_kind="PERMISSION_DENIED")
    )
    assert (status, body["error"]["status"]) == (403, "PERMISSION_DENIED")


# -- count tokens ----------------------------------------------------------------------------


def test_count_tokens_forms():
    plain = {"contents": [user({"text": "hi"})]}
    req = count.decode_request(plain, Conversion(), params={"model": "gemini-2.5-flash"})
    assert req.messages == (Message.text(Role.USER, "hi"),)
    wire = count.encode_request(req, Conversion())
    assert wire.path == "/v1beta/models/gemini-2.5-flash:countTokens" and wire.body == plain
    wrapped = {
        "generateContentRequest": {
            "model": "models/gemini-2.5-flash",
            "contents": [user({"text": "hi"})],
            "systemInstruction": {"parts": [{"text": "s"}]},
            "tools": [{"functionDeclarations": [{"name": "f"}]}],
        }
    }
    req = count.decode_request(wrapped, Conversion(), params={"model": "gemini-2.5-flash"})
    assert req.messages[0].role is Role.SYSTEM and req.tools[0].name == "f"
    assert count.encode_request(req, Conversion()).body == wrapped
    built = TokenCountRequest.of(
        Request(
            "gemini-2.5-flash",
            (Message.text(Role.SYSTEM, "s"), Message.text(Role.USER, "hi")),
            tools=(Tool("f"),),
        )
    )
    assert count.encode_request(built, Conversion()).body == wrapped
    resp_body = {
        "totalTokens": 31,
        "cachedContentTokenCount": 4,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 31}],
    }
    resp = count.decode_response(resp_body, Conversion())
    assert resp == TokenCountResponse(31)
    assert count.encode_response(resp, Conversion()) == resp_body
    assert count.encode_response(TokenCountResponse(5), Conversion()) == {"totalTokens": 5}


# -- embeddings -----------------------------------------------------------------------------


def test_embed_single_and_batch():
    one = {
        "content": {"parts": [{"text": "hello"}]},
        "taskType": "RETRIEVAL_DOCUMENT",
        "title": "doc",
        "outputDimensionality": 8,
    }
    req = embed.decode_request(one, Conversion(), params={"model": "gemini-embedding-001"})
    assert req == EmbeddingRequest(
        "gemini-embedding-001",
        ("hello",),
        dimensions=8,
        task="RETRIEVAL_DOCUMENT",
        extra={"title": "doc"},
    )
    wire = embed.encode_request(req, Conversion())
    assert wire.path == "/v1beta/models/gemini-embedding-001:embedContent" and wire.body == one
    batch = {
        "requests": [
            {
                "model": "models/gemini-embedding-001",
                "content": {"parts": [{"text": "a"}]},
                "taskType": "CLUSTERING",
            },
            {
                "model": "models/gemini-embedding-001",
                "content": {"parts": [{"text": "b"}]},
                "taskType": "CLUSTERING",
                "title": "t",
            },
        ]
    }
    req = embed.decode_request(batch, Conversion(), params={"model": "gemini-embedding-001"})
    assert req.inputs == ("a", "b") and req.task == "CLUSTERING"
    wire = embed.encode_request(req, Conversion())
    assert (
        wire.path == "/v1beta/models/gemini-embedding-001:batchEmbedContents" and wire.body == batch
    )
    assert embed.decode_response(
        {"embedding": {"values": [0.5, 1]}}, Conversion()
    ) == EmbeddingResponse(None, (Embedding((0.5, 1.0)),))
    for body in (
        {"embedding": {"values": [0.5, 1.0]}},
        {"embeddings": [{"values": [1.0]}, {"values": [2.0]}]},
    ):
        assert (
            embed.encode_response(embed.decode_response(body, Conversion()), Conversion()) == body
        )
    assert embed.encode_response(
        EmbeddingResponse("m", (Embedding((1.0,)), Embedding((2.0,), 1))), Conversion()
    ) == {"embeddings": [{"values": [1.0]}, {"values": [2.0]}]}
    with pytest.raises(ProtocolError) as exc:
        embed.encode_request(EmbeddingRequest("m", ((1, 2),)), Conversion())
    assert exc.value.path == "$.inputs[0]"
    with pytest.raises(ProtocolError) as exc:
        embed.decode_response({"embedding": {"values": [1, "x"]}}, Conversion())
    assert exc.value.path == "$.embedding.values[1]"


def test_foreign_stop_words_never_leak_into_finish_reason():
    """An OpenAI "stop" means END_TURN; Gemini must say STOP, not echo "stop"."""
    from omniwire import Choice, Response, StopReason, TextPart
    from omniwire.report import Conversion
    from omniwire_gemini.generate_content import GeminiGenerateContent

    response = Response(choices=(Choice((TextPart("hi"),), StopReason.END_TURN, "stop"),))
    body = GeminiGenerateContent().encode_response(response, Conversion())
    assert body["candidates"][0]["finishReason"] == "STOP"
