"""The worst-case estimate: characters / 4 over all text, media at a flat rate."""

from __future__ import annotations

from omniwire.model import (
    CacheHint,
    EmbeddingRequest,
    ImageEditRequest,
    ImagePart,
    ImageRequest,
    ImageVariationRequest,
    InputImage,
    MediaSource,
    Message,
    Request,
    ResponseFormat,
    Role,
    TextPart,
    Tool,
    ToolCallPart,
    ToolResultPart,
    Usage,
)
from omniwire_budgets.estimate import estimate_input_tokens, worst_case_usage


def test_text_is_four_characters_a_token_rounded_up():
    assert estimate_input_tokens(Request.simple("m", "abcd" * 100)) == 100
    assert estimate_input_tokens(Request.simple("m", "abcde")) == 2
    assert estimate_input_tokens(Request("m")) == 0


def test_everything_sent_counts():
    request = Request(
        "m",
        (
            Message.text(Role.SYSTEM, "be brief"),  # 8
            Message(
                Role.ASSISTANT,
                (ToolCallPart("c1", "lookup", '{"q":"x"}'),),  # 6 + 9
            ),
            Message(
                Role.USER,
                (
                    ToolResultPart("c1", (TextPart("found it"),)),  # 8
                    ImagePart(MediaSource(url="https://example.com/a.png")),  # media
                ),
            ),
        ),
        tools=(Tool("lookup", "find", {"type": "object"}),),  # 6 + 4 + 17
        response_format=ResponseFormat("json_schema", {"type": "object"}),  # 17
    )
    chars = 8 + 6 + 9 + 8 + 6 + 4 + 17 + 17
    assert estimate_input_tokens(request) == -(-chars // 4) + 1600
    assert estimate_input_tokens(request, media_tokens=10) == -(-chars // 4) + 10


def test_other_families():
    assert estimate_input_tokens(EmbeddingRequest("e", ("abcd" * 3, (1, 2, 3)))) == 3 + 3
    assert estimate_input_tokens(ImageRequest("i", "a cat")) == 2
    edit = ImageEditRequest("i", "a cat with a hat", (InputImage(b"png"),))
    assert estimate_input_tokens(edit) == 4


def test_worst_case_output_is_max_tokens_times_n():
    assert worst_case_usage(Request("m", max_tokens=50), 100) == Usage(100, 50)
    assert worst_case_usage(Request("m", n=3), 100, default_max_tokens=1000) == Usage(100, 3000)


def test_worst_case_with_cache_hints_prices_all_input_as_cache_writes():
    five = Request("m", (Message(Role.USER, (TextPart("x", cache=CacheHint()),)),), max_tokens=1)
    assert worst_case_usage(five, 10) == Usage(10, 1, cache_write_tokens=10)
    hour = Request("m", tools=(Tool("t", cache=CacheHint("1h")),), max_tokens=1)
    assert worst_case_usage(hour, 10) == Usage(
        10, 1, cache_write_tokens=10, details={"cache_write_1h_tokens": 10}
    )


def test_worst_case_images_count_images():
    assert worst_case_usage(ImageRequest("i", "cat", n=2), 1).details == {"output_images": 2}
    edit = ImageEditRequest("i", "cat", (InputImage(b"png"),), n=3)
    assert worst_case_usage(edit, 1).details == {"output_images": 3}
    variation = ImageVariationRequest("i", InputImage(b"png"))
    assert worst_case_usage(variation, 1).details == {"output_images": 1}
