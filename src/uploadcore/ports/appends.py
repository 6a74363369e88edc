"""What appended uploads (tus) need from the database and from storage."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from uploadcore.domain.append import Appending
from uploadcore.domain.digest import Digest
from uploadcore.domain.parts import PartPlan, ReceivedPart
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
        self, file_id: str, offset: int, lease: str, now: datetime, until: datetime, tail: str = ""
    ) -> bool:
        """Take the upload for one append at `offset` (a lease, held until `until`).

        Only if the upload is `uploading`, its offset is `offset`, its staged
        tail is the one named `tail` (a new tail has a new name, so an append
        elsewhere in between is seen even if the offset came back to the same
        number), and no other unexpired lease holds it: so two appends never
        interleave, in whatever process. Returns False, changing nothing, otherwise.
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

    def reserve_part(self, file_id: str, lease: str) -> int | None:
        """A part number for the holder of `lease`, never handed out for this upload before.

        So a writer that lost its lease (stalled past it) can only ever fill a
        part number no one else uses, which is never recorded. None if the
        lease is no longer ours.
        """


@dataclass(frozen=True)
class AppendAt:
    """Where an append starts, and what storage needs to continue the upload."""

    upload: Upload
    appending: Appending  # as this process sees it (`AppendsBytes.visible`): bytes go at its offset
    parts: Sequence[ReceivedPart]  # the parts recorded for it (on a store that joins parts)
    most: int  # the most bytes the upload may hold: its length, or the caller's limit
    reserve: Callable[[], int]  # a fresh part number under the append's lease (or raises)


@dataclass(frozen=True)
class Kept:
    """What an append made durable: the new offset, its staged tail, the parts it stored."""

    offset: int
    staged: int = 0
    tail: str = ""
    parts: Sequence[ReceivedPart] = ()  # to record with the new offset


@dataclass(frozen=True)
class Finished:
    """A finished appended upload's etag, and the parts to record that it is made of."""

    etag: str
    parts: Sequence[ReceivedPart] = ()


class AppendWriter(Protocol):
    """Bytes being appended to an upload. Used from one thread at a time."""

    def write(self, data: bytes | bytearray) -> None:
        """Append bytes (blocking: call it off the event loop)."""

    @property
    def digest(self) -> Digest:
        """The digest of the bytes written by this writer, in the algorithm asked for.

        Asked for only when the writer was opened with an algorithm.
        """

    @property
    def written(self) -> int:
        """How many bytes this writer appended."""

    def keep(self, last: bool) -> Kept:
        """Make every byte written durable and close; what to record.

        Durable means in storage, or fsynced in a staged tail on this machine's
        disk. With `last` (the bytes reach the upload's length) nothing is left
        staged. On failure it keeps what it can: `Kept` never counts a byte
        that is not durable.
        """

    def drop(self) -> None:
        """Cut the upload back to where this writer began, and close. Idempotent."""


@runtime_checkable
class AppendsBytes(Protocol):
    """A store the service appends uploads into itself (local disk; S3 through a staging disk)."""

    def visible(self, upload: Upload, appending: Appending) -> Appending:
        """`appending` as this process can continue it.

        As recorded, unless its staged tail is on another machine's disk (or
        lost): then it ends where the bytes in storage end.
        """

    def open_append(self, at: AppendAt, algorithm: str | None) -> AppendWriter:
        """Start appending at `at.appending.offset`, dropping bytes past it no one acknowledged.

        `algorithm` is the one `digest` will be asked in (a client's checksum),
        None when it will not be asked.

        InvalidState if the upload's storage is gone; StorageUnavailable if it holds
        fewer bytes than that.
        """

    def finish_append(self, upload: Upload, size: int, parts: Sequence[ReceivedPart]) -> Finished:
        """Make the `size` bytes appended (and `parts`, as recorded) the upload's final file.

        `md5`: their md5, when the caller hashed every one of them as it wrote
        them (one writer from offset 0): they are then not read again.
        Durable when it returns; idempotent once the file is in place.
        """

    def concatenate(self, upload: Upload, sources: Sequence[Upload]) -> str | None:
        """Make the final files of `sources`, in order, the final file of `upload` (durable).

        Returns the file's etag when storage computes its own (S3), None when the
        service is to compute the multipart etag of the sources' parts.
        """


__all__ = ["AppendAt", "AppendRepository", "AppendWriter", "AppendsBytes", "Finished", "Kept"]
