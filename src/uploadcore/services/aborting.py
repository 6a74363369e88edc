"""The one abort routine: the client's abort, an admin's, file deletion and gc all use it."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from uploadcore.domain.errors import UploadNotFound
from uploadcore.domain.events import EventType
from uploadcore.domain.gc import Leftover
from uploadcore.domain.upload import Upload, UploadStatus
from uploadcore.ports.blobs import BlobStore
from uploadcore.ports.clock import Clock
from uploadcore.ports.gc import SweepsLeftovers
from uploadcore.ports.repository import UploadRepository
from uploadcore.services.events import Events

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stopped:
    """How an upload ended up: as stored now, and whether this call aborted it."""

    upload: Upload
    aborted_now: bool


@dataclass(frozen=True)
class Aborter:
    """Moves uploads in progress to `aborted` and frees their parts."""

    repo: UploadRepository
    blobs: BlobStore
    clock: Clock
    events: Events
    # Checked once: a Protocol isinstance costs more than the work it guards, per upload.
    sweeper: SweepsLeftovers | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        sweeper = self.blobs if isinstance(self.blobs, SweepsLeftovers) else None
        object.__setattr__(self, "sweeper", sweeper)

    def stop(self, upload: Upload, by: str) -> Stopped:
        """Abort `upload` if it is still in progress; leave it as it is if it ended.

        A compare-and-set, retried while a racing request moves the upload on
        (pending to uploading): so exactly one of racing completes and aborts
        wins, and a terminal status is never overwritten. UploadNotFound if the
        record vanished meanwhile. Its storage is not freed: see `free`. The
        abort's `upload.aborted` event is written in its transaction.
        """
        while not upload.status.is_terminal:
            with self.repo.transaction() as tx:
                now = self.clock.now()
                if tx.set_status(upload.id, upload.status, UploadStatus.ABORTED, now):
                    event = self.events.record(tx, EventType.UPLOAD_ABORTED, upload.id, now)
                    stopped = Stopped(_reread(tx, upload.id), aborted_now=True)
                else:
                    upload, stopped = _reread(tx, upload.id), None
            if stopped is not None:
                log.info("upload %s (owner %s) aborted by %s", upload.id, upload.owner, by)
                self.events.committed(event)
                return stopped
        return Stopped(upload, aborted_now=False)

    def free(self, upload: Upload) -> None:
        """Free the parts of an upload that will never complete (idempotent).

        Raises the store's errors (StorageUnavailable, ...): the upload stays
        aborted either way, and `gc` frees what is left.
        """
        self.blobs.abort(upload)

    def held(self, upload: Upload) -> Leftover | None:
        """What storage holds for an upload's parts, where the store can tell (else None)."""
        return None if self.sweeper is None else self.sweeper.held(upload)

    def bytes_held(self, upload: Upload, held: Leftover | None) -> int:
        """The bytes `free` would free: from `held` where the store tells, else its parts."""
        if self.sweeper is not None or not upload.upload_id:
            return 0 if held is None else held.size
        return sum(p.size for p in self.blobs.list_parts(upload))


def _reread(repo: UploadRepository, file_id: str) -> Upload:
    upload = repo.get(file_id)
    if upload is None:
        raise UploadNotFound(f"no upload with id {file_id}")
    return upload


__all__ = ["Aborter", "Stopped"]
