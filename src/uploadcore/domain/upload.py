"""The upload aggregate and its state machine."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from uploadcore.domain.errors import InvalidState, NotOwner, UploadExpired
from uploadcore.domain.parts import PartPlan

if TYPE_CHECKING:
    from uploadcore.domain.grants import UploadGrant


class UploadStatus(StrEnum):
    PENDING = "pending"
    UPLOADING = "uploading"
    COMPLETED = "completed"
    FAILED = "failed"
    ABORTED = "aborted"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({UploadStatus.COMPLETED, UploadStatus.FAILED, UploadStatus.ABORTED})

_NEXT: dict[UploadStatus, frozenset[UploadStatus]] = {
    UploadStatus.PENDING: frozenset({UploadStatus.UPLOADING, UploadStatus.ABORTED}),
    UploadStatus.UPLOADING: frozenset(
        {UploadStatus.COMPLETED, UploadStatus.FAILED, UploadStatus.ABORTED}
    ),
}


def check_transition(current: UploadStatus, target: UploadStatus) -> None:
    """Raise InvalidState unless `current -> target` is allowed; terminal states are final."""
    if target not in _NEXT.get(current, frozenset()):
        raise InvalidState(f"cannot go from {current} to {target}")


@dataclass(frozen=True)
class Principal:
    """Who is asking: a user name, and whether that user may act on every file.

    With a `grant`, the caller holds an upload token of that user's: it may
    only upload, within the token's limits, and act on the uploads it started.
    """

    name: str
    is_admin: bool = False
    grant: UploadGrant | None = None


@dataclass(frozen=True)
class Upload:
    """A file and the multipart upload that fills it.

    `id` is the file id clients use everywhere; `upload_id` is the storage's
    own id for the multipart upload; `storage_key` is where the final object
    lives, chosen once at initiate. `deleted` is set when a deletion has begun:
    from then on the file is gone for clients, while its record waits for its
    stored bytes to be removed.
    """

    id: str
    upload_id: str
    storage_key: str
    owner: str
    file_name: str
    file_content_type: str
    plan: PartPlan
    status: UploadStatus
    created: datetime
    modified: datetime
    expires_at: datetime
    etag: str | None = None
    parent_content_type: str | None = None
    parent_object_id: str | None = None
    deleted: datetime | None = None
    token_id: str | None = None  # the upload token that started it, if one did

    @property
    def file_size(self) -> int:
        return self.plan.file_size

    def with_status(self, status: UploadStatus, now: datetime, etag: str | None = None) -> Upload:
        check_transition(self.status, status)
        return replace(self, status=status, modified=now, etag=etag or self.etag)

    def is_expired(self, now: datetime) -> bool:
        return not self.status.is_terminal and now >= self.expires_at

    def check_accepts_parts(self, now: datetime) -> None:
        """Raise InvalidState or UploadExpired unless parts may be uploaded or completed now."""
        if self.status is not UploadStatus.UPLOADING:
            raise InvalidState(f"upload {self.id} is {self.status}; it accepts no parts")
        if self.is_expired(now):
            raise UploadExpired(
                f"upload {self.id} expired at {self.expires_at.isoformat()}; start a new one"
            )

    def check_access(self, principal: Principal) -> None:
        """Raise NotOwner unless the principal owns the file or is an admin.

        An upload token acts only on the uploads it started.
        """
        if principal.grant is not None:
            if self.token_id != principal.grant.token_id:
                raise NotOwner(f"file {self.id} was not started with this upload token")
        elif not principal.is_admin and principal.name != self.owner:
            raise NotOwner(f"file {self.id} belongs to another user")
