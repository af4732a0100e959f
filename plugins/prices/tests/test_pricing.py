"""Cost from canonical usage, with each provider's semantics: hand-computed examples per
provider, model-name matching, and properties over random usage."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from omniwire.model import Usage
from omniwire.money import Cost
from omniwire_prices import ModelPrice, Rates, default_table, model_candidates

TABLE = default_table()


def price(provider: str, model: str, usage: Usage, tier: str | None = None) -> Cost | None:
    return TABLE.price(provider, model, usage, tier=tier)


def usd(text: str) -> Cost:
    return Cost(Decimal(text))


# -- pinned examples, computed by hand from the published rates ---------------------------


def test_openai_cached_input_and_reasoning():
    # gpt-4o: $2.50 in, $1.25 cached, $10 out. 10,000 input of which 4,000 cached reads;
    # 2,000 output.  6,000 x 2.50 + 4,000 x 1.25 + 2,000 x 10 = 40,000 per M = $0.04
    u = Usage(input_tokens=10_000, output_tokens=2_000, cache_read_tokens=4_000)
    assert price("openai", "gpt-4o", u) == usd("0.04")
    # o4-mini: $1.10 in, $0.275 cached, $4.40 out; reasoning is part of output (billed)
    # 1,000 uncached x 1.10 + 3,000 output (2,500 of them reasoning) x 4.40 = 14,300
    u = Usage(1_000, 3_000, reasoning_tokens=2_500)
    assert price("openai", "o4-mini", u) == usd("0.0143")


def test_openai_audio_tokens_at_audio_rates():
    # gpt-4o-audio-preview: text $2.50/$10, audio $40/$80.
    # 1,200 input (1,000 audio), 500 output (400 audio):
    # 200 x 2.50 + 1,000 x 40 + 100 x 10 + 400 x 80 = 500 + 40,000 + 1,000 + 32,000 = 73,500
    u = Usage(1_200, 500, details={"input_audio_tokens": 1_000, "output_audio_tokens": 400})
    assert price("openai", "gpt-4o-audio-preview-2024-12-17", u) == usd("0.0735")


def test_openai_batch_and_flex_halve_token_prices():
    u = Usage(1_000_000, 1_000_000)
    assert price("openai", "gpt-5", u) == usd("11.25")  # 1.25 + 10
    assert price("openai", "gpt-5", u, tier="batch") == usd("5.625")
    assert price("openai", "gpt-5", u, tier="flex") == usd("5.625")
    assert price("openai", "gpt-realtime", u, tier="batch") == usd("20")  # no batch offer


def test_openai_units():
    # whisper-1: $0.006 per minute = $0.0001 per second; tts-1: $15 per M characters
    assert price("openai", "whisper-1", Usage(details={"input_audio_seconds": 90})) == usd("0.009")
    assert price("openai", "tts-1", Usage(details={"input_characters": 2_000})) == usd("0.03")
    assert price("openai", "dall-e-3", Usage(details={"output_images": 3})) == usd("0.12")


def test_anthropic_cache_reads_and_writes_by_ttl():
    # claude-sonnet-4-5: $3 in, reads $0.30, 5m writes $3.75, 1h writes $6, $15 out.
    # Anthropic reports 1,000 input + 20,000 read + 3,000 written (1,000 5m, 2,000 1h);
    # the canonical input counts all 24,000.
    # 1,000 x 3 + 20,000 x 0.30 + 1,000 x 3.75 + 2,000 x 6 + 500 x 15
    #   = 3,000 + 6,000 + 3,750 + 12,000 + 7,500 = 32,250 per M = $0.03225
    u = Usage(
        input_tokens=24_000,
        output_tokens=500,
        cache_read_tokens=20_000,
        cache_write_tokens=3_000,
        details={"cache_write_5m_tokens": 1_000, "cache_write_1h_tokens": 2_000},
    )
    assert price("anthropic", "claude-sonnet-4-5-20250929", u) == usd("0.03225")
    # without the TTL split every write is a 5-minute write: 3,000 x 3.75 = 11,250
    # 3,000 + 6,000 + 11,250 + 7,500 = 27,750
    plain = Usage(24_000, 500, 20_000, 3_000)
    assert price("anthropic", "claude-sonnet-4-5", plain) == usd("0.02775")


def test_anthropic_long_context_and_web_search():
    # above 200k input tokens Sonnet 4.5 bills every token at $6 in / $22.50 out
    u = Usage(250_000, 1_000)
    assert price("anthropic", "claude-sonnet-4-5", u) == usd("1.5225")  # 1.5 + 0.0225
    assert price("anthropic", "claude-sonnet-4-5", Usage(200_000, 1_000)) == usd("0.615")
    # web search: $10 per 1,000 searches, on top of tokens
    s = Usage(1_000, 100, details={"web_search_requests": 3})
    assert price("anthropic", "claude-haiku-4-5", s) == usd("0.0315")  # .001 + .0005 + .03


def test_anthropic_batch_halves_tokens_not_searches():
    s = Usage(1_000, 100, details={"web_search_requests": 3})
    assert price("anthropic", "claude-haiku-4-5", s, tier="batch") == usd("0.03075")


def test_gemini_long_context_tier():
    # gemini-2.5-pro: <=200k prompt: $1.25 in, $0.125 cached, $10 out (thinking included)
    u = Usage(100_000, 2_000, cache_read_tokens=60_000, reasoning_tokens=1_500)
    # 40,000 x 1.25 + 60,000 x 0.125 + 2,000 x 10 = 50,000 + 7,500 + 20,000 = 77,500
    assert price("gcp.gemini", "gemini-2.5-pro", u) == usd("0.0775")
    # >200k: $2.50 in, $0.25 cached, $15 out for the whole call
    big = Usage(300_000, 2_000, cache_read_tokens=100_000)
    # 200,000 x 2.50 + 100,000 x 0.25 + 2,000 x 15 = 500,000 + 25,000 + 30,000 = 555,000
    assert price("gcp.gemini", "models/gemini-2.5-pro", big) == usd("0.555")


def test_gemini_audio_input_and_cache():
    # gemini-2.5-flash: text $0.30, audio $1.00, cached text $0.03, cached audio $0.10
    u = Usage(
        10_000,
        1_000,
        cache_read_tokens=4_000,
        details={"input_audio_tokens": 5_000, "cache_read_audio_tokens": 2_000},
    )
    # uncached 6,000 = 3,000 audio + 3,000 text; cached 4,000 = 2,000 audio + 2,000 text
    # 3,000 x 1 + 3,000 x .30 + 2,000 x .10 + 2,000 x .03 + 1,000 x 2.50
    #   = 3,000 + 900 + 200 + 60 + 2,500 = 6,660
    assert price("gemini", "gemini-2.5-flash", u) == usd("0.00666")


# -- matching ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "model", "entry"),
    [
        ("openai", "gpt-4o-2024-08-06", "gpt-4o"),
        ("openai", "gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("anthropic", "claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("anthropic", "claude-3-7-sonnet-latest", "claude-3-7-sonnet"),
        ("anthropic", "claude-opus-4-1@20250805", "claude-opus-4-1"),
        ("gcp.gemini", "gemini-2.0-flash-001", "gemini-2.0-flash"),
        ("gemini", "models/gemini-2.5-flash", "gemini-2.5-flash"),
    ],
)
def test_dated_snapshots_match_their_base_model(provider, model, entry):
    assert TABLE.lookup(provider, model) is TABLE.lookup(provider, entry) is not None


def test_exact_names_win_over_stripped_ones():
    # the first gpt-4o snapshot kept its launch price
    u = Usage(1_000_000, 0)
    assert price("openai", "gpt-4o-2024-05-13", u) == usd("5")
    assert price("openai", "gpt-4o-2024-11-20", u) == usd("2.5")


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("openai", "gpt-4o-turbo-ultra"),
        ("openai", "ft:gpt-4o-mini-2024-07-18:acme::abc"),  # fine-tunes have their own prices
        ("gcp.gemini", "gemini-2.5-flash-preview-05-20"),  # previews are not guessed
        ("anthropic", "gpt-4o"),  # the provider matters
        ("azure.ai.openai", "gpt-4o"),
        ("", "gpt-4o"),
    ],
)
def test_unknown_models_are_never_guessed(provider, model):
    assert price(provider, model, Usage(1, 1)) is None


def test_candidates_order():
    assert list(model_candidates("Models/Gemini-2.0-Flash-001")) == [
        "Models/Gemini-2.0-Flash-001",
        "gemini-2.0-flash-001",
        "gemini-2.0-flash",
    ]


def test_table_says_where_its_prices_come_from():
    assert TABLE.as_of and "openai.com" in TABLE.source and "anthropic.com" in TABLE.source
    assert "ai.google.dev" in TABLE.source
    assert len(TABLE) > 60


def test_money_is_never_float():
    with pytest.raises(Exception):  # noqa: B017 - ConfigError or TypeError, never accepted
        Rates(object(), "1")
    rates = Rates(0.15, "0.60")  # a TOML float is read by its shortest repr
    assert rates.input == Decimal("0.15")
    assert isinstance(ModelPrice(rates).cost(Usage(3, 3)).amount, Decimal)


def test_extending_the_table_in_code():
    mine = TABLE.extended({("openai", "ft:gpt-4o-mini:acme::x"): ModelPrice(Rates("0.3", "1.2"))})
    assert mine.price("openai", "ft:gpt-4o-mini:acme::x", Usage(1_000_000, 0)) == usd("0.3")
    assert TABLE.lookup("openai", "ft:gpt-4o-mini:acme::x") is None


# -- properties -------------------------------------------------------------------------------

MODELS = sorted(TABLE.models)
counts = st.integers(min_value=0, max_value=400_000)


@st.composite
def usage_parts(draw):
    """Usage built from independent components (what monotonicity is about): uncached
    text, audio input, cache reads (some audio), 5m and 1h cache writes, output (some
    audio), reasoning within output, and units."""
    return {
        "text": draw(counts),
        "audio_in": draw(counts),
        "read": draw(counts),
        "read_audio": draw(counts),
        "write_5m": draw(counts),
        "write_1h": draw(counts),
        "output": draw(counts),
        "audio_out": draw(counts),
        "reasoning": draw(counts),
        "images": draw(st.integers(0, 10)),
        "searches": draw(st.integers(0, 10)),
    }


def build(p: dict[str, int]) -> Usage:
    read = p["read"] + p["read_audio"]
    write = p["write_5m"] + p["write_1h"]
    return Usage(
        input_tokens=p["text"] + p["audio_in"] + read + write,
        output_tokens=p["output"] + p["audio_out"] + p["reasoning"],
        cache_read_tokens=read,
        cache_write_tokens=write,
        reasoning_tokens=p["reasoning"],
        details={
            "input_audio_tokens": p["audio_in"] + p["read_audio"],
            "cache_read_audio_tokens": p["read_audio"],
            "cache_write_1h_tokens": p["write_1h"],
            "output_audio_tokens": p["audio_out"],
            "output_images": p["images"],
            "web_search_requests": p["searches"],
        },
    )


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(MODELS), usage_parts(), st.sampled_from([None, "batch"]))
def test_cost_is_non_negative_and_exact(key, parts, tier):
    cost = TABLE.price(*key, build(parts), tier=tier)
    assert cost is not None and cost.amount >= 0 and cost.currency == "USD"
    assert isinstance(cost.amount, Decimal)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(MODELS),
    usage_parts(),
    st.sampled_from(
        [
            "text",
            "audio_in",
            "read",
            "read_audio",
            "write_5m",
            "write_1h",
            "output",
            "audio_out",
            "reasoning",
            "images",
            "searches",
        ]
    ),
    st.integers(min_value=1, max_value=300_000),
    st.sampled_from([None, "batch"]),
)
def test_cost_is_monotone_in_every_count(key, parts, field, more, tier):
    before = TABLE.price(*key, build(parts), tier=tier)
    after = TABLE.price(*key, build({**parts, field: parts[field] + more}), tier=tier)
    assert before is not None and after is not None
    assert after.amount >= before.amount


PINNED = [
    # (provider, model, usage, hand-computed USD)
    # gpt-4.1 ($2 in, $0.50 cached, $8 out): 2,000 x 2 + 8,000 x 0.5 + 1,000 x 8 = 16,000
    ("openai", "gpt-4.1", Usage(10_000, 1_000, cache_read_tokens=8_000), "0.016"),
    # gpt-5-mini ($0.25 in, $2 out; reasoning is output): 250,000 + 200,000
    ("openai", "gpt-5-mini", Usage(1_000_000, 100_000, reasoning_tokens=90_000), "0.45"),
    # claude-opus-4-1 ($15 in, $1.50 read, $30 1h write, $75 out):
    # 500 x 15 + 1,000 x 1.5 + 500 x 30 + 100 x 75 = 7,500 + 1,500 + 15,000 + 7,500
    (
        "anthropic",
        "claude-opus-4-1-20250805",
        Usage(2_000, 100, 1_000, 500, details={"cache_write_1h_tokens": 500}),
        "0.0315",
    ),
    # gemini-2.5-flash-lite ($0.10 in, $0.40 out)
    ("gcp.gemini", "gemini-2.5-flash-lite", Usage(1_000_000, 1_000_000), "0.5"),
]


@settings(max_examples=20, deadline=None)
@given(st.sampled_from(PINNED))
def test_pinned_examples(example):
    provider, model, usage, expected = example
    assert price(provider, model, usage) == usd(expected)
