"""What several use cases share: the upload policy, finding an upload, its received parts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta

from uploadcore.domain.append import Appending, Fill
from uploadcore.domain.errors import InvalidState, UploadNotFound
from uploadcore.domain.parts import PartLimits, ReceivedPart
from uploadcore.domain.upload import Principal, Upload
from uploadcore.ports.appends import AppendRepository
from uploadcore.ports.blobs import BlobStore, ReceivesParts
from uploadcore.ports.repository import UploadRepository


@dataclass(frozen=True)
class UploadPolicy:
    """The limits and lifetimes the use cases enforce, built from settings."""

    limits: PartLimits = field(default_factory=PartLimits)
    url_expires_in: timedelta = timedelta(hours=1)
    upload_expires_in: timedelta = timedelta(hours=24)

    @property
    def url_expires_in_seconds(self) -> int:
        return int(self.url_expires_in.total_seconds())


def find_upload(repo: UploadRepository, file_id: str) -> Upload:
    """The upload with this id; UploadNotFound if there is none, or it is being deleted."""
    upload = repo.get(file_id)
    if upload is None or upload.deleted is not None:  # a deleted file is gone for clients
        raise UploadNotFound(f"no upload with id {file_id}")
    return upload


def owned_upload(repo: UploadRepository, principal: Principal, file_id: str) -> Upload:
    """The upload, if the principal may act on it (NotOwner, UploadNotFound otherwise)."""
    upload = find_upload(repo, file_id)
    upload.check_access(principal)
    return upload


def check_takes_parts(appends: AppendRepository | None, upload: Upload) -> Appending | None:
    """Whether an upload takes parts: None for a planned one, its state for one of open length.

    InvalidState for an upload filled by appending (tus) or by one form: its
    bytes arrive through its own protocol, which completes it; parts sent
    beside them would make a different file.
    """
    appending = None if appends is None else appends.appending(upload.id)
    if appending is None or appending.fill is Fill.PARTS:
        return appending
    if appending.fill is Fill.FORM:
        raise InvalidState(f"upload {upload.id} is sent as one form: POST it to its form URL")
    raise InvalidState(f"upload {upload.id} is filled through tus: send its bytes to its tus URL")


def open_limits(policy: UploadPolicy, appending: Appending) -> PartLimits:
    """The part limits of an upload of open length: the policy's, held to its own size limit."""
    limits = policy.limits
    if appending.limit is None or appending.limit >= limits.max_file_size:
        return limits
    return replace(limits, max_file_size=appending.limit)


class ReceivedParts:
    """The parts an upload has received, from wherever the truth is kept.

    The database when the parts come through this service (it records each
    one it receives), storage when they go straight to it (S3: ListParts).
    """

    def __init__(self, repo: UploadRepository, blobs: BlobStore) -> None:
        self.repo = repo
        self.blobs = blobs
        # Asked on every read; an isinstance of a runtime protocol costs about 8 µs.
        self.recorded = isinstance(blobs, ReceivesParts)

    def __call__(self, upload: Upload) -> Sequence[ReceivedPart]:
        """In part-number order; PartMissing if storage no longer knows the upload."""
        if self.recorded:
            return self.repo.parts(upload.id)
        return self.blobs.list_parts(upload)

    def by_number(self, upload: Upload) -> dict[int, ReceivedPart]:
        return {p.part_number: p for p in self(upload)}


__all__ = [
    "ReceivedParts",
    "UploadPolicy",
    "check_takes_parts",
    "find_upload",
    "open_limits",
    "owned_upload",
]
