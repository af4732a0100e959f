"""What the strategies generate is valid, and restricted to the features asked for."""

from __future__ import annotations

import json

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st
from omniwire.model import (
    AudioPart,
    FilePart,
    ImagePart,
    Message,
    OpaquePart,
    ReasoningPart,
    RefusalPart,
    Request,
    Response,
    Role,
    StopReason,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    fold,
)
from omniwire.normalize import normalize
from omniwire_testing import strategies as S
from omniwire_testing.events import events_for, split_text

FEW = settings(max_examples=40)
CHAT = frozenset({"system", "text", "tools", "tool_calls", "tool_results", "max_tokens", "stream"})


def parts_of(request: Request):
    for i, m in enumerate(request.messages):
        for p in m.content:
            yield i, m, p
            if isinstance(p, ToolResultPart):
                for q in p.content:
                    yield i, m, q


@FEW
@given(S.requests(None))
def test_conversations_are_valid(request):
    messages = request.messages
    body = [m for m in messages if m.role not in (Role.SYSTEM, Role.DEVELOPER)]
    assert body[0].role is Role.USER
    calls: dict[str, ToolCallPart] = {}
    answered: set[str] = set()
    pending: list[str] = []
    for i, m in enumerate(messages):
        assert m.content, f"message {i} is empty"
        if pending:  # the turn after an assistant's calls answers all of them, first
            assert m.role in (Role.TOOL, Role.USER)
            results = [p.tool_call_id for p in m.content if isinstance(p, ToolResultPart)]
            assert results, "calls not answered right away"
            assert [p for p in m.content[: len(results)] if isinstance(p, ToolResultPart)]
            for r in results:
                assert r == pending.pop(0)
        for p in m.content:
            if isinstance(p, (ReasoningPart, RefusalPart, ToolCallPart)):
                assert m.role is Role.ASSISTANT, f"{type(p).__name__} outside an assistant turn"
            if isinstance(p, ToolCallPart):
                assert p.id and p.id not in calls, "tool call ids are unique and non-empty"
                calls[p.id] = p
                pending.append(p.id)
                obj = json.loads(p.arguments)
                assert isinstance(obj, dict)
                assert p.arguments == json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
            if isinstance(p, ToolResultPart):
                assert p.tool_call_id in calls, "a result answers an earlier call"
                assert p.tool_call_id not in answered
                answered.add(p.tool_call_id)
                if p.name is not None:
                    assert p.name == calls[p.tool_call_id].name
    assert not pending
    for _, _, p in parts_of(request):
        if isinstance(p, TextPart):
            assert p.text and p.text == p.text.strip()
    hints = [p for _, _, p in parts_of(request) if getattr(p, "cache", None)]
    hints += [t for t in request.tools if t.cache]
    assert len({h.cache.ttl for h in hints}) <= 1
    if request.reasoning and request.reasoning.budget_tokens and request.max_tokens:
        assert request.max_tokens > request.reasoning.budget_tokens


@FEW
@given(S.requests(CHAT))
def test_requests_stay_within_the_features(request):
    assert request.max_tokens is not None  # declared: always set
    for field in (
        "temperature",
        "top_p",
        "top_k",
        "seed",
        "metadata",
        "user",
        "reasoning",
        "cache",
        "extra",
        "tool_choice",
        "response_format",
    ):
        assert getattr(request, field) is None, field
    for _, m, p in parts_of(request):
        assert m.role is not Role.DEVELOPER
        assert isinstance(p, (TextPart, ToolCallPart, ToolResultPart)), p
        assert getattr(p, "cache", None) is None
        if isinstance(p, TextPart):
            assert not p.citations
        if isinstance(p, ToolResultPart):
            assert p.name is None and not p.is_error
    for m in request.messages:
        assert m.name is None and m.cache is None
        if m.role is Role.SYSTEM:
            assert m is request.messages[0]


@FEW
@given(S.requests(frozenset({"text"})))
def test_text_only_requests(request):
    assert request.max_tokens is None and not request.tools and not request.stream
    assert all(isinstance(p, TextPart) for _, _, p in parts_of(request))
    roles = [m.role for m in request.messages]
    assert roles[::2] == [Role.USER] * len(roles[::2])  # alternating
    assert roles[1::2] == [Role.ASSISTANT] * len(roles[1::2])


@FEW
@given(S.responses(None))
def test_events_for_folds_back(response):
    assert fold(events_for(response)) == response
    assert fold(events_for(response, chunk_size=1)) == response


@FEW
@given(S.responses_with_events(None))
def test_random_chunkings_fold_back(case):
    response, events = case
    assert fold(events) == response


@FEW
@given(S.responses(frozenset({"text", "tool_calls", "reasoning", "reasoning_signature"})))
def test_response_choices(response):
    assert response.id and response.model and len(response.choices) == 1
    choice = response.choices[0]
    calls = [p for p in choice.content if isinstance(p, ToolCallPart)]
    assert (choice.stop_reason is StopReason.TOOL_CALLS) == bool(calls)
    assert sum(isinstance(p, TextPart) for p in choice.content) <= 1
    kinds = [type(p).__name__ for p in choice.content]
    assert kinds == sorted(kinds, key=["ReasoningPart", "TextPart", "ToolCallPart"].index)
    for p in choice.content:
        if isinstance(p, ReasoningPart) and p.text:
            assert p.signature  # signatures declared: visible reasoning is signed
    u = response.usage
    assert u.cache_read_tokens == u.cache_write_tokens == u.reasoning_tokens == 0


@FEW
@given(S.usages(None))
def test_usage_is_consistent(usage):
    assert usage.cache_read_tokens + usage.cache_write_tokens <= usage.input_tokens
    assert usage.reasoning_tokens <= usage.output_tokens


@FEW
@given(S.reasoning_parts(frozenset({"reasoning_redacted"})))
def test_redacted_reasoning(part):
    assert part.redacted and part.encrypted and not part.text


@FEW
@given(S.opaque_parts("acme.chat", shape="keyed"))
def test_opaque_parts(part):
    assert part.protocol == "acme.chat" and list(part.data) == [part.kind]


@FEW
@given(st.data())
def test_tool_results_answer_their_call(data):
    call = data.draw(S.tool_calls(("lookup",)))
    result = data.draw(S.tool_results(call, frozenset({"tool_result_name"})))
    assert result.tool_call_id == call.id and result.name == "lookup" == call.name


@FEW
@given(S.user_messages(frozenset({"text", "image", "audio", "file"})))
def test_media_is_inline_unless_urls_are_declared(message):
    for p in message.content:
        if isinstance(p, (ImagePart, AudioPart, FilePart)):
            assert p.source.data and p.source.media_type
        if isinstance(p, AudioPart):
            assert p.source.media_type == f"audio/{p.format}"


@FEW
@given(S.requests(None, protocol="acme.chat"))
def test_normalize_is_idempotent_on_generated_requests(request):
    once = normalize(request)
    assert normalize(once) == once


FAMILIES = (
    "generate",
    "embed",
    "image",
    "image_edit",
    "image_variation",
    "transcribe",
    "speech",
    "rerank",
    "count_tokens",
)


@settings(max_examples=10)
@given(st.data())
def test_every_family_has_strategies(data):
    for family in FAMILIES:
        assert data.draw(S.requests_for(family)) is not None
        assert data.draw(S.responses_for(family)) is not None


def test_split_text():
    assert split_text("", 4) == []
    assert split_text("abcdefghij", 4) == ["abcd", "efgh", "ij"]


@settings(max_examples=10)
@given(S.choices(frozenset({"text"})), S.choices(frozenset({"text"})))
def test_events_for_multi_choice_and_empty_parts(first, second):
    response = Response("r", "m", (first, attrs.evolve(second, index=1)))
    assert fold(events_for(response)) == response
    odd = Response("r", "m", (), None)
    assert fold(events_for(odd)) == odd
    summary = Response(
        choices=(
            attrs.evolve(
                response.choices[0],
                content=(ReasoningPart(summary=("",)), OpaquePart("p", "k", {})),
            ),
        )
    )
    assert fold(events_for(summary)) == summary


@settings(max_examples=10)
@given(S.conversations(frozenset({"text"})))
def test_conversation_strategy(convo):
    assert isinstance(convo[0], Message) and convo[0].role is Role.USER


@FEW
@given(S.requests(frozenset({"tools", "tool_choice", "parallel_tool_calls", "response_created"})))
def test_no_parallel_flag_with_tool_choice_none(request):
    if request.tool_choice is not None and request.tool_choice.mode == "none":
        assert request.tool_choice.parallel is None


@FEW
@given(S.responses(frozenset({"text", "response_created"})))
def test_response_created_is_always_set_when_declared(response):
    assert response.created is not None


@FEW
@given(S.token_count_requests(frozenset({"text", "opaque"}), protocol="acme.count"))
def test_token_count_opaque_parts_belong_to_the_protocol(request):
    for m in request.messages:
        for p in m.content:
            if isinstance(p, OpaquePart):
                assert p.protocol == "acme.count"
