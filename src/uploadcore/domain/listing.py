"""Listing files: which ones a query shows, in which order, and where a page starts.

Files are listed newest first: by `created`, then by `id`, both descending, so
the order is total even when two files share a timestamp. A page starts
strictly after a position in that order (keyset pagination), so files added
meanwhile never shift or repeat a page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from uploadcore.domain.errors import FieldError, InvalidInput, NotOwner
from uploadcore.domain.upload import Principal, Upload, UploadStatus

ALL_STATUSES = "all"
DEFAULT_STATUS = UploadStatus.COMPLETED
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field}: {message}", errors=(FieldError(field, message),))


@dataclass(frozen=True)
class FileFilter:
    """Which files a listing shows; None leaves that field unrestricted."""

    owner: str | None = None
    status: UploadStatus | None = DEFAULT_STATUS
    parent: tuple[str, str] | None = None  # (parent_content_type, parent_object_id)
    file_content_type: str | None = None

    def matches(self, upload: Upload) -> bool:
        return (
            upload.deleted is None
            and self.owner in (None, upload.owner)
            and self.status in (None, upload.status)
            and self.parent in (None, (upload.parent_content_type, upload.parent_object_id))
            and self.file_content_type in (None, upload.file_content_type)
        )


@dataclass(frozen=True)
class ListPosition:
    """A place in the newest-first order: the `created` and `id` of the last file shown."""

    created: datetime
    id: str

    @classmethod
    def of(cls, upload: Upload) -> ListPosition:
        return cls(upload.created, upload.id)

    def is_after(self, upload: Upload) -> bool:
        """True when `upload` comes later in the newest-first order than this position."""
        return (upload.created, upload.id) < (self.created, self.id)


def sort_key(upload: Upload) -> tuple[datetime, str]:
    """Sort with `reverse=True` for the newest-first order."""
    return (upload.created, upload.id)


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise _invalid("limit", f"must be between 1 and {MAX_LIMIT}, got {limit}")
    return limit


def status_filter(value: str) -> UploadStatus | None:
    """The status a listing shows: one status, or None for `all`."""
    if value == ALL_STATUSES:
        return None
    try:
        return UploadStatus(value)
    except ValueError:
        known = ", ".join([*(s.value for s in UploadStatus), ALL_STATUSES])
        raise _invalid("upload_status", f"must be one of {known}, got {value[:40]!r}") from None


def parent_filter(content_type: str | None, object_id: str | None) -> tuple[str, str] | None:
    """The parent a listing is narrowed to: both halves, or neither."""
    if content_type is None and object_id is None:
        return None
    if content_type is None or object_id is None:
        missing = "parent_content_type" if content_type is None else "parent_object_id"
        raise _invalid(missing, "parent_content_type and parent_object_id filter together")
    return (content_type, object_id)


def owner_filter(principal: Principal, owner: str | None) -> str | None:
    """Whose files a principal lists: their own; an admin, everyone's or `owner`'s.

    Raises NotOwner when a user who is not an admin names anyone else.
    """
    if principal.is_admin:
        return owner
    if owner is not None and owner != principal.name:
        raise NotOwner(f"only an admin may list the files of {owner!r}")
    return principal.name
