"""Files as a resource: list them, show one, change its metadata, delete it."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from uploadcore.domain.errors import FieldError, Forbidden, InvalidInput, UploadNotFound
from uploadcore.domain.listing import (
    DEFAULT_LIMIT,
    FileFilter,
    ListPosition,
    check_limit,
    owner_filter,
    parent_filter,
    status_filter,
)
from uploadcore.domain.metadata import MetadataUpdate
from uploadcore.domain.upload import Principal, Upload, UploadStatus
from uploadcore.ports.signer import TokenClaims
from uploadcore.services.uploads import UploadService

log = logging.getLogger(__name__)

CURSOR_PURPOSE = "list-cursor"
# A cursor stays valid for as long as the secret key does: walking a long listing
# slowly is fine, and a cursor grants nothing its holder could not ask for anew.
_CURSOR_EXPIRES = 2**53 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class FileQuery:
    """A listing as a client asks for it; `FileService.list_files` checks every field."""

    owner: str | None = None
    upload_status: str = "completed"
    parent_content_type: str | None = None
    parent_object_id: str | None = None
    file_content_type: str | None = None
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None


@dataclass(frozen=True)
class FilePage:
    """One page of a listing, and the cursor of the next one (None on the last page)."""

    files: tuple[Upload, ...]
    next_cursor: str | None


class FileService:
    """The file use cases, over the ports of an UploadService. Blocking, like it."""

    def __init__(self, uploads: UploadService) -> None:
        self.uploads = uploads
        self.repo = uploads.repo

    # -- list -------------------------------------------------------------

    def list_files(self, principal: Principal, query: FileQuery) -> FilePage:
        """A page of the files `query` selects, newest first.

        InvalidInput for a bad limit, status or parent, or a cursor this
        service did not issue for this principal and these filters; NotOwner
        when a user who is not an admin names another owner.
        """
        limit = check_limit(query.limit)
        status = status_filter(query.upload_status)
        parent = parent_filter(query.parent_content_type, query.parent_object_id)
        owner = owner_filter(principal, query.owner)
        where = FileFilter(owner, status, parent, query.file_content_type)
        binding = _binding(principal, where)
        after = None if query.cursor is None else self._position(query.cursor, binding)
        found = self.repo.list_files(where, after, limit + 1)
        page = tuple(found[:limit])
        more = len(found) > limit
        return FilePage(page, self._cursor(ListPosition.of(page[-1]), binding) if more else None)

    def _cursor(self, position: ListPosition, binding: str) -> str:
        # The token's fields carry the position (id, and `created` in microseconds) and
        # the binding to the principal and filters; the signature makes it tamper-evident.
        micros = (position.created - _EPOCH) // timedelta(microseconds=1)
        claims = TokenClaims(CURSOR_PURPOSE, position.id, binding, micros, _CURSOR_EXPIRES)
        return self.uploads.signer.sign(claims)

    def _position(self, cursor: str, binding: str) -> ListPosition:
        try:
            claims = self.uploads.signer.verify(cursor, CURSOR_PURPOSE, self.uploads.clock.now())
        except Forbidden:
            raise _bad_cursor("was not issued by this service") from None
        if claims.upload_id != binding:
            raise _bad_cursor("belongs to another user or to a listing with other filters")
        return ListPosition(_EPOCH + timedelta(microseconds=claims.part_number), claims.file_id)

    # -- one file ---------------------------------------------------------

    def get_file(self, principal: Principal, file_id: str) -> Upload:
        """The file, if the principal may see it (NotOwner, UploadNotFound otherwise)."""
        return self.uploads.get_upload(principal, file_id)

    def update_metadata(self, principal: Principal, file_id: str, update: MetadataUpdate) -> Upload:
        """Change the file's name or parent; the other fields never change this way."""
        self.uploads.get_upload(principal, file_id)
        if not self.repo.update_metadata(file_id, update, self.uploads.clock.now()):
            raise UploadNotFound(f"no file with id {file_id}")
        return self.uploads.get_upload(principal, file_id)

    def delete_file(self, principal: Principal, file_id: str) -> None:
        """Delete the file: abort it if in progress, free its bytes, remove its record.

        The record is marked deleted first (the file is gone for clients from
        then on) and removed last, so an interruption never leaves stored bytes
        without a record, nor a record that looks whole without its bytes:
        deleting it again finishes the work.
        """
        upload = self.repo.get(file_id)
        if upload is None:
            raise UploadNotFound(f"no file with id {file_id}")
        upload.check_access(principal)
        upload = self._stop(upload)
        if not self.repo.mark_deleted(file_id, self.uploads.clock.now()):
            return  # a racing deletion removed it meanwhile
        if upload.status is not UploadStatus.COMPLETED:
            self.uploads.blobs.abort(upload)
        self.uploads.blobs.delete(upload)
        self.repo.remove(file_id)
        log.info("file %s deleted by %s", file_id, principal.name)

    def _stop(self, upload: Upload) -> Upload:
        """Abort an upload in progress; a completion that wins the race is deleted as it is."""
        while not upload.status.is_terminal:
            now = self.uploads.clock.now()
            if self.repo.set_status(upload.id, upload.status, UploadStatus.ABORTED, now):
                log.info("upload %s aborted to delete it", upload.id)
            current = self.repo.get(upload.id)
            if current is None:
                raise UploadNotFound(f"no file with id {upload.id}")
            upload = current
        return upload


def _binding(principal: Principal, where: FileFilter) -> str:
    """What a cursor is bound to: who listed, and with which filters."""
    status = None if where.status is None else where.status.value
    facts = [principal.name, where.owner, status, where.parent, where.file_content_type]
    return hashlib.sha256(json.dumps(facts).encode()).hexdigest()[:32]


def _bad_cursor(reason: str) -> InvalidInput:
    message = f"the cursor {reason}; start again without one"
    return InvalidInput(f"cursor: {message}", errors=(FieldError("cursor", message),))


__all__ = ["CURSOR_PURPOSE", "FilePage", "FileQuery", "FileService"]
