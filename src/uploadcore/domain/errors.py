"""The exception tree of uploadcore.

Every error carries a stable machine-readable ``code``. Which HTTP status or
exit code an error becomes is the business of the entrypoints, not of the
domain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

__all__ = [
    "AlreadyExists",
    "BadDigest",
    "BodyInterrupted",
    "ChecksumMismatch",
    "Conflict",
    "ContentTypeNotAllowed",
    "EtagMismatch",
    "FieldError",
    "FileTooLarge",
    "Forbidden",
    "InsufficientStorage",
    "InvalidInput",
    "InvalidState",
    "MalformedJson",
    "NotAuthenticated",
    "NotFound",
    "NotOwner",
    "OffsetMismatch",
    "PartMissing",
    "PartPlanMismatch",
    "PartSizeMismatch",
    "PartTooLarge",
    "PartsIncomplete",
    "Rejected",
    "StorageUnavailable",
    "TokenExpired",
    "TokenInvalid",
    "TokenLimitReached",
    "TokenMissing",
    "UploadExpired",
    "UploadNotFound",
    "UploadTokenExpired",
    "UploadcoreError",
]


@dataclass(frozen=True)
class FieldError:
    """One problem with one input field."""

    field: str
    message: str


class UploadcoreError(Exception):
    """Base of every error uploadcore raises on purpose."""

    code: ClassVar[str] = "error"
    title: ClassVar[str] = "Upload error"

    def __init__(self, detail: str, *, errors: tuple[FieldError, ...] = ()) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


# -- 400: the request itself is wrong ---------------------------------------


class InvalidInput(UploadcoreError):
    code = "validation_error"
    title = "Invalid request"


class MalformedJson(InvalidInput):
    code = "malformed_json"
    title = "Malformed JSON"


class PartPlanMismatch(InvalidInput):
    code = "part_plan_mismatch"
    title = "Part plan does not add up"


class PartSizeMismatch(InvalidInput):
    """A part body shorter than planned (longer is `PartTooLarge`)."""

    code = "part_size_mismatch"
    title = "Part size mismatch"


class BadDigest(InvalidInput):
    code = "bad_digest"
    title = "Content-MD5 mismatch"


class ContentTypeNotAllowed(InvalidInput):
    """A content type outside those an upload token allows."""

    code = "content_type_not_allowed"
    title = "Content type not allowed"


class PartsIncomplete(InvalidInput):
    code = "parts_incomplete"
    title = "Completion does not name every part exactly once"


class EtagMismatch(InvalidInput):
    code = "etag_mismatch"
    title = "Part etag mismatch"


# -- 413 ---------------------------------------------------------------------


class FileTooLarge(UploadcoreError):
    code = "file_too_large"
    title = "File too large"


class PartTooLarge(UploadcoreError):
    """A part body longer than planned; reading stopped at the first extra byte."""

    code = "part_size_mismatch"
    title = "Part larger than planned"


# -- 401 / 403 ---------------------------------------------------------------


class NotAuthenticated(UploadcoreError):
    code = "not_authenticated"
    title = "Not authenticated"


class UploadTokenExpired(NotAuthenticated):
    """An upload token past its expiry: its holder must get a new one."""

    code = "token_expired"
    title = "Upload token expired"


class Forbidden(UploadcoreError):
    code = "forbidden"
    title = "Forbidden"


class TokenLimitReached(Forbidden):
    """An upload token that has started as many uploads as it may."""

    code = "token_limit_reached"
    title = "Upload token limit reached"


class NotOwner(Forbidden):
    pass


class Rejected(Forbidden):
    """An embedder's `before_initiate` hook refused the upload; the detail is its reason."""

    code = "rejected"
    title = "Rejected"


class TokenMissing(Forbidden):
    code = "token_missing"
    title = "Token missing"


class TokenInvalid(Forbidden):
    code = "token_invalid"
    title = "Token invalid"


class TokenExpired(Forbidden):
    code = "token_expired"
    title = "Token expired"


# -- 404 / 409 ---------------------------------------------------------------


class NotFound(UploadcoreError):
    code = "not_found"
    title = "Not found"


class UploadNotFound(NotFound):
    pass


class Conflict(UploadcoreError):
    code = "conflict"
    title = "Conflict"


class AlreadyExists(Conflict):
    code = "already_exists"
    title = "Already exists"


class InvalidState(Conflict):
    code = "invalid_state"
    title = "Invalid upload state"


class OffsetMismatch(InvalidState):
    """An append named another offset than the upload's, or another append is running."""

    code = "offset_mismatch"


class ChecksumMismatch(InvalidInput):
    """The bytes appended do not have the checksum the client sent: none of them are kept."""

    code = "checksum_mismatch"


class UploadExpired(InvalidState):
    code = "upload_expired"
    title = "Upload expired"


class PartMissing(InvalidState):
    """Storage no longer holds a part the upload needs: the upload has failed."""

    code = "upload_failed"
    title = "Upload failed"

    def __init__(self, detail: str, *, part_number: int | None = None) -> None:
        super().__init__(detail)
        self.part_number = part_number


# -- 5xx: the backends -------------------------------------------------------


class BodyInterrupted(UploadcoreError):
    """The request body stopped arriving (a timeout): an append keeps what arrived."""

    code = "body_interrupted"


class StorageUnavailable(UploadcoreError):
    """A storage or database backend cannot be reached; retrying may succeed."""

    code = "storage_unavailable"
    title = "Storage unavailable"


class InsufficientStorage(UploadcoreError):
    code = "insufficient_storage"
    title = "Insufficient storage"
