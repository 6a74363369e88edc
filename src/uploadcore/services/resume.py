"""Resume an upload: what it has received so far, and fresh URLs for the rest."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from uploadcore.domain.errors import FieldError, InvalidInput, InvalidState, PartMissing
from uploadcore.domain.parts import ReceivedPart
from uploadcore.domain.upload import Principal, Upload, UploadStatus
from uploadcore.ports.appends import AppendRepository
from uploadcore.ports.clock import Clock
from uploadcore.ports.links import Links
from uploadcore.ports.repository import UploadRepository
from uploadcore.services.records import (
    ReceivedParts,
    UploadPolicy,
    check_takes_parts,
    find_upload,
    owned_upload,
)
from uploadcore.services.urls import PartUrl, Urls


@dataclass(frozen=True)
class UploadState:
    upload: Upload
    parts: tuple[ReceivedPart, ...]


@dataclass(frozen=True)
class RefreshedUrls:
    """Fresh part URLs for an upload in progress, valid for `expires_in` seconds."""

    presigned_urls: tuple[PartUrl, ...]
    expires_in: int


@dataclass(frozen=True)
class GetUploadState:
    """The upload and the parts received so far: what a client needs to resume. Blocking."""

    repo: UploadRepository
    received: ReceivedParts
    #: Where files arrive in storage by themselves (S3 forms): looked for at each read.
    arrivals: Callable[[Upload], Upload] | None = None

    def __call__(self, principal: Principal, file_id: str) -> UploadState:
        upload = owned_upload(self.repo, principal, file_id)
        if self.arrivals is not None and upload.status is UploadStatus.UPLOADING:
            upload = self.arrivals(upload)
        parts: tuple[ReceivedPart, ...] = ()
        if upload.status is not UploadStatus.ABORTED:
            try:
                parts = tuple(self.received(upload))
            except PartMissing:  # storage forgot the upload (S3, once completed): none left
                parts = ()
        return UploadState(upload, parts)


@dataclass(frozen=True)
class RefreshUrls:
    """Fresh URLs for the parts asked for (default: every part not yet received). Blocking.

    Only while the upload is uploading and not expired (InvalidState,
    UploadExpired); InvalidInput names part numbers outside the plan.
    Refreshing counts as activity: the upload's expiry moves.
    """

    repo: UploadRepository
    received: ReceivedParts
    urls: Urls
    clock: Clock
    policy: UploadPolicy
    appends: AppendRepository | None = None

    def __call__(
        self,
        principal: Principal,
        file_id: str,
        part_numbers: Sequence[int] | None,
        links: Links,
    ) -> RefreshedUrls:
        upload = owned_upload(self.repo, principal, file_id)
        now = self.clock.now()
        upload.check_accepts_parts(now)
        appending = check_takes_parts(self.appends, upload)
        numbers: Sequence[int]
        if appending is not None:  # open length: any part number the limits allow
            numbers = _open_part_numbers(part_numbers, self.policy.limits.max_parts)
        elif part_numbers is None:
            received = {p.part_number for p in self.received(upload)}
            numbers = [n for n in upload.plan.part_numbers if n not in received]
        else:
            numbers = upload.plan.checked_part_numbers(part_numbers)
        if not self.repo.touch(file_id, now + self.policy.upload_expires_in, now):
            current = find_upload(self.repo, file_id)
            raise InvalidState(f"upload {file_id} is {current.status}; it accepts no parts")
        urls = self.urls.parts(upload, numbers, links, sized=appending is None)
        return RefreshedUrls(urls, self.policy.url_expires_in_seconds)


def _open_part_numbers(asked: Sequence[int] | None, max_parts: int) -> tuple[int, ...]:
    """The part numbers asked for an upload of open length: named, each in 1..max_parts."""
    if not asked:
        message = "an upload of open length has no planned parts: name the part numbers"
        raise InvalidInput(message, errors=(FieldError("part_numbers", message),))
    wanted = sorted(set(asked))
    outside = [n for n in wanted if not 1 <= n <= max_parts]
    if outside:
        message = f"part numbers outside 1..{max_parts}: {', '.join(map(str, outside[:20]))}"
        raise InvalidInput(message, errors=(FieldError("part_numbers", message),))
    return tuple(wanted)


__all__ = ["GetUploadState", "RefreshUrls", "RefreshedUrls", "UploadState"]
