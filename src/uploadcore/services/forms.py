"""Uploads sent in one form POST (Uppy's single request): hand out the form, receive it.

Uppy asks for a form (`/s3/params`) with a file's name and type but not its
size, then POSTs `multipart/form-data` with every field and the `file` last.
On local storage the form goes to a token-signed endpoint of this service,
which streams the file to disk and completes the upload on receipt; on S3 it
goes straight to the bucket under a POST policy (see `arrivals`). Either way
the upload is an ordinary one, of open length, held to the caller's limit.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass, replace

from uploadcore.domain.append import Appending, Fill
from uploadcore.domain.errors import (
    FileTooLarge,
    InvalidState,
    PartTooLarge,
    TokenInvalid,
    TokenMissing,
    UploadcoreError,
)
from uploadcore.domain.upload import Principal, Upload
from uploadcore.ports.appends import AppendAt, AppendRepository, AppendsBytes
from uploadcore.ports.blobs import BlobStore, PostForm, PostsForms
from uploadcore.ports.clock import Clock
from uploadcore.ports.links import Links
from uploadcore.ports.repository import UploadRepository
from uploadcore.ports.signer import Signer, TokenClaims
from uploadcore.services.aborting import Aborter
from uploadcore.services.appended import LEASE, Finisher, part_numbers, size_limit
from uploadcore.services.records import UploadPolicy, find_upload
from uploadcore.services.streaming import pump

log = logging.getLogger(__name__)

FORM_PURPOSE = "upload-form"


@dataclass(frozen=True)
class StartForm:
    """Start an upload of open length sent in one form, and hand out its form. Blocking.

    On a store that takes forms itself (S3: a presigned POST policy), the form
    is storage's; else it is a token-signed link of this service, and its one
    field is the upload's `key`.
    """

    #: Starts an upload of open length (`StartAppend.open`).
    start: Callable[[Principal, str, str, Fill], Upload]
    blobs: BlobStore
    signer: Signer
    clock: Clock
    policy: UploadPolicy

    def __call__(
        self, principal: Principal, file_name: str, content_type: str, links: Links
    ) -> tuple[Upload, PostForm]:
        upload = self.start(principal, file_name, content_type, Fill.FORM)
        if isinstance(self.blobs, PostsForms):
            limit = size_limit(principal, self.policy)
            return upload, self.blobs.form(upload, limit, self.policy.url_expires_in)
        expires = int((self.clock.now() + self.policy.url_expires_in).timestamp())
        token = self.signer.sign(TokenClaims(FORM_PURPOSE, upload.id, upload.upload_id, 0, expires))
        return upload, PostForm(links.form_upload(upload.id, token), {"key": upload.storage_key})


@dataclass(frozen=True)
class ReceiveForm:
    """A coroutine: stream the form's file to storage and complete the upload (local storage).

    One request, one chance: the form either completes the upload or, refused
    (too large) or cut off, aborts it; a client sends a new form for a new
    upload. The token must be this upload's form token.
    """

    repo: UploadRepository
    appends: AppendRepository
    store: AppendsBytes
    signer: Signer
    clock: Clock
    policy: UploadPolicy
    finish: Finisher
    aborter: Aborter

    async def __call__(self, file_id: str, token: str | None, file: AsyncIterable[bytes]) -> Upload:
        if not token:
            raise TokenMissing("the form URL has no token; ask for a new form")
        claims = self.signer.verify(token, FORM_PURPOSE, self.clock.now())
        if claims.file_id != file_id:
            raise TokenInvalid("the token was minted for another file")
        upload, appending, lease = await asyncio.to_thread(self._claim, file_id, claims.upload_id)
        limit = appending.limit if appending.limit is not None else self.policy.limits.max_file_size
        at = AppendAt(upload, appending, (), limit, part_numbers(self.appends, file_id, lease))
        writer = await asyncio.to_thread(self.store.open_append, at, None)
        try:
            try:
                size = await pump(file, writer, limit)
            except PartTooLarge:
                raise FileTooLarge(
                    f"the file is larger than the maximum of {limit} bytes"
                ) from None
            kept = await asyncio.to_thread(writer.keep, True)
        except BaseException:
            await asyncio.to_thread(writer.drop)
            await asyncio.to_thread(self._abort, upload)
            raise
        finished = replace(appending, offset=size, length=size)
        # The writer hashed every byte as it wrote them: the file is not read again.
        return await asyncio.to_thread(self.finish, upload, finished, kept.parts)

    def _claim(self, file_id: str, upload_id: str) -> tuple[Upload, Appending, str]:
        """The upload, taken for this one request: it, its appending, and the lease on offset 0."""
        upload = find_upload(self.repo, file_id)
        appending = self.appends.appending(file_id)
        if upload.upload_id != upload_id or appending is None or appending.fill is not Fill.FORM:
            raise TokenInvalid("the token was minted for another upload")
        now = self.clock.now()
        upload.check_accepts_parts(now)
        lease = secrets.token_hex(16)
        if not self.appends.claim_append(file_id, 0, lease, now, now + LEASE):
            raise InvalidState(f"upload {file_id} is being received by another request")
        return upload, appending, lease

    def _abort(self, upload: Upload) -> None:
        try:
            stopped = self.aborter.stop(upload, by="its form, refused or cut off")
            if stopped.aborted_now:
                self.aborter.free(stopped.upload)
        except UploadcoreError:  # the request failed either way; gc frees what is left
            log.warning("upload %s: could not abort it", upload.id, exc_info=True)


__all__ = ["FORM_PURPOSE", "ReceiveForm", "StartForm"]
