"""Conversion reports: what a conversion could not carry, named by field path.

A codec receives a :class:`Conversion` and calls :meth:`Conversion.lose` for every piece of
information it cannot represent. In strict mode the first loss raises ProtocolError, so
nothing is ever dropped silently; otherwise the loss is recorded and the finished
:class:`ConversionReport` travels with the result.
"""

from __future__ import annotations

from typing import Any

import attrs

from .errors import ProtocolError

__all__ = ["Conversion", "ConversionReport", "LossReason"]


@attrs.frozen
class LossReason:
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@attrs.frozen
class ConversionReport:
    """``bridged``: the payload crossed from one protocol to another.
    ``lossy``: something could not be carried; ``loss_reasons`` says what and why."""

    source: str | None = None
    target: str | None = None
    loss_reasons: tuple[LossReason, ...] = ()

    @property
    def bridged(self) -> bool:
        return self.source is not None and self.target is not None and self.source != self.target

    @property
    def lossy(self) -> bool:
        return bool(self.loss_reasons)

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(r.path for r in self.loss_reasons)

    def merged(self, other: ConversionReport) -> ConversionReport:
        return ConversionReport(
            self.source or other.source,
            other.target or self.target,
            self.loss_reasons + other.loss_reasons,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "bridged": self.bridged,
            "lossy": self.lossy,
            "loss_reasons": [{"path": r.path, "reason": r.reason} for r in self.loss_reasons],
        }

    def header_value(self) -> str:
        """A compact single-line form for an HTTP header."""
        return "; ".join(str(r) for r in self.loss_reasons)


class Conversion:
    """The loss log of one conversion in progress (mutable, cheap, not shared)."""

    __slots__ = ("source", "target", "strict", "losses")

    def __init__(
        self, source: str | None = None, target: str | None = None, *, strict: bool = False
    ) -> None:
        self.source = source
        self.target = target
        self.strict = strict
        self.losses: list[LossReason] = []

    def lose(self, path: str, reason: str) -> None:
        if self.strict:
            raise ProtocolError(f"cannot convert losslessly: {reason}", path=path)
        self.losses.append(LossReason(path, reason))

    def report(self) -> ConversionReport:
        return ConversionReport(self.source, self.target, tuple(self.losses))
