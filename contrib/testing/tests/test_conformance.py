"""The conformance suite run against the toy codecs, and pinned on broken ones."""

from __future__ import annotations

import pytest
from omniwire.codec import Family
from omniwire.errors import UpstreamError
from omniwire.model import Message, Request, Role
from omniwire_testing.conformance import (
    CodecConformance,
    CrossCodecConformance,
    ErrorCase,
    check_error_round_trip,
    check_request_losses,
    codec_pairs,
)
from omniwire_testing.toy import ToyCodec
from toys import DropsAudioToy, HonestLossyToy, PathToy, ReorderingStreamToy, SilentDropToy


class TestToyChat(CodecConformance):
    codec = ToyCodec()
    max_examples = 25


class TestPathParams(CodecConformance):
    """Model and stream flag travel in the URL: the kit must pass route params."""

    codec = PathToy()
    max_examples = 15


class TestHonestLossy(CodecConformance):
    codec = HonestLossyToy()
    max_examples = 25


def _family_suite(family: str) -> type[CodecConformance]:
    codec = ToyCodec(
        f"kit.{family}", family=family, routes=(f"/v1/kit/{family}",), path=f"/kit/{family}"
    )
    return type(f"TestToy_{family}", (CodecConformance,), {"codec": codec, "max_examples": 10})


for _family in (
    Family.EMBED,
    Family.IMAGE,
    Family.IMAGE_EDIT,
    Family.IMAGE_VARIATION,
    Family.TRANSCRIBE,
    Family.SPEECH,
    Family.RERANK,
    Family.COUNT_TOKENS,
):
    _suite = _family_suite(_family)
    globals()[_suite.__name__] = _suite
del _suite, _family


class TestCrossToys(CrossCodecConformance):
    codecs = (ToyCodec("kit.a"), HonestLossyToy())
    max_examples = 15


def test_base_classes_are_not_collected():
    assert CodecConformance.__test__ is False
    assert CrossCodecConformance.__test__ is False
    assert TestToyChat.__test__ is True


def test_codec_pairs_are_ordered_and_within_a_family():
    a, b = ToyCodec("kit.a"), ToyCodec("kit.b")
    e = ToyCodec("kit.e", family=Family.EMBED)
    pairs = {(x.id, y.id) for x, y in codec_pairs([a, b, e])}
    assert pairs == {("kit.a", "kit.b"), ("kit.b", "kit.a")}


def _suite_for(codec):
    # no shrinking: the failure message names the field either way, and shrinking
    # "everything" requests takes seconds
    from hypothesis import Phase

    attrs = {
        "codec": codec,
        "max_examples": 40,
        "settings_overrides": {"phases": (Phase.explicit, Phase.generate), "database": None},
    }
    return type("Pinned", (CodecConformance,), attrs)()


def test_silent_drop_fails_the_loss_property_naming_the_field():
    suite = _suite_for(SilentDropToy())
    suite.test_request_round_trip()  # top_k is not declared: the exact round trip passes
    with pytest.raises(AssertionError, match=r"dropped \$\.top_k silently"):
        suite.test_request_losses_reported()


def test_silent_drop_pinned_on_one_example():
    request = Request("m", (Message.text(Role.USER, "hi"),), top_k=5)
    with pytest.raises(AssertionError) as info:
        check_request_losses(SilentDropToy(), request)
    assert "$.top_k: 5 became None" in str(info.value)
    check_request_losses(HonestLossyToy(), request)  # reported: fine


def test_reordered_stream_fails_naming_the_part():
    suite = _suite_for(ReorderingStreamToy())
    with pytest.raises(AssertionError) as info:
        suite.test_stream_matches_response()
    message = str(info.value)
    assert "streamed form" in message
    assert "$.choices[0].content[" in message
    assert "PartStart(index=" in message


def test_error_round_trip_reports_what_changed():
    class WrongStatus(ToyCodec):
        def encode_error(self, error):
            return 500, {"error": {"type": "x", "message": error.message}}

    case = ErrorCase(UpstreamError("no such model", status=404), (UpstreamError,), 404, False)
    check_error_round_trip(ToyCodec(), case)
    with pytest.raises(AssertionError, match="encode_error gave HTTP 500, expected 404"):
        check_error_round_trip(WrongStatus(), case)


def test_unknown_feature_words_are_reported():
    class Typo(ToyCodec):
        features = frozenset({"text", "temprature"})

    suite = _suite_for(Typo())
    with pytest.raises(AssertionError, match="temprature"):
        suite.test_codec_declaration()


def test_an_explicit_refusal_is_not_a_silent_drop():
    from omniwire.errors import ProtocolError

    class Refuses(ToyCodec):
        def encode_request(self, request, conv):
            if request.top_k is not None:
                raise ProtocolError("acme cannot do top_k", path="$.top_k")
            return super().encode_request(request, conv)

    class RefusesVaguely(ToyCodec):
        def encode_request(self, request, conv):
            raise ProtocolError("no")

    request = Request("m", (Message.text(Role.USER, "hi"),), top_k=5)
    check_request_losses(Refuses(), request)
    with pytest.raises(AssertionError, match="without naming a path"):
        check_request_losses(RefusesVaguely(), request)


def test_a_dropped_part_does_not_shift_blame_onto_its_neighbours():
    from omniwire.model import AudioPart, CacheHint, MediaSource, TextPart

    hint = CacheHint()
    content = (
        AudioPart(MediaSource(data="AA==", media_type="audio/wav"), format="wav"),
        TextPart("one", cache=hint),
        TextPart("two", cache=hint),
    )
    request = Request("m", (Message(Role.USER, content),))
    check_request_losses(DropsAudioToy(), request)


def test_additions_are_not_losses():
    class AddsSeed(ToyCodec):
        def decode_request(self, body, conv, *, params=None):
            import attrs

            return attrs.evolve(super().decode_request(body, conv, params=params), seed=7)

    check_request_losses(AddsSeed(), Request("m", (Message.text(Role.USER, "hi"),)))


def test_ignore_paths_also_tolerate_the_reported_loss():
    from omniwire_testing.conformance import check_request_round_trip

    request = Request("m", (Message.text(Role.USER, "hi"),), top_k=5)
    with pytest.raises(AssertionError, match="reported losses"):
        check_request_round_trip(HonestLossyToy(), request)
    check_request_round_trip(HonestLossyToy(), request, ignore_paths=("$.top_k",))


class TestDropsAudio(CodecConformance):
    codec = DropsAudioToy()
    features = ToyCodec.features - {"audio", "cache_hints"}
    max_examples = 15
