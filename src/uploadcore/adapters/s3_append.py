"""Appended uploads (tus) on S3: an S3 store that also takes bytes through the service.

tus puts the service in the data path: each PATCH body streams through it to
S3 as the parts of the upload's multipart upload (`s3_staging`: staged on
local disk, cut into parts of at least `MIN_PART_SIZE`, the last smaller).

What an acknowledged offset means here, and why. The database records the
offset, and how many of its last bytes (`staged`) are in a staged tail on
the disk of the machine that received them, under the name it records
(`tail`). Every other byte is in an S3 part the database records too (number,
etag, size). Both are durable before the offset is recorded: a part when S3
acknowledged it, a tail when it is fsynced and renamed into place.

The alternatives: sending every tail to S3 at the end of each PATCH (as an
object of its own, as tusd does) makes any machine able to continue, but a
client sending chunks smaller than a part then uploads and downloads the
growing tail again with each chunk; sending it as a small part is not
possible, as S3 refuses a part under 5 MiB anywhere but last. So the tail
stays on the machine that received it, where the next PATCH needs it, and
is sent with the bytes that make it a part.

Several instances (each with its own staging disk): a tail is on one
machine. An instance that does not hold it (`visible`: no tail file of that
name here) reports, and accepts PATCHes at, the offset the S3 parts reach,
never the one it cannot serve; the client then sends the tail's bytes again
(less than one part), and the tail left on the other machine is never used
again (its name is no longer the recorded one; the next append there, the
upload's end, or `gc` after `UPLOAD_EXPIRES_IN` removes it). An append's lease
is claimed on the offset and the tail's name as read, so a machine that read
the upload before another re-sent the tail never continues with its old one,
even if the offset came back to the same number. Correctness does not depend
on where requests land; to avoid the resend, route a tus upload's requests to
one instance (by URL) behind a load balancer. Chunks of at least
`MIN_PART_SIZE` leave no tail at all: each PATCH ends in a part.

Completion is CompleteMultipartUpload of the recorded parts: S3 checks their
etags, so a part overwritten behind the record could not join silently (and
part numbers are handed out once, so none is). Termination and `gc` abort
the multipart upload and remove the staging files on this machine; `gc`
removes staging files older than `UPLOAD_EXPIRES_IN` on the machine it runs
on. A final concatenation copies its partials' objects with UploadPartCopy,
or, when one but the last is under the part minimum, streams them through
the staging disk as new parts.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from uploadcore.adapters.s3 import S3BlobStore
from uploadcore.adapters.s3_errors import Refused, UploadGone
from uploadcore.adapters.s3_staging import STAGED, S3AppendWriter, Staging
from uploadcore.domain.append import Appending
from uploadcore.domain.errors import UploadNotFound
from uploadcore.domain.gc import Leftover
from uploadcore.domain.parts import PartLimits, ReceivedPart, normalize_etag
from uploadcore.domain.upload import Upload
from uploadcore.ports.appends import AppendAt, Finished

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

MAX_COPY = 5 * 1024**3  # the most one UploadPartCopy copies
_READ = 1024 * 1024
_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})


class S3StagingBlobStore(S3BlobStore):
    """An S3 store that also takes appended uploads (tus), staged in `staging_dir`."""

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        *,
        staging_dir: Path,
        limits: PartLimits,
        key_prefix: str = "uploadcore/",
        public_base_url: str | None = None,
    ) -> None:
        super().__init__(client, bucket, key_prefix=key_prefix, public_base_url=public_base_url)
        self.staging = Staging(Path(staging_dir))
        self.limits = limits

    # -- AppendsBytes -------------------------------------------------------

    def visible(self, upload: Upload, appending: Appending) -> Appending:
        if not appending.staged or self.staging.holds(upload.id, appending.tail, appending.staged):
            return appending
        return appending.without_tail()

    def open_append(self, at: AppendAt, algorithm: str | None) -> S3AppendWriter:
        return S3AppendWriter(self.client, self.bucket, self.staging, self.limits, at, algorithm)

    def finish_append(self, upload: Upload, size: int, parts: Sequence[ReceivedPart]) -> Finished:
        """CompleteMultipartUpload of the recorded parts; S3's etag. Idempotent."""
        if not parts:  # nothing was ever appended: an empty file is one empty part
            parts = [self._send_empty(upload)]
        try:
            etag = self._complete(upload, parts)
        except UploadGone:
            etag = self._completed_before(upload, parts)
        self.staging.remove(upload.id)
        return Finished(etag)

    def concatenate(self, upload: Upload, sources: Sequence[Upload]) -> str:
        sizes = [s.plan.file_size for s in sources]
        if all(size >= self.limits.min_part_size for size in sizes[:-1]):
            parts = self._copy_parts(upload, sources)
        else:
            parts = self._stream_parts(upload, sources, sum(sizes))
        if not parts:
            parts = [self._send_empty(upload)]
        return self._complete(upload, parts)

    # -- the rest of the port, and gc --------------------------------------

    def abort(self, upload: Upload) -> None:
        super().abort(upload)
        self.staging.remove(upload.id)

    def leftovers(self, older_than: datetime) -> Iterator[Leftover]:
        yield from super().leftovers(older_than)
        yield from self.staging.leftovers(older_than)

    def remove_leftover(self, leftover: Leftover, older_than: datetime) -> int | None:
        if leftover.kind == STAGED:
            return self.staging.remove_leftover(leftover, older_than)
        return super().remove_leftover(leftover, older_than)

    # -- helpers --------------------------------------------------------------

    def _copy_parts(self, upload: Upload, sources: Sequence[Upload]) -> list[ReceivedPart]:
        """UploadPartCopy of each source, in pieces of at most 5 GiB; S3 copies the bytes."""
        parts: list[ReceivedPart] = []
        for source in sources:
            size = source.plan.file_size
            for start in range(0, size, MAX_COPY):
                end = min(size, start + MAX_COPY) - 1
                number = len(parts) + 1
                try:
                    with self._errors(f"copy partial upload {source.id}", _MISSING):
                        answer = self.client.upload_part_copy(
                            Bucket=self.bucket, Key=upload.storage_key,
                            UploadId=upload.upload_id, PartNumber=number,
                            CopySourceRange=f"bytes={start}-{end}",
                            CopySource={"Bucket": self.bucket, "Key": source.storage_key},
                        )  # fmt: skip
                except Refused:
                    raise UploadNotFound(
                        f"partial upload {source.id} is no longer stored"
                    ) from None
                etag = normalize_etag(answer["CopyPartResult"].get("ETag", ""))
                parts.append(ReceivedPart(number, etag, end - start + 1))
        return parts

    def _stream_parts(
        self, upload: Upload, sources: Sequence[Upload], total: int
    ) -> list[ReceivedPart]:
        """The sources' bytes through the staging disk, as new parts (some too small to copy)."""
        numbers = itertools.count(1)
        at = AppendAt(upload, Appending(), (), total, lambda: next(numbers))
        writer = self.open_append(at, None)
        try:
            for source in sources:
                for chunk in self._read(source):
                    writer.write(chunk)
        except BaseException:
            writer.drop()
            raise
        return list(writer.keep(last=True).parts)

    def _read(self, source: Upload) -> Iterator[bytes]:
        action = f"read partial upload {source.id}"
        try:
            with self._errors(action, _MISSING):
                answer = self.client.get_object(Bucket=self.bucket, Key=source.storage_key)
        except Refused:
            raise UploadNotFound(f"partial upload {source.id} is no longer stored") from None
        body = answer["Body"]
        try:
            with self._errors(action):
                yield from body.iter_chunks(_READ)
        finally:
            body.close()

    def _send_empty(self, upload: Upload) -> ReceivedPart:
        with self._errors(f"send the empty part of file {upload.id}"):
            answer = self.client.upload_part(
                Bucket=self.bucket, Key=upload.storage_key, UploadId=upload.upload_id,
                PartNumber=1, Body=b"",
            )  # fmt: skip
        return ReceivedPart(1, normalize_etag(answer["ETag"]), 0)


__all__ = ["S3StagingBlobStore"]
