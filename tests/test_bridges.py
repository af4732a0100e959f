"""Every pair of installed codecs of one family: the common subset survives
A -> canonical -> B -> canonical, and everything else is reported as a loss."""

from __future__ import annotations

from omniwire_testing.conformance import CrossCodecConformance


class TestBridges(CrossCodecConformance):
    pass
