"""Appended uploads (tus) on the local disk.

An appended upload's bytes grow in one file, `temp_uploads/{upload_id}/.tmp-append`.
A writer appends at the offset the database holds, after cutting off anything
past it (bytes of a request that never got its offset acknowledged); `keep`
fsyncs before the service records the new offset, so an acknowledged offset
survives a power cut. While it writes it holds an `flock` on the file, and
the name starts with `.tmp-`, so gc's `held` sees a live append as it sees a
part arriving. Finishing hashes the file once and renames it into place.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

from uploadcore.adapters.local import (
    LocalDiskBlobStore,
    _concatenate,
    _fsync_dir,
    _os_errors,
    _translate,
    _write_atomically,
)
from uploadcore.domain.digest import Digest, Hashes
from uploadcore.domain.errors import InvalidState, StorageUnavailable, UploadNotFound
from uploadcore.domain.parts import ReceivedPart, multipart_etag
from uploadcore.domain.upload import Upload
from uploadcore.ports.appends import AppendAt, Finished, Kept

APPEND_NAME = ".tmp-append"
_HASH_CHUNK = 1024 * 1024


class LocalAppendWriter:
    """Appends to an upload's file from `offset`, hashing what it writes."""

    def __init__(self, path: Path, offset: int, algorithm: str | None, number: int) -> None:
        self.start = offset
        self.number = number  # these bytes are part `number` of the upload (for its etag)
        self._hashes = Hashes(md5=True, algorithm=algorithm)  # md5: the part's etag
        self._written = 0
        try:
            self._fd: int | None = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
        except FileNotFoundError:
            raise InvalidState(
                "the upload's storage is gone; it was aborted or completed"
            ) from None
        except OSError as error:
            raise _translate(error, "append to an upload") from error
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            size = os.fstat(self._fd).st_size
            if size < offset:
                raise StorageUnavailable(f"storage holds {size} bytes of the upload, not {offset}")
            os.ftruncate(self._fd, offset)
            os.lseek(self._fd, offset, os.SEEK_SET)
        except BaseException as error:
            self._close()
            if isinstance(error, OSError):
                raise _translate(error, "append to an upload") from error
            raise

    @property
    def digest(self) -> Digest:
        return self._hashes.digest()

    @property
    def written(self) -> int:
        return self._written

    def write(self, data: bytes | bytearray) -> None:
        if self._fd is None:
            raise ValueError("the append writer is closed")
        self._hashes.update(data)
        view = memoryview(data)
        try:
            while view:
                done = os.write(self._fd, view)
                self._written += done
                view = view[done:]
        except OSError as error:
            raise _translate(error, "append to an upload") from error

    def keep(self, last: bool) -> Kept:
        if self._fd is None:
            raise ValueError("the append writer is closed")
        try:
            os.fsync(self._fd)
        except OSError as error:
            self.drop()
            raise _translate(error, "store appended bytes") from error
        self._close()
        if not self._written:
            return Kept(self.start)
        md5 = self._hashes.md5
        if md5 is None:
            raise ValueError("the append writer hashed no md5")
        part = ReceivedPart(self.number, md5.digest().hex(), self._written)
        return Kept(self.start + self._written, parts=(part,))

    def drop(self) -> None:
        if self._fd is not None:
            # On failure the next writer cuts them off: their offset was never acknowledged.
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self.start)
            self._close()

    def _close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


def open_append(
    store: LocalDiskBlobStore, at: AppendAt, algorithm: str | None
) -> LocalAppendWriter:
    path = store.temp_dir(at.upload.upload_id) / APPEND_NAME
    number = max((p.part_number for p in at.parts), default=0) + 1
    return LocalAppendWriter(path, at.appending.offset, algorithm, number)


def finish_append(
    store: LocalDiskBlobStore, upload: Upload, size: int, parts: Sequence[ReceivedPart]
) -> Finished:
    """Rename the file into place; its etag is the multipart etag of its appends' md5s.

    Each append's bytes are a part (recorded with its md5 as it was kept), so the
    file is never read again. An upload whose parts do not add up to its bytes
    (appended before parts were recorded) is hashed once, as one part.
    """
    if sum(p.size for p in parts) != size:
        md5 = _finish(store, upload, size, hashed=True)
        return Finished(multipart_etag([md5]), [ReceivedPart(1, md5, size)])
    _finish(store, upload, size, hashed=False)
    if not parts:  # an empty file: one empty part
        empty = ReceivedPart(1, hashlib.md5(b"", usedforsecurity=False).hexdigest(), 0)
        return Finished(multipart_etag([empty.etag]), [empty])
    return Finished(multipart_etag([p.etag for p in parts]))


def _finish(store: LocalDiskBlobStore, upload: Upload, size: int, *, hashed: bool) -> str:
    """Move the file into place (durably); its md5 if `hashed`, else ""."""
    source = store.temp_dir(upload.upload_id) / APPEND_NAME
    target = store.path_of(upload.storage_key)
    with _os_errors(f"finish upload {upload.id}"):
        try:
            fd = os.open(source, os.O_RDWR)
        except FileNotFoundError:  # finished before: the file is in place
            return _md5_of(target, size) if hashed else ""
        try:
            os.ftruncate(fd, size)
            md5 = _md5_of_fd(fd, size) if hashed else ""
            os.fsync(fd)
        finally:
            os.close(fd)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(source, target)
        _fsync_dir(target.parent)
        _fsync_dir(source.parent)
    return md5


def concatenate(store: LocalDiskBlobStore, upload: Upload, sources: Sequence[Upload]) -> None:
    target = store.path_of(upload.storage_key)
    with ExitStack() as stack, _os_errors(f"concatenate upload {upload.id}"):
        fds = []
        for source in sources:
            try:
                fd = os.open(store.path_of(source.storage_key), os.O_RDONLY)
            except FileNotFoundError:
                raise UploadNotFound(f"partial upload {source.id} is no longer stored") from None
            stack.callback(os.close, fd)
            fds.append(fd)
        target.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(target, lambda out: _concatenate(fds, out))


def _md5_of(path: Path, size: int) -> str:
    fd = os.open(path, os.O_RDONLY)
    try:
        return _md5_of_fd(fd, size)
    finally:
        os.close(fd)


def _md5_of_fd(fd: int, size: int) -> str:
    md5 = hashlib.md5(usedforsecurity=False)
    offset = 0
    while offset < size:
        chunk = os.pread(fd, min(_HASH_CHUNK, size - offset), offset)
        if not chunk:
            raise StorageUnavailable("an appended upload ended early while it was hashed")
        md5.update(chunk)
        offset += len(chunk)
    return md5.hexdigest()
