"""Complete an upload: its parts become the file, once, however often it is asked."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from uploadcore.domain.append import Appending, check_open_completion
from uploadcore.domain.errors import (
    FileTooLarge,
    InvalidInput,
    InvalidState,
    PartMissing,
    StorageUnavailable,
    UploadcoreError,
    UploadNotFound,
)
from uploadcore.domain.events import EventType
from uploadcore.domain.parts import (
    PartPlan,
    PartRef,
    ReceivedPart,
    check_completion,
    multipart_etag,
    normalize_etag,
)
from uploadcore.domain.upload import Principal, Upload, UploadStatus
from uploadcore.ports.appends import AppendRepository
from uploadcore.ports.blobs import BlobStore
from uploadcore.ports.clock import Clock
from uploadcore.ports.repository import UploadRepository
from uploadcore.services.aborting import Aborter
from uploadcore.services.events import Events
from uploadcore.services.locks import KeyedLocks
from uploadcore.services.records import (
    ReceivedParts,
    UploadPolicy,
    check_takes_parts,
    find_upload,
    open_limits,
    owned_upload,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CompleteUpload:
    """Assemble the parts into the final file, once, whoever asks how often. Blocking.

    A completed upload completed again with the same parts returns the same
    file. A part storage lost for good fails the upload; a backend that is
    unavailable leaves it uploading so the client can retry.
    """

    repo: UploadRepository
    blobs: BlobStore
    received: ReceivedParts
    clock: Clock
    policy: UploadPolicy
    events: Events
    # One assembly of an upload at a time in this process; the database decides across them.
    _assembling: KeyedLocks = field(default_factory=KeyedLocks, compare=False, repr=False)
    appends: AppendRepository | None = None
    #: Aborts an upload of open length whose parts pass its size limit.
    aborter: Aborter | None = None

    def __call__(self, principal: Principal, file_id: str, parts: Sequence[PartRef]) -> Upload:
        upload = owned_upload(self.repo, principal, file_id)
        appending = check_takes_parts(self.appends, upload)
        if upload.status is UploadStatus.COMPLETED:
            return self._same_completion(upload, parts)
        upload.check_accepts_parts(self.clock.now())
        ordered, settled = self._completion_parts(upload, parts, appending)
        with self._assembling.hold(file_id):
            upload = find_upload(self.repo, file_id)
            if upload.status is UploadStatus.COMPLETED:
                return self._same_completion(upload, parts)
            now = self.clock.now()
            upload.check_accepts_parts(now)
            # Completing is activity: the expiry moves, so `gc` leaves the upload alone
            # while it is assembled (its abort re-checks the expiry it read).
            if not self.repo.touch(file_id, now + self.policy.upload_expires_in, now):
                return self._after_lost_race(upload, parts)
            return self._assemble(upload, parts, ordered, settled)

    def _assemble(
        self,
        upload: Upload,
        refs: Sequence[PartRef],
        ordered: Sequence[ReceivedPart],
        settled: PartPlan | None = None,
    ) -> Upload:
        """Join the parts, and record the file (with its `settled` plan, for an open length)."""
        try:
            stored_etag = self.blobs.assemble(upload, ordered)
        except PartMissing as missing:
            return self._after_missing_part(upload, refs, missing, settled is None)
        except StorageUnavailable:
            # Storage may refuse an assembly that another request made moot (Ceph RGW
            # answers 500 to a completion while an abort or another completion of the
            # upload, perhaps on another instance, holds it): a settled fate is the answer.
            current = self.repo.get(upload.id)
            if current is not None and current.status is UploadStatus.UPLOADING:
                raise
            return self._after_lost_race(upload, refs)
        etag = stored_etag or multipart_etag([p.etag for p in ordered])
        with self.repo.transaction() as tx:
            now = self.clock.now()
            if settled is None:
                completed = tx.set_status(
                    upload.id, UploadStatus.UPLOADING, UploadStatus.COMPLETED, now, etag
                )
            else:
                appends = tx if isinstance(tx, AppendRepository) else self.appends
                assert appends is not None  # an open length is kept by the AppendRepository
                completed = appends.finish_appending(upload.id, settled, etag, now)
            # The event commits with the change or not at all: one per completion.
            if completed:
                event = self.events.record(tx, EventType.UPLOAD_COMPLETED, upload.id, now)
        if not completed:
            return self._after_lost_race(upload, refs)
        self.events.committed(event)
        log.info(
            "upload %s completed (%d parts, %d bytes)",
            upload.id,
            len(ordered),
            sum(p.size for p in ordered),
        )
        self._release(upload)
        return find_upload(self.repo, upload.id)

    def _after_missing_part(
        self, upload: Upload, refs: Sequence[PartRef], missing: PartMissing, planned: bool
    ) -> Upload:
        current = find_upload(self.repo, upload.id)
        if current.status is not UploadStatus.UPLOADING:
            return self._after_lost_race(current, refs)
        # A part re-uploaded meanwhile makes the client's list stale: that is its 400.
        try:
            received: dict[int, ReceivedPart] | None = (
                self.received.by_number(current) if planned else None
            )
        except PartMissing:  # storage lost the whole upload: no list to be stale against
            received = None
        if received is not None:
            check_completion(current.plan, refs, received)
        with self.repo.transaction() as tx:
            now = self.clock.now()
            failed = tx.set_status(upload.id, UploadStatus.UPLOADING, UploadStatus.FAILED, now)
            if failed:
                event = self.events.record(tx, EventType.UPLOAD_FAILED, upload.id, now)
        if failed:
            self.events.committed(event)
            log.error("upload %s failed: %s", upload.id, missing.detail)
            raise missing
        return self._after_lost_race(find_upload(self.repo, upload.id), refs)

    def _after_lost_race(self, upload: Upload, refs: Sequence[PartRef]) -> Upload:
        current = self.repo.get(upload.id)
        if current is not None and current.deleted is not None:
            current = None  # being deleted: as good as gone
        if current is not None and current.status is UploadStatus.COMPLETED:
            return self._same_completion(current, refs)
        # Aborted, failed or deleted while we assembled: the final object must not outlive it.
        self.blobs.delete(current or upload)
        if current is None:
            raise UploadNotFound(f"upload {upload.id} was deleted")
        raise InvalidState(f"upload {current.id} is {current.status}")

    def _same_completion(self, upload: Upload, refs: Sequence[PartRef]) -> Upload:
        # The file's etag, made from every part's etag in order, is the check: not the
        # parts storage knows now (S3 forgets them once they are the file; a part sent
        # again during assembly is recorded, yet not in the file).
        try:
            ordered = check_completion(upload.plan, refs, _as_named(upload.plan, refs))
            etag = multipart_etag([p.etag for p in ordered])  # EtagMismatch if not hex
        except InvalidInput as wrong:
            raise InvalidState(f"upload {upload.id} was completed with other parts") from wrong
        if etag != upload.etag:
            raise InvalidState(f"upload {upload.id} was completed with other parts")
        return upload

    def _release(self, upload: Upload) -> None:
        try:
            self.blobs.release_parts(upload)
        except UploadcoreError:  # the file is complete; gc frees what is left
            log.warning("upload %s: could not free its parts", upload.id, exc_info=True)

    def _completion_parts(
        self, upload: Upload, refs: Sequence[PartRef], appending: Appending | None
    ) -> tuple[tuple[ReceivedPart, ...], PartPlan | None]:
        """The parts to assemble, checked against what storage holds (400s name the problems).

        With an open length, also the plan the parts settle; parts past the
        upload's size limit abort it (FileTooLarge): they can never complete.
        """
        try:
            received = self.received.by_number(upload)
        except PartMissing:
            if appending is not None:
                raise
            # Storage no longer knows the upload (S3): completed by an earlier try whose
            # answer was lost, or gone for good. Assembling tells which.
            received = _as_named(upload.plan, refs)
        if appending is None:
            return check_completion(upload.plan, refs, received), None
        try:
            return check_open_completion(refs, received, open_limits(self.policy, appending))
        except FileTooLarge:
            if self.aborter is not None:
                _abort_too_large(self.aborter, upload)
            raise


def _abort_too_large(aborter: Aborter, upload: Upload) -> None:
    stopped = aborter.stop(upload, by="its size limit")
    if stopped.aborted_now:
        try:
            aborter.free(stopped.upload)
        except UploadcoreError:  # aborted either way; gc frees what is left
            log.warning("upload %s: could not free its parts", upload.id, exc_info=True)


def _as_named(plan: PartPlan, refs: Sequence[PartRef]) -> dict[int, ReceivedPart]:
    """The parts as a completion names them, at their planned sizes."""
    return {
        r.part_number: ReceivedPart(
            r.part_number, normalize_etag(r.etag), plan.size_of(r.part_number)
        )
        for r in refs
        if 1 <= r.part_number <= plan.num_parts
    }


__all__ = ["CompleteUpload"]
