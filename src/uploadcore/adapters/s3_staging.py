"""Appended bytes on their way to S3: staged on this machine's disk, sent as multipart parts.

S3 takes a multipart upload's parts at 5 MiB or more (the last may be
smaller), while tus clients send chunks of any size. So a writer stages what
arrives in a segment file under the staging directory and sends a segment
as one `UploadPart` when it reaches the part size, while the next one fills
(at most one part in flight per writer: receiving overlaps sending, and the
staging disk holds two parts per append at most). At the end of the request
the rest goes as a part too if it is big enough (`domain.staging`); a
smaller rest is the upload's *staged tail*: fsynced, and renamed to
`{file_id}.{tail}.tail`, where `tail` is a fresh random name the database
records with the offset. The next append copies the tail into its first
segment (a kernel copy of less than a part), so the tail file itself is
never changed: a refused append leaves it as it was.

Part numbers come from the database (`reserve`), each handed out once, so a
writer that stalls past its lease can only fill a number nobody records.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from uploadcore.adapters.local import _fsync_dir, _translate
from uploadcore.adapters.names import safe_name
from uploadcore.adapters.s3_errors import UploadGone, s3_errors
from uploadcore.domain.digest import Digest, Hashes
from uploadcore.domain.errors import InvalidState, StorageUnavailable
from uploadcore.domain.gc import Leftover
from uploadcore.domain.parts import PartLimits, ReceivedPart, normalize_etag
from uploadcore.domain.staging import flushes_tail, part_size
from uploadcore.ports.appends import AppendAt, Kept

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

STAGED = "staged_tail"  # the leftover kind of staging files
PREFERRED_PART = 16 * 1024 * 1024  # fewer, larger parts; a PATCH of 5-16 MiB is one part


class Staging:
    """The staging directory: tails (`{file_id}.{tail}.tail`) and segments (`….part`)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def tail_path(self, file_id: str, tail: str) -> Path:
        return self.root / f"{safe_name(file_id)}.{safe_name(tail)}.tail"

    def new_segment(self, file_id: str) -> tuple[Path, int]:
        """A new, empty segment file, open for writing."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / f"{safe_name(file_id)}.{secrets.token_hex(8)}.part"
        return path, os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)

    def holds(self, file_id: str, tail: str, staged: int) -> bool:
        """Whether the staged tail `tail` of `staged` bytes is on this machine."""
        try:
            return self.tail_path(file_id, tail).stat().st_size == staged
        except (FileNotFoundError, ValueError):
            return False

    def remove(self, file_id: str, keep: str = "") -> None:
        """Remove the upload's staging files here, but the tail named `keep`."""
        kept = self.tail_path(file_id, keep).name if keep else None
        for path in self._files_of(file_id):
            if path.name != kept:
                path.unlink(missing_ok=True)

    def leftovers(self, older_than: datetime) -> Iterator[Leftover]:
        """Staging files untouched since `older_than`: their upload expired or moved on."""
        try:
            entries = list(os.scandir(self.root))
        except FileNotFoundError:
            return
        for entry in entries:
            if not entry.name.endswith((".tail", ".part")):
                continue
            try:
                stat = entry.stat()
            except FileNotFoundError:
                continue
            changed = datetime.fromtimestamp(stat.st_mtime, UTC)
            if changed <= older_than:
                yield Leftover(STAGED, entry.path, None, changed, stat.st_size)

    def remove_leftover(self, leftover: Leftover, older_than: datetime) -> int | None:
        path = Path(leftover.key)
        if path.parent != self.root:
            raise ValueError(f"{leftover.key!r} is outside the staging directory")
        try:
            stat = path.stat()
            if datetime.fromtimestamp(stat.st_mtime, UTC) > older_than:
                return None
            path.unlink()
        except FileNotFoundError:
            return None
        return stat.st_size

    def _files_of(self, file_id: str) -> list[Path]:
        return list(self.root.glob(f"{safe_name(file_id)}.*"))


class S3AppendWriter:
    """Appends to an upload on S3 from where `at` says, staging on disk, hashing what it writes."""

    def __init__(
        self, client: S3Client, bucket: str, staging: Staging, limits: PartLimits,
        at: AppendAt, algorithm: str | None,
    ) -> None:  # fmt: skip
        self.client, self.bucket, self.staging, self.limits = client, bucket, staging, limits
        self.at = at
        self.upload = at.upload
        self.base = at.appending.stored  # the bytes already in S3 parts
        self.size = part_size(at.most, limits, PREFERRED_PART)
        # S3 computes its own etags: hash only for a client's checksum.
        self._hashes = Hashes(md5=False, algorithm=algorithm)
        self._written = 0
        self._stored: list[ReceivedPart] = []
        self._sending: Future[ReceivedPart] | None = None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="s3-part")
        self._segments: list[Path] = []
        staging.remove(self.upload.id, keep=at.appending.tail)  # what crashed writers left
        self._fd: int | None = None
        try:
            self._open_segment()
            if at.appending.staged:
                self._copy_tail()
        except BaseException:
            self.drop()
            raise

    @property
    def digest(self) -> Digest:
        return self._hashes.digest()

    @property
    def written(self) -> int:
        return self._written

    def write(self, data: bytes | bytearray) -> None:
        self._hashes.update(data)
        view = memoryview(data)
        while view:
            done = self._write_segment(view[: self.size - self._filled])
            self._written += done
            view = view[done:]
            if self._filled == self.size:
                self._ship()

    def keep(self, last: bool) -> Kept:
        if self._fd is None:
            raise ValueError("the append writer is closed")
        try:
            self._wait()
            filled = self._filled
            room = self.at.most - (self.at.appending.offset + self._written)
            used = len(self.at.parts) + len(self._stored)
            if last or flushes_tail(filled, used, room, self.size, self.limits):
                if filled or (last and not self.at.parts and not self._stored):
                    self._ship()
                    self._wait()
                tail, staged = "", 0
            else:
                tail, staged = self._stage_tail(filled)
        except BaseException:
            self.drop()
            raise
        self.drop()  # the segments sent (and the empty one opened after); not the tail
        offset = self.base + sum(p.size for p in self._stored) + staged
        return Kept(offset, staged, tail, tuple(self._stored))

    def drop(self) -> None:
        """Nothing of this writer is kept: its segments go; the tail it copied stays as it was.

        A part in flight may still land in S3, under a number no one records.
        """
        self._close()
        for path in self._segments:
            path.unlink(missing_ok=True)

    # -- segments -----------------------------------------------------------

    @property
    def _filled(self) -> int:
        return self._segment_size

    def _open_segment(self) -> None:
        with _os("stage appended bytes"):
            path, self._fd = self.staging.new_segment(self.upload.id)
        self._segments.append(path)
        self._segment_size = 0

    def _write_segment(self, view: memoryview) -> int:
        if self._fd is None:
            raise ValueError("the append writer is closed")
        with _os("stage appended bytes"):
            done = os.write(self._fd, view)
        self._segment_size += done
        return done

    def _copy_tail(self) -> None:
        """The staged tail's bytes open the first segment (the tail file itself stays)."""
        staged = self.at.appending.staged
        path = self.staging.tail_path(self.upload.id, self.at.appending.tail)
        with _os("read the staged tail"):
            try:
                source = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                raise StorageUnavailable(
                    f"the staged tail of upload {self.upload.id} is gone from this machine"
                ) from None
            try:
                copied = 0
                while copied < staged and self._fd is not None:
                    done = os.copy_file_range(source, self._fd, staged - copied)
                    if not done:
                        raise StorageUnavailable(f"the staged tail of {self.upload.id} is short")
                    copied += done
            finally:
                os.close(source)
        self._segment_size = staged

    def _ship(self) -> None:
        """Send the full segment as the next part (after the one in flight), and start another."""
        self._wait()
        fd, path, size = self._fd, self._segments[-1], self._segment_size
        if fd is None:
            raise ValueError("the append writer is closed")
        self._fd = None
        os.close(fd)
        number = self.at.reserve()
        self._sending = self._pool.submit(self._send, path, number, size)
        self._open_segment()

    def _send(self, path: Path, number: int, size: int) -> ReceivedPart:
        upload = self.upload
        try:
            with path.open("rb") as body, s3_errors(f"send a part of file {upload.id}"):
                answer = self.client.upload_part(
                    Bucket=self.bucket, Key=upload.storage_key, UploadId=upload.upload_id,
                    PartNumber=number, Body=body, ContentLength=size,
                )  # fmt: skip
        except UploadGone:
            raise InvalidState(
                f"the multipart upload of file {upload.id} is gone; it was aborted"
            ) from None
        path.unlink(missing_ok=True)
        return ReceivedPart(number, normalize_etag(answer["ETag"]), size)

    def _wait(self) -> None:
        sending, self._sending = self._sending, None
        if sending is not None:
            self._stored.append(sending.result())

    def _stage_tail(self, filled: int) -> tuple[str, int]:
        """Fsync the rest and make it the upload's staged tail, under a new name."""
        fd, segment = self._fd, self._segments[-1]
        if fd is None:
            raise ValueError("the append writer is closed")
        if not filled:
            return "", 0
        tail = secrets.token_hex(8)
        with _os("stage appended bytes"):
            os.fsync(fd)
            os.rename(segment, self.staging.tail_path(self.upload.id, tail))
            _fsync_dir(self.staging.root)
        self._segments.pop()
        return tail, filled

    def _close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
        self._pool.shutdown(wait=False)


@contextlib.contextmanager
def _os(action: str) -> Iterator[None]:
    try:
        yield
    except OSError as error:
        raise _translate(error, action) from error


__all__ = ["PREFERRED_PART", "STAGED", "S3AppendWriter", "Staging"]
