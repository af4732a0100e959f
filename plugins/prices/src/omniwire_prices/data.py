"""The default price table: list prices of current OpenAI, Anthropic and Gemini models.

Prices are facts, and they change; this table is a dated snapshot.

Sources (standard, pay-as-you-go, global rates in USD):

* OpenAI — https://platform.openai.com/docs/pricing
* Anthropic — https://docs.anthropic.com/en/docs/about-claude/pricing
  (cache reads 0.1x base input, 5-minute cache writes 1.25x, 1-hour writes 2x;
  web search $10 per 1,000 searches; Batch API 50% off)
* Google — https://ai.google.dev/gemini-api/docs/pricing (Gemini Developer API, paid
  tier; Batch Mode 50% off)

As of: compiled 2026-11-21. Rates of models released up to late 2025 are those the
official pages published then; rates of models released in 2026 (gpt-5.4, gpt-5.4-mini,
gpt-5.5, claude-opus-4-6/4-7, claude-sonnet-4-6, gemini-3-flash-preview,
gemini-3.1-pro-preview) were cross-checked against several independent snapshots of the
official pages dated 2026-03 to 2026-07, as the official pages could not be fetched
when the table was compiled. Verify before billing anyone, and override in config or
code (docs/budgets.md) where your contract differs.

Not recorded (priced at the standard rate, with a warning, or left to an override):
priority / scale tiers, regional and data-residency surcharges, Gemini context-cache
storage per hour, grounding and code-execution fees, image sizes and qualities other
than the one named per image model, and any long-context premium for Claude 4.6+ models.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .table import ModelPrice, PriceTable, Rates, Tier

__all__ = ["AS_OF", "DEFAULT_TABLE_NAME", "SOURCES", "default_table"]

AS_OF = "2026-11-21"
DEFAULT_TABLE_NAME = "omniwire-prices"
SOURCES = (
    "https://platform.openai.com/docs/pricing",
    "https://docs.anthropic.com/en/docs/about-claude/pricing",
    "https://ai.google.dev/gemini-api/docs/pricing",
)

D = Decimal
NO_BATCH: Any = None


def _openai(
    input: str,
    cached: str | None,
    output: str,
    *,
    batch: bool = True,
    long_above: int | None = None,
    **modal: Any,
) -> ModelPrice:
    """OpenAI: cache reads at the published cached-input rate (or full input where
    none is published); cache writes are not charged extra (priced as input)."""
    rates = Rates(input, output, cache_read=cached, **modal)
    tiers: tuple[Tier, ...] = ()
    if long_above is not None:  # above it: 2x input-side rates, 1.5x output rates
        tiers = (Tier(long_above, rates.scaled(D(2), D("1.5"))),)
    return ModelPrice(rates, tiers, batch=D("0.5") if batch else NO_BATCH)


def _claude(input: str, output: str, *, long_context: bool = False) -> ModelPrice:
    """Anthropic: cache reads 0.1x, 5-minute writes 1.25x, 1-hour writes 2x base input;
    long context (1M-window models, input above 200k): 2x input-side, 1.5x output."""
    base = D(input)
    rates = Rates(
        base,
        output,
        cache_read=base * D("0.1"),
        cache_write=base * D("1.25"),
        cache_write_1h=base * D(2),
        units={"web_search_requests": "0.01"},
    )
    tiers = (Tier(200_000, rates.scaled(D(2), D("1.5"))),) if long_context else ()
    return ModelPrice(rates, tiers)


def _gemini(
    input: str,
    output: str,
    cache: str | None = None,
    *,
    audio: str | None = None,
    audio_cache: str | None = None,
    long: tuple[str, str, str] | None = None,
    batch: bool = True,
    **extra: Any,
) -> ModelPrice:
    """Gemini: ``input`` for text/image/video, ``audio`` for audio input; ``cache`` is
    the context-caching (cached token) rate; ``long`` the (input, output, cache) rates
    for prompts above 200k tokens."""
    rates = Rates(
        input,
        output,
        cache_read=cache,
        input_modal={"audio": audio} if audio else {},
        cache_read_modal={"audio": audio_cache} if audio_cache else {},
        **extra,
    )
    tiers: tuple[Tier, ...] = ()
    if long is not None:
        tiers = (Tier(200_000, Rates(long[0], long[1], cache_read=long[2])),)
    return ModelPrice(rates, tiers, batch=D("0.5") if batch else NO_BATCH)


_OPENAI: dict[str, ModelPrice] = {
    # GPT-5 family
    "gpt-5.5": _openai("5.00", "0.50", "30.00", long_above=270_000),
    "gpt-5.4": _openai("2.50", "0.25", "15.00", long_above=270_000),
    "gpt-5.4-mini": _openai("0.75", "0.075", "4.50"),
    "gpt-5.1": _openai("1.25", "0.125", "10.00"),
    "gpt-5.1-codex": _openai("1.25", "0.125", "10.00"),
    "gpt-5.1-codex-mini": _openai("0.25", "0.025", "2.00"),
    "gpt-5": _openai("1.25", "0.125", "10.00"),
    "gpt-5-codex": _openai("1.25", "0.125", "10.00"),
    "gpt-5-chat-latest": _openai("1.25", "0.125", "10.00", batch=False),
    "gpt-5-mini": _openai("0.25", "0.025", "2.00"),
    "gpt-5-nano": _openai("0.05", "0.005", "0.40"),
    "gpt-5-pro": _openai("15.00", None, "120.00"),
    # GPT-4.1 and GPT-4o
    "gpt-4.1": _openai("2.00", "0.50", "8.00"),
    "gpt-4.1-mini": _openai("0.40", "0.10", "1.60"),
    "gpt-4.1-nano": _openai("0.10", "0.025", "0.40"),
    "gpt-4o": _openai("2.50", "1.25", "10.00"),
    "gpt-4o-2024-05-13": _openai("5.00", None, "15.00"),
    "chatgpt-4o-latest": _openai("5.00", None, "15.00", batch=False),
    "gpt-4o-mini": _openai("0.15", "0.075", "0.60"),
    # reasoning models (reasoning tokens are output tokens)
    "o1": _openai("15.00", "7.50", "60.00"),
    "o1-mini": _openai("1.10", "0.55", "4.40"),
    "o1-pro": _openai("150.00", None, "600.00"),
    "o3": _openai("2.00", "0.50", "8.00"),
    "o3-pro": _openai("20.00", None, "80.00"),
    "o3-mini": _openai("1.10", "0.55", "4.40"),
    "o3-deep-research": _openai("10.00", "2.50", "40.00"),
    "o4-mini": _openai("1.10", "0.275", "4.40"),
    "o4-mini-deep-research": _openai("2.00", "0.50", "8.00"),
    # older chat models
    "gpt-4-turbo": _openai("10.00", None, "30.00"),
    "gpt-4": _openai("30.00", None, "60.00"),
    "gpt-3.5-turbo": _openai("0.50", None, "1.50"),
    # audio in chat: text rates, audio tokens at their own rates
    "gpt-audio": _openai(
        "2.50",
        None,
        "10.00",
        batch=False,
        input_modal={"audio": "32.00"},
        output_modal={"audio": "64.00"},
    ),
    "gpt-4o-audio-preview": _openai(
        "2.50",
        None,
        "10.00",
        batch=False,
        input_modal={"audio": "40.00"},
        output_modal={"audio": "80.00"},
    ),
    "gpt-4o-audio-preview-2024-10-01": _openai(
        "2.50",
        None,
        "10.00",
        batch=False,
        input_modal={"audio": "100.00"},
        output_modal={"audio": "200.00"},
    ),
    "gpt-4o-mini-audio-preview": _openai(
        "0.15",
        None,
        "0.60",
        batch=False,
        input_modal={"audio": "10.00"},
        output_modal={"audio": "20.00"},
    ),
    # realtime
    "gpt-realtime": _openai(
        "4.00",
        "0.40",
        "16.00",
        batch=False,
        input_modal={"audio": "32.00", "image": "5.00"},
        cache_read_modal={"audio": "0.40", "image": "0.50"},
        output_modal={"audio": "64.00"},
    ),
    "gpt-4o-realtime-preview": _openai(
        "5.00",
        "2.50",
        "20.00",
        batch=False,
        input_modal={"audio": "40.00"},
        cache_read_modal={"audio": "2.50"},
        output_modal={"audio": "80.00"},
    ),
    "gpt-4o-realtime-preview-2024-10-01": _openai(
        "5.00",
        "2.50",
        "20.00",
        batch=False,
        input_modal={"audio": "100.00"},
        cache_read_modal={"audio": "20.00"},
        output_modal={"audio": "200.00"},
    ),
    "gpt-4o-mini-realtime-preview": _openai(
        "0.60",
        "0.30",
        "2.40",
        batch=False,
        input_modal={"audio": "10.00"},
        cache_read_modal={"audio": "0.30"},
        output_modal={"audio": "20.00"},
    ),
    # images: token-priced (output tokens are image tokens) and per image
    "gpt-image-1": _openai(
        "5.00",
        "1.25",
        "40.00",
        batch=False,
        input_modal={"image": "10.00"},
        cache_read_modal={"image": "2.50"},
    ),
    "gpt-image-1-mini": _openai(
        "2.00",
        "0.20",
        "8.00",
        batch=False,
        input_modal={"image": "2.50"},
        cache_read_modal={"image": "0.25"},
    ),
    # per image at 1024x1024 standard quality; other sizes/qualities: override
    "dall-e-3": _openai("0", None, "0", batch=False, units={"output_images": "0.04"}),
    "dall-e-2": _openai("0", None, "0", batch=False, units={"output_images": "0.02"}),
    # speech to text, text to speech
    "whisper-1": _openai("0", None, "0", batch=False, units={"input_audio_seconds": "0.0001"}),
    "gpt-4o-transcribe": _openai("2.50", None, "10.00", batch=False, input_modal={"audio": "6.00"}),
    "gpt-4o-mini-transcribe": _openai(
        "1.25", None, "5.00", batch=False, input_modal={"audio": "3.00"}
    ),
    "tts-1": _openai("0", None, "0", batch=False, units={"input_characters": "0.000015"}),
    "tts-1-hd": _openai("0", None, "0", batch=False, units={"input_characters": "0.00003"}),
    "gpt-4o-mini-tts": _openai("0.60", None, "12.00", batch=False),
    # embeddings
    "text-embedding-3-small": _openai("0.02", None, "0"),
    "text-embedding-3-large": _openai("0.13", None, "0"),
    "text-embedding-ada-002": _openai("0.10", None, "0"),
}

_ANTHROPIC: dict[str, ModelPrice] = {
    "claude-opus-4-7": _claude("5", "25"),
    "claude-opus-4-6": _claude("5", "25"),
    "claude-opus-4-5": _claude("5", "25"),
    "claude-opus-4-1": _claude("15", "75"),
    "claude-opus-4": _claude("15", "75"),
    "claude-opus-4-0": _claude("15", "75"),
    "claude-sonnet-4-6": _claude("3", "15"),
    "claude-sonnet-4-5": _claude("3", "15", long_context=True),
    "claude-sonnet-4": _claude("3", "15", long_context=True),
    "claude-sonnet-4-0": _claude("3", "15", long_context=True),
    "claude-3-7-sonnet": _claude("3", "15"),
    "claude-3-5-sonnet": _claude("3", "15"),
    "claude-haiku-4-5": _claude("1", "5"),
    "claude-3-5-haiku": _claude("0.80", "4"),
    "claude-3-haiku": _claude("0.25", "1.25"),
    "claude-3-opus": _claude("15", "75"),
}

_GEMINI: dict[str, ModelPrice] = {
    "gemini-3.1-pro-preview": _gemini("2.00", "12.00", "0.20", long=("4.00", "18.00", "0.40")),
    "gemini-3.1-pro-preview-customtools": _gemini(
        "2.00", "12.00", "0.20", long=("4.00", "18.00", "0.40")
    ),
    "gemini-3-pro-preview": _gemini("2.00", "12.00", "0.20", long=("4.00", "18.00", "0.40")),
    "gemini-3-flash-preview": _gemini("0.50", "3.00", "0.05", audio="1.00"),
    "gemini-2.5-pro": _gemini("1.25", "10.00", "0.125", long=("2.50", "15.00", "0.25")),
    "gemini-2.5-flash": _gemini("0.30", "2.50", "0.03", audio="1.00", audio_cache="0.10"),
    "gemini-2.5-flash-lite": _gemini("0.10", "0.40", "0.01", audio="0.30", audio_cache="0.03"),
    "gemini-2.0-flash": _gemini("0.10", "0.40", "0.025", audio="0.70", audio_cache="0.175"),
    "gemini-2.0-flash-lite": _gemini("0.075", "0.30"),
    # image output at $30 per 1M tokens (1290 tokens, $0.039, per 1024x1024 image); the
    # page lists no separate text-output rate, so all output is priced at it
    "gemini-2.5-flash-image": _gemini("0.30", "30.00"),
    "gemini-2.5-flash-preview-tts": _gemini("0.50", "10.00"),
    "gemini-2.5-pro-preview-tts": _gemini("1.00", "20.00"),
    "gemini-embedding-001": _gemini("0.15", "0"),
    "imagen-4.0-generate": _gemini("0", "0", batch=False, units={"output_images": "0.04"}),
    "imagen-4.0-ultra-generate": _gemini("0", "0", batch=False, units={"output_images": "0.06"}),
    "imagen-4.0-fast-generate": _gemini("0", "0", batch=False, units={"output_images": "0.02"}),
}


def default_table() -> PriceTable:
    models: dict[tuple[str, str], ModelPrice] = {}
    for provider, entries in (
        ("openai", _OPENAI),
        ("anthropic", _ANTHROPIC),
        ("gcp.gemini", _GEMINI),
    ):
        for model, price in entries.items():
            models[(provider, model)] = price
    return PriceTable(DEFAULT_TABLE_NAME, models, source=" ; ".join(SOURCES), as_of=AS_OF)
