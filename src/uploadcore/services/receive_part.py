"""Receive a part body through the service (local storage): check, stream, record."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable
from dataclasses import dataclass

from uploadcore.domain.digest import Digest
from uploadcore.domain.errors import (
    BadDigest,
    FileTooLarge,
    InvalidInput,
    InvalidState,
    PartSizeMismatch,
    PartTooLarge,
    TokenInvalid,
)
from uploadcore.domain.parts import ReceivedPart
from uploadcore.domain.upload import Upload
from uploadcore.ports.appends import AppendRepository
from uploadcore.ports.blobs import ReceivesParts
from uploadcore.ports.clock import Clock
from uploadcore.ports.repository import UploadRepository
from uploadcore.services.records import (
    UploadPolicy,
    check_takes_parts,
    find_upload,
    open_limits,
)
from uploadcore.services.streaming import pump
from uploadcore.services.urls import Urls


@dataclass(frozen=True)
class ReceivePart:
    """Stream one part body to storage and record it; nothing of a bad body is kept.

    A coroutine that offloads its own blocking work. The token must grant this
    part of this file's current upload; the body must be exactly the part's
    planned size (PartSizeMismatch short, PartTooLarge at the first byte past
    it); `expected`, when given, must be the body's digest (BadDigest).
    """

    repo: UploadRepository
    store: ReceivesParts
    urls: Urls
    clock: Clock
    policy: UploadPolicy
    appends: AppendRepository | None = None

    async def __call__(
        self,
        file_id: str,
        part_number: int,
        token: str | None,
        body: AsyncIterable[bytes],
        content_length: int | None = None,
        expected: Digest | None = None,
    ) -> ReceivedPart:
        claims = self.urls.check_part_token(token, file_id, part_number)
        upload, room = await asyncio.to_thread(self._find, file_id, part_number)
        if upload.upload_id != claims.upload_id:
            raise TokenInvalid("the token was minted for another upload")
        upload.check_accepts_parts(self.clock.now())
        planned = room is None
        if room is None:
            room = upload.plan.size_of(part_number)
            _check_declared_length(part_number, room, content_length)
        elif content_length is not None and content_length > room:
            raise FileTooLarge(_past_room(part_number, room))
        writer = await asyncio.to_thread(self.store.open_part, upload, part_number)
        try:
            try:
                received = await pump(body, writer, room)
            except PartTooLarge:
                if planned:
                    raise
                raise FileTooLarge(_past_room(part_number, room)) from None
            if planned:
                upload.plan.check_received_size(part_number, received)
            if expected is not None and expected != writer.digest:
                raise BadDigest(
                    f"the {expected.algorithm} digest sent does not match the body of part"
                    f" {part_number}"
                )
            part = await asyncio.to_thread(writer.commit)
        except BaseException:
            await asyncio.to_thread(writer.discard)
            raise
        return await asyncio.to_thread(self._record, upload, part)

    def _find(self, file_id: str, part_number: int) -> tuple[Upload, int | None]:
        """The upload, if it takes parts, and for one of open length the most bytes the part
        may have (the reads in one trip to a worker thread).

        An upload of open length holds its parts to its size limit as they
        arrive: a part may fill what the others leave (its completion checks
        the total again, for parts that raced).
        """
        upload = find_upload(self.repo, file_id)
        appending = check_takes_parts(self.appends, upload)
        if appending is None:
            return upload, None
        limits = open_limits(self.policy, appending)
        if not 1 <= part_number <= limits.max_parts:
            raise InvalidInput(f"part number {part_number} is outside 1..{limits.max_parts}")
        others = sum(p.size for p in self.repo.parts(file_id) if p.part_number != part_number)
        room = min(limits.max_part_size, limits.max_file_size - others)
        if room < 0:
            raise FileTooLarge(
                f"upload {file_id} already holds {others} bytes, over its maximum of"
                f" {limits.max_file_size}"
            )
        return upload, room

    def _record(self, upload: Upload, part: ReceivedPart) -> ReceivedPart:
        now = self.clock.now()
        expires_at = now + self.policy.upload_expires_in
        if not self.repo.record_part(upload.id, part, expires_at, now):
            current = find_upload(self.repo, upload.id)
            raise InvalidState(f"upload {upload.id} is {current.status}; the part was not kept")
        return part


def _past_room(part_number: int, room: int) -> str:
    return (
        f"part {part_number} may have at most {room} bytes: the upload's parts would pass"
        " its maximum size"
    )


def _check_declared_length(part_number: int, planned: int, content_length: int | None) -> None:
    """Refuse a body whose declared length is wrong before reading any of it."""
    if content_length is None or content_length == planned:
        return
    if content_length > planned:
        raise PartTooLarge(
            f"Content-Length {content_length} exceeds part {part_number}'s planned {planned} bytes"
        )
    raise PartSizeMismatch(
        f"Content-Length {content_length} is short of part {part_number}'s planned {planned} bytes"
    )


__all__ = ["ReceivePart"]
