"""The chat codec's shortcuts for the common case give exactly what the general walk
gives: a plain request message encodes to the same object, a plain answer decodes to
the same parts, and anything the shortcut does not recognise takes the general walk."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import oai_strategies as S
from hypothesis import given
from hypothesis import strategies as st
from omniwire.errors import ProtocolError
from omniwire.model import CacheHint, Message, Raw, Role, TextPart
from omniwire.report import Conversion
from omniwire_openai.chat import OpenAIChat, _plain_message

CHAT = OpenAIChat()

plain_like = st.builds(
    Message,
    st.sampled_from(list(Role)),
    st.lists(
        st.builds(
            TextPart,
            S.text,
            citations=st.just(()) | st.just(({"url": "https://example.com"},)),
            cache=st.none() | st.just(CacheHint()),
            raw=st.none() | st.just(Raw("openai.chat", {"type": "text"})),
        ),
        max_size=2,
    ).map(tuple),
    name=st.none() | S.ident,
    cache=st.none() | st.just(CacheHint()),
)


@given(plain_like | S.chat_message())
def test_a_plain_message_encodes_as_the_general_walk_does(message: Message) -> None:
    fast = _plain_message(message)
    conv = Conversion(None, CHAT.id)
    general = CHAT._encode_message(message, "$.messages[0]", conv)
    if fast is not None:
        assert [fast] == general
        assert not conv.losses
        assert type(fast["content"]) is str


@given(st.lists(st.builds(Message.text, st.sampled_from(["system", "user"]), S.text), max_size=4))
def test_a_request_of_plain_messages_matches_the_typed_codec_but_for_the_content_form(
    messages: list[Message],
) -> None:
    from omniwire.model import Request

    request = Request("m", tuple(messages))
    typed = OpenAIChat(typed_content=True).encode_request(request, Conversion())
    body = CHAT.encode_request(request, Conversion()).body
    assert [m["content"] for m in body["messages"]] == [m.plain_text for m in messages]
    # a codec that always sends typed parts never takes the shortcut
    assert [m["content"] for m in typed.body["messages"]] == [
        [{"type": "text", "text": m.plain_text}] for m in messages
    ]


answer_field = st.sampled_from(
    ["reasoning", "reasoning_content", "refusal", "audio", "function_call"]
)
answer_value = st.none() | S.text | st.just([]) | st.just({})


@st.composite
def answer_message(draw: Any) -> dict[str, Any]:
    m: dict[str, Any] = {"role": "assistant"}
    m["content"] = draw(st.none() | S.text)
    for key in draw(st.lists(answer_field, max_size=2, unique=True)):
        m[key] = draw(st.none() | S.text)
    for key in ("annotations", "tool_calls"):
        if draw(st.booleans()):
            m[key] = draw(st.none() | st.just([]))
    return m


def _outcome(message: Any) -> Any:
    try:
        return CHAT._decode_assistant(message, "$.choices[0].message")
    except ProtocolError as exc:
        return ("error", exc.path, str(exc))


@given(answer_message())
def test_a_plain_answer_decodes_as_the_general_walk_does(message: dict[str, Any]) -> None:
    # the shortcut is taken for plain dicts only: a read-only view takes the general walk
    assert _outcome(message) == _outcome(MappingProxyType(message))


@given(S.chat_response())
def test_encoded_answers_decode_the_same_either_way(response: Any) -> None:
    body = CHAT.encode_response(response, Conversion())
    for choice in body["choices"]:
        m = choice["message"]
        assert CHAT._decode_assistant(m, "$") == CHAT._decode_assistant(MappingProxyType(m), "$")
