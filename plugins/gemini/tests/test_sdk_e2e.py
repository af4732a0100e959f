"""The official google-genai client (both pinned generations) against a local HTTP server
that answers with what our codecs encode. Both directions are checked: what the SDK sends
decodes (and re-encodes byte-for-byte), and what we send is what the SDK reads back.

One subprocess per SDK generation runs the server and the client; JSON in, JSON out.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from gemini_support import oracle_python
from omniwire.errors import RateLimited
from omniwire.model import (
    Choice,
    Embedding,
    EmbeddingResponse,
    PartEnd,
    PartStart,
    ReasoningDelta,
    ReasoningPart,
    Response,
    ResponseEnd,
    ResponseStart,
    Role,
    SignatureDelta,
    StopReason,
    TextDelta,
    TextPart,
    TokenCountResponse,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    Usage,
)
from omniwire.report import Conversion
from omniwire_gemini.count_tokens import GeminiCountTokens
from omniwire_gemini.embed_content import GeminiEmbedContent
from omniwire_gemini.generate_content import GeminiGenerateContent, route_params

gen, count, embed = GeminiGenerateContent(), GeminiCountTokens(), GeminiEmbedContent()
SIG = "c2lnbmF0dXJl"  # base64 of b"signature"

_SCRIPT = r"""
import asyncio, json, socket, sys, threading, time
import uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
from google import genai
from google.genai import errors, types

job = json.load(sys.stdin)
seen = []

async def handler(request):
    raw = await request.body()
    path = request.url.path
    seen.append({
        "path": path,
        "query": dict(request.query_params),
        "api_key": request.headers.get("x-goog-api-key"),
        "authorization": request.headers.get("authorization"),
        "body": json.loads(raw) if raw else None,
    })
    model, method = path.split("/models/", 1)[1].split(":")
    reply = job["replies"][model]
    if "sse" in reply:
        return Response(reply["sse"], media_type="text/event-stream")
    return Response(json.dumps(reply["body"]), status_code=reply.get("status", 200),
                    media_type="application/json")

app = Starlette(routes=[Route("/{rest:path}", handler, methods=["POST"])])
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
port = sock.getsockname()[1]
server = uvicorn.Server(uvicorn.Config(app, log_level="error"))
threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
while not server.started:
    time.sleep(0.01)

client = genai.Client(api_key="test-key", http_options=types.HttpOptions(
    base_url=f"http://127.0.0.1:{port}", api_version="v1beta",
    retry_options=types.HttpRetryOptions(attempts=1)))
out = {}
contents = [
    types.Content(role="user", parts=[types.Part(text="Weather in Paris?")]),
    types.Content(role="model", parts=[types.Part(
        function_call=types.FunctionCall(name="get_weather", args={"city": "Paris"}),
        thought_signature=b"signature")]),
    types.Content(role="user", parts=[types.Part(function_response=types.FunctionResponse(
        name="get_weather", response={"output": "sunny"}))]),
]
config = types.GenerateContentConfig(
    system_instruction="Be brief.",
    temperature=0.5, top_p=0.9, top_k=40, max_output_tokens=256, stop_sequences=["END"], seed=7,
    tools=[types.Tool(function_declarations=[types.FunctionDeclaration(
        name="get_weather", description="Weather by city",
        parameters_json_schema={"type": "object", "properties": {"city": {"type": "string"}}})])],
    tool_config=types.ToolConfig(function_calling_config=types.FunctionCallingConfig(
        mode="ANY", allowed_function_names=["get_weather"])),
    thinking_config=types.ThinkingConfig(include_thoughts=True, thinking_budget=1024),
    safety_settings=[types.SafetySetting(category="HARM_CATEGORY_HARASSMENT", threshold="BLOCK_NONE")],
    cached_content="cachedContents/abc",
)
r = client.models.generate_content(model="plain", contents=contents, config=config)
out["plain"] = {
    "text": r.text,
    "thought_parts": [p.text for p in r.candidates[0].content.parts if p.thought],
    "signatures": [p.thought_signature.decode() for p in r.candidates[0].content.parts if p.thought_signature],
    "calls": [[c.id, c.name, c.args] for c in (r.function_calls or [])],
    "finish": str(r.candidates[0].finish_reason.value),
    "usage": r.usage_metadata.model_dump(mode="json", exclude_none=True),
    "response_id": r.response_id, "model_version": r.model_version,
}
texts, thoughts, finishes, calls, usage = [], [], [], [], None
for chunk in client.models.generate_content_stream(model="stream", contents="Hi"):
    for p in chunk.candidates[0].content.parts if chunk.candidates and chunk.candidates[0].content else []:
        (thoughts if p.thought else texts).append(p.text or "")
        if p.function_call:
            calls.append([p.function_call.name, p.function_call.args])
    if chunk.candidates and chunk.candidates[0].finish_reason:
        finishes.append(str(chunk.candidates[0].finish_reason.value))
    usage = chunk.usage_metadata.model_dump(mode="json", exclude_none=True) if chunk.usage_metadata else usage
out["stream"] = {"text": "".join(texts), "thoughts": "".join(thoughts), "finish": finishes,
                 "calls": calls, "usage": usage}
out["count"] = client.models.count_tokens(model="count", contents="Hi").total_tokens
e = client.models.embed_content(model="embed", contents=["a", "b"],
                                config=types.EmbedContentConfig(task_type="RETRIEVAL_DOCUMENT", output_dimensionality=3))
out["embed"] = [x.values for x in e.embeddings]
try:
    client.models.generate_content(model="error", contents="Hi")
    out["error"] = None
except errors.APIError as exc:
    out["error"] = {"code": exc.code, "status": exc.status, "message": exc.message}
out["seen"] = seen
server.should_exit = True
json.dump(out, sys.stdout)
"""


def _replies() -> dict[str, dict]:
    plain = Response(
        id="resp-1",
        model="gemini-2.5-flash",
        choices=[
            Choice(
                (
                    ReasoningPart("Thinking about weather", signature=SIG),
                    TextPart("It is sunny."),
                    ReasoningPart(signature=SIG),
                    ToolCallPart("call-1", "get_weather", '{"city":"Lyon"}'),
                ),
                StopReason.TOOL_CALLS,
            )
        ],
        usage=Usage(20, 15, 4, 0, 5, {"input_text_tokens": 20}),
    )
    events = [
        ResponseStart("resp-2", "gemini-2.5-flash"),
        PartStart(0, ReasoningPart(""), 0),
        ReasoningDelta(0, "Hmm, "),
        ReasoningDelta(0, "a greeting."),
        SignatureDelta(0, SIG),
        PartEnd(0),
        PartStart(1, TextPart(""), 0),
        TextDelta(1, "Hello"),
        TextDelta(1, " there"),
        PartEnd(1),
        PartStart(2, ToolCallPart("c2", "wave", ""), 0),
        PartEnd(2, ToolCallPart("c2", "wave", '{"times":2}')),
        ResponseEnd(StopReason.TOOL_CALLS, usage=Usage(3, 9, 0, 0, 4)),
    ]
    enc = gen.stream_encoder(Conversion(strict=True))
    sse = [s for e in events for s in enc.feed(e)] + enc.close()
    status, error = gen.encode_error(RateLimited("quota exhausted", retry_after=12))
    return {
        "plain": {"body": gen.encode_response(plain, Conversion(strict=True))},
        "stream": {"sse": b"".join(s.encode() for s in sse).decode()},
        "count": {"body": count.encode_response(TokenCountResponse(17), Conversion())},
        "embed": {
            "body": embed.encode_response(
                EmbeddingResponse(
                    None, (Embedding((0.5, 1.0, -1.0)), Embedding((0.25, 0.0, 2.0), 1))
                ),
                Conversion(strict=True),
            )
        },
        "error": {"status": status, "body": error},
    }


@pytest.mark.parametrize("generation", ["new", "old"])
def test_google_genai_client_round_trip(generation):
    python = oracle_python(generation)
    proc = subprocess.run(
        [str(python), "-c", _SCRIPT],
        input=json.dumps({"replies": _replies()}).encode(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-3000:]
    out = json.loads(proc.stdout)

    # what we answered is what the SDK read
    plain = out["plain"]
    assert plain["text"] == "It is sunny."
    assert plain["thought_parts"] == ["Thinking about weather"]
    assert plain["signatures"] == ["signature", "signature"]
    assert plain["calls"] == [["call-1", "get_weather", {"city": "Lyon"}]]
    assert plain["finish"] == "STOP"
    assert plain["usage"]["prompt_token_count"] == 20
    assert plain["usage"]["candidates_token_count"] == 10
    assert plain["usage"]["thoughts_token_count"] == 5
    assert plain["usage"]["cached_content_token_count"] == 4
    assert plain["usage"]["total_token_count"] == 35
    assert (plain["response_id"], plain["model_version"]) == ("resp-1", "gemini-2.5-flash")
    stream = out["stream"]
    assert stream["text"] == "Hello there"
    assert stream["thoughts"] == "Hmm, a greeting."
    assert stream["calls"] == [["wave", {"times": 2}]]
    assert stream["finish"] == ["STOP"]
    assert stream["usage"]["total_token_count"] == 12
    assert out["count"] == 17
    assert out["embed"] == [[0.5, 1.0, -1.0], [0.25, 0.0, 2.0]]
    assert out["error"] == {
        "code": 429,
        "status": "RESOURCE_EXHAUSTED",
        "message": "quota exhausted",
    }

    # what the SDK sent decodes, and re-encodes to the same bytes
    seen = {s["path"].split("/models/")[1].split(":")[0]: s for s in out["seen"]}
    for s in out["seen"]:
        assert s["api_key"] == "test-key" and "key" not in s["query"]
    assert seen["stream"]["path"] == "/v1beta/models/stream:streamGenerateContent"
    assert seen["stream"]["query"] == {"alt": "sse"}

    body = seen["plain"]["body"]
    request = gen.decode_request(body, Conversion(), params=route_params(seen["plain"]["path"]))
    assert gen.encode_request(request, Conversion()).body == body
    assert request.model == "plain" and not request.stream
    system, question, call_turn, result_turn = request.messages
    assert system.role is Role.SYSTEM and system.plain_text == "Be brief."
    assert question.plain_text == "Weather in Paris?"
    sig, call = call_turn.content
    assert sig == ReasoningPart(signature=SIG) and call.name == "get_weather"
    assert call.input == {"city": "Paris"}
    (result,) = result_turn.content
    assert isinstance(result, ToolResultPart) and result.tool_call_id == call.id
    assert result.text == "sunny" and result.name == "get_weather"
    assert request.tools[0].parameters == {
        "type": "object",
        "properties": {"city": {"type": "string"}},
    }
    assert request.tool_choice == ToolChoice("tool", "get_weather")
    assert (request.temperature, request.top_p, request.top_k, request.max_tokens) == (
        0.5,
        0.9,
        40,
        256,
    )
    assert request.stop == ("END",) and request.seed == 7
    assert request.reasoning.budget_tokens == 1024 and request.reasoning.include_thoughts
    assert request.cache.cached_content == "cachedContents/abc"
    assert "safetySettings" in request.extra

    stream_req = gen.decode_request(
        seen["stream"]["body"], Conversion(), params=route_params(seen["stream"]["path"])
    )
    assert stream_req.stream and stream_req.messages[0].plain_text == "Hi"
    count_req = count.decode_request(seen["count"]["body"], Conversion(), params={"model": "count"})
    assert count_req.messages[0].plain_text == "Hi"
    assert count.encode_request(count_req, Conversion()).body == seen["count"]["body"]
    embed_req = embed.decode_request(seen["embed"]["body"], Conversion(), params={"model": "embed"})
    assert embed_req.inputs == ("a", "b") and embed_req.task == "RETRIEVAL_DOCUMENT"
    assert embed_req.dimensions == 3
    assert embed.encode_request(embed_req, Conversion()).body == seen["embed"]["body"]
