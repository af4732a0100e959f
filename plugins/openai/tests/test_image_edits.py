"""Image edits and variations: the multipart form exactly as the SDK sends it, errors that
name the field, and a real call over HTTP through the stack and the fake upstream."""

from __future__ import annotations

import base64

import anyio
import httpx
import pytest
from omniwire import Endpoint
from omniwire.codec import Family
from omniwire.errors import ProtocolError
from omniwire.model import (
    GeneratedImage,
    ImageEditRequest,
    ImageResponse,
    ImageVariationRequest,
    InputImage,
    Raw,
)
from omniwire.plugins import PluginManager
from omniwire.report import Conversion
from omniwire.stack import Stack
from omniwire.wire import MultipartBody
from omniwire_openai.image_edits import OpenAIImageEdits, OpenAIImageVariations

EDITS, VARIATIONS = OpenAIImageEdits(), OpenAIImageVariations()
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\xff"  # binary: NUL, CR LF, 0xff
CAT = InputImage(PNG, "cat.png", "image/png")
DOG = InputImage(b"RIFF\x00\x00WEBPVP8 ", "dog.webp", "image/webp")
MASK = InputImage(b"\x89PNG-mask\x00", "mask.png", "image/png")


def test_codecs_are_registered_with_their_own_families() -> None:
    pm = PluginManager()
    assert pm.codec("openai.images.edits").family == Family.IMAGE_EDIT == "image_edit"
    assert pm.codec("openai.images.variations").family == Family.IMAGE_VARIATION
    assert EDITS.routes == ("/v1/images/edits",)
    assert VARIATIONS.routes == ("/v1/images/variations",)


# -- the form, exactly --------------------------------------------------------------------


def test_one_image_with_mask_and_every_parameter() -> None:
    request = ImageEditRequest(
        "gpt-image-1",
        "put a hat on the cat",
        (CAT,),
        mask=MASK,
        n=2,
        size="1024x1024",
        quality="high",
        response_format="b64_json",
        background="transparent",
        output_format="webp",
        output_compression=80,
        input_fidelity="high",
        user="user-1",
    )
    conv = Conversion()
    wire = EDITS.encode_request(request, conv)
    assert conv.losses == []
    assert wire.path == "/images/edits" and isinstance(wire.body, MultipartBody)
    assert wire.body.files == {
        "image": ("cat.png", PNG, "image/png"),
        "mask": ("mask.png", MASK.data, "image/png"),
    }
    assert wire.body.fields == {
        "prompt": "put a hat on the cat",
        "background": "transparent",
        "input_fidelity": "high",
        "model": "gpt-image-1",
        "n": "2",
        "output_compression": "80",
        "output_format": "webp",
        "quality": "high",
        "response_format": "b64_json",
        "size": "1024x1024",
        "user": "user-1",
    }
    assert EDITS.decode_request(wire.body, Conversion()) == request


def test_several_images_go_as_repeated_image_array_parts() -> None:
    request = ImageEditRequest("gpt-image-1", "a gift basket", (CAT, DOG, CAT))
    wire = EDITS.encode_request(request, Conversion())
    assert wire.body.files == {"image[]": [_upload(CAT), _upload(DOG), _upload(CAT)]}
    assert wire.body.file_items() == [("image[]", _upload(i)) for i in (CAT, DOG, CAT)]
    back = EDITS.decode_request(wire.body, Conversion())
    assert back.images == (CAT, DOG, CAT) and back == request


def test_sdk_form_round_trips_exactly() -> None:
    # what the SDK sends for image=[one file] (image[]), unknown fields and a file part
    body = MultipartBody(
        {
            "prompt": "p",
            "model": "gpt-image-1",
            "n": "1",
            "safety_identifier": "sid",
            "svg[model]": "gpt-5",
            "stream": "false",
        },
        {
            "image[]": [("a.png", PNG, "image/png")],
            "markup": ("markup.png", b"MARK", "image/png"),
        },
    )
    conv = Conversion()
    request = EDITS.decode_request(body, conv)
    assert request.images == (InputImage(PNG, "a.png", "image/png"),)
    assert request.extra == {
        "safety_identifier": "sid",
        "svg[model]": "gpt-5",
        "stream": "false",
        "markup": InputImage(b"MARK", "markup.png", "image/png"),
    }
    again = EDITS.encode_request(request, conv)
    assert again.body == body and conv.losses == []
    # without the raw form a single image goes under the plain name
    plain = EDITS.encode_request(
        ImageEditRequest("m", "p", request.images), Conversion()
    ).body.files
    assert plain == {"image": ("a.png", PNG, "image/png")}


def test_nested_extra_is_flattened_like_the_sdk() -> None:
    request = ImageEditRequest(
        "gpt-image-1",
        "p",
        (CAT,),
        extra={"svg": {"model": "m", "reasoning": {"effort": "low"}}, "partial_images": 0},
    )
    fields = EDITS.encode_request(request, Conversion()).body.fields
    assert fields["svg[model]"] == "m" and fields["svg[reasoning][effort]"] == "low"
    assert fields["partial_images"] == "0"


def test_extra_from_another_protocol_is_a_loss() -> None:
    request = ImageEditRequest(
        "m", "p", (CAT,), extra={"seed": 1}, raw=Raw("acme.images", {"seed": 1})
    )
    conv = Conversion()
    body = EDITS.encode_request(request, conv).body
    assert "seed" not in body.fields
    assert conv.report().paths == ("$.extra.seed",)


def test_model_left_to_the_api_default() -> None:
    request = EDITS.decode_request(
        MultipartBody({"prompt": "p"}, {"image": ("a.png", PNG, None)}), Conversion()
    )
    assert request.model == "" and request.images[0].media_type is None
    assert "model" not in EDITS.encode_request(request, Conversion()).body.fields


def test_variation_form() -> None:
    request = ImageVariationRequest(
        "dall-e-2", CAT, n=3, size="512x512", response_format="url", user="u"
    )
    wire = VARIATIONS.encode_request(request, Conversion())
    assert wire.path == "/images/variations"
    assert wire.body == MultipartBody(
        {"model": "dall-e-2", "n": "3", "response_format": "url", "size": "512x512", "user": "u"},
        {"image": ("cat.png", PNG, "image/png")},
    )
    assert VARIATIONS.decode_request(wire.body, Conversion()) == request


def test_the_response_is_the_generations_images_response() -> None:
    body = {
        "created": 1_713_833_628,
        "data": [{"b64_json": "aGk="}],
        "usage": {
            "total_tokens": 100,
            "input_tokens": 50,
            "output_tokens": 50,
            "input_tokens_details": {"text_tokens": 10, "image_tokens": 40},
        },
    }
    for codec in (EDITS, VARIATIONS):
        response = codec.decode_response(body, Conversion())
        assert response.images == (GeneratedImage(b64_json="aGk="),)
        assert response.usage is not None and response.usage.input_tokens == 50
        assert codec.encode_response(response, Conversion()) == body


def test_input_image_repr_shows_only_the_length() -> None:
    assert repr(CAT) == "InputImage(data=<18 bytes>, filename='cat.png', media_type='image/png')"


# -- errors name the field ----------------------------------------------------------------

IMG = {"image": ("a.png", PNG, "image/png")}


@pytest.mark.parametrize(
    ("codec", "body", "path", "needle"),
    [
        (EDITS, MultipartBody({"prompt": "p"}), "$.image", "required field is missing"),
        (EDITS, MultipartBody({"prompt": "p", "image": "a.png"}), "$.image", "file upload"),
        (EDITS, MultipartBody({"prompt": "p", "image[]": "x"}), "$.image[]", "file upload"),
        (EDITS, MultipartBody({}, IMG), "$.prompt", "required field is missing"),
        (EDITS, MultipartBody({"prompt": "p", "n": "two"}, IMG), "$.n", "expected integer"),
        (
            EDITS,
            MultipartBody({"prompt": "p", "output_compression": "1.5"}, IMG),
            "$.output_compression",
            "expected integer",
        ),
        (EDITS, MultipartBody({"prompt": "p", "mask": "m"}, IMG), "$.mask", "file upload"),
        (
            EDITS,
            MultipartBody({"prompt": "p"}, {**IMG, "mask": [IMG["image"], IMG["image"]]}),
            "$.mask",
            "one file upload",
        ),
        (EDITS, MultipartBody({"prompt": "p", "stream": "true"}, IMG), "$.stream", "stream"),
        (EDITS, [1, 2], "$", "expected a multipart form"),
        (EDITS, "prompt=p", "$", "expected a multipart form"),
        # a JSON body reaches the codec as a mapping: no upload in it
        (EDITS, {"prompt": "p", "image": "aGk="}, "$.image", "file upload"),
        (EDITS, {"prompt": "p", "images": [{"image_url": "x"}]}, "$.image", "missing"),
        (VARIATIONS, MultipartBody({"model": "dall-e-2"}), "$.image", "missing"),
        (
            VARIATIONS,
            MultipartBody({}, {"image": [IMG["image"], IMG["image"]]}),
            "$.image",
            "one file upload",
        ),
        (VARIATIONS, MultipartBody({"n": "x"}, IMG), "$.n", "expected integer"),
        (VARIATIONS, {"image": b"raw bytes"}, "$.image", "file upload"),
    ],
)
def test_malformed_requests_name_the_field(codec, body, path, needle) -> None:
    with pytest.raises(ProtocolError) as info:
        codec.decode_request(body, Conversion())
    assert info.value.path == path
    assert needle in str(info.value)


def test_an_edit_without_images_is_refused_naming_the_field() -> None:
    with pytest.raises(ProtocolError) as info:
        EDITS.encode_request(ImageEditRequest("m", "p", ()), Conversion())
    assert info.value.path == "$.images"


def test_errors_leave_in_openai_shape_with_the_param() -> None:
    status, body = EDITS.encode_error(ProtocolError("required field is missing", path="$.image"))
    assert status == 400
    assert body["error"]["param"] == "image" and body["error"]["type"] == "invalid_request_error"


# -- over real HTTP -----------------------------------------------------------------------


def _upload(image: InputImage) -> tuple[str, bytes, str | None]:
    return (image.filename, image.data, image.media_type)


@pytest.fixture(scope="module")
def upstream():
    from omniwire_testing.upstream import FakeUpstream

    with FakeUpstream() as up:
        yield up


TRANSPORTS = ["httpx", "aiohttp"]


def _call(upstream, request, transport: str):
    endpoint = Endpoint("oa", "openai.chat", upstream.url + "/v1", keys=("sk-up-0000000001",))

    if transport == "aiohttp":
        pytest.importorskip("omniwire_aiohttp")

    async def main():
        pm = PluginManager()
        async with Stack([endpoint], plugin_manager=pm, transport_name=transport) as stack:
            return await stack.invoke(request)

    return anyio.run(main)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_edit_through_the_stack_over_http(upstream, transport) -> None:
    upstream.clear()
    request = ImageEditRequest(
        "oa:gpt-image-1", "combine them", (CAT, DOG), mask=MASK, n=3, output_compression=50
    )
    call = _call(upstream, request, transport)
    recorded = upstream.last_request
    assert recorded.path == "/v1/images/edits" and recorded.codec == "openai.images.edits"
    assert recorded.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert recorded.key == "sk-up-0000000001"
    form = recorded.multipart
    assert form is not None
    assert form.files == {"image[]": [_upload(CAT), _upload(DOG)], "mask": _upload(MASK)}
    assert form.fields == {
        "prompt": "combine them",
        "model": "gpt-image-1",
        "n": "3",
        "output_compression": "50",
    }
    assert recorded.canonical.images == (CAT, DOG) and recorded.canonical.mask == MASK
    response = call.response
    assert isinstance(response, ImageResponse) and call.operation == "edit_image"
    # the fake upstream answers with the input images' bytes, cycling through them
    got = [base64.b64decode(i.b64_json) for i in response.images]
    assert got == [CAT.data, DOG.data, CAT.data]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_variation_through_the_stack_over_http(upstream, transport) -> None:
    upstream.clear()
    call = _call(upstream, ImageVariationRequest("oa:dall-e-2", DOG, n=2), transport)
    recorded = upstream.last_request
    assert recorded.path == "/v1/images/variations"
    assert recorded.multipart.files == {"image": _upload(DOG)}
    assert recorded.multipart.fields == {"model": "dall-e-2", "n": "2"}
    assert [base64.b64decode(i.b64_json) for i in call.response.images] == [DOG.data] * 2
    assert call.operation == "image_variation"


def test_upstream_errors_name_the_field_over_http(upstream) -> None:
    upstream.clear()
    r = httpx.post(
        upstream.url + "/v1/images/edits",
        data={"prompt": "no image"},
        files={"mask": ("m.png", b"x", "image/png")},
    )
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "image"
    for ctype, body in (
        ("multipart/form-data", b"--x\r\n"),  # no boundary parameter
        ("multipart/form-data; boundary=abc", b"no such boundary in here"),
    ):
        r = httpx.post(
            upstream.url + "/v1/images/edits", content=body, headers={"content-type": ctype}
        )
        assert r.status_code == 400, r.text
        assert "malformed multipart body" in r.json()["error"]["message"]
