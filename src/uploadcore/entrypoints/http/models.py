"""The API's request bodies and the listing's query, each declared once.

They are msgspec Structs, decoded by `validation.decode`, which names every
problem at once. Each field says its type, bounds and domain rule, and in prose
and by example what it means.
"""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import UNSET, Meta, Struct, UnsetType

from uploadcore.domain.listing import DEFAULT_LIMIT, MAX_LIMIT
from uploadcore.domain.metadata import MAX_TEXT, check_content_type, check_file_name, check_text
from uploadcore.domain.parts import PartLimits
from uploadcore.entrypoints.http.validation import Rule

# Example values.
TOKEN = "WyJBYkNkRWYwMTIzIiwiOWYyZDNjIiwxLDE3NjcyMzM2MDBd.q8n3R2u0bXk"
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
        description="A display name, stored as given and never used as a path: no control "
        "characters, no `/` or `\\`, not `.` or `..`.",
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
PartSize = Annotated[
    int,
    Meta(
        ge=1,
        description="Bytes of every part but the last, which holds the rest (1 to `part_size` "
        "bytes). At least MIN_PART_SIZE (5 MiB) when there is more than one part; at most 5 GiB.",
        examples=[5242880],
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
