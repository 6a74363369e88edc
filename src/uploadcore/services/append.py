"""Append bytes at an upload's offset (tus PATCH), and read where an upload stands (HEAD).

One append at a time per upload, wherever it runs: a lease claimed in the
database with a compare-and-set on the offset; the loser gets OffsetMismatch.
The bytes stream to storage as they come and are fsynced before the new
offset is recorded. A request cut off midway keeps what arrived; a checksum
mismatch or a body past the upload's length or limit keeps nothing.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

from uploadcore.domain.append import Appending, Concat
from uploadcore.domain.digest import Digest
from uploadcore.domain.errors import (
    BodyInterrupted,
    ChecksumMismatch,
    Forbidden,
    OffsetMismatch,
    UploadcoreError,
)
from uploadcore.domain.upload import Principal, Upload, UploadStatus
from uploadcore.ports.appends import AppendAt, AppendRepository, AppendsBytes, AppendWriter
from uploadcore.ports.clock import Clock
from uploadcore.ports.repository import UploadRepository
from uploadcore.services.appended import (
    LEASE,
    Finisher,
    appended_upload,
    part_numbers,
    size_limit,
)
from uploadcore.services.records import UploadPolicy, find_upload
from uploadcore.services.streaming import pump

RENEW_AFTER = timedelta(seconds=20)


@dataclass(frozen=True)
class AppendedState:
    """The caller's appended upload and where it stands (blocking); UploadNotFound if none."""

    repo: UploadRepository
    appends: AppendRepository
    store: AppendsBytes

    def __call__(self, principal: Principal, file_id: str) -> tuple[Upload, Appending]:
        upload, appending = appended_upload(self.repo, self.appends, principal, file_id)
        return upload, self.store.visible(upload, appending)


@dataclass(frozen=True)
class AppendBytes:
    """A coroutine: append `body` at `offset`; returns the upload and its new state."""

    repo: UploadRepository
    appends: AppendRepository
    store: AppendsBytes
    clock: Clock
    policy: UploadPolicy
    finish: Finisher

    async def __call__(
        self,
        principal: Principal,
        file_id: str,
        offset: int,
        body: AsyncIterable[bytes],
        content_length: int | None = None,
        length: int | None = None,
        expected: Digest | None = None,
    ) -> tuple[Upload, Appending]:
        upload, recorded, appending = await asyncio.to_thread(
            self._check, principal, file_id, offset, length
        )
        appending.check_room(content_length, size_limit(principal, self.policy))
        lease = secrets.token_hex(16)
        now = self.clock.now()
        # The compare-and-set is on the offset and tail as recorded: nothing moved since.
        if not await asyncio.to_thread(
            self.appends.claim_append,
            file_id, recorded.offset, lease, now, now + LEASE, recorded.tail,
        ):  # fmt: skip
            raise OffsetMismatch(
                f"another request is appending to upload {file_id}, or it moved on"
            )
        try:
            appending = await self._receive(principal, upload, appending, lease, body, expected)
        except BaseException:
            await asyncio.to_thread(self._release, file_id, lease, appending)
            raise
        if appending.finished:
            upload = await asyncio.to_thread(self.finish, upload, appending)
        else:  # its expiry moved with the offset
            upload = await asyncio.to_thread(find_upload, self.repo, file_id)
        return upload, appending

    def _check(
        self, principal: Principal, file_id: str, offset: int, length: int | None
    ) -> tuple[Upload, Appending, Appending]:
        """The upload, its appending as recorded, and as this process continues it."""
        upload, recorded = appended_upload(self.repo, self.appends, principal, file_id)
        appending = self.store.visible(upload, recorded)
        if appending.concat is Concat.FINAL:
            raise Forbidden(
                "a final concatenation is assembled from partial uploads, not appended to"
            )
        if upload.status is UploadStatus.COMPLETED:
            raise OffsetMismatch(f"upload {file_id} is complete at {appending.offset} bytes")
        upload.check_accepts_parts(self.clock.now())
        if length is not None:
            limit = size_limit(principal, self.policy)
            if principal.grant is not None:
                principal.grant.limits.check_file(length, upload.file_content_type)
            appending = appending.with_length(length, limit)
        appending.check_offset(offset)
        return upload, recorded, appending

    async def _receive(
        self, principal: Principal, upload: Upload, appending: Appending, lease: str,
        body: AsyncIterable[bytes], expected: Digest | None,
    ) -> Appending:  # fmt: skip
        algorithm = None if expected is None else expected.algorithm
        limit = size_limit(principal, self.policy)
        at = AppendAt(
            upload,
            appending,
            await asyncio.to_thread(self.repo.parts, upload.id),
            appending.length if appending.length is not None else limit,
            part_numbers(self.appends, upload.id, lease),
        )
        writer = await asyncio.to_thread(self.store.open_append, at, algorithm)
        room = appending.room(limit)
        try:
            await pump(self._renewing(upload.id, lease, body), writer, room, keep_partial=True)
            if expected is not None and writer.digest != expected:
                raise ChecksumMismatch(
                    f"the {expected.algorithm} checksum does not match the bytes"
                )
        except UploadcoreError as error:
            if not isinstance(error, BodyInterrupted):
                await asyncio.to_thread(writer.drop)  # refused: nothing of it is kept
                raise
            appending = await asyncio.to_thread(self._keep, upload, writer, appending, lease)
            raise
        except BaseException:
            # Cut off (the client went away, the body timed out): keep what arrived.
            appending = await asyncio.to_thread(self._keep, upload, writer, appending, lease)
            raise
        return await asyncio.to_thread(self._keep, upload, writer, appending, lease)

    def _keep(
        self, upload: Upload, writer: AppendWriter, appending: Appending, lease: str
    ) -> Appending:
        """Make what arrived durable, then record it: the parts stored and the new offset."""
        length = appending.length
        kept = writer.keep(last=length is not None and appending.offset + writer.written == length)
        appending = appending.kept(kept.offset, kept.staged, kept.tail)
        now = self.clock.now()
        expires_at = now + self.policy.upload_expires_in
        with self.repo.transaction() as tx:
            appends = tx if isinstance(tx, AppendRepository) else self.appends
            for part in kept.parts:
                tx.record_part(upload.id, part, expires_at, now)
            if not appends.release_append(upload.id, lease, appending, expires_at, now):
                raise OffsetMismatch(f"upload {upload.id} was taken by another request")
        return appending

    def _release(self, file_id: str, lease: str, appending: Appending) -> None:
        """Drop the lease if it is still held (the offset stays as last recorded)."""
        current = self.appends.appending(file_id)
        if current is not None:
            now = self.clock.now()
            self.appends.release_append(
                file_id, lease, current, now + self.policy.upload_expires_in, now
            )

    async def _renewing(
        self, file_id: str, lease: str, body: AsyncIterable[bytes]
    ) -> AsyncIterator[bytes]:
        renew_at = self.clock.now() + RENEW_AFTER
        async for chunk in body:
            if self.clock.now() >= renew_at:
                now = self.clock.now()
                if not await asyncio.to_thread(
                    self.appends.renew_append, file_id, lease, now + LEASE
                ):
                    raise OffsetMismatch(f"upload {file_id} was taken by another request")
                renew_at = now + RENEW_AFTER
            yield chunk


__all__ = ["AppendBytes", "AppendedState"]
