"""``openai.images.edits`` (``POST /v1/images/edits``) and ``openai.images.variations``
(``POST /v1/images/variations``): images made from uploaded images.

Both requests are multipart/form-data (:class:`omniwire.wire.MultipartBody`): every
parameter a text field, the images file parts carrying their file name and media type.
An edit sends one image as ``image``, or several (GPT image models, up to 16) as
repeated ``image[]`` parts, the SDK's spelling for a file array; a ``mask`` file part is
applied to the first image. A variation sends exactly one ``image``. Unknown text fields
and unknown file parts are kept in ``extra`` (a file as an :class:`InputImage`) and sent
back as they came. Both answer with the generations' ImagesResponse
(:class:`~.images.ImagesResponseCodec`).

Streamed edits (``stream=true``, ``partial_images`` events) are refused with a
ProtocolError naming ``$.stream``: the image families have no canonical stream.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omniwire.codec import Family
from omniwire.errors import ProtocolError
from omniwire.model import ImageEditRequest, ImageVariationRequest, InputImage, Raw
from omniwire.report import Conversion
from omniwire.wire import FileUpload, MultipartBody, WireRequest, expect

from ._common import flatten_field, form_int, form_parts, form_str, form_uploads, same
from .images import ImagesResponseCodec

__all__ = ["OpenAIImageEdits", "OpenAIImageVariations"]

_RESPONSE_WORDS = ("revised_prompt", "image_url", "usage")
_EDIT_TEXT = (
    "background",
    "input_fidelity",
    "output_format",
    "quality",
    "response_format",
    "size",
    "user",
)
_EDIT_INTS = ("n", "output_compression")
_EDIT_FILES = ("image", "image[]", "mask")
_EDIT_KNOWN = frozenset({"prompt", "model", *_EDIT_TEXT, *_EDIT_INTS, *_EDIT_FILES})
_VARIATION_TEXT = ("response_format", "size", "user")
_VARIATION_KNOWN = frozenset({"model", "n", *_VARIATION_TEXT, "image"})


def _input(upload: FileUpload) -> InputImage:
    filename, data, media_type = upload
    return InputImage(
        bytes(data),
        filename=filename if isinstance(filename, str) and filename else "image.png",
        media_type=media_type if isinstance(media_type, str) else None,
    )


def _upload(image: InputImage) -> FileUpload:
    return (image.filename, image.data, image.media_type)


def _one_file(
    fields: Mapping[str, Any], files: Mapping[str, Any], name: str, *, required: bool
) -> InputImage | None:
    """The single upload of file part ``name``; errors name ``$.<name>``."""
    path = f"$.{name}"
    if name not in files:
        if fields.get(name) is not None:
            raise ProtocolError("expected a file upload, got a text field", path=path)
        if required:
            raise ProtocolError("required field is missing", path=path)
        return None
    uploads = form_uploads(files[name], path)
    if len(uploads) != 1:
        raise ProtocolError(f"expected one file upload, got {len(uploads)}", path=path)
    return _input(uploads[0])


def _extra(
    fields: Mapping[str, Any], files: Mapping[str, Any], known: frozenset[str]
) -> dict[str, Any] | None:
    """Unknown text fields as they came; unknown file parts as InputImages (a tuple of
    them when the form repeats the name)."""
    extra: dict[str, Any] = {k: v for k, v in fields.items() if k not in known}
    for name, value in files.items():
        if name in known:
            continue
        uploads = [_input(u) for u in form_uploads(value, f"$.{name}")]
        extra[name] = tuple(uploads) if isinstance(value, list) else uploads[0]
    return extra or None


def _raw(codec_id: str, fields: Mapping[str, Any], files: Mapping[str, Any]) -> Raw:
    # the form's text fields and the names of its file parts (never the bytes)
    return Raw(codec_id, {"fields": dict(fields), "files": list(files)})


def _send_extra(
    extra: Mapping[str, Any], fields: dict[str, str], files: dict[str, Any], conv: Conversion
) -> None:
    """Extra parameters into the form; what the codec already set wins."""
    for key, value in extra.items():
        if isinstance(value, InputImage):
            files.setdefault(key, _upload(value))
        elif (
            isinstance(value, (tuple, list))
            and value
            and all(isinstance(v, InputImage) for v in value)
        ):
            files.setdefault(key, [_upload(v) for v in value])
        else:
            flat: dict[str, str] = {}
            flatten_field(key, value, flat, conv)
            for k, v in flat.items():
                fields.setdefault(k, v)


class OpenAIImageEdits(ImagesResponseCodec):
    id = "openai.images.edits"
    family = Family.IMAGE_EDIT
    routes = ("/v1/images/edits",)
    # the kit's words for this family (contrib/testing features.py FAMILY_WORDS)
    features = frozenset(
        {
            "n",
            "size",
            "quality",
            "response_format",
            "background",
            "output_format",
            "output_compression",
            "input_fidelity",
            "user",
            "mask",
            "media_type",
            "multiple_images",
            *_RESPONSE_WORDS,
        }
    )

    def encode_request(self, request: ImageEditRequest, conv: Conversion) -> WireRequest:
        if not request.images:
            raise ProtocolError("an edit needs at least one image", path="$.images")
        fields: dict[str, str] = {"prompt": request.prompt}
        for key in ("background", "input_fidelity"):
            if getattr(request, key) is not None:
                fields[key] = getattr(request, key)
        if request.model:
            fields["model"] = request.model
        for key in ("n", "output_compression", "output_format", "quality"):
            value = getattr(request, key)
            if value is not None:
                fields[key] = value if isinstance(value, str) else str(value)
        for key in ("response_format", "size", "user"):
            if getattr(request, key) is not None:
                fields[key] = getattr(request, key)
        raw = same(request.raw, self.id)
        raw_files = raw.get("files") if raw is not None else None
        as_array = len(request.images) > 1 or (
            isinstance(raw_files, list) and "image[]" in raw_files and "image" not in raw_files
        )
        files: dict[str, Any] = {}
        if as_array:  # the SDK's spelling of a file array: one image[] part per image
            files["image[]"] = [_upload(image) for image in request.images]
        else:
            files["image"] = _upload(request.images[0])
        if request.mask is not None:
            files["mask"] = _upload(request.mask)
        _send_extra(self._extra(request.extra, request.raw, conv), fields, files, conv)
        return WireRequest("/images/edits", MultipartBody(fields, files))

    def decode_request(
        self, body: Any, conv: Conversion, *, params: Mapping[str, str] | None = None
    ) -> ImageEditRequest:
        """``body`` is a MultipartBody (or a mapping of fields with the uploads as
        ``(filename, bytes, media_type)`` tuples)."""
        fields, files = form_parts(body)
        images: list[InputImage] = []
        for name in ("image", "image[]"):
            if name in files:
                images += [_input(u) for u in form_uploads(files[name], f"$.{name}")]
            elif fields.get(name) is not None:
                raise ProtocolError("expected a file upload, got a text field", path=f"$.{name}")
        if not images:
            raise ProtocolError("required field is missing", path="$.image")
        stream = fields.get("stream")
        if stream is True or (isinstance(stream, str) and stream.strip().lower() == "true"):
            raise ProtocolError(
                "streamed image edits are not supported; send stream=false", path="$.stream"
            )
        return ImageEditRequest(
            model=form_str(fields, "model") or "",  # the API defaults the model
            prompt=expect(fields, "prompt", str),
            images=tuple(images),
            mask=_one_file(fields, files, "mask", required=False),
            n=form_int(fields, "n"),
            size=form_str(fields, "size"),
            quality=form_str(fields, "quality"),
            response_format=form_str(fields, "response_format"),
            background=form_str(fields, "background"),
            output_format=form_str(fields, "output_format"),
            output_compression=form_int(fields, "output_compression"),
            input_fidelity=form_str(fields, "input_fidelity"),
            user=form_str(fields, "user"),
            extra=_extra(fields, files, _EDIT_KNOWN),
            raw=_raw(self.id, fields, files),
        )


class OpenAIImageVariations(ImagesResponseCodec):
    id = "openai.images.variations"
    family = Family.IMAGE_VARIATION
    routes = ("/v1/images/variations",)
    # the kit's words for this family (contrib/testing features.py FAMILY_WORDS)
    features = frozenset({"n", "size", "response_format", "user", "media_type", *_RESPONSE_WORDS})

    def encode_request(self, request: ImageVariationRequest, conv: Conversion) -> WireRequest:
        fields: dict[str, str] = {}
        if request.model:
            fields["model"] = request.model
        if request.n is not None:
            fields["n"] = str(request.n)
        for key in _VARIATION_TEXT:
            if getattr(request, key) is not None:
                fields[key] = getattr(request, key)
        files: dict[str, Any] = {"image": _upload(request.image)}
        _send_extra(self._extra(request.extra, request.raw, conv), fields, files, conv)
        return WireRequest("/images/variations", MultipartBody(fields, files))

    def decode_request(
        self, body: Any, conv: Conversion, *, params: Mapping[str, str] | None = None
    ) -> ImageVariationRequest:
        """``body`` is a MultipartBody (or a mapping of fields and uploads)."""
        fields, files = form_parts(body)
        image = _one_file(fields, files, "image", required=True)
        assert image is not None
        return ImageVariationRequest(
            model=form_str(fields, "model") or "",
            image=image,
            n=form_int(fields, "n"),
            size=form_str(fields, "size"),
            response_format=form_str(fields, "response_format"),
            user=form_str(fields, "user"),
            extra=_extra(fields, files, _VARIATION_KNOWN),
            raw=_raw(self.id, fields, files),
        )
