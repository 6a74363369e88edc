"""In-memory adapters: real implementations of the ports, for embedders and tests.

They keep the same contracts as the database and disk adapters (the contract
test suites run against both) and are safe to use from several threads.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Self

from uploadcore.adapters.memory_appends import InMemoryAppends
from uploadcore.adapters.memory_outbox import InMemoryOutbox
from uploadcore.adapters.memory_tokens import InMemoryTokens
from uploadcore.adapters.memory_users import InMemoryUsers
from uploadcore.domain.digest import Digest
from uploadcore.domain.errors import AlreadyExists, InvalidState, PartMissing
from uploadcore.domain.grants import UploadToken
from uploadcore.domain.listing import FileFilter, ListPosition, sort_key
from uploadcore.domain.metadata import MetadataUpdate
from uploadcore.domain.parts import ReceivedPart
from uploadcore.domain.upload import Upload, UploadStatus, check_transition
from uploadcore.ports.blobs import PreparedUpload
from uploadcore.ports.gc import Keyset
from uploadcore.ports.repository import UserAccount
from uploadcore.ports.stats import OperationalStats


class InMemoryRepository(InMemoryOutbox, InMemoryTokens, InMemoryUsers, InMemoryAppends):
    """The upload, user, upload-token and append repositories and the outbox, behind one lock."""

    def __init__(self) -> None:
        super().__init__()
        # Re-entrant: a unit of work holds it while the methods it calls take it again.
        self._lock = threading.RLock()
        self._uploads: dict[str, Upload] = {}
        self._parts: dict[str, dict[int, ReceivedPart]] = {}
        self._users: dict[str, UserAccount] = {}  # name -> account
        self._keys: dict[str, str] = {}  # key hash -> name
        self._tokens: dict[str, UploadToken] = {}  # id -> token
        self._gc_actions: dict[str, int] = {}  # gc's running totals, by kind
        InMemoryAppends.__init__(self)

    @contextmanager
    def transaction(self) -> Iterator[Self]:
        # Other threads wait for the lock, so they never see a part of the changes;
        # an error puts back what the block found.
        with self._lock:
            saved = (
                dict(self._uploads),
                {file_id: dict(parts) for file_id, parts in self._parts.items()},
                dict(self._users),
                dict(self._keys),
                dict(self._tokens),
                dict(self._appends),
                dict(self._leases),
            )
            outbox = self._outbox_state()
            try:
                yield self
            except BaseException:
                (
                    self._uploads, self._parts, self._users, self._keys, self._tokens,
                    self._appends, self._leases,
                ) = saved  # fmt: skip
                self._restore_outbox(outbox)
                raise

    def add(self, upload: Upload) -> None:
        with self._lock:
            if upload.id in self._uploads:
                raise AlreadyExists(f"upload {upload.id} exists")
            self._uploads[upload.id] = upload
            self._parts[upload.id] = {}

    def operational_stats(self) -> OperationalStats:
        with self._lock:
            live = [
                u for u in self._uploads.values() if not u.status.is_terminal and u.deleted is None
            ]
            waiting = {d.event_id for d in self._deliveries.values() if d.status == "pending"}
            oldest = min((self._events[e].timestamp for e in waiting), default=None)
            gc = dict(self._gc_actions)
        return OperationalStats(len(live), sum(u.file_size for u in live), oldest, gc)

    def add_gc_actions(self, counts: Mapping[str, int]) -> None:
        with self._lock:
            for kind, n in counts.items():
                if n:
                    self._gc_actions[kind] = self._gc_actions.get(kind, 0) + n

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

    def list_files(
        self, where: FileFilter, after: ListPosition | None, limit: int
    ) -> Sequence[Upload]:
        # A scan and a sort: fine in memory, and the same order as the database's index.
        with self._lock:
            found = [
                u
                for u in self._uploads.values()
                if where.matches(u)
                and (after is None or after.is_after(u))
                and not self.is_partial(u.id)
            ]
        return heapq.nlargest(limit, found, key=sort_key)

    def update_metadata(self, file_id: str, update: MetadataUpdate, now: datetime) -> bool:
        with self._lock:
            upload = self._uploads.get(file_id)
            if upload is None or upload.deleted is not None:
                return False
            self._uploads[file_id] = update.apply(upload, now)
            return True

    def mark_deleted(self, file_id: str, now: datetime) -> bool:
        with self._lock:
            upload = self._uploads.get(file_id)
            if upload is None or not upload.status.is_terminal:
                return False
            if upload.deleted is None:
                self._uploads[file_id] = replace(upload, deleted=now)
            return True

    def remove(self, file_id: str) -> bool:
        with self._lock:
            upload = self._uploads.get(file_id)
            if upload is None or upload.deleted is None:
                return False
            del self._uploads[file_id]
            self._parts.pop(file_id, None)
            self._appends.pop(file_id, None)  # as the database's foreign key cascades
            self._next_parts.pop(file_id, None)
            return True

    # -- gc ---------------------------------------------------------------

    def expired_uploads(
        self, status: UploadStatus, now: datetime, after: Keyset | None, limit: int
    ) -> Sequence[Upload]:
        with self._lock:
            found = [
                u
                for u in self._uploads.values()
                if u.status is status
                and u.expires_at <= now
                and (after is None or (u.expires_at, u.id) > after)
            ]
        return heapq.nsmallest(limit, found, key=lambda u: (u.expires_at, u.id))

    def abort_expired(self, file_ids: Collection[str], now: datetime) -> set[str]:
        changed = set()
        with self._lock:
            for file_id in file_ids:
                upload = self._uploads.get(file_id)
                if upload is not None and upload.is_expired(now):
                    self._uploads[file_id] = upload.with_status(UploadStatus.ABORTED, now)
                    changed.add(file_id)
        return changed

    def ended_uploads(
        self, status: UploadStatus, before: datetime, after: Keyset | None, limit: int
    ) -> Sequence[Upload]:
        with self._lock:
            found = [
                u
                for u in self._uploads.values()
                if u.status is status
                and u.modified <= before
                and (after is None or (u.modified, u.id) > after)
            ]
        return heapq.nsmallest(limit, found, key=lambda u: (u.modified, u.id))

    def purge(
        self, file_ids: Collection[str], statuses: Collection[UploadStatus], before: datetime
    ) -> set[str]:
        purged = set()
        with self._lock:
            for file_id in file_ids:
                upload = self._uploads.get(file_id)
                if upload is not None and upload.status in statuses and upload.modified <= before:
                    del self._uploads[file_id]
                    self._parts.pop(file_id, None)
                    purged.add(file_id)
        return purged

    def deleted_uploads(
        self, before: datetime, after: Keyset | None, limit: int
    ) -> Sequence[Upload]:
        with self._lock:
            found = [
                (u.deleted, u)
                for u in self._uploads.values()
                if u.deleted is not None
                and u.deleted <= before
                and (after is None or (u.deleted, u.id) > after)
            ]
        return [u for _, u in heapq.nsmallest(limit, found, key=lambda du: (du[0], du[1].id))]

    def remove_deleted(self, file_ids: Collection[str], before: datetime) -> set[str]:
        removed = set()
        with self._lock:
            for file_id in file_ids:
                upload = self._uploads.get(file_id)
                if upload is not None and upload.deleted is not None and upload.deleted <= before:
                    del self._uploads[file_id]
                    self._parts.pop(file_id, None)
                    removed.add(file_id)
        return removed

    def live_upload_ids(self, upload_ids: Collection[str]) -> set[str]:
        wanted = set(upload_ids)
        with self._lock:
            return {
                u.upload_id
                for u in self._uploads.values()
                if u.upload_id in wanted and not u.status.is_terminal
            }


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
    def digest(self) -> Digest:
        return Digest("md5", self._md5.digest())

    def write(self, data: bytes | bytearray) -> None:
        self._md5.update(data)
        self._chunks.append(bytes(data))

    def commit(self) -> ReceivedPart:
        data = b"".join(self._chunks)
        etag = self._md5.hexdigest()
        self._store._store(self._upload_id, (self._part_number, etag), data)
        return ReceivedPart(self._part_number, etag, len(data))

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
