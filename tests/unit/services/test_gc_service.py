"""GcService over the in-memory adapters: expiry, purging, dry runs, races, the forced abort."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import pytest
from tests.unit.services.support import LINKS, compose

from uploadcore.adapters.memory import (
    FakeClock,
    InMemoryBlobStore,
    InMemoryRepository,
    SequentialIds,
)
from uploadcore.adapters.signer import ItsDangerousSigner
from uploadcore.domain.errors import InvalidState, StorageUnavailable, UploadNotFound
from uploadcore.domain.gc import GcPolicy
from uploadcore.domain.parts import PartLimits, PartRef, ReceivedPart
from uploadcore.domain.upload import Principal, Upload, UploadStatus
from uploadcore.services.aborting import Aborter
from uploadcore.services.events import Events
from uploadcore.services.gc import GcService
from uploadcore.services.initiate import NewUpload
from uploadcore.services.records import UploadPolicy

PENDING, UPLOADING, COMPLETED, FAILED, ABORTED = UploadStatus
ALICE = Principal("alice")
EXPIRES_IN = timedelta(hours=24)
POLICY = UploadPolicy(limits=PartLimits(min_part_size=4), upload_expires_in=EXPIRES_IN)
GC_POLICY = GcPolicy(timedelta(days=7), leftover_age=EXPIRES_IN, upload_expires_in=EXPIRES_IN)
DATA = b"abcdefghij"
REQUEST = NewUpload("notes.txt", len(DATA), "text/plain", num_parts=3, part_size=4)


async def body(data: bytes) -> AsyncIterator[bytes]:
    yield data


class BrokenAbort(InMemoryBlobStore):
    """A store that cannot free anything: the backend is down."""

    def abort(self, upload: Upload) -> None:
        raise StorageUnavailable("the store is down")


@dataclass
class World:
    clock: FakeClock
    repo: InMemoryRepository = field(default_factory=InMemoryRepository)
    store: InMemoryBlobStore = field(default_factory=InMemoryBlobStore)
    batch_size: int = 500

    def __post_init__(self) -> None:
        signer = ItsDangerousSigner("gc-test-secret-0123456789abcdef0123")
        self.uploads = compose(
            POLICY, self.repo, self.store, self.clock, SequentialIds("file"), signer
        )
        aborter = Aborter(self.repo, self.store, self.clock, Events(SequentialIds("e")))
        self.gc = GcService(self.repo, aborter, self.clock, GC_POLICY, self.batch_size)

    def start(self, parts: int = 0) -> Upload:
        """A new upload with its first `parts` parts received."""
        upload = self.uploads.initiate(ALICE, REQUEST, LINKS).upload
        for n in range(1, parts + 1):
            self.send(upload, n)
        return self.get(upload.id)

    def send(self, upload: Upload, number: int) -> ReceivedPart:
        url = self.uploads.urls.parts(upload, [number], LINKS)[0].url
        chunk = DATA[(number - 1) * 4 : number * 4]
        assert self.uploads.receive_part is not None
        return asyncio.run(
            self.uploads.receive_part(upload.id, number, url.split("token=")[1], body(chunk))
        )

    def refs(self, upload: Upload) -> list[PartRef]:
        return [PartRef(p.part_number, p.etag) for p in self.repo.parts(upload.id)]

    def get(self, file_id: str) -> Upload:
        upload = self.repo.get(file_id)
        assert upload is not None
        return upload

    def status(self, upload: Upload) -> UploadStatus | None:
        found = self.repo.get(upload.id)
        return None if found is None else found.status

    def held(self, upload: Upload) -> int:
        return sum(len(b) for b in self.store.parts.get(upload.upload_id, {}).values())


@pytest.fixture
def world(clock: FakeClock) -> World:
    return World(clock)


# -- expiry -----------------------------------------------------------------------------


def test_gc_aborts_an_expired_upload_and_frees_its_parts(world: World) -> None:
    upload = world.start(parts=2)
    world.clock.advance(EXPIRES_IN)

    report = world.gc.collect()

    assert world.status(upload) is ABORTED
    assert world.held(upload) == 0
    assert (report.expired, report.expired_bytes, report.errors) == (1, 8, 0)


def test_each_run_adds_what_it_did_to_the_totals_a_dry_run_nothing(world: World) -> None:
    totals: list[dict[str, int]] = []
    world.gc.tally = lambda counts: totals.append(dict(counts))
    world.start(parts=1)
    world.start(parts=1)
    world.clock.advance(EXPIRES_IN)

    world.gc.collect(dry_run=True)
    world.gc.collect()

    [counts] = totals
    assert counts["upload_expired"] == 2
    assert counts["error"] == 0


def test_a_run_whose_totals_cannot_be_written_still_did_its_work(world: World) -> None:
    def unwritable(counts: object) -> None:
        raise StorageUnavailable("the database is unavailable")

    world.gc.tally = unwritable
    upload = world.start(parts=1)
    world.clock.advance(EXPIRES_IN)

    report = world.gc.collect()

    assert report.expired == 1
    assert world.status(upload) is ABORTED


def test_gc_leaves_an_upload_that_is_not_yet_expired(world: World) -> None:
    upload = world.start(parts=1)
    world.clock.advance(EXPIRES_IN - timedelta(seconds=1))

    report = world.gc.collect()

    assert world.status(upload) is UPLOADING
    assert world.held(upload) == 4
    assert report.expired == 0


def test_receiving_a_part_moves_the_expiry_gc_goes_by(world: World) -> None:
    upload = world.start()
    world.clock.advance(EXPIRES_IN - timedelta(hours=1))
    world.send(upload, 1)
    world.clock.advance(timedelta(hours=2))

    world.gc.collect()

    assert world.status(upload) is UPLOADING


def test_gc_never_touches_completed_files(world: World) -> None:
    upload = world.start(parts=3)
    done = world.uploads.complete(ALICE, upload.id, world.refs(upload))
    world.clock.advance(timedelta(days=365))

    report = world.gc.collect()

    assert world.get(upload.id) == done
    assert world.store.objects[done.storage_key] == DATA
    assert (report.expired, report.purged) == (0, 0)


def test_gc_aborts_an_upload_stuck_pending_since_a_crash(world: World) -> None:
    upload = world.start()
    # As if the process died between preparing storage and recording it.
    world.repo._uploads[upload.id] = replace(upload, status=PENDING, upload_id="")
    world.clock.advance(EXPIRES_IN)

    report = world.gc.collect()

    assert world.status(upload) is ABORTED
    assert report.expired == 1


def test_gc_works_through_many_expired_uploads_in_batches(clock: FakeClock) -> None:
    world = World(clock, batch_size=3)
    uploads = [world.start(parts=1) for _ in range(10)]
    world.clock.advance(EXPIRES_IN)

    report = world.gc.collect()

    assert {world.status(u) for u in uploads} == {ABORTED}
    assert (report.expired, report.expired_bytes) == (10, 40)


# -- purging --------------------------------------------------------------------------------


def test_gc_purges_aborted_and_failed_records_older_than_purge_after(world: World) -> None:
    old_abort, old_fail = world.start(), world.start(parts=3)
    world.uploads.abort(ALICE, old_abort.id)
    assert world.repo.set_status(old_fail.id, UPLOADING, FAILED, world.clock.now())
    world.clock.advance(timedelta(days=7))
    recent = world.start()
    world.uploads.abort(ALICE, recent.id)

    report = world.gc.collect()

    assert (world.status(old_abort), world.status(old_fail)) == (None, None)
    assert list(world.repo.parts(old_fail.id)) == []
    assert world.status(recent) is ABORTED
    assert report.purged == 2


def test_an_expired_upload_is_purged_only_a_purge_period_after_gc_aborted_it(
    world: World,
) -> None:
    upload = world.start()
    world.clock.advance(timedelta(days=30))
    world.gc.collect()

    assert world.status(upload) is ABORTED
    world.clock.advance(timedelta(days=7))
    assert world.gc.collect().purged == 1
    assert world.status(upload) is None


# -- dry run ----------------------------------------------------------------------------------


def test_a_dry_run_changes_nothing_and_reports_what_a_real_run_then_does(world: World) -> None:
    expired, fresh_later = world.start(parts=2), None
    old = world.start()
    world.uploads.abort(ALICE, old.id)
    world.clock.advance(timedelta(days=8))
    fresh_later = world.start(parts=1)
    before = {u.id: world.get(u.id) for u in (expired, old, fresh_later)}

    dry = world.gc.collect(dry_run=True)

    assert {i: world.get(i) for i in before} == before
    assert world.held(expired) == 8
    real = world.gc.collect()
    assert (dry.expired, dry.expired_bytes, dry.purged) == (1, 8, 1)
    assert (real.expired, real.expired_bytes, real.purged) == (1, 8, 1)
    assert dry.dry_run
    assert not real.dry_run


# -- races -------------------------------------------------------------------------------------


class RevivingRepository(InMemoryRepository):
    """Between gc's read of expired uploads and its abort, a part arrives for each."""

    def __init__(self, revive: Callable[[str], None]) -> None:
        super().__init__()
        self.revive = revive

    def abort_expired(self, file_ids: Collection[str], now: datetime) -> set[str]:
        for file_id in file_ids:
            self.revive(file_id)
        return super().abort_expired(file_ids, now)


def test_an_upload_that_receives_a_part_while_gc_runs_is_left_alone(clock: FakeClock) -> None:
    def revive(file_id: str) -> None:
        part = ReceivedPart(3, hashlib.md5(b"ij", usedforsecurity=False).hexdigest(), 2)
        assert repo.record_part(file_id, part, clock.now() + EXPIRES_IN, clock.now())

    repo = RevivingRepository(revive)
    world = World(clock, repo=repo)
    upload = world.start(parts=1)
    clock.advance(EXPIRES_IN)

    report = world.gc.collect()

    assert world.status(upload) is UPLOADING
    assert world.held(upload) == 4
    assert (report.expired, report.skipped) == (0, 1)


class PausingStore(InMemoryBlobStore):
    """`assemble` waits, once, until told to go on: a completion caught mid-way."""

    def __init__(self) -> None:
        super().__init__()
        self.assembling = threading.Event()
        self.go_on = threading.Event()

    def assemble(self, upload: Upload, parts: Sequence[ReceivedPart]) -> None:
        self.assembling.set()
        assert self.go_on.wait(timeout=30)  # a safety net against a hang, not a timer
        super().assemble(upload, parts)


def test_gc_racing_a_completion_leaves_the_file_completed_and_whole(clock: FakeClock) -> None:
    world = World(clock, store=PausingStore())
    store = world.store
    assert isinstance(store, PausingStore)
    upload = world.start(parts=3)
    clock.advance(EXPIRES_IN - timedelta(seconds=1))  # about to expire
    completion: list[Upload] = []
    completing = threading.Thread(
        target=lambda: completion.append(
            world.uploads.complete(ALICE, upload.id, world.refs(upload))
        )
    )
    completing.start()
    assert store.assembling.wait(timeout=30)

    clock.advance(timedelta(seconds=2))  # past the expiry the upload had when it was read
    report = world.gc.collect()
    store.go_on.set()
    completing.join(timeout=30)

    assert report.expired == 0
    assert completion[0].status is COMPLETED
    assert world.status(upload) is COMPLETED
    assert store.objects[upload.storage_key] == DATA


def test_two_gc_runs_at_once_abort_each_expired_upload_once(world: World) -> None:
    uploads = [world.start(parts=1) for _ in range(20)]
    world.clock.advance(EXPIRES_IN)
    barrier = threading.Barrier(2, timeout=30)
    reports = []

    def run() -> None:
        barrier.wait()
        reports.append(world.gc.collect())

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert {world.status(u) for u in uploads} == {ABORTED}
    assert sum(r.expired for r in reports) == 20
    assert sum(r.expired_bytes for r in reports) == 80


def test_storage_that_cannot_be_freed_is_counted_and_the_run_goes_on(clock: FakeClock) -> None:
    world = World(clock, store=BrokenAbort())
    first, second = world.start(parts=1), world.start(parts=1)
    clock.advance(EXPIRES_IN)

    report = world.gc.collect()

    assert (world.status(first), world.status(second)) == (ABORTED, ABORTED)
    assert (report.expired, report.errors) == (2, 2)


# -- deletions cut short ------------------------------------------------------------------------


class FlakyStore(InMemoryBlobStore):
    """A store that, while `broken`, can neither free parts nor delete files."""

    broken = False

    def abort(self, upload: Upload) -> None:
        if self.broken:
            raise StorageUnavailable("the store is down")
        super().abort(upload)

    def delete(self, upload: Upload) -> None:
        if self.broken:
            raise StorageUnavailable("the store is down")
        super().delete(upload)


def test_gc_finishes_deletions_cut_short_once_old_enough_and_a_dry_run_changes_nothing(
    clock: FakeClock,
) -> None:
    store = FlakyStore()
    world = World(clock, store=store)
    files = world.uploads
    started = world.start(parts=3)
    done = world.uploads.complete(ALICE, started.id, world.refs(started))
    partial = world.start(parts=2)
    store.broken = True
    for file_id in (done.id, partial.id):
        with pytest.raises(StorageUnavailable):
            files.delete_file(ALICE, file_id)
    store.broken = False
    # Interrupted: both records marked deleted, their bytes still stored.
    assert all(world.get(i).deleted == clock.now() for i in (done.id, partial.id))
    assert store.objects[done.storage_key] == DATA
    assert world.held(partial) == 8

    clock.advance(GC_POLICY.leftover_age - timedelta(seconds=1))
    running = world.gc.collect()  # a deletion this recent may still be running

    assert (running.deletions, running.deletion_bytes, running.skipped) == (0, 0, 0)
    assert store.objects[done.storage_key] == DATA
    assert world.held(partial) == 8
    clock.advance(timedelta(seconds=1))
    before = {i: world.get(i) for i in (done.id, partial.id)}

    dry = world.gc.collect(dry_run=True)

    assert {i: world.get(i) for i in before} == before
    assert store.objects[done.storage_key] == DATA
    assert world.held(partial) == 8
    real = world.gc.collect()
    for report in (dry, real):
        assert (report.deletions, report.deletion_bytes) == (2, len(DATA) + 8)
        assert (report.purged, report.skipped, report.errors) == (0, 0, 0)
        assert report.bytes_freed == len(DATA) + 8
    assert (world.repo.get(done.id), world.repo.get(partial.id)) == (None, None)
    assert done.storage_key not in store.objects
    assert world.held(partial) == 0
    assert world.gc.collect().deletions == 0


def test_gc_finishes_deletions_in_keyset_batches(clock: FakeClock) -> None:
    world = World(clock, batch_size=2)
    files = world.uploads
    uploads = [world.start(parts=1) for _ in range(5)]
    for upload in uploads:
        world.uploads.abort(ALICE, upload.id)
        assert world.repo.mark_deleted(upload.id, clock.now())  # then the process died
    kept = world.start(parts=1)
    clock.advance(GC_POLICY.leftover_age)
    files.delete_file(ALICE, kept.id)  # a deletion now, which runs to its end

    report = world.gc.collect()

    assert (report.deletions, report.errors) == (5, 0)
    assert all(world.repo.get(u.id) is None for u in uploads)


def test_a_deletion_gc_cannot_finish_now_is_counted_and_kept_for_the_next_run(
    clock: FakeClock,
) -> None:
    store = FlakyStore()
    world = World(clock, store=store)
    upload = world.start(parts=1)
    store.broken = True
    with pytest.raises(StorageUnavailable):
        world.uploads.delete_file(ALICE, upload.id)
    clock.advance(GC_POLICY.leftover_age)

    failed = world.gc.collect()

    assert (failed.deletions, failed.errors) == (0, 1)
    assert world.get(upload.id).deleted is not None
    store.broken = False
    assert world.gc.collect().deletions == 1
    assert world.repo.get(upload.id) is None


# -- the forced abort ---------------------------------------------------------------------------


def test_abort_aborts_anyone_s_upload_in_progress_and_reports_the_bytes_freed(
    world: World,
) -> None:
    upload = world.start(parts=2)

    aborted = world.uploads.force_abort(upload.id)

    assert aborted.upload.status is ABORTED
    assert aborted.bytes_freed == 8
    assert world.held(upload) == 0


@pytest.mark.parametrize("status", [COMPLETED, FAILED, ABORTED])
def test_abort_refuses_an_upload_that_is_not_in_progress(
    world: World, status: UploadStatus
) -> None:
    upload = world.start(parts=3)
    if status is COMPLETED:
        world.uploads.complete(ALICE, upload.id, world.refs(upload))
    else:
        assert world.repo.set_status(upload.id, UPLOADING, status, world.clock.now())

    with pytest.raises(InvalidState, match=f"is {status.value}, not in progress"):
        world.uploads.force_abort(upload.id)


def test_abort_of_an_unknown_id_is_not_found(world: World) -> None:
    with pytest.raises(UploadNotFound, match="no-such-id"):
        world.uploads.force_abort("no-such-id")


def test_abort_whose_storage_cannot_be_freed_still_aborts_and_says_gc_will(
    clock: FakeClock,
) -> None:
    world = World(clock, store=BrokenAbort())
    upload = world.start(parts=1)

    with pytest.raises(StorageUnavailable, match="gc"):
        world.uploads.force_abort(upload.id)

    assert world.status(upload) is ABORTED
