"""In-memory adapters: real implementations of the ports, for embedders and tests.

They keep the same contracts as the database and disk adapters (the contract
test suites run against both) and are safe to use from several threads.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from uploadcore.domain.errors import AlreadyExists, InvalidState, PartMissing
from uploadcore.domain.parts import ReceivedPart
from uploadcore.domain.upload import Principal, Upload, UploadStatus, check_transition
from uploadcore.ports.blobs import PreparedUpload


class InMemoryRepository:
    """UploadRepository and UserRepository in dictionaries, behind one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._uploads: dict[str, Upload] = {}
        self._parts: dict[str, dict[int, ReceivedPart]] = {}
        self._users: dict[str, tuple[str, bool]] = {}  # key hash -> (name, is_admin)

    def add(self, upload: Upload) -> None:
        with self._lock:
            if upload.id in self._uploads:
                raise AlreadyExists(f"upload {upload.id} exists")
            self._uploads[upload.id] = upload
            self._parts[upload.id] = {}

    def get(self, file_id: str) -> Upload | None:
        with self._lock:
            return self._uploads.get(file_id)

    def mark_uploading(self, file_id: str, upload_id: str, storage_key: str, now: datetime) -> bool:
        with self._lock:
            upload = self._uploads.get(file_id)
            if upload is None or upload.status is not UploadStatus.PENDING:
                return False
            self._uploads[file_id] = replace(
                upload,
                upload_id=upload_id,
                storage_key=storage_key,
                status=UploadStatus.UPLOADING,
                modified=now,
            )
            return True

    def set_status(
        self,
        file_id: str,
        expected: UploadStatus,
        new: UploadStatus,
        now: datetime,
        etag: str | None = None,
    ) -> bool:
        check_transition(expected, new)
        with self._lock:
            upload = self._uploads.get(file_id)
            if upload is None or upload.status is not expected:
                return False
            self._uploads[file_id] = upload.with_status(new, now, etag)
            return True

    def record_part(
        self, file_id: str, part: ReceivedPart, expires_at: datetime, now: datetime
    ) -> bool:
        with self._lock:
            upload = self._uploads.get(file_id)
            if upload is None or upload.status is not UploadStatus.UPLOADING:
                return False
            self._parts[file_id][part.part_number] = part
            self._uploads[file_id] = replace(upload, expires_at=expires_at, modified=now)
            return True

    def touch(self, file_id: str, expires_at: datetime, now: datetime) -> bool:
        with self._lock:
            upload = self._uploads.get(file_id)
            if upload is None or upload.status is not UploadStatus.UPLOADING:
                return False
            self._uploads[file_id] = replace(upload, expires_at=expires_at, modified=now)
            return True

    def parts(self, file_id: str) -> Sequence[ReceivedPart]:
        with self._lock:
            parts = self._parts.get(file_id, {})
            return [parts[n] for n in sorted(parts)]

    def add_user(self, name: str, key_hash: str, is_admin: bool, now: datetime) -> None:
        with self._lock:
            if any(existing == name for existing, _ in self._users.values()):
                raise AlreadyExists(f"a user named {name} exists")
            self._users[key_hash] = (name, is_admin)

    def principal_for_key(self, key_hash: str) -> Principal | None:
        with self._lock:
            found = self._users.get(key_hash)
        return Principal(*found) if found else None


class InMemoryBlobStore:
    """Parts and final objects as bytes in dictionaries; it receives parts itself."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counter = itertools.count(1)
        self.parts: dict[str, dict[tuple[int, str], bytes]] = {}
        self.objects: dict[str, bytes] = {}

    def prepare(self, file_id: str, content_type: str) -> PreparedUpload:
        with self._lock:
            upload_id = f"mem-{next(self._counter)}"
            self.parts[upload_id] = {}
        return PreparedUpload(upload_id, f"files/{file_id}")

    def open_part(self, upload: Upload, part_number: int) -> InMemoryPartWriter:
        with self._lock:
            if upload.upload_id not in self.parts:
                raise InvalidState("the upload's storage is gone; it was aborted or completed")
        return InMemoryPartWriter(self, upload.upload_id, part_number)

    def list_parts(self, upload: Upload) -> Sequence[ReceivedPart]:
        with self._lock:
            stored = self.parts.get(upload.upload_id, {})
            newest = {n: ReceivedPart(n, etag, len(data)) for (n, etag), data in stored.items()}
        return [newest[n] for n in sorted(newest)]

    def assemble(self, upload: Upload, parts: Sequence[ReceivedPart]) -> None:
        with self._lock:
            stored = self.parts.get(upload.upload_id, {})
            chunks = []
            for part in parts:
                data = stored.get((part.part_number, part.etag))
                if data is None or len(data) != part.size:
                    raise PartMissing(
                        f"part {part.part_number} of upload {upload.id} is no longer in storage",
                        part_number=part.part_number,
                    )
                chunks.append(data)
            self.objects[upload.storage_key] = b"".join(chunks)

    def release_parts(self, upload: Upload) -> None:
        with self._lock:
            self.parts.pop(upload.upload_id, None)

    def abort(self, upload: Upload) -> None:
        self.release_parts(upload)

    def delete(self, upload: Upload) -> None:
        with self._lock:
            self.objects.pop(upload.storage_key, None)

    def _store(self, upload_id: str, key: tuple[int, str], data: bytes) -> None:
        with self._lock:
            if upload_id not in self.parts:
                raise InvalidState("the upload's storage is gone; it was aborted or completed")
            # Re-insert so dict order is upload order: list_parts reports the newest copy.
            self.parts[upload_id].pop(key, None)
            self.parts[upload_id][key] = data


class InMemoryPartWriter:
    def __init__(self, store: InMemoryBlobStore, upload_id: str, part_number: int) -> None:
        self._store = store
        self._upload_id = upload_id
        self._part_number = part_number
        self._chunks: list[bytes] = []
        self._md5 = hashlib.md5(usedforsecurity=False)

    @property
    def etag(self) -> str:
        return self._md5.hexdigest()

    def write(self, data: bytes | bytearray) -> None:
        self._md5.update(data)
        self._chunks.append(bytes(data))

    def commit(self) -> ReceivedPart:
        data = b"".join(self._chunks)
        self._store._store(self._upload_id, (self._part_number, self.etag), data)
        return ReceivedPart(self._part_number, self.etag, len(data))

    def discard(self) -> None:
        self._chunks.clear()


class FakeClock:
    """A clock that stands still until told to move."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta | float) -> None:
        self.current += delta if isinstance(delta, timedelta) else timedelta(seconds=delta)


class SequentialIds:
    """Predictable ids, for tests that want to read them."""

    def __init__(self, prefix: str = "id") -> None:
        self._prefix = prefix
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def new_id(self) -> str:
        with self._lock:
            return f"{self._prefix}{next(self._counter):06d}"
