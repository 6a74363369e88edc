"""What the appending use cases share: the limit a caller is held to, finding and finishing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from uploadcore.domain.append import Appending, Concat, Fill
from uploadcore.domain.errors import OffsetMismatch, UploadNotFound
from uploadcore.domain.events import Event, EventType
from uploadcore.domain.parts import ReceivedPart
from uploadcore.domain.upload import Principal, Upload, UploadStatus
from uploadcore.ports.appends import AppendRepository, AppendsBytes
from uploadcore.ports.clock import Clock
from uploadcore.ports.repository import UploadRepository
from uploadcore.services.events import Events
from uploadcore.services.records import UploadPolicy, find_upload, owned_upload

LEASE = timedelta(seconds=60)  # a crashed appender's lease frees the upload this soon


def size_limit(principal: Principal, policy: UploadPolicy) -> int:
    """The most bytes this caller's upload may hold: the service's maximum, or a token's less."""
    limit = policy.limits.max_file_size
    grant = principal.grant
    if grant is not None and grant.limits.max_file_size is not None:
        limit = min(limit, grant.limits.max_file_size)
    return limit


def appended_upload(
    repo: UploadRepository, appends: AppendRepository, principal: Principal, file_id: str
) -> tuple[Upload, Appending]:
    """The caller's appended upload; UploadNotFound if there is none, or it was aborted.

    Uploads of open length filled otherwise (Uppy's parts or form) are none:
    bytes appended to them would make another file.
    """
    upload = owned_upload(repo, principal, file_id)
    appending = appends.appending(file_id)
    if appending is None or appending.fill is not Fill.APPEND:
        raise UploadNotFound(f"no upload with id {file_id}")
    if upload.status in (UploadStatus.ABORTED, UploadStatus.FAILED):
        raise UploadNotFound(f"no upload with id {file_id}")
    return upload, appending


def part_numbers(appends: AppendRepository, file_id: str, lease: str) -> Callable[[], int]:
    """Fresh part numbers for the holder of `lease` (`AppendAt.reserve`).

    Each call raises OffsetMismatch once the lease is no longer ours.
    """

    def reserve() -> int:
        number = appends.reserve_part(file_id, lease)
        if number is None:
            raise OffsetMismatch(f"upload {file_id} was taken by another request")
        return number

    return reserve


@dataclass(frozen=True)
class Finisher:
    """Turns an upload that holds all its bytes into a completed file."""

    repo: UploadRepository
    appends: AppendRepository
    store: AppendsBytes
    clock: Clock
    policy: UploadPolicy
    events: Events

    def __call__(
        self, upload: Upload, appending: Appending, kept: Sequence[ReceivedPart] = ()
    ) -> Upload:
        """Blocking. Idempotent: a racing finish of the same upload sees the same file.

        `kept`: parts its last writer stored that are not recorded yet (a form's
        one writer), recorded with the completion. The file's `upload.completed`
        event is written with the change that completes it (a partial upload is
        no file: it has none).
        """
        parts = [*self.repo.parts(upload.id), *kept]
        finished = self.store.finish_append(upload, appending.offset, parts)
        now = self.clock.now()
        event: Event | None = None
        with self.repo.transaction() as tx:
            # The repository that keeps both joins them in one unit of work.
            appends = tx if isinstance(tx, AppendRepository) else self.appends
            for part in (*kept, *finished.parts):
                tx.record_part(upload.id, part, now + self.policy.upload_expires_in, now)
            if appends.finish_appending(upload.id, appending.plan(), finished.etag, now):
                event = self.completed(tx, upload.id, appending, now)
        self.events.committed(event)
        return find_upload(self.repo, upload.id)

    def completed(
        self, tx: UploadRepository, file_id: str, appending: Appending, now: datetime
    ) -> Event | None:
        """The `upload.completed` event of a file made by appending, written in `tx`."""
        if appending.concat is Concat.PARTIAL:
            return None
        return self.events.record(tx, EventType.UPLOAD_COMPLETED, file_id, now)


__all__ = ["LEASE", "Finisher", "appended_upload", "part_numbers", "size_limit"]
