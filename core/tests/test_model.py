from __future__ import annotations

import pytest
from omniwire import (
    ArgumentsDelta,
    Choice,
    MediaSource,
    PartEnd,
    PartStart,
    ReasoningDelta,
    ReasoningPart,
    Response,
    ResponseEnd,
    ResponseStart,
    SignatureDelta,
    StopReason,
    SummaryDelta,
    TextDelta,
    TextPart,
    ToolCallPart,
    ToolChoice,
    Usage,
    UsageUpdate,
    fold,
)
from omniwire.serialize import from_json, to_json


def test_fold_builds_every_part_kind():
    events = [
        ResponseStart(id="r", model="m", usage=Usage(input_tokens=10)),
        PartStart(0, ReasoningPart()),
        ReasoningDelta(0, "think"),
        ReasoningDelta(0, "ing"),
        SummaryDelta(0, "sum", 0),
        SummaryDelta(0, "2", 1),
        SignatureDelta(0, "sig"),
        PartEnd(0),
        PartStart(1, TextPart("")),
        TextDelta(1, "hel"),
        TextDelta(1, "lo"),
        PartEnd(1),
        PartStart(2, ToolCallPart("c1", "f", "")),
        ArgumentsDelta(2, '{"a"'),
        ArgumentsDelta(2, ":1}"),
        PartEnd(2),
        UsageUpdate(Usage(output_tokens=5)),
        ResponseEnd(StopReason.TOOL_CALLS, "tool_use"),
    ]
    r = fold(events)
    assert r == Response(
        id="r",
        model="m",
        choices=(
            Choice(
                (
                    ReasoningPart("thinking", summary=("sum", "2"), signature="sig"),
                    TextPart("hello"),
                    ToolCallPart("c1", "f", '{"a":1}'),
                ),
                StopReason.TOOL_CALLS,
            ),
        ),
        usage=Usage(10, 5),
    )
    assert r.choices[0].stop_raw == "tool_use"
    assert r.tool_calls[0].input == {"a": 1}


def test_part_end_with_final_part_replaces_fold():
    r = fold([PartStart(0, TextPart("")), TextDelta(0, "x"), PartEnd(0, TextPart("final"))])
    assert r.text == "final"


def test_part_started_twice_is_an_error():
    with pytest.raises(ValueError):
        fold([PartStart(0, TextPart("")), PartStart(0, TextPart(""))])


def test_usage_addition_keeps_details():
    u = Usage(1, 2, details={"a": 1}) + Usage(3, 4, details={"a": 2, "b": 1})
    assert u == Usage(4, 6, details={"a": 3, "b": 1}) and u.total_tokens == 10


def test_validation_of_sources_and_tool_choice():
    with pytest.raises(ValueError):
        MediaSource()
    with pytest.raises(ValueError):
        ToolChoice("tool")
    src = MediaSource.from_data_url("data:image/png;base64,AAAA")
    assert src.data == "AAAA" and src.media_type == "image/png"
    assert src.as_url() == "data:image/png;base64,AAAA"


def test_canonical_json_round_trip():
    r = fold(
        [
            ResponseStart(id="r"),
            PartStart(0, TextPart("")),
            TextDelta(0, "hi"),
            ResponseEnd(StopReason.END_TURN),
        ]
    )
    assert from_json(to_json(r), Response) == r


def test_canonical_json_round_trip_of_every_event_kind():
    from omniwire import ArgumentsDelta, CitationDelta, StreamError, StreamEvent
    from omniwire.serialize import from_json, to_json

    events = [
        ResponseStart(id="r", model="m", usage=Usage(1)),
        PartStart(0, ToolCallPart("c", "f", "")),
        ArgumentsDelta(0, "{}"),
        PartEnd(0, ToolCallPart("c", "f", "{}")),
        PartStart(1, TextPart("")),
        CitationDelta(1, {"url": "u"}),
        PartEnd(1),
        UsageUpdate(Usage(output_tokens=3)),
        ResponseEnd(StopReason.MAX_TOKENS, "length"),
        StreamError("boom", "overloaded_error", 529),
    ]
    data = to_json(events)
    assert from_json(data, list[StreamEvent]) == events


def test_image_edit_and_variation_requests_as_canonical_json():
    from omniwire import ImageEditRequest, ImageVariationRequest, InputImage

    cat = InputImage(b"\x89PNG\x00\xff", "cat.png", "image/png")
    edit = ImageEditRequest(
        "gpt-image-1",
        "a hat",
        [cat, InputImage(b"RIFF")],
        mask=InputImage(b"mask", "m.png"),
        n=2,
        output_compression=80,
        extra={"safety_identifier": "s"},
    )
    assert edit.images == (cat, InputImage(b"RIFF"))  # a list becomes a tuple
    data = to_json(edit)
    assert data["images"][0] == {
        "data": "iVBORwD/",
        "filename": "cat.png",
        "media_type": "image/png",
    }
    assert from_json(data, ImageEditRequest) == edit
    variation = ImageVariationRequest("dall-e-2", cat, n=3)
    assert from_json(to_json(variation), ImageVariationRequest) == variation
    # the bytes never reach a log line
    assert "<6 bytes>" in repr(edit) and "PNG" not in repr(edit)


def test_multipart_body_lists_repeated_file_parts_in_order():
    from omniwire.wire import MultipartBody

    a, b, m = ("a.png", b"a", "image/png"), ("b.png", b"b", None), ("m.png", b"m", None)
    body = MultipartBody({"prompt": "p"}, {"image[]": [a, b], "mask": m})
    assert body.file_items() == [("image[]", a), ("image[]", b), ("mask", m)]
