"""The JSON bodies Uppy's AwsS3 plugin sends to Companion's routes: parsed and documented here."""

from __future__ import annotations

from typing import Annotated, Any

from msgspec import Meta, Struct

from uploadcore.domain.metadata import MAX_TEXT


class UppyCreate(Struct, forbid_unknown_fields=True, frozen=True):
    """`POST …/s3/multipart`: a multipart upload of a file whose size is not sent."""

    filename: Annotated[str, Meta(description="The file's name.", examples=["photo.jpg"])]
    type: Annotated[
        str, Meta(max_length=MAX_TEXT, description="Its MIME type.", examples=["image/jpeg"])
    ] = ""
    metadata: Annotated[
        dict[str, Any], Meta(description="Uppy's metadata of the file; `type` is read.")
    ] = {}


class UppyPart(Struct, forbid_unknown_fields=True, frozen=True):
    PartNumber: Annotated[int, Meta(ge=1, examples=[1])]
    ETag: Annotated[str, Meta(max_length=100, examples=['"9b2cf535f27731c974343645a3985328"'])]


class UppyComplete(Struct, forbid_unknown_fields=True, frozen=True):
    """`POST …/s3/multipart/{uploadId}/complete`: the parts, quoted or unquoted etags."""

    parts: list[UppyPart]


__all__ = ["UppyComplete", "UppyCreate", "UppyPart"]
