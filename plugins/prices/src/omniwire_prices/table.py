"""Price tables: per-model rates and the arithmetic that turns a canonical Usage into a
Cost.

Everything is ``Decimal``; a rate is US dollars per million tokens (``*_per_mtok``) or
per unit (``units``). The arithmetic follows the canonical Usage semantics
(``omniwire.model.generation``): ``input_tokens`` counts *all* input, cache reads and
cache writes included, and ``output_tokens`` includes reasoning. So::

    uncached input = input_tokens - cache_read_tokens - cache_write_tokens
    cost = uncached x input + cache_read x cache_read_rate
         + writes(5m) x cache_write + writes(1h) x cache_write_1h
         + output_tokens x output                       (reasoning is billed as output)
         + per-unit charges (searches, images, seconds, characters)

``Usage.details`` keys the arithmetic reads (written by the codecs, or expected from
future ones where noted):

* ``cache_write_1h_tokens`` / ``cache_write_5m_tokens`` — Anthropic's cache-write TTL
  split (the anthropic codec); writes not marked 1h are priced at the 5-minute rate.
* ``input_<modality>_tokens``, ``cache_read_<modality>_tokens``,
  ``output_<modality>_tokens`` — per-modality counts (the gemini codec's breakdowns, the
  openai codec's ``input_audio_tokens``/``output_audio_tokens``), priced at the
  modality's rate where the table has one and at the text rate otherwise.
* per-unit keys named in a model's ``units`` — ``web_search_requests`` (anthropic
  codec), and the keys this table defines for families priced by the unit:
  ``output_images`` (images generated), ``input_audio_seconds`` (seconds transcribed),
  ``input_characters`` (characters synthesised).

A *long-context tier* replaces every token rate of a call whose ``input_tokens`` exceed
its threshold (Gemini 2.5 Pro above 200k prompt tokens, Claude Sonnet 4/4.5 above 200k
input tokens). The *batch* multiplier (0.5 where the provider offers a batch discount)
applies to token charges when the call ran in the batch or flex tier.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Iterable, Iterator, Mapping

import attrs
from omniwire.errors import ConfigError
from omniwire.model import Usage
from omniwire.money import Cost

__all__ = [
    "BATCH_TIERS",
    "ModelPrice",
    "PriceTable",
    "Rates",
    "Tier",
    "decimal",
    "model_candidates",
    "provider_key",
]

MTOK = Decimal(1_000_000)
BATCH_TIERS = frozenset({"batch", "flex"})
"""Service tiers billed at the batch rate (OpenAI prices its flex tier at batch rates)."""

PROVIDER_ALIASES = {"gemini": "gcp.gemini", "google": "gcp.gemini"}
"""Codec ``provider`` names (OpenTelemetry ``gen_ai.provider.name``) and their aliases."""


def decimal(value: Any, where: str = "price") -> Decimal:
    """A non-negative money amount from config or code. Floats only arrive from TOML
    parsing; they are taken by their shortest repr (``0.15`` -> ``Decimal('0.15')``),
    never by their binary value."""
    if isinstance(value, bool):
        raise ConfigError(f"{where}: expected a number, got true/false")
    if isinstance(value, Decimal):
        out = value
    elif isinstance(value, int):
        out = Decimal(value)
    elif isinstance(value, float):
        out = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            out = Decimal(value.strip())
        except ArithmeticError:
            raise ConfigError(f"{where}: {value!r} is not a number") from None
    else:
        raise ConfigError(f"{where}: expected a number, got {type(value).__name__}")
    if not out.is_finite() or out < 0:
        raise ConfigError(f"{where}: expected a non-negative number, got {value!r}")
    return out


def _rate_map(value: Mapping[str, Any] | None) -> Mapping[str, Decimal]:
    return {str(k): decimal(v) for k, v in (value or {}).items()}


def _opt(value: Any) -> Decimal | None:
    return None if value is None else decimal(value)


@attrs.frozen(eq=False)
class Rates:
    """One set of rates. Cache rates left unset fall back to ``input`` (reads, writes)
    and to ``cache_write`` (1-hour writes): a provider that does not charge them
    differently is priced as plain input, never at a guessed discount."""

    input: Decimal = attrs.field(converter=decimal)
    output: Decimal = attrs.field(converter=decimal)
    cache_read: Decimal | None = attrs.field(default=None, converter=_opt)
    cache_write: Decimal | None = attrs.field(default=None, converter=_opt)
    cache_write_1h: Decimal | None = attrs.field(default=None, converter=_opt)
    input_modal: Mapping[str, Decimal] = attrs.field(factory=dict, converter=_rate_map)
    cache_read_modal: Mapping[str, Decimal] = attrs.field(factory=dict, converter=_rate_map)
    output_modal: Mapping[str, Decimal] = attrs.field(factory=dict, converter=_rate_map)
    units: Mapping[str, Decimal] = attrs.field(factory=dict, converter=_rate_map)

    @property
    def plain(self) -> bool:
        """Only per-token input, output and cache rates (no modality or unit rates)."""
        return not (self.input_modal or self.cache_read_modal or self.output_modal or self.units)

    @property
    def read(self) -> Decimal:
        return self.input if self.cache_read is None else self.cache_read

    @property
    def write(self) -> Decimal:
        return self.input if self.cache_write is None else self.cache_write

    @property
    def write_1h(self) -> Decimal:
        return self.write if self.cache_write_1h is None else self.cache_write_1h

    def scaled(self, input_factor: Decimal, output_factor: Decimal) -> Rates:
        """These rates with input-side and output-side rates multiplied (long-context
        premiums are quoted as such multiples)."""

        def each(m: Mapping[str, Decimal], f: Decimal) -> dict[str, Decimal]:
            return {k: v * f for k, v in m.items()}

        return Rates(
            self.input * input_factor,
            self.output * output_factor,
            None if self.cache_read is None else self.cache_read * input_factor,
            None if self.cache_write is None else self.cache_write * input_factor,
            None if self.cache_write_1h is None else self.cache_write_1h * input_factor,
            each(self.input_modal, input_factor),
            each(self.cache_read_modal, input_factor),
            each(self.output_modal, output_factor),
            self.units,
        )


@attrs.frozen(eq=False)
class Tier:
    """Rates for calls whose ``input_tokens`` exceed ``above`` (they apply to the whole
    call, as the providers bill it)."""

    above: int
    rates: Rates


def _tiers(value: Iterable[Tier]) -> tuple[Tier, ...]:
    return tuple(value)


@attrs.frozen(eq=False)
class ModelPrice:
    rates: Rates
    tiers: tuple[Tier, ...] = attrs.field(default=(), converter=_tiers)
    batch: Decimal | None = attrs.field(default=Decimal("0.5"), converter=_opt)
    """Multiplier on token charges in the batch/flex tier; None: no batch offer (the
    standard rates apply)."""
    currency: str = "USD"

    def rates_for(self, usage: Usage) -> Rates:
        rates = self.rates
        for tier in sorted(self.tiers, key=lambda t: t.above):
            if usage.input_tokens > tier.above:
                rates = tier.rates
        return rates

    def cost(self, usage: Usage, *, tier: str | None = None) -> Cost:
        """The exact cost of ``usage``; see the module docstring for the arithmetic."""
        if not self.tiers and not usage.details and self.rates.plain:
            # the common shape (no per-modality or per-unit rates, no details): the same
            # arithmetic as below with every modality term zero
            r = self.rates
            read = max(usage.cache_read_tokens, 0)
            write = max(usage.cache_write_tokens, 0)
            uncached = max(usage.input_tokens - read - write, 0)
            total = (
                uncached * r.input
                + read * r.read
                + write * r.write
                + max(usage.output_tokens, 0) * r.output
            ) / MTOK
            if tier in BATCH_TIERS and self.batch is not None:
                total *= self.batch
            return Cost(total, self.currency)
        rates = self.rates_for(usage)
        details = usage.details or {}
        read = max(usage.cache_read_tokens, 0)
        write = max(usage.cache_write_tokens, 0)
        write_1h = min(max(details.get("cache_write_1h_tokens", 0), 0), write)
        uncached = max(usage.input_tokens - read - write, 0)
        total = Decimal(0)
        text_uncached, text_read = uncached, read
        for modality, rate in rates.input_modal.items():
            m_read = min(max(details.get(f"cache_read_{modality}_tokens", 0), 0), text_read)
            m_in = max(details.get(f"input_{modality}_tokens", 0), 0)
            m_uncached = min(max(m_in - m_read, 0), text_uncached)
            text_uncached -= m_uncached
            text_read -= m_read
            total += m_uncached * rate + m_read * rates.cache_read_modal.get(modality, rates.read)
        total += text_uncached * rates.input + text_read * rates.read
        total += (write - write_1h) * rates.write + write_1h * rates.write_1h
        text_out = max(usage.output_tokens, 0)
        for modality, rate in rates.output_modal.items():
            m_out = min(max(details.get(f"output_{modality}_tokens", 0), 0), text_out)
            text_out -= m_out
            total += m_out * rate
        total += text_out * rates.output
        total /= MTOK
        if tier in BATCH_TIERS and self.batch is not None:
            total *= self.batch
        for key, unit_price in rates.units.items():
            total += max(details.get(key, 0), 0) * unit_price
        return Cost(total, self.currency)


def provider_key(provider: str) -> str:
    name = provider.strip().lower()
    return PROVIDER_ALIASES.get(name, name)


_SNAPSHOT_SUFFIXES = (
    re.compile(r"-\d{4}-\d{2}-\d{2}$"),  # OpenAI: gpt-4o-2024-08-06
    re.compile(r"-\d{8}$"),  # Anthropic: claude-sonnet-4-5-20250929
    re.compile(r"@\d{8}$"),  # Anthropic on Vertex: claude-sonnet-4-5@20250929
    re.compile(r"-\d{3}$"),  # Gemini stable versions: gemini-2.0-flash-001
    re.compile(r"-latest$"),  # moving aliases: claude-3-7-sonnet-latest
)


def model_candidates(model: str) -> Iterator[str]:
    """The names a model is looked up under, in order: exactly as given; lower-cased
    without a ``models/`` prefix (Gemini's resource names); then with one dated-snapshot
    or version suffix removed. Nothing else is stripped: a preview, a fine-tune or a
    size variant is a different model with its own price, never a guess."""
    yield model
    name = model.strip().lower()
    if name.startswith("models/"):
        name = name[len("models/") :]
    if name != model:
        yield name
    for pattern in _SNAPSHOT_SUFFIXES:
        base = pattern.sub("", name)
        if base != name and base:
            yield base
            return


@attrs.frozen(eq=False)
class PriceTable:
    """A named table of (provider, model) -> ModelPrice, satisfying the kernel's price
    table contract (``name``, ``price(provider, model, usage)``)."""

    name: str
    models: Mapping[tuple[str, str], ModelPrice] = attrs.field(factory=dict)
    source: str = ""
    as_of: str = ""

    def lookup(self, provider: str, model: str) -> ModelPrice | None:
        key = provider_key(provider)
        for name in model_candidates(model):
            found = self.models.get((key, name))
            if found is not None:
                return found
        return None

    def price(
        self, provider: str, model: str, usage: Usage, *, tier: str | None = None
    ) -> Cost | None:
        found = self.lookup(provider, model)
        return None if found is None else found.cost(usage, tier=tier)

    def extended(
        self,
        prices: Mapping[tuple[str, str], ModelPrice] | Iterable[tuple[tuple[str, str], ModelPrice]],
        *,
        name: str | None = None,
    ) -> PriceTable:
        """A copy with ``prices`` added or replacing existing entries (the way to extend
        or correct the default table in code)."""
        items = prices.items() if isinstance(prices, Mapping) else prices
        merged = dict(self.models)
        for (provider, model), price in items:
            merged[(provider_key(provider), model)] = price
        return attrs.evolve(self, name=name or self.name, models=merged)

    def __len__(self) -> int:
        return len(self.models)


PRICE_KEYS = {
    "input_per_mtok",
    "output_per_mtok",
    "cached_input_per_mtok",
    "cache_write_per_mtok",
    "cache_write_1h_per_mtok",
    "batch_multiplier",
}


def price_from_config(data: Any, where: str) -> ModelPrice:
    """A ModelPrice from a config table (a route's ``price = {...}`` or a
    ``[[prices.models]]`` entry): ``input_per_mtok`` and ``output_per_mtok`` are
    required; ``cached_input_per_mtok``, ``cache_write_per_mtok`` and
    ``cache_write_1h_per_mtok`` default to the input rate (the 1h one to the cache-write
    rate); ``batch_multiplier`` defaults to none (no batch discount)."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a table, got {type(data).__name__}")
    unknown = set(data) - PRICE_KEYS - {"provider", "model"}
    if unknown:
        raise ConfigError(f"{where}: unknown setting {sorted(unknown)[0]!r}")
    for required in ("input_per_mtok", "output_per_mtok"):
        if required not in data:
            raise ConfigError(f"{where}.{required}: required")

    def get(key: str) -> Decimal | None:
        return decimal(data[key], f"{where}.{key}") if key in data else None

    rates = Rates(
        input=get("input_per_mtok"),
        output=get("output_per_mtok"),
        cache_read=get("cached_input_per_mtok"),
        cache_write=get("cache_write_per_mtok"),
        cache_write_1h=get("cache_write_1h_per_mtok"),
    )
    return ModelPrice(rates, batch=get("batch_multiplier"))
