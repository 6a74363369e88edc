"""Parts and final files on the local disk, written durably.

Layout under the media root:

    temp_uploads/{upload_id}/{part_number:05d}.{md5}   received parts
    temp_uploads/{upload_id}/.tmp-*                    parts being received
    files/{id[:2]}/{id}                                final files

A part writer holds an advisory lock (`flock`) on its temporary file from the
moment it creates it until the part is renamed into place or dropped, so `gc`,
in whatever process, knows a part is arriving by trying that lock. The kernel
drops the lock with the writer's process: a crashed writer's file is just old.

Every path derives from ids the service made, never from client input. A part
is named by its number and md5, so re-uploading a part never overwrites bytes
an assembly may be reading: it adds a file, and the database says which one
counts. Every write goes to a temporary file that is fsynced and renamed into
place, and the directory is fsynced after the rename.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import logging
import os
import secrets
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path

from uploadcore.adapters import local_leftovers
from uploadcore.adapters.names import safe_name
from uploadcore.domain.append import Appending
from uploadcore.domain.digest import Digest
from uploadcore.domain.errors import (
    InsufficientStorage,
    InvalidState,
    PartMissing,
    StorageUnavailable,
    UploadNotFound,
)
from uploadcore.domain.gc import Leftover
from uploadcore.domain.parts import ReceivedPart
from uploadcore.domain.upload import Upload
from uploadcore.ports.appends import AppendAt, AppendWriter, Finished
from uploadcore.ports.blobs import OpenedFile, PreparedUpload

log = logging.getLogger(__name__)

TEMP_DIR = "temp_uploads"
FILES_DIR = "files"
_COPY_CHUNK = 1 << 30  # per kernel call; the kernel copies without a user-space buffer
_IOV_MAX = 1024  # buffers per writev (Linux's UIO_MAXIOV)


class LocalDiskBlobStore:
    """The embedded default store; it also receives part bodies itself.

    Freeing an upload's parts moves its part directory to the trash at once
    and hands the trash to `free`: by default deleted before returning;
    `local_leftovers.BackgroundFreer()` deletes it on a worker thread instead,
    so a completion's answer does not wait for the disk to free 1 GiB.
    """

    def __init__(self, media_root: Path | str, free: Callable[[Path], None] | None = None) -> None:
        self.root = Path(media_root)
        self._temp_root = self.root / TEMP_DIR
        self._free = free or local_leftovers.remove_trash

    def check_ready(self) -> None:
        """The media root is a directory this process may write into (or may create)."""
        path = self.root
        while not path.exists() and path.parent != path:
            path = path.parent  # the store makes the missing directories as it needs them
        if not path.is_dir() or not os.access(path, os.W_OK | os.X_OK):
            raise StorageUnavailable(f"the media directory is not writable (MEDIA_ROOT): {path}")

    # -- paths --------------------------------------------------------------

    def temp_dir(self, upload_id: str) -> Path:
        return self._temp_root / safe_name(upload_id)

    def path_of(self, storage_key: str) -> Path:
        """The final file of a storage key (`files/ab/abcd...`)."""
        parts = storage_key.split("/")
        if len(parts) != 3 or parts[0] != FILES_DIR:
            raise ValueError(f"not a local storage key: {storage_key!r}")
        return self.root.joinpath(*(safe_name(p) for p in parts))

    def open_file(self, upload: Upload) -> OpenedFile:
        try:
            fd = os.open(self.path_of(upload.storage_key), os.O_RDONLY)
        except FileNotFoundError:
            raise UploadNotFound(f"file {upload.id} is no longer stored") from None
        stat = os.fstat(fd)
        return OpenedFile(fd, stat.st_size, stat.st_mtime_ns)

    # -- the port -----------------------------------------------------------

    def prepare(self, file_id: str, content_type: str) -> PreparedUpload:
        upload_id = secrets.token_hex(16)
        with _os_errors("prepare storage"):
            path = self.temp_dir(upload_id)
            path.mkdir(parents=True)
            _fsync_dir(path.parent)
        name = safe_name(file_id)
        return PreparedUpload(upload_id, f"{FILES_DIR}/{name[:2]}/{name}")

    def open_part(self, upload: Upload, part_number: int) -> LocalPartWriter:
        return LocalPartWriter(self.temp_dir(upload.upload_id), part_number)

    def list_parts(self, upload: Upload) -> Sequence[ReceivedPart]:
        """The newest stored version of each part; the repository knows which one counts."""
        newest: dict[int, tuple[int, ReceivedPart]] = {}
        try:
            entries = list(os.scandir(self.temp_dir(upload.upload_id)))
        except FileNotFoundError:
            return []
        for entry in entries:
            number, dot, etag = entry.name.partition(".")
            if not dot or not number.isdigit():
                continue
            stat = entry.stat()
            part = ReceivedPart(int(number), etag, stat.st_size)
            if stat.st_mtime_ns >= newest.get(part.part_number, (-1, part))[0]:
                newest[part.part_number] = (stat.st_mtime_ns, part)
        return [newest[n][1] for n in sorted(newest)]

    def assemble(self, upload: Upload, parts: Sequence[ReceivedPart]) -> None:
        target = self.path_of(upload.storage_key)
        with ExitStack() as stack:
            sources = [stack.enter_context(self._open_part(upload, p)) for p in parts]
            with _os_errors(f"assemble upload {upload.id}"):
                target.parent.mkdir(parents=True, exist_ok=True)
                _write_atomically(target, lambda out: _concatenate(sources, out))

    def release_parts(self, upload: Upload) -> None:
        with _os_errors(f"free the parts of upload {upload.id}"):
            # A string path: gc frees thousands of uploads whose directory is already gone.
            directory = os.path.join(self._temp_root, safe_name(upload.upload_id))
            trash = local_leftovers.move_to_trash(self.root, directory)
        if trash is not None:
            self._free(trash)

    def abort(self, upload: Upload) -> None:
        if upload.upload_id:
            self.release_parts(upload)

    def delete(self, upload: Upload) -> None:
        if not upload.storage_key:
            return
        with _os_errors(f"delete file {upload.id}"):
            self.path_of(upload.storage_key).unlink(missing_ok=True)

    # -- AppendsBytes (tus; see local_append.py) ------------------------------

    def visible(self, upload: Upload, appending: Appending) -> Appending:
        return appending  # every byte is in the store itself: nothing is staged

    def open_append(self, at: AppendAt, algorithm: str | None) -> AppendWriter:
        from uploadcore.adapters import local_append

        return local_append.open_append(self, at, algorithm)

    def finish_append(self, upload: Upload, size: int, parts: Sequence[ReceivedPart]) -> Finished:
        from uploadcore.adapters import local_append

        return local_append.finish_append(self, upload, size, parts)

    def concatenate(self, upload: Upload, sources: Sequence[Upload]) -> None:
        from uploadcore.adapters import local_append

        local_append.concatenate(self, upload, sources)

    # -- SweepsLeftovers (for gc; see local_leftovers.py) -------------------

    def leftovers(self, older_than: datetime) -> Iterator[Leftover]:
        with _os_errors("list leftover temporary files"):
            yield from local_leftovers.temp_dirs(self.root, older_than)
            yield from local_leftovers.stray_files(self.root, older_than)

    def remove_leftover(self, leftover: Leftover, older_than: datetime) -> int | None:
        with _os_errors(f"remove {leftover.key}"):
            return local_leftovers.remove(self.root, leftover, older_than)

    def held(self, upload: Upload) -> Leftover | None:
        if not upload.upload_id:
            return None
        with _os_errors(f"measure the parts of upload {upload.id}"):
            return local_leftovers.held(self.root, safe_name(upload.upload_id))

    @contextmanager
    def _open_part(self, upload: Upload, part: ReceivedPart) -> Iterator[int]:
        path = self.temp_dir(upload.upload_id) / _part_name(part.part_number, part.etag)
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            raise PartMissing(
                f"part {part.part_number} of upload {upload.id} is no longer in storage",
                part_number=part.part_number,
            ) from None
        try:
            if os.fstat(fd).st_size != part.size:
                raise PartMissing(
                    f"part {part.part_number} of upload {upload.id} is damaged in storage",
                    part_number=part.part_number,
                )
            yield fd
        finally:
            os.close(fd)


class LocalPartWriter:
    """Receives one part into a temporary file, hashing as it writes.

    It holds an exclusive `flock` on the file until `commit` or `discard`:
    `local_leftovers.held` reports the upload as receiving while it does.
    """

    def __init__(self, directory: Path, part_number: int) -> None:
        self.directory = directory
        self.part_number = part_number
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._size = 0
        self._tmp = directory / f".tmp-{part_number:05d}-{secrets.token_hex(8)}"
        try:
            self._fd: int | None = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileNotFoundError:
            raise InvalidState(
                "the upload's storage is gone; it was aborted or completed"
            ) from None
        except OSError as error:
            raise _translate(error, "receive a part") from error
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)  # gc's probe holds it for an instant, at most
        except OSError as error:
            self.discard()
            raise _translate(error, "receive a part") from error

    @property
    def digest(self) -> Digest:
        return Digest("md5", self._md5.digest())

    def write(self, data: bytes | bytearray) -> None:
        if self._fd is None:
            raise ValueError("the part writer is closed")
        self._md5.update(data)
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as error:
            raise _translate(error, "receive a part") from error
        self._size += len(data)

    def write_chunks(self, chunks: Sequence[bytes]) -> None:
        """Write `chunks` in order with one `writev`: no joined copy of them in user space."""
        if self._fd is None:
            raise ValueError("the part writer is closed")
        for chunk in chunks:
            self._md5.update(chunk)
        size = sum(len(c) for c in chunks)
        try:
            _writev_all(self._fd, chunks, size)
        except OSError as error:
            raise _translate(error, "receive a part") from error
        self._size += size

    def commit(self) -> ReceivedPart:
        if self._fd is None:
            raise ValueError("the part writer is closed")
        part = ReceivedPart(self.part_number, self._md5.hexdigest(), self._size)
        try:
            os.fsync(self._fd)
            # Renamed before unlocking: gc never sees a whole part as an abandoned temporary file.
            os.rename(self._tmp, self.directory / _part_name(part.part_number, part.etag))
            _fsync_dir(self.directory)
            self._close()
        except FileNotFoundError:
            self.discard()
            raise InvalidState(
                "the upload's storage is gone; it was aborted or completed"
            ) from None
        except OSError as error:
            self.discard()
            raise _translate(error, "store a part") from error
        return part

    def discard(self) -> None:
        try:
            self._tmp.unlink(missing_ok=True)  # before unlocking, like commit's rename
        except OSError:
            log.warning("could not remove %s", self._tmp, exc_info=True)
        self._close()

    def _close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


def _writev_all(fd: int, chunks: Sequence[bytes], size: int) -> None:
    """`os.writev` until every byte is written (a short write resumes where it stopped)."""
    views = [memoryview(c) for c in chunks]
    while size:
        written = os.writev(fd, views[:_IOV_MAX])
        size -= written
        while views and written >= len(views[0]):
            written -= len(views.pop(0))
        if written:
            views[0] = views[0][written:]


def _concatenate(sources: Sequence[int], out: int) -> None:
    for src in sources:
        remaining = os.fstat(src).st_size
        offset = 0
        while remaining:
            copied = _kernel_copy(src, out, offset, min(remaining, _COPY_CHUNK))
            if copied == 0:
                raise StorageUnavailable("a part ended early while it was being copied")
            offset += copied
            remaining -= copied


def _kernel_copy(src: int, out: int, offset: int, count: int) -> int:
    try:
        return os.copy_file_range(src, out, count, offset)
    except OSError as error:  # across file systems on old kernels, or unsupported
        if error.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
            raise
    return os.sendfile(out, src, offset, count)


def _write_atomically(target: Path, fill: Callable[[int], None]) -> None:
    tmp = target.with_name(f".tmp-{target.name}-{secrets.token_hex(8)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        try:
            fill(fd)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _part_name(part_number: int, etag: str) -> str:
    return f"{part_number:05d}.{safe_name(etag)}"


def _translate(error: OSError, action: str) -> Exception:
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return InsufficientStorage(f"the disk is full: could not {action}")
    return StorageUnavailable(f"could not {action}: {error.strerror}")


@contextmanager
def _os_errors(action: str) -> Iterator[None]:
    try:
        yield
    except OSError as error:
        raise _translate(error, action) from error
