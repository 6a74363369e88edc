"""Parts and final files in S3, or any S3-compatible store (MinIO, R2, Ceph, moto).

No file byte passes through the service: clients PUT parts straight to S3
through presigned `UploadPart` URLs, S3 lists them (`ListParts`) and joins
them (`CompleteMultipartUpload`). The object key is `{key_prefix}{file_id}`,
chosen once at `prepare` and stored with the upload.

S3's errors stop here (read by meaning, see `s3_errors`). When S3 no longer
knows the multipart upload (`NoSuchUpload`, or RGW's `NoSuchKey`), either a
completion S3 accepted had its answer lost (`HeadObject` finds the object,
with the etag those parts make), or the parts are gone for good
(`PartMissing`). Throttling, 5xx answers and connection failures become
`StorageUnavailable` (retryable; nothing changed on our side).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING
from urllib.parse import quote

from botocore.exceptions import ClientError

from uploadcore.adapters import s3_forms, s3_leftovers
from uploadcore.adapters.s3_errors import Refused, UploadGone, s3_errors, upload_gone
from uploadcore.adapters.s3_presign import Presigner, UploadPartTarget
from uploadcore.domain.errors import (
    EtagMismatch,
    InvalidInput,
    PartMissing,
    PartPlanMismatch,
    StorageUnavailable,
)
from uploadcore.domain.gc import Leftover
from uploadcore.domain.metadata import content_disposition
from uploadcore.domain.parts import ReceivedPart, multipart_etag, normalize_etag
from uploadcore.domain.upload import Upload
from uploadcore.ports.blobs import PostForm, PreparedUpload, StoredObject

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

log = logging.getLogger(__name__)

MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # S3 refuses SigV4 URLs valid for longer
_NOT_FOUND = frozenset({"404", "NoSuchKey", "NotFound"})
_COMPLETION = frozenset({"InvalidPart", "InvalidPartOrder", "EntityTooSmall"})


class S3BlobStore:
    """A BlobStore over one bucket; clients upload parts to it through presigned URLs.

    `client` is a boto3 S3 client built once per process (see `bootstrap`),
    with `signature_version='s3v4'`. With `public_base_url`, file URLs are
    that base plus the object key (a CDN in front of the bucket) instead of
    presigned `GetObject` URLs.
    """

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        *,
        key_prefix: str = "uploadcore/",
        public_base_url: str | None = None,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.key_prefix = key_prefix
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self.presigner = Presigner(client)

    def check_ready(self) -> None:
        """HeadBucket: the bucket exists and these credentials reach it."""
        with self._errors("reach the bucket"):
            self.client.head_bucket(Bucket=self.bucket)

    def key_of(self, file_id: str) -> str:
        if not file_id or not all(c.isalnum() or c in "-_" for c in file_id):
            raise ValueError(f"not a safe object key component: {file_id!r}")
        return self.key_prefix + file_id

    # -- the port -----------------------------------------------------------

    def prepare(self, file_id: str, content_type: str) -> PreparedUpload:
        key = self.key_of(file_id)
        with self._errors(f"start the multipart upload of file {file_id}"):
            answer = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=key, ContentType=content_type
            )
        return PreparedUpload(answer["UploadId"], key)

    def list_parts(self, upload: Upload) -> Sequence[ReceivedPart]:
        if not upload.upload_id:
            return []
        try:
            return self._list_parts(upload)
        except UploadGone:
            raise PartMissing(
                f"storage no longer holds the multipart upload of file {upload.id}"
            ) from None

    def assemble(self, upload: Upload, parts: Sequence[ReceivedPart]) -> str:
        """Check every part against ListParts, then CompleteMultipartUpload; S3's etag."""
        _check_ascending(parts)
        try:
            _check_stored(upload, parts, self._list_parts(upload))
            return self._complete(upload, parts)
        except UploadGone:
            return self._completed_before(upload, parts)

    def release_parts(self, upload: Upload) -> None:
        """Nothing to free: CompleteMultipartUpload turned the parts into the object."""

    def abort(self, upload: Upload) -> None:
        if not upload.upload_id:  # one form POST (or none yet): at most its object to remove
            self.delete(upload)
            return
        try:
            with self._errors(f"abort the multipart upload of file {upload.id}"):
                self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=upload.storage_key, UploadId=upload.upload_id
                )
        except UploadGone:
            # Already gone; perhaps completed by a try whose answer was lost, so
            # an aborted upload must not leave an object behind either.
            self.delete(upload)

    def delete(self, upload: Upload) -> None:
        if not upload.storage_key:
            return
        with self._errors(f"delete file {upload.id}"):
            self.client.delete_object(Bucket=self.bucket, Key=upload.storage_key)

    # -- SweepsLeftovers (for gc; see s3_leftovers.py) -------------------------

    def leftovers(self, older_than: datetime) -> Iterator[Leftover]:
        """Multipart uploads under the key prefix initiated at or before `older_than`."""
        with self._errors("list the multipart uploads under the key prefix"):
            listing = s3_leftovers.multipart_uploads(
                self.client, self.bucket, self.key_prefix, older_than
            )
            for found in listing:
                try:
                    held = s3_leftovers.parts_summary(
                        self.client, self.bucket, found.key, found.upload_id
                    )
                except ClientError as error:
                    if upload_gone(error):
                        continue  # aborted or completed since the page was listed
                    raise
                yield Leftover(
                    s3_leftovers.MULTIPART_UPLOAD,
                    found.key,
                    found.upload_id,
                    found.initiated,
                    held.size,
                )

    def remove_leftover(self, leftover: Leftover, older_than: datetime) -> int | None:
        """AbortMultipartUpload, if it is still there; its bytes (from ListParts first)."""
        if leftover.kind != s3_leftovers.MULTIPART_UPLOAD or not leftover.upload_id:
            raise ValueError(f"not an S3 leftover: {leftover.kind}")
        if not leftover.key.startswith(self.key_prefix):
            raise ValueError(f"{leftover.key!r} is outside the key prefix {self.key_prefix!r}")
        if leftover.last_modified > older_than:
            return None
        action = f"abort the abandoned multipart upload {leftover.key}"
        try:
            with self._errors(action):
                held = s3_leftovers.parts_summary(
                    self.client, self.bucket, leftover.key, leftover.upload_id
                )
                self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=leftover.key, UploadId=leftover.upload_id
                )
        except UploadGone:
            return None
        return held.size

    def held(self, upload: Upload) -> Leftover | None:
        """The parts S3 holds: their bytes, and when the newest came (clients PUT them here)."""
        if not upload.upload_id:
            return None
        try:
            with self._errors(f"list the parts of file {upload.id}"):
                summary = s3_leftovers.parts_summary(
                    self.client, self.bucket, upload.storage_key, upload.upload_id
                )
        except UploadGone:
            return None
        return Leftover(
            s3_leftovers.MULTIPART_UPLOAD,
            upload.storage_key,
            upload.upload_id,
            summary.last_modified,
            summary.size,
        )

    # -- presigned URLs -------------------------------------------------------

    def part_urls(
        self,
        upload: Upload,
        part_numbers: Sequence[int],
        now: datetime,
        expires_in: timedelta,
        *,
        sized: bool = True,
    ) -> list[str]:
        target = UploadPartTarget(
            self.bucket, upload.storage_key, upload.upload_id, _seconds(expires_in)
        )
        if not sized:
            with self._errors(f"presign part URLs of file {upload.id}"):
                return self.presigner.open_part_urls(target, part_numbers)
        parts = [(n, upload.plan.size_of(n)) for n in part_numbers]
        with self._errors(f"presign part URLs of file {upload.id}"):
            return self.presigner.part_urls(target, parts, now)

    def file_url(self, upload: Upload, now: datetime, expires_in: timedelta) -> str:
        if self.public_base_url:
            return f"{self.public_base_url}/{quote(upload.storage_key, safe='/')}"
        disposition = content_disposition(upload.file_name)
        with self._errors(f"presign the URL of file {upload.id}"):
            return self.presigner.get_url(
                self.bucket, upload.storage_key, disposition, _seconds(expires_in), now
            )

    # -- PostsForms (Uppy's single-request uploads; see s3_forms.py) ------------

    def prepare_form(self, file_id: str, content_type: str) -> PreparedUpload:
        """A key for one form POST: no multipart upload (its upload id stays empty)."""
        return PreparedUpload("", self.key_of(file_id))

    def form(self, upload: Upload, max_size: int, expires_in: timedelta) -> PostForm:
        with self._errors(f"presign the form of file {upload.id}"):
            return s3_forms.post_policy(
                self.client, self.bucket, upload, max_size, _seconds(expires_in)
            )

    def stored(self, upload: Upload) -> StoredObject | None:
        """HeadObject: the object's size and etag once it arrived, else None."""
        try:
            with self._errors(f"look for the object of file {upload.id}", _NOT_FOUND):
                head = self.client.head_object(Bucket=self.bucket, Key=upload.storage_key)
        except Refused:
            return None
        return StoredObject(head["ContentLength"], normalize_etag(head.get("ETag", "")))

    # -- helpers --------------------------------------------------------------

    def _errors(
        self, action: str, refusals: frozenset[str] = frozenset()
    ) -> AbstractContextManager[None]:
        return s3_errors(action, refusals, bucket=self.bucket)

    def _list_parts(self, upload: Upload) -> list[ReceivedPart]:
        """Every part S3 holds, page by page (1,000 parts a page)."""
        parts: list[ReceivedPart] = []
        marker = 0
        while True:
            with self._errors(f"list the parts of file {upload.id}"):
                page = self.client.list_parts(
                    Bucket=self.bucket,
                    Key=upload.storage_key,
                    UploadId=upload.upload_id,
                    PartNumberMarker=marker,
                )
            parts += (
                ReceivedPart(p["PartNumber"], normalize_etag(p["ETag"]), p["Size"])
                for p in page.get("Parts", [])
            )
            following = page.get("NextPartNumberMarker", 0)
            if not page.get("IsTruncated") or following <= marker:
                break
            marker = following
        return sorted(parts, key=lambda p: p.part_number)

    def _complete(self, upload: Upload, parts: Sequence[ReceivedPart]) -> str:
        listed: list[CompletedPartTypeDef] = [
            {"PartNumber": p.part_number, "ETag": f'"{normalize_etag(p.etag)}"'} for p in parts
        ]
        try:
            with self._errors(f"complete the multipart upload of file {upload.id}", _COMPLETION):
                answer = self.client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=upload.storage_key,
                    UploadId=upload.upload_id,
                    MultipartUpload={"Parts": listed},
                )
        except Refused as refused:
            raise _completion_error(upload, refused.code) from None
        etag = normalize_etag(answer.get("ETag", ""))
        log.info("file %s: S3 completed %d parts, etag %s", upload.id, len(parts), etag)
        return etag or multipart_etag([p.etag for p in parts])

    def _completed_before(self, upload: Upload, parts: Sequence[ReceivedPart]) -> str:
        """S3 forgot the upload: recognise our own completion, or report the parts gone.

        The key is this upload's alone, so an object there is what an earlier
        completion made: with these parts, it is done; with others, the client's
        list is wrong (400), and the list that made it still completes.
        """
        expected = multipart_etag([p.etag for p in parts])
        size = sum(p.size for p in parts)
        try:
            with self._errors(f"look for the object of file {upload.id}", _NOT_FOUND):
                head = self.client.head_object(Bucket=self.bucket, Key=upload.storage_key)
        except Refused:
            pass  # no object: the parts are gone
        else:
            etag = normalize_etag(head.get("ETag", ""))
            if etag == expected and head.get("ContentLength") == size:
                log.info("file %s: a completion whose answer was lost is in place", upload.id)
                return etag
            raise EtagMismatch(
                f"the parts of file {upload.id} were already joined into an object with "
                f"etag {etag}; complete with the parts that made it"
            )
        raise PartMissing(
            f"storage no longer holds the parts of file {upload.id}: "
            "its multipart upload is gone (aborted or expired)"
        )


def _check_ascending(parts: Sequence[ReceivedPart]) -> None:
    numbers = [p.part_number for p in parts]
    if not numbers:
        raise InvalidInput("there are no parts to assemble")
    if any(a >= b for a, b in pairwise(numbers)):
        raise InvalidInput("S3 assembles parts in ascending part-number order only")


def _check_stored(
    upload: Upload, parts: Sequence[ReceivedPart], stored: Sequence[ReceivedPart]
) -> None:
    """Every part must be in S3 with the etag and size given; PartMissing names the first not."""
    held = {p.part_number: p for p in stored}
    for part in parts:
        found = held.get(part.part_number)
        if found is None:
            raise PartMissing(
                f"part {part.part_number} of file {upload.id} is not in storage",
                part_number=part.part_number,
            )
        if normalize_etag(found.etag) != normalize_etag(part.etag) or found.size != part.size:
            raise PartMissing(
                f"part {part.part_number} of file {upload.id} in storage is not the one "
                f"expected (etag {found.etag}, {found.size} bytes)",
                part_number=part.part_number,
            )


def _completion_error(upload: Upload, code: str) -> Exception:
    if code == "InvalidPart":
        return PartMissing(
            f"S3 no longer holds every part of file {upload.id} as listed (InvalidPart)"
        )
    if code == "InvalidPartOrder":
        return InvalidInput("S3 assembles parts in ascending part-number order only")
    if code == "EntityTooSmall":
        return PartPlanMismatch(
            f"S3 refuses to join file {upload.id}: every part but the last must be at "
            "least 5 MiB (set MIN_PART_SIZE to 5MiB or more with S3)"
        )
    return StorageUnavailable(f"S3 refused to complete file {upload.id}: {code}")


def _seconds(expires_in: timedelta) -> int:
    seconds = int(expires_in.total_seconds())
    if not 1 <= seconds <= MAX_PRESIGN_SECONDS:
        raise ValueError(f"S3 presigned URLs last 1 s to 7 days, not {seconds} s")
    return seconds
