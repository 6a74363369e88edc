"""The answers that say how things stand rather than what a file is: health, readiness, problems."""

from __future__ import annotations

from typing import Annotated, Literal, NotRequired, TypedDict

from msgspec import Meta


class Health(TypedDict):
    status: Literal["ok"]


Checks = Annotated[
    dict[str, Literal["ok", "down"]],
    Meta(description="Each dependency (`database`, `storage`) and its state.",
         examples=[{"database": "ok", "storage": "ok"}]),
]  # fmt: skip


class Ready(TypedDict):
    """Every dependency answers."""

    status: Literal["ok"]
    checks: Checks


class FieldError(TypedDict):
    """One problem with one field of the request."""

    field: Annotated[
        str,
        Meta(
            description="A body field (`parts[2].etag` inside lists) or a query parameter.",
            examples=["file_name"],
        ),
    ]
    message: Annotated[str, Meta(examples=["must be 1 to 255 characters, got 0"])]


class Problem(TypedDict):
    """An RFC 9457 problem. `code` is stable and machine-readable."""

    type: Annotated[str, Meta(examples=["https://uploadcore.dev/problems/validation_error"])]
    title: Annotated[str, Meta(examples=["Invalid request"])]
    status: Annotated[int, Meta(examples=[400])]
    detail: Annotated[str, Meta(examples=["invalid fields: file_name"])]
    code: Annotated[str, Meta(examples=["validation_error"])]
    errors: NotRequired[
        Annotated[
            list[FieldError],
            Meta(description="Every invalid field of the request (the first 20), at once."),
        ]
    ]
    checks: NotRequired[Checks]  # /readyz: which dependency is down
