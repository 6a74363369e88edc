"""A file as a resource: show it, change its metadata, delete it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from uploadcore.domain.errors import UploadNotFound
from uploadcore.domain.events import Event, EventType
from uploadcore.domain.metadata import MetadataUpdate
from uploadcore.domain.upload import Principal, Upload, UploadStatus
from uploadcore.ports.clock import Clock
from uploadcore.ports.repository import UploadRepository
from uploadcore.services.aborting import Aborter
from uploadcore.services.events import Events
from uploadcore.services.records import owned_upload

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GetFile:
    """The file, if the principal may see it (NotOwner, UploadNotFound otherwise). Blocking."""

    repo: UploadRepository
    #: Where files arrive in storage by themselves (S3 forms): looked for at each read.
    arrivals: Callable[[Upload], Upload] | None = None

    def __call__(self, principal: Principal, file_id: str) -> Upload:
        upload = owned_upload(self.repo, principal, file_id)
        if self.arrivals is not None and upload.status is UploadStatus.UPLOADING:
            upload = self.arrivals(upload)
        return upload


@dataclass(frozen=True)
class UpdateFile:
    """Change the file's name or parent; the other fields never change this way. Blocking."""

    repo: UploadRepository
    clock: Clock
    events: Events

    def __call__(self, principal: Principal, file_id: str, update: MetadataUpdate) -> Upload:
        owned_upload(self.repo, principal, file_id)
        event = None
        with self.repo.transaction() as tx:
            now = self.clock.now()
            if not tx.update_metadata(file_id, update, now):
                raise UploadNotFound(f"no file with id {file_id}")
            if update.changes:  # an empty PATCH changes nothing, so tells nobody
                event = self.events.record(tx, EventType.FILE_UPDATED, file_id, now)
        self.events.committed(event)
        return owned_upload(self.repo, principal, file_id)


@dataclass(frozen=True)
class DeleteFile:
    """Delete the file: abort it if in progress, free its bytes, remove its record. Blocking.

    The record is marked deleted first (the file is gone for clients from then
    on) and removed last, so an interruption never leaves stored bytes without
    a record, nor a record that looks whole without its bytes: deleting it
    again finishes the work. A completion that wins the race against the
    abort is deleted as it is.
    """

    repo: UploadRepository
    aborter: Aborter
    clock: Clock
    events: Events

    def __call__(self, principal: Principal, file_id: str) -> None:
        upload = self.repo.get(file_id)
        if upload is None:
            raise UploadNotFound(f"no file with id {file_id}")
        upload.check_access(principal)
        upload = self.aborter.stop(upload, by=f"{principal.name}, to delete it").upload
        with self.repo.transaction() as tx:
            before = tx.get(file_id)
            if before is None or not tx.mark_deleted(file_id, now := self.clock.now()):
                return  # a racing deletion removed it meanwhile
            event = self._first_mark(tx, before, now)
        self.events.committed(event)
        if upload.status is not UploadStatus.COMPLETED:
            self.aborter.free(upload)
        self.aborter.blobs.delete(upload)
        self.repo.remove(file_id)
        log.info("file %s deleted by %s", file_id, principal.name)

    def _first_mark(self, tx: UploadRepository, before: Upload, now: datetime) -> Event | None:
        """`file.deleted`, if this deletion is the one whose mark was kept (racing ones are not).

        A mark, once made, is never replaced. Read in the unit of work, `before`
        shows a mark a racing deletion committed first; one still committing
        (PostgreSQL lets both read before either writes) keeps its own time,
        which is `now` only for the deletion that made it.
        """
        marked = tx.get(before.id)
        if before.deleted is not None or marked is None or marked.deleted != now:
            return None
        return self.events.record(tx, EventType.FILE_DELETED, before.id, now)


__all__ = ["DeleteFile", "GetFile", "UpdateFile"]
