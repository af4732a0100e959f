"""Image edits and variations through the gateway: the official OpenAI SDK uploads its
files (multipart/form-data) to the gateway, which sends them on to a fake OpenAI
upstream; the upstream must receive the same parts, byte for byte, and the SDK the
images back (the fake upstream answers with the input images' own bytes)."""

from __future__ import annotations

import base64

import httpx
import pytest
from gateway_support import GATEWAY_KEY, run_sdk

AUTH = {"authorization": f"Bearer {GATEWAY_KEY}"}
CAT = ("cat.png", b"\x89PNG\r\n\x1a\n\x00cat\xff\xfe", "image/png")
DOG = ("dog.webp", b"RIFF\x00\x00\x00\x00WEBPdog", "image/webp")
MASK = ("mask.png", b"\x89PNG\r\n\x1a\n\x00mask", "image/png")


def _spec(upload: tuple[str, bytes, str]) -> dict[str, str]:
    name, data, media = upload
    return {"name": name, "data": base64.b64encode(data).decode(), "type": media}


CASES = [
    {
        "inbound": "images",
        "mode": "edit",
        "model": "via-chat",
        "prompt": "put a hat on the cat",
        "images": [_spec(CAT)],
        "mask": _spec(MASK),
        "n": 2,
    },
    {
        "inbound": "images",
        "mode": "edit",
        "model": "via-chat",
        "prompt": "a cat and a dog",
        "images": [_spec(CAT), _spec(DOG)],
        "as_list": True,
    },
    {"inbound": "images", "mode": "variation", "model": "via-chat", "images": [_spec(DOG)]},
]

# what the upstream must receive for each case: (path, file parts, text fields)
EXPECTED = [
    (
        "/v1/images/edits",
        {"image": CAT, "mask": MASK},
        {
            "prompt": "put a hat on the cat",
            "model": "up-model",
            "n": "2",
            "response_format": "b64_json",
        },
    ),
    (
        "/v1/images/edits",
        {"image[]": [CAT, DOG]},
        {"prompt": "a cat and a dog", "model": "up-model", "response_format": "b64_json"},
    ),
    (
        "/v1/images/variations",
        {"image": DOG},
        {"model": "up-model", "response_format": "b64_json"},
    ),
]
ANSWERS = [[CAT[1], CAT[1]], [CAT[1]], [DOG[1]]]


@pytest.mark.parametrize("generation", ["new", "old"])
def test_sdk_edits_and_variations_reach_the_upstream_intact(gateway, upstream, generation):
    upstream.clear()
    results = run_sdk(generation, gateway.url, CASES)
    problems = [f"{r['case']['mode']}: {r['error']}" for r in results if not r["ok"]]
    assert not problems, "\n".join(problems)
    got = [[base64.b64decode(b) for b in r["result"]["images"]] for r in results]
    assert got == ANSWERS
    received = upstream.requests
    assert len(received) == len(EXPECTED)
    for recorded, (path, files, fields) in zip(received, EXPECTED):
        assert recorded.path == path
        assert recorded.key == "up-key-oa-0001"  # the gateway's key never travels on
        assert recorded.multipart is not None, recorded.headers
        assert recorded.multipart.files == files
        assert recorded.multipart.fields == fields


def test_plain_multipart_with_repeated_images(gateway, upstream):
    upstream.clear()
    r = httpx.post(
        gateway.url + "/v1/images/edits",
        headers=AUTH,
        timeout=30,
        data={"model": "via-chat", "prompt": "three", "n": "3", "moderation": "low"},
        files=[("image[]", CAT), ("image[]", DOG), ("image[]", MASK)],
    )
    assert r.status_code == 200, r.text
    images = [base64.b64decode(d["b64_json"]) for d in r.json()["data"]]
    assert images == [CAT[1], DOG[1], MASK[1]]
    form = upstream.last_request.multipart
    assert form.files == {"image[]": [CAT, DOG, MASK]}
    assert form.fields["moderation"] == "low"  # unknown fields travel on


@pytest.mark.parametrize(
    ("path", "kwargs", "needle", "param"),
    [
        (
            "/v1/images/edits",
            {"data": {"model": "via-chat", "prompt": "p"}, "files": {"mask": MASK}},
            "required field is missing",
            "image",
        ),
        (
            "/v1/images/edits",
            {"json": {"model": "via-chat", "prompt": "p", "image": "cat.png"}},
            "file upload",
            "image",
        ),
        (
            "/v1/images/variations",
            {"data": {"model": "via-chat"}, "files": {"file": CAT}},
            "required field is missing",
            "image",
        ),
        (
            "/v1/images/edits",
            {
                "content": b"--abc\r\nContent-Disposition: form-data; name=prompt\r\n\r\np",
                "headers": {"content-type": "multipart/form-data"},
            },
            "malformed multipart body",
            None,
        ),
        (
            "/v1/images/edits",
            {
                "content": b"no boundary anywhere in this body",
                "headers": {"content-type": "multipart/form-data; boundary=abc"},
            },
            "malformed multipart body",
            None,
        ),
    ],
)
def test_bad_uploads_get_openai_errors_naming_the_field(gateway, path, kwargs, needle, param):
    headers = {**AUTH, **kwargs.pop("headers", {})}
    r = httpx.post(gateway.url + path, headers=headers, timeout=30, **kwargs)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert needle in error["message"] and error["type"] == "invalid_request_error"
    if param is not None:
        assert error["param"] == param
