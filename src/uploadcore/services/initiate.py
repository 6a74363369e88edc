"""Initiate an upload: check the plan, record it, prepare storage, mint one URL per part."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from uploadcore.domain.errors import InvalidState, Rejected, TokenLimitReached
from uploadcore.domain.events import Event, EventType
from uploadcore.domain.metadata import MetadataUpdate, check_content_type
from uploadcore.domain.parts import PartPlan
from uploadcore.domain.upload import Principal, Upload, UploadStatus
from uploadcore.ports.blobs import BlobStore
from uploadcore.ports.clock import Clock, IdGenerator
from uploadcore.ports.links import Links
from uploadcore.ports.repository import UploadRepository
from uploadcore.services.events import Events
from uploadcore.services.records import UploadPolicy, find_upload
from uploadcore.services.urls import PartUrl, Urls


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


#: An embedder's check before an upload is created: None lets it through, a
#: reason rejects it (`Rejected`, 403 `rejected` over HTTP, the reason as detail).
BeforeInitiate = Callable[[Principal, NewUpload], str | None]


@dataclass(frozen=True)
class Initiated:
    upload: Upload
    presigned_urls: tuple[PartUrl, ...]
    expires_in: int


@dataclass(frozen=True)
class InitiateUpload:
    """Blocking (database and storage): call it off an event loop."""

    repo: UploadRepository
    blobs: BlobStore
    urls: Urls
    clock: Clock
    ids: IdGenerator
    policy: UploadPolicy
    events: Events
    #: Run in order after the request is found valid, before anything is stored.
    checks: list[BeforeInitiate] = field(default_factory=list, compare=False)

    def __call__(self, principal: Principal, request: NewUpload, links: Links) -> Initiated:
        grant = principal.grant
        if grant is not None:  # an upload token: its limits first, its parent always
            grant.limits.check_file(request.file_size, request.file_content_type)
            if grant.limits.parent_content_type is not None:
                request = replace(
                    request,
                    parent_content_type=grant.limits.parent_content_type,
                    parent_object_id=grant.limits.parent_object_id,
                )
        plan = PartPlan.checked(
            request.file_size, request.num_parts, request.part_size, self.policy.limits
        )
        _check_metadata(request)
        for check in list(self.checks):
            reason = check(principal, request)
            if reason is not None:
                raise Rejected(reason)
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
            token_id=None if grant is None else grant.token_id,
        )
        with self.repo.transaction() as tx:  # a token's file count moves with the record
            if grant is not None and not tx.claim_token_file(grant.token_id, now):
                raise TokenLimitReached(
                    "the upload token has started as many uploads as it may, or is no longer valid"
                )
            tx.add(upload)
        try:
            prepared = self.blobs.prepare(upload.id, upload.file_content_type)
        except BaseException:
            self.repo.set_status(upload.id, UploadStatus.PENDING, UploadStatus.ABORTED, now)
            raise
        created = self._created(upload.id, prepared.upload_id, prepared.storage_key)
        self.events.committed(created)
        upload = find_upload(self.repo, upload.id)
        urls = self.urls.parts(upload, upload.plan.part_numbers, links)
        return Initiated(upload, urls, self.policy.url_expires_in_seconds)

    def _created(self, file_id: str, upload_id: str, storage_key: str) -> Event:
        """Make the upload `uploading`, its storage ready: it exists for clients from now on."""
        with self.repo.transaction() as tx:
            now = self.clock.now()
            if not tx.mark_uploading(file_id, upload_id, storage_key, now):
                raise InvalidState(f"upload {file_id} was aborted while it was being prepared")
            return self.events.record(tx, EventType.UPLOAD_CREATED, file_id, now)


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


__all__ = ["BeforeInitiate", "InitiateUpload", "Initiated", "NewUpload"]
