"""What the appending use cases share: the limit a caller is held to, finding and finishing."""

from __future__ import annotations

from dataclasses import dataclass

from uploadcore.domain.append import Appending
from uploadcore.domain.errors import UploadNotFound
from uploadcore.domain.parts import ReceivedPart, multipart_etag
from uploadcore.domain.upload import Principal, Upload, UploadStatus
from uploadcore.ports.appends import AppendRepository, AppendsBytes
from uploadcore.ports.clock import Clock
from uploadcore.ports.repository import UploadRepository
from uploadcore.services.records import UploadPolicy, find_upload, owned_upload


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
    """The caller's appended upload; UploadNotFound if there is none, or it was aborted."""
    upload = owned_upload(repo, principal, file_id)
    appending = appends.appending(file_id)
    if appending is None or upload.status in (UploadStatus.ABORTED, UploadStatus.FAILED):
        raise UploadNotFound(f"no upload with id {file_id}")
    return upload, appending


@dataclass(frozen=True)
class Finisher:
    """Turns an upload that holds all its bytes into a completed file."""

    repo: UploadRepository
    appends: AppendRepository
    store: AppendsBytes
    clock: Clock
    policy: UploadPolicy

    def __call__(self, upload: Upload, appending: Appending) -> Upload:
        """Blocking. Idempotent: a racing finish of the same upload sees the same file."""
        md5 = self.store.finish_append(upload, appending.offset)
        part = ReceivedPart(1, md5, appending.offset)
        now = self.clock.now()
        with self.repo.transaction() as tx:
            # The repository that keeps both joins them in one unit of work.
            appends = tx if isinstance(tx, AppendRepository) else self.appends
            if tx.record_part(upload.id, part, now + self.policy.upload_expires_in, now):
                etag = multipart_etag([md5])
                appends.finish_appending(upload.id, appending.plan(), etag, now)
        return find_upload(self.repo, upload.id)


__all__ = ["Finisher", "appended_upload", "size_limit"]
