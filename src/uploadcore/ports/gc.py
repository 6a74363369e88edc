"""What `gc` needs beyond the upload ports: batched queries, and stores that report leftovers."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from uploadcore.domain.gc import Leftover
from uploadcore.domain.upload import Upload, UploadStatus
from uploadcore.ports.repository import UploadRepository

#: A keyset position: the (timestamp, id) of the last row of the previous batch.
Keyset = tuple[datetime, str]


@runtime_checkable
class GcQueries(Protocol):
    """The repository queries and writes of `gc`, each one short transaction.

    Reads are keyset-paginated batches, so a million candidates never sit in
    memory or in one transaction. Every write is a compare-and-set that
    re-checks, row by row and atomically, the condition the batch was read
    under. Every method raises StorageUnavailable when the database cannot be
    reached, and changes nothing then.
    """

    def expired_uploads(
        self, status: UploadStatus, now: datetime, after: Keyset | None, limit: int
    ) -> Sequence[Upload]:
        """Up to `limit` uploads in `status` whose `expires_at` is at or before `now`.

        Ordered by (`expires_at`, `id`), starting strictly after `after`. A
        database adapter seeks an index: the cost of a batch does not grow with
        how many batches came before.
        """

    def abort_expired(self, file_ids: Collection[str], now: datetime) -> set[str]:
        """Move each of these uploads to `aborted`, setting `modified` to `now`.

        Only an upload that is still pending or uploading and whose
        `expires_at` is still at or before `now`: one that received a part,
        had its URLs refreshed or began completing since it was read is left
        alone, and so is one that ended. Returns the ids it changed; atomic
        for each upload.
        """

    def ended_uploads(
        self, status: UploadStatus, before: datetime, after: Keyset | None, limit: int
    ) -> Sequence[Upload]:
        """Up to `limit` uploads in `status` whose `modified` is at or before `before`.

        Ordered by (`modified`, `id`), starting strictly after `after`; an
        index seek like `expired_uploads`.
        """

    def purge(
        self, file_ids: Collection[str], statuses: Collection[UploadStatus], before: datetime
    ) -> set[str]:
        """Delete these records and their parts.

        Only those still in one of `statuses` with `modified` at or before
        `before`. Returns the ids it deleted.
        """

    def deleted_uploads(
        self, before: datetime, after: Keyset | None, limit: int
    ) -> Sequence[Upload]:
        """Up to `limit` records marked deleted at or before `before`, whatever their status.

        Ordered by (`deleted`, `id`), starting strictly after `after`; an index
        seek like `expired_uploads`.
        """

    def remove_deleted(self, file_ids: Collection[str], before: datetime) -> set[str]:
        """Delete these records and their parts.

        Only those still marked deleted at or before `before` (a mark is never
        undone, so this guards against ids that were never marked). Returns the
        ids it deleted: a record another `gc` or a retried deletion removed
        meanwhile is not among them.
        """

    def live_upload_ids(self, upload_ids: Collection[str]) -> set[str]:
        """Those of these storage upload ids that belong to an upload pending or uploading."""


@runtime_checkable
class GcRepository(UploadRepository, GcQueries, Protocol):
    """A repository `gc` can work with: the upload port and its queries."""


@runtime_checkable
class SweepsLeftovers(Protocol):
    """A store that can list and remove what crashes leave in it (local disk, S3).

    Stores without it (in memory) leave nothing behind a process.
    """

    def leftovers(self, older_than: datetime) -> Iterator[Leftover]:
        """Storage outside final files not modified since `older_than`, lazily.

        Temporary part directories, stray temporary files, multipart uploads:
        live uploads' storage is among them, and it is the caller's job to
        leave that alone. The iterator holds at most one page of the listing
        in memory. It may skip what is newer than `older_than`.
        """

    def remove_leftover(self, leftover: Leftover, older_than: datetime) -> int | None:
        """Remove a leftover if it has still not been modified since `older_than`.

        Returns the bytes freed, or None when it was kept because it changed
        meanwhile or was already gone (another `gc` got there first).
        """

    def held(self, upload: Upload) -> Leftover | None:
        """What storage holds for the parts of an upload: its size, when it last changed.

        `last_modified` counts a part still being written (local disk) and
        parts PUT straight to storage (S3): activity the database has not
        seen. `receiving` is True only while a part is known to be arriving
        right now (local disk: a live part writer, in any process, holds its
        temporary file); a writer that died does not count. None when storage
        holds nothing for the upload.
        """
