"""UploadService: initiate, inspect, resume, receive a part, complete, abort.

Receiving a part lives in `parts.py` and completing in `completion.py`; the
service's methods hand over to them.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from uploadcore.domain.errors import (
    InvalidState,
    PartMissing,
    TokenInvalid,
    TokenMissing,
    UploadcoreError,
    UploadNotFound,
)
from uploadcore.domain.metadata import MetadataUpdate, check_content_type
from uploadcore.domain.parts import PartLimits, PartPlan, PartRef, ReceivedPart
from uploadcore.domain.upload import Principal, Upload, UploadStatus
from uploadcore.ports.blobs import BlobStore, PresignsUrls, ReceivesParts
from uploadcore.ports.clock import Clock, IdGenerator
from uploadcore.ports.repository import UploadRepository
from uploadcore.ports.signer import Signer, TokenClaims
from uploadcore.services.completion import Completion
from uploadcore.services.parts import PART_PURPOSE, receive_part

log = logging.getLogger(__name__)

DOWNLOAD_PURPOSE = "download"
# The shapes of local part and download URLs are part of the API contract (SPEC section 3).
PART_PATH = "/v1/files/presigned-uploads/{file_id}/upload-part/{part_number}/"
DOWNLOAD_PATH = "/v1/files/{file_id}/download/"


@dataclass(frozen=True)
class UploadPolicy:
    """The limits and lifetimes the service enforces, built from settings."""

    limits: PartLimits = field(default_factory=PartLimits)
    url_expires_in: timedelta = timedelta(hours=1)
    upload_expires_in: timedelta = timedelta(hours=24)


@dataclass(frozen=True)
class NewUpload:
    """What a client asks for when it initiates an upload."""

    file_name: str
    file_size: int
    file_content_type: str
    num_parts: int
    part_size: int
    parent_content_type: str | None = None
    parent_object_id: str | None = None


@dataclass(frozen=True)
class PartUrl:
    part_number: int
    url: str
    method: str = "PUT"


@dataclass(frozen=True)
class Initiated:
    upload: Upload
    presigned_urls: tuple[PartUrl, ...]
    expires_in: int


@dataclass(frozen=True)
class UploadState:
    upload: Upload
    parts: tuple[ReceivedPart, ...]


@dataclass(frozen=True)
class RefreshedUrls:
    """Fresh part URLs for an upload in progress, valid for `expires_in` seconds."""

    presigned_urls: tuple[PartUrl, ...]
    expires_in: int


class UploadService:
    """Drives uploads through their lifecycle over the ports it is given.

    The synchronous methods block on storage and database: call them off an
    event loop. `receive_part` is a coroutine and offloads its own blocking work.
    """

    def __init__(
        self,
        repo: UploadRepository,
        blobs: BlobStore,
        signer: Signer,
        clock: Clock,
        ids: IdGenerator,
        policy: UploadPolicy | None = None,
    ) -> None:
        self.repo = repo
        self.blobs = blobs
        self.signer = signer
        self.clock = clock
        self.ids = ids
        self.policy = policy or UploadPolicy()
        self._completion = Completion(self)

    @property
    def blobs(self) -> BlobStore:
        return self._blobs

    @blobs.setter
    def blobs(self, blobs: BlobStore) -> None:
        # Asked on every URL minted; an isinstance of a runtime protocol costs about 8 µs.
        self._blobs = blobs
        self._presigner = blobs if isinstance(blobs, PresignsUrls) else None

    @property
    def receives_parts(self) -> bool:
        """True when part bodies come through this service (local storage)."""
        return isinstance(self.blobs, ReceivesParts)

    # -- initiate ---------------------------------------------------------

    def initiate(self, principal: Principal, request: NewUpload, base_url: str) -> Initiated:
        """Check the plan, record the upload, prepare storage and mint one URL per part."""
        plan = PartPlan.checked(
            request.file_size, request.num_parts, request.part_size, self.policy.limits
        )
        _check_metadata(request)
        now = self.clock.now()
        upload = Upload(
            id=self.ids.new_id(),
            upload_id="",
            storage_key="",
            owner=principal.name,
            file_name=request.file_name,
            file_content_type=request.file_content_type,
            plan=plan,
            status=UploadStatus.PENDING,
            created=now,
            modified=now,
            expires_at=now + self.policy.upload_expires_in,
            parent_content_type=request.parent_content_type,
            parent_object_id=request.parent_object_id,
        )
        self.repo.add(upload)
        try:
            prepared = self.blobs.prepare(upload.id, upload.file_content_type)
        except BaseException:
            self.repo.set_status(upload.id, UploadStatus.PENDING, UploadStatus.ABORTED, now)
            raise
        if not self.repo.mark_uploading(upload.id, prepared.upload_id, prepared.storage_key, now):
            raise InvalidState(f"upload {upload.id} was aborted while it was being prepared")
        upload = self.find(upload.id)
        urls = self.part_urls(upload, upload.plan.part_numbers, base_url)
        return Initiated(upload, urls, int(self.policy.url_expires_in.total_seconds()))

    def part_urls(
        self, upload: Upload, numbers: Sequence[int], base_url: str
    ) -> tuple[PartUrl, ...]:
        """Part URLs valid for the policy's URL lifetime, in the order of `numbers`.

        The store's own presigned URLs when it has them (S3), else token-signed
        URLs of this service under `base_url`.
        """
        if self._presigner is not None:
            now, lifetime = self.clock.now(), self.policy.url_expires_in
            urls = self._presigner.part_urls(upload, numbers, now, lifetime)
            return tuple(PartUrl(n, url) for n, url in zip(numbers, urls, strict=True))
        expires = int((self.clock.now() + self.policy.url_expires_in).timestamp())
        base = base_url.rstrip("/")
        return tuple(
            PartUrl(
                n,
                base
                + PART_PATH.format(file_id=upload.id, part_number=n)
                + "?token="
                + self.signer.sign(
                    TokenClaims(PART_PURPOSE, upload.id, upload.upload_id, n, expires)
                ),
            )
            for n in numbers
        )

    def file_url(self, upload: Upload, base_url: str) -> str | None:
        """A URL that fetches the completed file as it is; None before completion."""
        if upload.status is not UploadStatus.COMPLETED:
            return None
        if self._presigner is not None:
            return self._presigner.file_url(upload, self.clock.now(), self.policy.url_expires_in)
        expires = int((self.clock.now() + self.policy.url_expires_in).timestamp())
        token = self.signer.sign(
            TokenClaims(DOWNLOAD_PURPOSE, upload.id, upload.upload_id, 0, expires)
        )
        return base_url.rstrip("/") + DOWNLOAD_PATH.format(file_id=upload.id) + "?token=" + token

    def check_download(self, file_id: str, token: str | None) -> Upload:
        """The completed upload a download token grants; raises the token errors otherwise."""
        if not token:
            raise TokenMissing("the download URL has no token; fetch the file's url again")
        claims = self.signer.verify(token, DOWNLOAD_PURPOSE, self.clock.now())
        if claims.file_id != file_id:
            raise TokenInvalid("the token was minted for another file")
        upload = self.find(file_id)
        if upload.status is not UploadStatus.COMPLETED:
            raise InvalidState(f"file {file_id} is {upload.status}; there is nothing to download")
        return upload

    # -- inspect ----------------------------------------------------------

    def get_upload(self, principal: Principal, file_id: str) -> Upload:
        upload = self.find(file_id)
        upload.check_access(principal)
        return upload

    def state(self, principal: Principal, file_id: str) -> UploadState:
        """The upload and the parts received so far (what a client needs to resume)."""
        upload = self.get_upload(principal, file_id)
        parts: tuple[ReceivedPart, ...] = ()
        if upload.status is not UploadStatus.ABORTED:
            try:
                parts = tuple(self.received(upload))
            except PartMissing:  # storage forgot the upload (S3, once completed): none left
                parts = ()
        return UploadState(upload, parts)

    # -- resume -----------------------------------------------------------

    def refresh_urls(
        self,
        principal: Principal,
        file_id: str,
        part_numbers: Sequence[int] | None,
        base_url: str,
    ) -> RefreshedUrls:
        """Fresh URLs for the parts asked for (default: every part not yet received).

        Only while the upload is uploading and not expired (InvalidState,
        UploadExpired); InvalidInput names part numbers outside the plan.
        Refreshing counts as activity: the upload's expiry moves.
        """
        upload = self.get_upload(principal, file_id)
        now = self.clock.now()
        upload.check_accepts_parts(now)
        if part_numbers is None:
            received = {p.part_number for p in self.received(upload)}
            numbers: Sequence[int] = [n for n in upload.plan.part_numbers if n not in received]
        else:
            numbers = upload.plan.checked_part_numbers(part_numbers)
        if not self.repo.touch(file_id, now + self.policy.upload_expires_in, now):
            current = self.find(file_id)
            raise InvalidState(f"upload {file_id} is {current.status}; it accepts no parts")
        urls = self.part_urls(upload, numbers, base_url)
        return RefreshedUrls(urls, int(self.policy.url_expires_in.total_seconds()))

    # -- receive a part ---------------------------------------------------

    async def receive_part(
        self,
        file_id: str,
        part_number: int,
        token: str | None,
        body: AsyncIterable[bytes],
        content_length: int | None = None,
        content_md5: str | None = None,
    ) -> ReceivedPart:
        """Stream one part body to storage and record it; nothing of a bad body is kept."""
        return await receive_part(
            self, file_id, part_number, token, body, content_length, content_md5
        )

    # -- complete ---------------------------------------------------------

    def complete(self, principal: Principal, file_id: str, parts: Sequence[PartRef]) -> Upload:
        """Assemble the parts into the final file, once, whoever asks how often.

        A completed upload completed again with the same parts returns the same
        file. A part storage lost for good fails the upload; a backend that is
        unavailable leaves it uploading so the client can retry.
        """
        return self._completion.complete(principal, file_id, parts)

    # -- abort ------------------------------------------------------------

    def abort(self, principal: Principal, file_id: str) -> Upload:
        """Mark the upload aborted and free its parts; aborting it again is a no-op."""
        upload = self.get_upload(principal, file_id)
        while upload.status is not UploadStatus.ABORTED:
            if upload.status.is_terminal:
                raise InvalidState(f"upload {file_id} is {upload.status}; it cannot be aborted")
            if self.repo.set_status(file_id, upload.status, UploadStatus.ABORTED, self.clock.now()):
                log.info("upload %s aborted by %s", file_id, principal.name)
                break
            upload = self.find(file_id)
        try:
            self.blobs.abort(upload)
        except UploadcoreError:  # it is aborted either way; gc frees what is left
            log.warning("upload %s: could not free its parts", file_id, exc_info=True)
        return self.find(file_id)

    # -- helpers ----------------------------------------------------------

    def find(self, file_id: str) -> Upload:
        """The upload with this id; UploadNotFound if there is none, or it is being deleted."""
        upload = self.repo.get(file_id)
        if upload is None or upload.deleted is not None:  # a deleted file is gone for clients
            raise UploadNotFound(f"no upload with id {file_id}")
        return upload

    def received(self, upload: Upload) -> Sequence[ReceivedPart]:
        """The parts received so far; PartMissing if storage no longer knows the upload."""
        if self.receives_parts:  # we record every part we receive: the database is the truth
            return self.repo.parts(upload.id)
        return self.blobs.list_parts(upload)

    def received_map(self, upload: Upload) -> dict[int, ReceivedPart]:
        return {p.part_number: p for p in self.received(upload)}


def _check_metadata(request: NewUpload) -> None:
    """The editable fields follow the rules PATCH holds them to; the type is checked once."""
    check_content_type(request.file_content_type)
    MetadataUpdate.checked(
        {
            "file_name": request.file_name,
            "parent_content_type": request.parent_content_type,
            "parent_object_id": request.parent_object_id,
        }
    )


__all__ = [
    "DOWNLOAD_PATH",
    "PART_PATH",
    "PART_PURPOSE",
    "Initiated",
    "NewUpload",
    "PartUrl",
    "RefreshedUrls",
    "UploadPolicy",
    "UploadService",
    "UploadState",
]
