"""Hypothesis strategies for canonical values each OpenAI codec carries exactly.

Each strategy stays inside what the codec declares in ``features`` and inside the
protocol's canonical form (e.g. a chat response choice has at most one text), so
``decode(encode(x)) == x`` must hold without losses.
"""

from __future__ import annotations

import json
import string
from typing import Any

from hypothesis import strategies as st
from omniwire.model import (
    AudioPart,
    CacheHint,
    Choice,
    Embedding,
    EmbeddingRequest,
    EmbeddingResponse,
    FilePart,
    GeneratedImage,
    ImagePart,
    ImageRequest,
    ImageResponse,
    MediaSource,
    Message,
    OpaquePart,
    PromptCache,
    Reasoning,
    ReasoningPart,
    RefusalPart,
    Request,
    Response,
    ResponseFormat,
    Role,
    SpeechRequest,
    StopReason,
    TextPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    TranscriptionRequest,
    TranscriptionResponse,
    Usage,
)

text = st.text(max_size=20)
nonempty = st.text(min_size=1, max_size=20)
ident = st.text(string.ascii_letters + string.digits + "_-", min_size=1, max_size=12)
floats = st.floats(allow_nan=False, allow_infinity=False, width=64)
small = st.integers(min_value=0, max_value=10**6)
b64 = st.text(string.ascii_letters + string.digits + "+/", min_size=4, max_size=16).map(
    lambda s: s + "=="
)
json_scalar = st.none() | st.booleans() | st.integers(-1000, 1000) | text
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ident, inner, max_size=3),
    max_leaves=6,
)
schema = st.dictionaries(ident, json_value, max_size=3).map(lambda d: {"type": "object", **d})
metadata = st.none() | st.dictionaries(ident, text, max_size=3)
arguments = st.one_of(
    st.just("{}"),
    st.just(""),
    st.dictionaries(ident, json_value, max_size=3).map(
        lambda d: json.dumps(d, separators=(",", ":"))
    ),
)
media_type = st.sampled_from(["image/png", "image/jpeg", "image/webp", "application/pdf"])
url = ident.map(lambda s: f"https://example.com/{s}.png")
cache = st.none() | st.builds(CacheHint, st.none() | st.sampled_from(["30m", "12h"]))


def usage(
    *, details_in: tuple[str, ...] = (), details_out: tuple[str, ...] = ()
) -> st.SearchStrategy[Usage]:
    keys = [f"input_{k}" for k in details_in] + [f"output_{k}" for k in details_out]
    details = st.none() | (
        st.dictionaries(st.sampled_from(keys), small, min_size=1, max_size=3)
        if keys
        else st.nothing()
    )
    return st.builds(
        Usage,
        input_tokens=small,
        output_tokens=small,
        cache_read_tokens=small,
        cache_write_tokens=small,
        reasoning_tokens=small,
        details=details,
    )


chat_usage = usage(
    details_in=("audio_tokens", "image_tokens"),
    details_out=("audio_tokens", "accepted_prediction_tokens"),
)
responses_usage = usage()


# -- chat ---------------------------------------------------------------------------------------

chat_text_part = st.builds(TextPart, text, cache=cache)
chat_image = st.builds(
    ImagePart,
    st.one_of(
        st.builds(MediaSource, url=url),
        st.builds(MediaSource, data=b64, media_type=media_type),
    ),
    detail=st.none() | st.sampled_from(["auto", "low", "high"]),
    cache=cache,
)
chat_audio = st.sampled_from(["wav", "mp3"]).flatmap(  # canonically media_type = audio/<format>
    lambda f: st.builds(
        AudioPart,
        st.builds(MediaSource, data=b64, media_type=st.just(f"audio/{f}")),
        format=st.just(f),
    )
)
chat_file = st.builds(
    FilePart,
    st.one_of(
        st.builds(MediaSource, file_id=ident.map(lambda s: "file-" + s)),
        st.builds(MediaSource, data=b64, media_type=st.just("application/pdf")),
        st.builds(MediaSource, data=b64),
    ),
    filename=st.none() | ident.map(lambda s: s + ".pdf"),
)
tool_call = st.builds(ToolCallPart, ident.map(lambda s: "call_" + s), ident, arguments)


@st.composite
def chat_message(draw: Any) -> Message:
    role = draw(st.sampled_from(["system", "developer", "user", "assistant", "tool"]))
    name = draw(st.none() | ident) if role != "tool" else None
    if role in ("system", "developer"):
        content = draw(st.lists(chat_text_part, min_size=1, max_size=3))
    elif role == "user":
        content = draw(
            st.lists(chat_text_part | chat_image | chat_audio | chat_file, min_size=1, max_size=4)
        )
    elif role == "assistant":
        texts = draw(st.lists(st.builds(TextPart, text), max_size=2))
        refusal = draw(st.lists(st.builds(RefusalPart, text), max_size=1))
        calls = draw(st.lists(tool_call, max_size=2))
        content = texts + refusal + calls
    else:
        parts = draw(st.lists(st.builds(TextPart, text), min_size=1, max_size=2))
        content = [ToolResultPart(draw(ident), tuple(parts))]
    return Message(Role(role), tuple(content), name=name)


function_tool = st.builds(
    Tool,
    ident,
    description=st.none() | text,
    parameters=st.none() | schema,
    strict=st.none() | st.booleans(),
)


@st.composite
def tool_choice(draw: Any) -> ToolChoice:
    mode = draw(st.sampled_from(["auto", "none", "required", "tool"]))
    return ToolChoice(
        mode, draw(ident) if mode == "tool" else None, parallel=draw(st.none() | st.booleans())
    )


response_format = st.one_of(
    st.builds(ResponseFormat, st.sampled_from(["text", "json_object"])),
    st.builds(
        ResponseFormat,
        st.just("json_schema"),
        schema=st.none() | schema,
        name=ident,
        strict=st.none() | st.booleans(),
        description=st.none() | text,
    ),
)
prompt_cache = st.none() | st.builds(
    PromptCache, key=st.none() | ident, retention=st.sampled_from(["in_memory", "24h"])
)


@st.composite
def chat_request(draw: Any) -> Request:
    return Request(
        model=draw(ident),
        messages=tuple(draw(st.lists(chat_message(), max_size=5))),
        tools=tuple(draw(st.lists(function_tool, max_size=2))),
        tool_choice=draw(st.none() | tool_choice()),
        max_tokens=draw(st.none() | small),
        temperature=draw(st.none() | floats),
        top_p=draw(st.none() | floats),
        n=draw(st.none() | st.integers(1, 4)),
        stop=tuple(draw(st.lists(text, max_size=3))),
        seed=draw(st.none() | st.integers(-(2**31), 2**31)),
        presence_penalty=draw(st.none() | floats),
        frequency_penalty=draw(st.none() | floats),
        logit_bias=draw(
            st.none()
            | st.dictionaries(st.integers(0, 10**5).map(str), st.integers(-100, 100), max_size=3)
        ),
        logprobs=draw(st.none() | st.booleans()),
        top_logprobs=draw(st.none() | st.integers(0, 20)),
        response_format=draw(st.none() | response_format),
        reasoning=draw(
            st.none()
            | st.builds(Reasoning, effort=st.sampled_from(["minimal", "low", "medium", "high"]))
        ),
        cache=draw(prompt_cache),
        metadata=draw(metadata),
        user=draw(st.none() | ident),
        service_tier=draw(st.none() | st.sampled_from(["auto", "default", "flex", "priority"])),
        stream=draw(st.booleans()),
        extra=draw(
            st.none()
            | st.dictionaries(
                st.sampled_from(["store", "verbosity", "modalities"]), json_value, min_size=1
            )
        ),
    )


url_citation = st.builds(  # canonical (flat) form; chat nests it on the wire
    lambda s, e, t, u: {
        "type": "url_citation",
        "start_index": s,
        "end_index": e,
        "title": t,
        "url": u,
    },
    small,
    small,
    text,
    url,
)
chat_stops = [
    StopReason.END_TURN,
    StopReason.MAX_TOKENS,
    StopReason.TOOL_CALLS,
    StopReason.CONTENT_FILTER,
]


@st.composite
def chat_choice(draw: Any, index: int, *, streaming: bool = False) -> Choice:
    body = nonempty if streaming else text
    content: list[Any] = []
    if draw(st.booleans()):
        cites = () if streaming else tuple(draw(st.lists(url_citation, max_size=2)))
        content.append(TextPart(draw(body), cites))
    if draw(st.booleans()):
        content.append(RefusalPart(draw(body)))
    content += draw(st.lists(tool_call, max_size=3))
    return Choice(tuple(content), draw(st.sampled_from(chat_stops)), index=index)


@st.composite
def chat_response(draw: Any, *, streaming: bool = False) -> Response:
    n = draw(st.integers(1, 3))
    return Response(
        id=draw(ident),
        model=draw(ident),
        choices=tuple(draw(chat_choice(i, streaming=streaming)) for i in range(n)),
        usage=draw(st.none() | chat_usage),
        created=draw(small),
        service_tier=draw(st.none() | st.sampled_from(["default", "flex"])),
    )


# -- responses ----------------------------------------------------------------------------------

resp_text_part = st.builds(TextPart, text, cache=cache)
resp_image = st.builds(
    ImagePart,
    st.one_of(
        st.builds(MediaSource, url=url),
        st.builds(MediaSource, data=b64, media_type=media_type),
        st.builds(MediaSource, file_id=ident.map(lambda s: "file-" + s)),
    ),
    detail=st.none() | st.sampled_from(["auto", "low", "high"]),
    cache=cache,
)
resp_file = st.builds(
    FilePart,
    st.one_of(
        st.builds(MediaSource, file_id=ident.map(lambda s: "file-" + s)),
        st.builds(MediaSource, data=b64, media_type=st.just("application/pdf")),
        st.builds(MediaSource, url=url),
    ),
    filename=st.none() | ident.map(lambda s: s + ".pdf"),
    cache=cache,
)
file_citation = st.builds(
    lambda f, n, i: {"type": "file_citation", "file_id": f, "filename": n, "index": i},
    ident,
    ident,
    small,
)
resp_citation = file_citation | st.builds(
    lambda s, e, t, u: {
        "type": "url_citation",
        "start_index": s,
        "end_index": e,
        "title": t,
        "url": u,
    },
    small,
    small,
    text,
    url,
)
reasoning_part = st.builds(
    ReasoningPart,
    text,
    summary=st.lists(text, max_size=2).map(tuple),
    encrypted=st.none() | b64,
    id=ident.map(lambda s: "rs_" + s),
)
opaque_item = st.builds(
    lambda i, q: OpaquePart(
        "openai.responses",
        "web_search_call",
        {
            "type": "web_search_call",
            "id": "ws_" + i,
            "status": "completed",
            "action": {"type": "search", "query": q},
        },
    ),
    ident,
    text,
)


@st.composite
def assistant_parts(draw: Any, *, citations: bool = True) -> list[Any]:
    part = st.one_of(
        st.builds(
            TextPart,
            text,
            st.lists(resp_citation, max_size=2).map(tuple) if citations else st.just(()),
        ),
        st.builds(RefusalPart, text),
        tool_call,
        reasoning_part,
        opaque_item,
    )
    return draw(st.lists(part, min_size=1, max_size=5))


@st.composite
def responses_message(draw: Any) -> Message:
    role = draw(st.sampled_from(["system", "developer", "user", "assistant", "tool"]))
    if role in ("system", "developer"):
        return Message(Role(role), tuple(draw(st.lists(resp_text_part, min_size=1, max_size=2))))
    if role == "user":
        parts = draw(
            st.lists(resp_text_part | resp_image | resp_file | chat_audio, min_size=1, max_size=3)
        )
        return Message(Role.USER, tuple(parts))
    if role == "assistant":
        return Message(Role.ASSISTANT, tuple(draw(assistant_parts(citations=True))))
    content = draw(st.lists(resp_text_part | resp_image | resp_file, min_size=1, max_size=2))
    return Message(Role.TOOL, (ToolResultPart("call_" + draw(ident), tuple(content)),))


@st.composite
def responses_messages(draw: Any) -> tuple[Message, ...]:
    """A conversation in Responses' canonical form: no two ASSISTANT messages in a row
    (items carry no turn boundary)."""
    out: list[Message] = []
    if draw(st.booleans()):
        out.append(Message(Role.SYSTEM, (TextPart(draw(text)),)))
    for m in draw(st.lists(responses_message(), max_size=5)):
        if m.role == Role.ASSISTANT and out and out[-1].role == Role.ASSISTANT:
            continue
        out.append(m)
    return tuple(out)


builtin_tool = st.builds(
    lambda kind: Tool(kind, kind=kind, config={"type": kind}),
    st.sampled_from(["web_search", "code_interpreter"]),
)


@st.composite
def responses_request(draw: Any) -> Request:
    return Request(
        model=draw(ident),
        messages=draw(responses_messages()),
        tools=tuple(draw(st.lists(function_tool | builtin_tool, max_size=3))),
        tool_choice=draw(st.none() | tool_choice()),
        max_tokens=draw(st.none() | small),
        temperature=draw(st.none() | floats),
        top_p=draw(st.none() | floats),
        top_logprobs=draw(st.none() | st.integers(0, 20)),
        response_format=draw(st.none() | response_format),
        reasoning=draw(
            st.none()
            | st.builds(
                Reasoning,
                effort=st.none() | st.sampled_from(["minimal", "low", "medium", "high"]),
                summary=st.none() | st.sampled_from(["auto", "concise", "detailed"]),
            )
        ),
        cache=draw(prompt_cache),
        metadata=draw(metadata),
        user=draw(st.none() | ident),
        service_tier=draw(st.none() | st.sampled_from(["auto", "default", "flex", "priority"])),
        stream=draw(st.booleans()),
        extra=draw(
            st.none()
            | st.dictionaries(
                st.sampled_from(["store", "previous_response_id", "include"]),
                json_value,
                min_size=1,
            )
        ),
    )


@st.composite
def responses_response(draw: Any) -> Response:
    content = tuple(draw(assistant_parts()))
    has_calls = any(isinstance(p, ToolCallPart) for p in content)
    stop = draw(
        st.sampled_from(
            [
                StopReason.TOOL_CALLS if has_calls else StopReason.END_TURN,
                StopReason.MAX_TOKENS,
                StopReason.CONTENT_FILTER,
            ]
        )
    )
    return Response(
        id="resp_" + draw(ident),
        model=draw(ident),
        choices=(Choice(content, stop),),
        usage=draw(st.none() | responses_usage),
        created=draw(small),
        service_tier=draw(st.none() | st.sampled_from(["default", "flex"])),
    )


# -- other families -----------------------------------------------------------------------------

float32 = st.floats(width=32, allow_nan=False, allow_infinity=False)
embedding_request = st.builds(
    EmbeddingRequest,
    ident,
    st.lists(
        text | st.lists(st.integers(0, 100000), min_size=1, max_size=5).map(tuple), max_size=4
    ).map(tuple),
    dimensions=st.none() | st.integers(1, 3072),
    encoding_format=st.none() | st.sampled_from(["float", "base64"]),
    user=st.none() | ident,
)
embedding_response = st.builds(
    EmbeddingResponse,
    ident,  # required on the wire: None is sent as ""
    st.lists(st.lists(float32, max_size=6).map(tuple), max_size=3).map(
        lambda vs: tuple(Embedding(v, i) for i, v in enumerate(vs))
    ),
    usage=st.none() | st.builds(Usage, input_tokens=small),
)
image_request = st.builds(
    ImageRequest,
    ident,
    text,
    n=st.none() | st.integers(1, 4),
    size=st.none() | st.sampled_from(["1024x1024", "1536x1024", "auto"]),
    quality=st.none() | st.sampled_from(["low", "high", "hd", "standard"]),
    style=st.none() | st.sampled_from(["vivid", "natural"]),
    response_format=st.none() | st.sampled_from(["url", "b64_json"]),
    background=st.none() | st.sampled_from(["transparent", "opaque", "auto"]),
    output_format=st.none() | st.sampled_from(["png", "webp", "jpeg"]),
    user=st.none() | ident,
)
image_response = st.builds(
    ImageResponse,
    small,
    st.lists(
        st.builds(
            GeneratedImage,
            url=st.none() | url,
            b64_json=st.none() | b64,
            revised_prompt=st.none() | text,
        ),
        max_size=3,
    ).map(tuple),
    usage=st.none()
    | st.builds(
        Usage,
        input_tokens=small,
        output_tokens=small,
        details=st.none()
        | st.dictionaries(
            st.sampled_from(["input_text_tokens", "input_image_tokens"]), small, min_size=1
        ),
    ),
)
transcription_request = st.builds(
    TranscriptionRequest,
    ident,
    st.binary(max_size=64),
    filename=ident.map(lambda s: s + ".wav"),
    media_type=st.none() | st.just("audio/wav"),
    language=st.none() | st.sampled_from(["en", "fr"]),
    prompt=st.none() | text,
    response_format=st.none() | st.sampled_from(["json", "verbose_json", "text", "srt", "vtt"]),
    temperature=st.none() | floats,
    timestamp_granularities=st.sampled_from([(), ("word",), ("segment",)]),
)
segment = st.fixed_dictionaries(
    {"id": st.integers(0, 9), "start": floats, "end": floats, "text": text}
)
transcription_response = st.one_of(
    st.builds(
        TranscriptionResponse,
        text,
        usage=st.none() | st.builds(Usage, input_tokens=small, output_tokens=small),
    ),
    st.builds(
        TranscriptionResponse,
        text,
        language=st.sampled_from(["english", "french"]),
        duration=floats,
        segments=st.lists(segment, max_size=2).map(tuple),
        words=st.lists(
            st.fixed_dictionaries({"word": text, "start": floats, "end": floats}), max_size=2
        ).map(tuple),
    ),
)
speech_request = st.builds(
    SpeechRequest,
    ident,
    text,
    st.sampled_from(["alloy", "nova", "verse"]),
    response_format=st.none() | st.sampled_from(["mp3", "wav", "opus"]),
    speed=st.none() | floats,
    instructions=st.none() | text,
)
