"""The bodies of `/v1/upload-tokens/`: parsed, rendered and documented from here."""

from __future__ import annotations

from typing import Annotated, TypedDict

from msgspec import Meta, Struct

from uploadcore.domain.grants import MAX_CONTENT_TYPES, MAX_LIFETIME
from uploadcore.domain.metadata import MAX_TEXT
from uploadcore.entrypoints.http.models import ParentId, ParentType, Time

MAX_LIFETIME_SECONDS = int(MAX_LIFETIME.total_seconds())
TOKEN_ID = "tok_7Qm2xY0aB3cD4eF5gH6iJ7kL"
UPLOAD_TOKEN = "ut_Zk3v9yJ0sQeW2pR8tY6uI4oP1aS5dF7gH9jK0lZ2xC4"


class UploadTokenRequest(Struct, forbid_unknown_fields=True, frozen=True):
    """An upload token for one browser session. Every field is optional.

    The token acts for the caller, and only to upload: initiate, send parts,
    resume, complete and abort the uploads it started. Its limits hold on every
    upload it starts; the service's own limits hold as well.
    """

    expires_in: Annotated[
        int,
        Meta(
            ge=1,
            le=MAX_LIFETIME_SECONDS,
            description=f"Seconds the token lasts, 1 to {MAX_LIFETIME_SECONDS}. Default 3600.",
            examples=[3600],
        ),
    ] = 3600
    max_file_size: (
        Annotated[
            int,
            Meta(
                ge=0,
                description="Bytes; a larger file is 413 `file_too_large`. At most "
                "MAX_FILE_UPLOAD_SIZE (5 GiB by default).",
                examples=[104857600],
            ),
        ]
        | None
    ) = None
    max_files: (
        Annotated[
            int,
            Meta(
                ge=1,
                description="How many uploads it may start; the next is 403 `token_limit_reached`.",
                examples=[10],
            ),
        ]
        | None
    ) = None
    allowed_content_types: Annotated[
        list[Annotated[str, Meta(min_length=1, max_length=MAX_TEXT)]],
        Meta(
            max_length=MAX_CONTENT_TYPES,
            description="MIME types (`image/png`) or families (`image/*`); another type is 400 "
            "`content_type_not_allowed`. Empty allows every type.",
            examples=[["image/*", "application/pdf"]],
        ),
    ] = []
    parent_content_type: ParentType = None
    parent_object_id: ParentId = None


class UploadTokenMinted(TypedDict):
    """A new upload token. `token` is shown this once: only its hash is kept."""

    id: Annotated[
        str,
        Meta(description="Revoke it with `DELETE /v1/upload-tokens/{id}/`.", examples=[TOKEN_ID]),
    ]
    token: Annotated[
        str,
        Meta(
            description="For the browser: `Authorization: Bearer <token>` on the upload endpoints.",
            examples=[UPLOAD_TOKEN],
        ),
    ]
    expires_at: Time
    uppy_endpoint: Annotated[
        str,
        Meta(
            description="For Uppy's AwsS3 plugin: its `companionEndpoint` (the token is in the "
            "path: Uppy sends no Authorization header).",
            examples=[f"https://files.example.com/v1/uppy/{UPLOAD_TOKEN}"],
        ),
    ]
    tus_endpoint: Annotated[
        str,
        Meta(
            description="For a tus client (Uppy's Tus plugin, tus-js-client): its `endpoint`, "
            "with the token in `headers` as `Authorization: Bearer <token>`.",
            examples=["https://files.example.com/v1/tus/"],
        ),
    ]


TokenId = Annotated[str, Meta(description="An upload token's id.", examples=[TOKEN_ID])]
