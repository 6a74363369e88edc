"""What appended uploads (tus) need from the database and from storage."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from uploadcore.domain.append import Appending
from uploadcore.domain.digest import Digest
from uploadcore.domain.parts import PartPlan
from uploadcore.domain.upload import Upload


@runtime_checkable
class AppendRepository(Protocol):
    """The offset, length and metadata of appended uploads, and who is appending now.

    Kept beside the upload records (same database, same file ids). Every method
    is atomic and raises StorageUnavailable like the UploadRepository.
    """

    def add_appending(self, file_id: str, appending: Appending) -> None:
        """Store the appending state of an upload just added."""

    def appending(self, file_id: str) -> Appending | None:
        """The appending state of an upload, or None for an upload not filled by appends."""

    def claim_append(
        self, file_id: str, offset: int, lease: str, now: datetime, until: datetime
    ) -> bool:
        """Take the upload for one append at `offset` (a lease, held until `until`).

        Only if the upload is `uploading`, its offset is `offset`, and no
        other unexpired lease holds it: so two appends never interleave, in
        whatever process. Returns False, changing nothing, otherwise.
        """

    def renew_append(self, file_id: str, lease: str, until: datetime) -> bool:
        """Hold the lease longer; False if it is no longer ours."""

    def release_append(
        self, file_id: str, lease: str, appending: Appending, expires_at: datetime, now: datetime
    ) -> bool:
        """Store the new offset (and length) and drop the lease; moves the upload's expiry.

        Returns False, changing nothing, if the lease is no longer ours.
        """

    def finish_appending(self, file_id: str, plan: PartPlan, etag: str, now: datetime) -> bool:
        """Record a finished appended upload `completed`, with its settled plan and etag.

        A compare-and-set from `uploading`; False, changing nothing, otherwise.
        """


class AppendWriter(Protocol):
    """Bytes being appended to an upload. Used from one thread at a time."""

    def write(self, data: bytes | bytearray) -> None:
        """Append bytes (blocking: call it off the event loop)."""

    @property
    def digest(self) -> Digest:
        """The digest (in the algorithm asked for) of the bytes written by this writer."""

    @property
    def written(self) -> int:
        """How many bytes this writer appended."""

    def keep(self) -> int:
        """Make every byte written durable (fsync) and close; returns the upload's new size."""

    def drop(self) -> None:
        """Cut the upload back to where this writer began, and close. Idempotent."""


@runtime_checkable
class AppendsBytes(Protocol):
    """A store the service appends uploads into itself (local disk)."""

    def open_append(self, upload: Upload, offset: int, algorithm: str) -> AppendWriter:
        """Start appending at `offset`, dropping any bytes past it that no one acknowledged.

        InvalidState if the upload's storage is gone; StorageUnavailable if it holds
        fewer than `offset` bytes.
        """

    def finish_append(self, upload: Upload, size: int, md5: str | None = None) -> str:
        """Make the `size` bytes appended the upload's final file; returns their hex md5.

        `md5`: their md5, when the caller hashed every one of them as it wrote
        them (one writer from offset 0): they are then not read again.
        Durable when it returns; idempotent once the file is in place.
        """

    def concatenate(self, upload: Upload, sources: Sequence[Upload]) -> None:
        """Make the final files of `sources`, in order, the final file of `upload` (durable)."""


__all__ = ["AppendRepository", "AppendWriter", "AppendsBytes"]
