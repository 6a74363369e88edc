"""The API's bodies, each declared once: parsed, rendered and documented from here.

Requests are msgspec Structs, decoded by `validation.decode` (every problem named
at once). Responses are TypedDicts: the routes build plain dicts, which orjson
writes fastest, and mypy holds each to its declared keys and types. The OpenAPI
document is generated from both, docstrings and `Meta` descriptions included; a
field's `examples` make up the examples of the bodies that hold it.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypedDict

from msgspec import UNSET, Meta, Struct, UnsetType

from uploadcore.domain.listing import DEFAULT_LIMIT, MAX_LIMIT
from uploadcore.domain.metadata import MAX_TEXT, check_content_type, check_file_name, check_text
from uploadcore.domain.parts import PartLimits
from uploadcore.domain.upload import UploadStatus
from uploadcore.entrypoints.http.status_models import Checks, FieldError, Health, Problem, Ready
from uploadcore.entrypoints.http.validation import Rule

# Example values, shared by the fields below and the operations of operations.py.
FILE_ID = "AbCdEf0123456789AbCdEf0123456789"
UPLOAD_ID = "9f2d3c4b5a6978807162534435261708"
TOKEN = "WyJBYkNkRWYwMTIzIiwiOWYyZDNjIiwxLDE3NjcyMzM2MDBd.q8n3R2u0bXk"
BASE = "https://uploads.example.com"
ETAG = "5d41402abc4b2a76b9719d911017c592"
MAX_CURSOR = 1024
MAX_PARTS = PartLimits().max_parts


def _text(value: str) -> object:
    return check_text("text", value)


# -- the shared kinds of value --------------------------------------------------------

Text = Annotated[str, Meta(min_length=1, max_length=MAX_TEXT), Rule(_text)]
FileName = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=MAX_TEXT,
        description="A display name, stored as given and never used as a path "
        "(`photos/2024/a.jpg` and `back\\slash.txt` are names like any other): 1 to 255 "
        "characters, no control characters.",
        examples=["large-video.mp4"],
    ),
    Rule(check_file_name),
]
ContentType = Annotated[
    str,
    Meta(description="A `type/subtype` MIME type, parameters allowed.", examples=["video/mp4"]),
    Rule(check_content_type),
]
ParentType = Annotated[Text | None, Meta(examples=["blog.post"])]
ParentId = Annotated[
    Text | int | None, Meta(description="Stored and returned as a string.", examples=[42])
]
Url = Annotated[str, Meta(extra_json_schema={"format": "uri"})]
Time = Annotated[
    str,
    Meta(
        description="RFC 3339, UTC (`Z`).",
        extra_json_schema={"format": "date-time"},
        examples=["2026-01-01T12:00:00.000000Z"],
    ),
]
FileSize = Annotated[int, Meta(ge=0, description="Bytes.", examples=[12582912])]
PartSize = Annotated[
    int,
    Meta(
        ge=1,
        description="Bytes of every part but the last, which holds the rest (1 to `part_size` "
        "bytes). At least MIN_PART_SIZE (5 MiB) when there is more than one part; at most 5 GiB.",
        examples=[5242880],
    ),
]
PartNumber = Annotated[
    int,
    Meta(
        ge=1,
        extra_json_schema={"maximum": MAX_PARTS},
        description="1 to `num_parts`.",
        examples=[1],
    ),
]
Etag = Annotated[str, Meta(description="Hex md5 of the part.", examples=[ETAG])]
FileId = Annotated[str, Meta(description="The file id (`file_obj.id`).", examples=[FILE_ID])]
Token = Annotated[
    str,
    Meta(
        description="The signed token from the URL the service gave; it replaces the API key "
        "for this one request. A missing, tampered, expired or misdirected token is 403.",
        examples=[TOKEN],
    ),
]


# -- requests ----------------------------------------------------------------------------


class InitiateRequest(Struct, forbid_unknown_fields=True, frozen=True):
    """A new upload: the file, and the plan of its parts.

    `num_parts` parts of `part_size` bytes, the last holding the rest, must make
    exactly `file_size` bytes; a zero-byte file is one empty part. A plan that does
    not add up is 400 `part_plan_mismatch`, naming the numbers.
    """

    file_name: FileName
    file_size: Annotated[
        int,
        Meta(
            ge=0,
            description="Bytes. Over MAX_FILE_UPLOAD_SIZE (5 GiB by default) is 413 "
            "`file_too_large`, before any other check.",
            examples=[12582912],
        ),
    ]
    file_content_type: ContentType
    num_parts: Annotated[
        int,
        Meta(
            ge=1,
            extra_json_schema={"maximum": MAX_PARTS},
            description=f"1 to MAX_PARTS ({MAX_PARTS:,} by default).",
            examples=[3],
        ),
    ]
    part_size: PartSize
    parent_content_type: ParentType = None
    parent_object_id: ParentId = None


class CompletedPart(Struct, forbid_unknown_fields=True, frozen=True):
    """One part of a completion, as its upload answered it."""

    part_number: Annotated[int, Meta(ge=1, examples=[1])]
    etag: Annotated[str, Meta(description="Quoted or not.", examples=[ETAG])]


class CompleteRequest(Struct, forbid_unknown_fields=True, frozen=True):
    """The parts to assemble, in part-number order whatever their order here."""

    parts: Annotated[
        list[CompletedPart],
        Meta(
            description="Every part `1..num_parts` exactly once, each with the etag its upload "
            "answered. Missing, repeated or unknown parts are 400 naming them.",
            examples=[[{"part_number": 1, "etag": ETAG}, {"part_number": 2, "etag": f'"{ETAG}"'}]],
        ),
    ]


class RefreshRequest(Struct, forbid_unknown_fields=True, frozen=True):
    """The parts to sign fresh URLs for."""

    part_numbers: Annotated[
        list[int] | None,
        Meta(
            description="Absent or null: every part not yet received. Repeats collapse; the "
            "answer is in ascending order. Numbers outside the plan are 400, naming them.",
            examples=[[2, 3]],
        ),
    ] = None


class MetadataUpdate(Struct, forbid_unknown_fields=True, frozen=True):
    """New values for some of a file's metadata; the fields not sent keep theirs.

    Only these fields; any other (`upload_status`, `file_size`, ...) is 400 naming
    it. null clears a parent field. `{}` changes nothing.
    """

    file_name: Annotated[FileName, Meta(examples=["talk.mp4"])] | UnsetType = UNSET
    parent_content_type: ParentType | UnsetType = UNSET
    parent_object_id: ParentId | UnsetType = UNSET


StatusFilter = Literal["pending", "uploading", "completed", "failed", "aborted", "all"]
QueryText = Annotated[str, Meta(min_length=1, max_length=MAX_TEXT)]


class ListQuery(Struct, forbid_unknown_fields=True, frozen=True):
    """The query parameters of the listing; each at most once, none empty."""

    owner: (
        Annotated[
            QueryText,
            Meta(
                description="Only this user's files. Admins only; anyone else naming another "
                "user is 403 (naming yourself is allowed).",
                examples=["alice"],
            ),
        ]
        | UnsetType
    ) = UNSET
    upload_status: Annotated[
        StatusFilter,
        Meta(description="One status, or `all`. Default `completed`.", examples=["all"]),
    ] = "completed"
    parent_content_type: (
        Annotated[
            QueryText,
            Meta(
                description="With `parent_object_id` (both or neither): the files of one "
                "parent object.",
                examples=["blog.post"],
            ),
        ]
        | UnsetType
    ) = UNSET
    parent_object_id: (
        Annotated[QueryText, Meta(description="With `parent_content_type`.", examples=["42"])]
        | UnsetType
    ) = UNSET
    file_content_type: (
        Annotated[
            QueryText,
            Meta(description="Exact match on the stored content type.", examples=["video/mp4"]),
        ]
        | UnsetType
    ) = UNSET
    limit: Annotated[
        int, Meta(ge=1, le=MAX_LIMIT, description=f"Page size, 1 to {MAX_LIMIT}.", examples=[50])
    ] = DEFAULT_LIMIT
    cursor: (
        Annotated[
            str,
            Meta(
                min_length=1,
                max_length=MAX_CURSOR,
                description="From `next`; opaque and signed. A cursor issued to another user or "
                "for other filters is 400. Cursors do not expire.",
                examples=[TOKEN],
            ),
        ]
        | UnsetType
    ) = UNSET


# -- responses ---------------------------------------------------------------------------


class File(TypedDict):
    """A file, in whatever state its upload is."""

    id: Annotated[
        str, Meta(description="The file id: every `{file_id}` in a path.", examples=[FILE_ID])
    ]
    file_name: Annotated[str, Meta(min_length=1, max_length=MAX_TEXT, examples=["large-video.mp4"])]
    file_size: FileSize
    file_content_type: Annotated[str, Meta(examples=["video/mp4"])]
    upload_status: Annotated[UploadStatus, Meta(examples=["completed"])]
    url: Annotated[
        Url | None,
        Meta(
            description="Fetches the bytes as given (a token-signed download URL on local "
            "storage, a presigned GET on S3); null unless completed. Every response mints a "
            "fresh one; it expires after PRESIGNED_URL_EXPIRES_IN.",
            examples=[f"{BASE}/v1/files/{FILE_ID}/download/?token={TOKEN}"],
        ),
    ]
    etag: Annotated[
        str | None,
        Meta(
            description="S3-style multipart etag: md5 of the binary part md5s, `-N`; null until "
            "completed.",
            examples=["9b2cf535f27731c974343645a3985328-3"],
        ),
    ]
    parent_content_type: Annotated[str | None, Meta(examples=["blog.post"])]
    parent_object_id: Annotated[str | None, Meta(examples=["42"])]
    owner: Annotated[str, Meta(description="The user name of the owner.", examples=["alice"])]
    created: Time
    modified: Annotated[Time, Meta(examples=["2026-01-01T12:03:10.512000Z"])]


class FileList(TypedDict):
    """One page of a listing, newest first."""

    results: list[File]
    next: Annotated[
        Url | None,
        Meta(
            description="The next page, with the same filters and limit; null on the last.",
            examples=[f"{BASE}/v1/files/?upload_status=completed&limit=1&cursor={TOKEN}"],
        ),
    ]


class PartUrl(TypedDict):
    """Where to PUT one part."""

    part_number: PartNumber
    url: Annotated[
        Url,
        Meta(
            description="On local storage a token-signed URL of this service; on S3 a presigned "
            "`UploadPart` URL.",
            examples=[f"{BASE}/v1/files/presigned-uploads/{FILE_ID}/upload-part/1/?token={TOKEN}"],
        ),
    ]
    method: Literal["PUT"]


PartUrls = Annotated[list[PartUrl], Meta(description="One per part asked for, ascending.")]
ExpiresIn = Annotated[int, Meta(description="Seconds the URLs stay valid.", examples=[3600])]


class Initiated(TypedDict):
    """The new upload, and a URL for each of its parts."""

    file_obj: File
    upload_id: Annotated[
        str, Meta(description="The storage's own upload id.", examples=[UPLOAD_ID])
    ]
    presigned_urls: PartUrls
    expires_in: ExpiresIn


class Part(TypedDict):
    """A part storage holds."""

    part_number: PartNumber
    etag: Etag
    size: Annotated[int, Meta(ge=0, examples=[5242880])]


class UploadState(TypedDict):
    """An upload, and the parts received so far: what a client needs to resume."""

    id: Annotated[str, Meta(examples=[FILE_ID])]
    upload_id: Annotated[str, Meta(examples=[UPLOAD_ID])]
    upload_status: Annotated[UploadStatus, Meta(examples=["uploading"])]
    file_name: Annotated[str, Meta(min_length=1, max_length=MAX_TEXT, examples=["large-video.mp4"])]
    file_size: FileSize
    num_parts: Annotated[PartNumber, Meta(examples=[3])]
    part_size: PartSize
    expires_at: Annotated[
        Time,
        Meta(
            description="RFC 3339, UTC (`Z`): when the upload expires unless it progresses "
            "(every part received and every refresh moves it).",
            examples=["2026-01-02T12:01:00.000000Z"],
        ),
    ]
    parts: list[Part]


class RefreshedUrls(TypedDict):
    """Fresh URLs for the parts asked for."""

    presigned_urls: PartUrls
    expires_in: ExpiresIn


class PartReceipt(TypedDict):
    """A part stored: its number and the hex md5 of its bytes."""

    part_number: PartNumber
    etag: Etag


# Re-exported: every model the routes and the OpenAPI document name is here.
__all__ = ["Checks", "FieldError", "Health", "Problem", "Ready"]
