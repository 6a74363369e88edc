"""Start an appended upload (tus creation): the record, its storage, its appending state."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from uploadcore.domain.append import Appending, Concat, Fill
from uploadcore.domain.errors import InvalidState, TokenLimitReached, UploadcoreError
from uploadcore.domain.events import EventType
from uploadcore.domain.metadata import MetadataUpdate, check_content_type
from uploadcore.domain.parts import multipart_etag
from uploadcore.domain.upload import Principal, Upload, UploadStatus
from uploadcore.ports.appends import AppendRepository, AppendsBytes
from uploadcore.ports.blobs import BlobStore, PostsForms, PreparedUpload
from uploadcore.ports.clock import Clock, IdGenerator
from uploadcore.ports.repository import UploadRepository
from uploadcore.services.appended import Finisher, appended_upload, size_limit
from uploadcore.services.events import Events
from uploadcore.services.records import UploadPolicy, find_upload

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewAppend:
    """What a client asks for: a name and type, the length if known, the metadata as sent."""

    file_name: str
    file_content_type: str
    length: int | None
    metadata: str = ""
    concat: Concat = Concat.NONE


@dataclass(frozen=True)
class StartAppend:
    """Blocking. FileTooLarge for a length past the caller's limit, nothing created.

    An upload token's limits hold as at initiate; a partial upload is not a
    file and claims none of the token's files (the final one does).
    """

    repo: UploadRepository
    appends: AppendRepository
    blobs: BlobStore
    clock: Clock
    ids: IdGenerator
    policy: UploadPolicy
    events: Events

    def __call__(self, principal: Principal, request: NewAppend) -> tuple[Upload, Appending]:
        limit = size_limit(principal, self.policy)
        if principal.grant is not None:
            principal.grant.limits.check_file(request.length, request.file_content_type)
        appending = Appending.started(request.length, limit, request.metadata, request.concat)
        return self.create(principal, request.file_name, request.file_content_type, appending)

    def open(self, principal: Principal, file_name: str, content_type: str, fill: Fill) -> Upload:
        """An upload of open length (Uppy's): its parts, or its one form, arrive later.

        Its size limit is the caller's now (the service's, or a token's less),
        fixed: the bytes come through token-signed URLs, without the caller.
        On a store that takes forms itself (S3), a form upload gets a key and
        no multipart upload.
        """
        if principal.grant is not None:
            principal.grant.limits.check_file(None, content_type)
        appending = Appending.open(fill, size_limit(principal, self.policy))
        prepare = self.blobs.prepare
        if fill is Fill.FORM and isinstance(self.blobs, PostsForms):
            prepare = self.blobs.prepare_form
        return self.create(principal, file_name, content_type, appending, prepare)[0]

    def create(
        self,
        principal: Principal,
        file_name: str,
        content_type: str,
        appending: Appending,
        prepare: Callable[[str, str], PreparedUpload] | None = None,
    ) -> tuple[Upload, Appending]:
        """Record an upload with `appending` and prepare its storage (`blobs.prepare`)."""
        check_content_type(content_type)
        MetadataUpdate.checked({"file_name": file_name})
        grant, now = principal.grant, self.clock.now()
        upload = Upload(
            id=self.ids.new_id(),
            upload_id="",
            storage_key="",
            owner=principal.name,
            file_name=file_name,
            file_content_type=content_type,
            plan=appending.plan(),
            status=UploadStatus.PENDING,
            created=now,
            modified=now,
            expires_at=now + self.policy.upload_expires_in,
            parent_content_type=None if grant is None else grant.limits.parent_content_type,
            parent_object_id=None if grant is None else grant.limits.parent_object_id,
            token_id=None if grant is None else grant.token_id,
        )
        claims = grant is not None and appending.concat is not Concat.PARTIAL
        with self.repo.transaction() as tx:
            if claims and grant is not None and not tx.claim_token_file(grant.token_id, now):
                raise TokenLimitReached(
                    "the upload token has started as many uploads as it may, or is no longer valid"
                )
            tx.add(upload)
            (tx if isinstance(tx, AppendRepository) else self.appends).add_appending(
                upload.id, appending
            )
        try:
            prepared = (prepare or self.blobs.prepare)(upload.id, upload.file_content_type)
        except BaseException:
            self.repo.set_status(upload.id, UploadStatus.PENDING, UploadStatus.ABORTED, now)
            raise
        event = None
        with self.repo.transaction() as tx:  # it exists for clients, and its event, at once
            now = self.clock.now()
            if not tx.mark_uploading(upload.id, prepared.upload_id, prepared.storage_key, now):
                raise InvalidState(f"upload {upload.id} was aborted while it was being prepared")
            if appending.concat is not Concat.PARTIAL:  # a partial upload is no file
                event = self.events.record(tx, EventType.UPLOAD_CREATED, upload.id, now)
        self.events.committed(event)
        return find_upload(self.repo, upload.id), appending


@dataclass(frozen=True)
class Concatenate:
    """Make one completed file of the caller's finished partial uploads, in order (blocking).

    The bytes are copied by the store (kernel copies on local disk,
    UploadPartCopy on S3); the etag is storage's own, or the multipart etag
    of the partials' md5s, as if each were a part. The final file owns the
    bytes from then on: the partials are marked deleted with the change that
    completes it, and their bytes and records removed afterwards (`gc`
    finishes a removal cut short).
    """

    start: StartAppend
    store: AppendsBytes
    finish: Finisher

    def __call__(
        self, principal: Principal, partial_ids: Sequence[str], file_name: str,
        content_type: str, metadata: str = "",
    ) -> tuple[Upload, Appending]:  # fmt: skip
        start = self.start
        found = [appended_upload(start.repo, start.appends, principal, i) for i in partial_ids]
        limit = size_limit(principal, start.policy)
        appending = Appending.concatenated([(u.id, a) for u, a in found], limit, metadata)
        if principal.grant is not None:
            principal.grant.limits.check_file(appending.offset, content_type)
        upload, appending = start.create(principal, file_name, content_type, appending)
        partials = [u for u, _ in found]
        etag = self.store.concatenate(upload, partials)
        if etag is None:
            etag = multipart_etag([p.etag for u in partials for p in start.repo.parts(u.id)])
        event = None
        with start.repo.transaction() as tx:
            appends = tx if isinstance(tx, AppendRepository) else start.appends
            now = start.clock.now()
            if appends.finish_appending(upload.id, appending.plan(), etag, now):
                event = self.finish.completed(tx, upload.id, appending, now)
                for partial in partials:
                    tx.mark_deleted(partial.id, now)
        start.events.committed(event)
        if event is not None:
            self._free(partials)
        return find_upload(start.repo, upload.id), appending

    def _free(self, partials: Sequence[Upload]) -> None:
        """Remove the partials' bytes, then their records; `gc` finishes what fails here."""
        for partial in partials:
            try:
                self.start.blobs.delete(partial)
            except UploadcoreError:
                log.warning("partial upload %s: bytes not freed yet", partial.id, exc_info=True)
                continue
            self.start.repo.remove(partial.id)


__all__ = ["Concatenate", "NewAppend", "StartAppend"]
