"""Files that arrive in storage by themselves (S3 POST policies): notice them, record them.

A browser POSTs a file straight to the bucket; S3 tells nobody. The service
asks (HeadObject) whenever the file is read, and `serve` asks in the
background, soon after the form is handed out and then less and less often,
until the upload expires. Once the object is there, the upload is recorded
completed with S3's size and etag, and `upload.completed` is written, as for
any upload. An object past the upload's size limit (a store that ignored the
policy) is removed and the upload aborted.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from uploadcore.domain.append import Fill
from uploadcore.domain.errors import UploadcoreError
from uploadcore.domain.events import EventType
from uploadcore.domain.parts import PartPlan
from uploadcore.domain.upload import Upload, UploadStatus
from uploadcore.ports.appends import AppendRepository
from uploadcore.ports.blobs import PostsForms
from uploadcore.ports.clock import Clock
from uploadcore.ports.repository import UploadRepository
from uploadcore.services.aborting import Aborter
from uploadcore.services.events import Events
from uploadcore.services.records import find_upload
from uploadcore.services.waiting import first_of

log = logging.getLogger(__name__)

FIRST_CHECK = timedelta(seconds=1)
LONGEST_WAIT = timedelta(minutes=5)


@dataclass(frozen=True)
class CheckArrival:
    """Record a form upload completed if its object arrived (blocking); the upload as it is now.

    Any other upload is returned unchanged, without a request to storage.
    """

    repo: UploadRepository
    appends: AppendRepository
    store: PostsForms
    clock: Clock
    events: Events
    aborter: Aborter

    def __call__(self, upload: Upload) -> Upload:
        if upload.status is not UploadStatus.UPLOADING:
            return upload
        appending = self.appends.appending(upload.id)
        if appending is None or appending.fill is not Fill.FORM:
            return upload
        stored = self.store.stored(upload)
        if stored is None:
            return upload
        if appending.limit is not None and stored.size > appending.limit:
            log.warning(
                "upload %s: %d bytes arrived, over its limit of %d: aborted",
                upload.id, stored.size, appending.limit,
            )  # fmt: skip
            stopped = self.aborter.stop(upload, by="its size limit")
            if stopped.aborted_now:
                self.aborter.free(stopped.upload)
            return stopped.upload
        plan = PartPlan(stored.size, 1, max(stored.size, 1))
        event = None
        with self.repo.transaction() as tx:
            appends = tx if isinstance(tx, AppendRepository) else self.appends
            now = self.clock.now()
            if appends.finish_appending(upload.id, plan, stored.etag, now):
                event = self.events.record(tx, EventType.UPLOAD_COMPLETED, upload.id, now)
        self.events.committed(event)
        if event is not None:
            log.info("upload %s arrived in storage (%d bytes)", upload.id, stored.size)
        return find_upload(self.repo, upload.id)


@dataclass
class ArrivalWatch:
    """Checks form uploads in the background, backing off, until each arrives or expires.

    `watch` schedules an upload (the first check after FIRST_CHECK, each wait
    twice the last, at most LONGEST_WAIT); `run` checks what is due until
    `stop` is set. In-process: a worker watches the forms it handed out, and
    a read of the file checks it wherever it is read.
    """

    check: CheckArrival
    clock: Clock
    _due: list[tuple[datetime, str, timedelta]] = field(default_factory=list)
    _wake: asyncio.Event | None = None

    def watch(self, upload: Upload) -> None:
        heapq.heappush(self._due, (self.clock.now() + FIRST_CHECK, upload.id, FIRST_CHECK))
        if self._wake is not None:
            self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        self._wake = asyncio.Event()
        while not stop.is_set():
            wait = LONGEST_WAIT.total_seconds()
            if self._due:
                wait = max(0.0, (self._due[0][0] - self.clock.now()).total_seconds())
            if wait > 0:
                await first_of(stop, self._wake, wait)
                self._wake.clear()
                continue
            _, file_id, waited = heapq.heappop(self._due)
            try:
                upload = await asyncio.to_thread(self._check, file_id)
                again = (
                    upload is not None
                    and upload.status is UploadStatus.UPLOADING
                    and self.clock.now() < upload.expires_at
                )
            except UploadcoreError:  # storage or database away for now: try again later
                log.warning("upload %s: could not check for its object", file_id, exc_info=True)
                again = True
            if again:
                waited = min(waited * 2, LONGEST_WAIT)
                heapq.heappush(self._due, (self.clock.now() + waited, file_id, waited))

    def _check(self, file_id: str) -> Upload | None:
        upload = self.check.repo.get(file_id)
        return None if upload is None else self.check(upload)


__all__ = ["ArrivalWatch", "CheckArrival"]
