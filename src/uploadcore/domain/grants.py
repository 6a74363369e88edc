"""Upload tokens: what a browser may do with one, decided without storage.

An application's backend, which holds an API key, mints an upload token for
one browser session. The token acts for the user who minted it, only to
upload, and within its limits: a largest file, a number of files, the content
types it allows, and the parent the files are attached to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from uploadcore.domain.errors import ContentTypeNotAllowed, FieldError, FileTooLarge, InvalidInput
from uploadcore.domain.metadata import check_content_type

MAX_LIFETIME = timedelta(days=1)
DEFAULT_LIFETIME = timedelta(hours=1)
MAX_CONTENT_TYPES = 100


@dataclass(frozen=True)
class UploadLimits:
    """The limits an upload token holds every upload it starts to.

    `allowed_content_types` lists MIME types (`image/png`) or whole families
    (`image/*`); empty allows every type. None means no limit of the token's
    own (the service's limits still hold).
    """

    max_file_size: int | None = None
    max_files: int | None = None
    allowed_content_types: tuple[str, ...] = ()
    parent_content_type: str | None = None
    parent_object_id: str | None = None

    @classmethod
    def checked(
        cls,
        service_max_file_size: int,
        max_file_size: int | None = None,
        max_files: int | None = None,
        allowed_content_types: tuple[str, ...] = (),
        parent_content_type: str | None = None,
        parent_object_id: str | None = None,
    ) -> UploadLimits:
        """The limits, or InvalidInput naming every field that is wrong."""
        errors: list[FieldError] = []
        if max_file_size is not None and not 0 <= max_file_size <= service_max_file_size:
            errors.append(
                FieldError("max_file_size", f"must be between 0 and {service_max_file_size}")
            )
        if max_files is not None and max_files < 1:
            errors.append(FieldError("max_files", "must be at least 1"))
        if len(allowed_content_types) > MAX_CONTENT_TYPES:
            errors.append(
                FieldError("allowed_content_types", f"may list at most {MAX_CONTENT_TYPES} types")
            )
        errors += [
            FieldError("allowed_content_types", f"{p[:80]!r} is not a MIME type or type/*")
            for p in allowed_content_types
            if not _is_type_pattern(p)
        ]
        if (parent_content_type is None) != (parent_object_id is None):
            message = "give parent_content_type and parent_object_id together"
            errors.append(FieldError("parent_object_id", message))
        if errors:
            names = ", ".join(dict.fromkeys(e.field for e in errors))
            raise InvalidInput(f"invalid fields: {names}", errors=tuple(errors))
        return cls(
            max_file_size,
            max_files,
            tuple(allowed_content_types),
            parent_content_type,
            parent_object_id,
        )

    def check_file(self, file_size: int | None, content_type: str) -> None:
        """FileTooLarge or ContentTypeNotAllowed unless a file fits these limits."""
        limit = self.max_file_size
        if limit is not None and file_size is not None and file_size > limit:
            raise FileTooLarge(
                f"file_size {file_size} exceeds the upload token's maximum of"
                f" {self.max_file_size} bytes"
            )
        if self.allowed_content_types and not self.allows(content_type):
            raise ContentTypeNotAllowed(
                f"the upload token allows {', '.join(self.allowed_content_types)},"
                f" not {content_type[:80]!r}"
            )

    def allows(self, content_type: str) -> bool:
        essence = content_type.split(";", 1)[0].strip().lower()
        family = essence.split("/", 1)[0] + "/*"
        allowed = {t.lower() for t in self.allowed_content_types}
        return essence in allowed or family in allowed


@dataclass(frozen=True)
class UploadGrant:
    """What an authenticated upload token grants: its id and its limits."""

    token_id: str
    limits: UploadLimits


@dataclass(frozen=True)
class UploadToken:
    """An upload token as it is kept: never the token itself, only its hash."""

    id: str
    owner: str
    token_hash: str
    created: datetime
    expires_at: datetime
    limits: UploadLimits
    revoked: datetime | None = None
    files_started: int = 0

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at


def _is_type_pattern(pattern: str) -> bool:
    """A MIME type (`image/png`) or a whole family (`image/*`)."""
    try:
        check_content_type(pattern[:-1] + "x" if pattern.endswith("/*") else pattern)
    except InvalidInput:
        return False
    return True


__all__ = [
    "DEFAULT_LIFETIME",
    "MAX_LIFETIME",
    "UploadGrant",
    "UploadLimits",
    "UploadToken",
]
