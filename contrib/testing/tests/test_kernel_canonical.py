"""The kit's first customer: the kernel's own ``omniwire.canonical`` codecs."""

from __future__ import annotations

from omniwire.canonical import canonical_codecs
from omniwire_testing.conformance import CodecConformance

GENERATE, EMBED, COUNT = canonical_codecs()


class TestCanonicalGenerate(CodecConformance):
    codec = GENERATE
    max_examples = 20


class TestCanonicalEmbeddings(CodecConformance):
    codec = EMBED
    max_examples = 10


class TestCanonicalCountTokens(CodecConformance):
    codec = COUNT
    max_examples = 10
