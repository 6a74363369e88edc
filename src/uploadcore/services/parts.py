"""Receiving a part body through the service (local storage): check, stream, record."""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import AsyncIterable
from typing import TYPE_CHECKING

from uploadcore.domain.errors import (
    BadDigest,
    InvalidState,
    PartSizeMismatch,
    PartTooLarge,
    TokenInvalid,
    TokenMissing,
)
from uploadcore.domain.parts import ReceivedPart
from uploadcore.domain.upload import Upload
from uploadcore.ports.blobs import ReceivesParts
from uploadcore.ports.signer import TokenClaims
from uploadcore.services.streaming import pump

if TYPE_CHECKING:
    from uploadcore.services.uploads import UploadService

PART_PURPOSE = "upload-part"


async def receive_part(
    service: UploadService,
    file_id: str,
    part_number: int,
    token: str | None,
    body: AsyncIterable[bytes],
    content_length: int | None = None,
    content_md5: str | None = None,
) -> ReceivedPart:
    """See `UploadService.receive_part`."""
    blobs = service.blobs
    if not isinstance(blobs, ReceivesParts):
        raise InvalidState("parts go straight to the object store, not through this service")
    claims = _check_part_token(service, token, file_id, part_number)
    upload = await asyncio.to_thread(service.find, file_id)
    if upload.upload_id != claims.upload_id:
        raise TokenInvalid("the token was minted for another upload")
    upload.check_accepts_parts(service.clock.now())
    planned = upload.plan.size_of(part_number)
    _check_declared_length(part_number, planned, content_length)
    digest = _decode_md5(content_md5)
    writer = await asyncio.to_thread(blobs.open_part, upload, part_number)
    try:
        received = await pump(body, writer, planned)
        upload.plan.check_received_size(part_number, received)
        if digest is not None and digest != bytes.fromhex(writer.etag):
            raise BadDigest(f"Content-MD5 does not match the body of part {part_number}")
        part = await asyncio.to_thread(writer.commit)
    except BaseException:
        await asyncio.to_thread(writer.discard)
        raise
    return await asyncio.to_thread(_record, service, upload, part)


def _check_part_token(
    service: UploadService, token: str | None, file_id: str, part_number: int
) -> TokenClaims:
    if not token:
        raise TokenMissing("the part URL has no token; ask for fresh part URLs")
    claims = service.signer.verify(token, PART_PURPOSE, service.clock.now())
    if claims.file_id != file_id:
        raise TokenInvalid("the token was minted for another file")
    if claims.part_number != part_number:
        raise TokenInvalid(f"the token was minted for part {claims.part_number}")
    return claims


def _record(service: UploadService, upload: Upload, part: ReceivedPart) -> ReceivedPart:
    now = service.clock.now()
    expires_at = now + service.policy.upload_expires_in
    if not service.repo.record_part(upload.id, part, expires_at, now):
        current = service.find(upload.id)
        raise InvalidState(f"upload {upload.id} is {current.status}; the part was not kept")
    return part


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


def _decode_md5(header: str | None) -> bytes | None:
    if header is None:
        return None
    try:
        digest = base64.b64decode(header, validate=True)
    except (binascii.Error, ValueError):
        digest = b""
    if len(digest) != 16:
        raise BadDigest("Content-MD5 must be the base64 of a 16-byte MD5 digest")
    return digest
