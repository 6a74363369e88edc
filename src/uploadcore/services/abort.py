"""Abort an upload: the client's own, or any upload by an admin."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from uploadcore.domain.errors import (
    InvalidState,
    StorageUnavailable,
    UploadcoreError,
    UploadNotFound,
)
from uploadcore.domain.upload import Principal, Upload, UploadStatus
from uploadcore.ports.repository import UploadRepository
from uploadcore.services.aborting import Aborter
from uploadcore.services.records import find_upload, owned_upload

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AbortUpload:
    """Mark the caller's upload aborted and free its parts; aborting it again is a no-op.

    InvalidState if it completed or failed. Blocking.
    """

    repo: UploadRepository
    aborter: Aborter

    def __call__(self, principal: Principal, file_id: str) -> Upload:
        upload = owned_upload(self.repo, principal, file_id)
        upload = self.aborter.stop(upload, by=principal.name).upload
        if upload.status is not UploadStatus.ABORTED:
            raise InvalidState(f"upload {file_id} is {upload.status}; it cannot be aborted")
        try:
            self.aborter.free(upload)
        except UploadcoreError:  # it is aborted either way; gc frees what is left
            log.warning("upload %s: could not free its parts", file_id, exc_info=True)
        return find_upload(self.repo, file_id)


@dataclass(frozen=True)
class AbortedUpload:
    upload: Upload
    bytes_freed: int


@dataclass(frozen=True)
class ForceAbort:
    """Abort an upload in progress whoever owns it, and free its storage (an admin's abort).

    Raises UploadNotFound, or InvalidState when it is not in progress (an
    upload already aborted included). If the storage cannot be freed now, the
    upload stays aborted and StorageUnavailable says `gc` will free it.
    """

    repo: UploadRepository
    aborter: Aborter

    def __call__(self, file_id: str) -> AbortedUpload:
        upload = self.repo.get(file_id)
        if upload is None:
            raise UploadNotFound(f"no upload with id {file_id}")
        stopped = self.aborter.stop(upload, by="an admin")
        if not stopped.aborted_now:
            raise InvalidState(f"upload {file_id} is {stopped.upload.status}, not in progress")
        upload = stopped.upload
        try:
            freed = self.aborter.bytes_held(upload, self.aborter.held(upload))
            self.aborter.free(upload)
        except UploadcoreError as error:
            raise StorageUnavailable(
                f"upload {file_id} is aborted, but its storage could not be freed now "
                f"({error.detail}); `uploadcore gc` will free it"
            ) from error
        return AbortedUpload(upload, freed)


__all__ = ["AbortUpload", "AbortedUpload", "ForceAbort"]
