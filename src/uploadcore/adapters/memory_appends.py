"""AppendRepository in memory: the part of InMemoryRepository that keeps appended uploads."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime

from uploadcore.domain.append import Appending, Concat
from uploadcore.domain.parts import PartPlan
from uploadcore.domain.upload import Upload, UploadStatus


class InMemoryAppends:
    """Appending states and leases, behind the repository's lock."""

    _lock: threading.RLock
    _uploads: dict[str, Upload]

    def __init__(self) -> None:
        self._appends: dict[str, Appending] = {}
        self._leases: dict[str, tuple[str, datetime]] = {}
        self._next_parts: dict[str, int] = {}

    def add_appending(self, file_id: str, appending: Appending) -> None:
        with self._lock:
            self._appends[file_id] = appending

    def appending(self, file_id: str) -> Appending | None:
        with self._lock:
            return self._appends.get(file_id)

    def is_partial(self, file_id: str) -> bool:
        found = self._appends.get(file_id)
        return found is not None and found.concat is Concat.PARTIAL

    def claim_append(
        self, file_id: str, offset: int, lease: str, now: datetime, until: datetime, tail: str = ""
    ) -> bool:
        with self._lock:
            upload, found = self._uploads.get(file_id), self._appends.get(file_id)
            held = self._leases.get(file_id)
            if upload is None or found is None or upload.status is not UploadStatus.UPLOADING:
                return False
            if found.offset != offset or found.tail != tail:
                return False
            if held is not None and held[1] > now:
                return False
            self._leases[file_id] = (lease, until)
            return True

    def renew_append(self, file_id: str, lease: str, until: datetime) -> bool:
        with self._lock:
            if self._leases.get(file_id, ("", None))[0] != lease:
                return False
            self._leases[file_id] = (lease, until)
            return True

    def release_append(
        self, file_id: str, lease: str, appending: Appending, expires_at: datetime, now: datetime
    ) -> bool:
        with self._lock:
            if self._leases.get(file_id, ("", None))[0] != lease:
                return False
            del self._leases[file_id]
            self._appends[file_id] = appending
            upload = self._uploads.get(file_id)
            if upload is not None and upload.status is UploadStatus.UPLOADING:
                self._uploads[file_id] = replace(upload, expires_at=expires_at, modified=now)
            return True

    def reserve_part(self, file_id: str, lease: str) -> int | None:
        with self._lock:
            if self._leases.get(file_id, ("", None))[0] != lease:
                return None
            number = self._next_parts.get(file_id, 1)
            self._next_parts[file_id] = number + 1
            return number

    def finish_appending(self, file_id: str, plan: PartPlan, etag: str, now: datetime) -> bool:
        with self._lock:
            upload = self._uploads.get(file_id)
            if upload is None or upload.status is not UploadStatus.UPLOADING:
                return False
            self._uploads[file_id] = replace(upload, plan=plan).with_status(
                UploadStatus.COMPLETED, now, etag
            )
            return True
