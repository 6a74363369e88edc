"""A file as a resource: show it, change its metadata, delete it."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from uploadcore.domain.errors import UploadNotFound
from uploadcore.domain.metadata import MetadataUpdate
from uploadcore.domain.upload import Principal, Upload, UploadStatus
from uploadcore.ports.clock import Clock
from uploadcore.ports.repository import UploadRepository
from uploadcore.services.aborting import Aborter
from uploadcore.services.records import owned_upload

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GetFile:
    """The file, if the principal may see it (NotOwner, UploadNotFound otherwise). Blocking."""

    repo: UploadRepository

    def __call__(self, principal: Principal, file_id: str) -> Upload:
        return owned_upload(self.repo, principal, file_id)


@dataclass(frozen=True)
class UpdateFile:
    """Change the file's name or parent; the other fields never change this way. Blocking."""

    repo: UploadRepository
    clock: Clock

    def __call__(self, principal: Principal, file_id: str, update: MetadataUpdate) -> Upload:
        owned_upload(self.repo, principal, file_id)
        with self.repo.transaction() as tx:
            if not tx.update_metadata(file_id, update, self.clock.now()):
                raise UploadNotFound(f"no file with id {file_id}")
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

    def __call__(self, principal: Principal, file_id: str) -> None:
        upload = self.repo.get(file_id)
        if upload is None:
            raise UploadNotFound(f"no file with id {file_id}")
        upload.check_access(principal)
        upload = self.aborter.stop(upload, by=f"{principal.name}, to delete it").upload
        with self.repo.transaction() as tx:
            if not tx.mark_deleted(file_id, self.clock.now()):
                return  # a racing deletion removed it meanwhile
        if upload.status is not UploadStatus.COMPLETED:
            self.aborter.free(upload)
        self.aborter.blobs.delete(upload)
        self.repo.remove(file_id)
        log.info("file %s deleted by %s", file_id, principal.name)


__all__ = ["DeleteFile", "GetFile", "UpdateFile"]
