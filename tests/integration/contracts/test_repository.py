"""The UploadRepository and UserRepository contract, held against every adapter.

The same tests run on the in-memory repository, on SQLite (WAL, busy timeout)
and on PostgreSQL (skipped with a reason when no server is configured).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Protocol, TypeVar

import pytest
from sqlalchemy import Engine

from uploadcore.adapters.memory import FakeClock, InMemoryRepository
from uploadcore.adapters.sql import SqlAlchemyRepository
from uploadcore.domain.errors import AlreadyExists, InvalidState
from uploadcore.domain.listing import FileFilter, ListPosition
from uploadcore.domain.metadata import MetadataUpdate
from uploadcore.domain.parts import GiB, PartPlan, ReceivedPart
from uploadcore.domain.upload import TERMINAL, Principal, Upload, UploadStatus
from uploadcore.ports.repository import UploadRepository, UploadTokenRepository, UserRepository

T = TypeVar("T")

OWNER = "alice"
THREADS = 8
RACE_ROUNDS = 10
#: A bound that only a broken adapter reaches: recorders stop when the abort wins.
MAX_RECORDS_PER_THREAD = 100_000

PENDING = UploadStatus.PENDING
UPLOADING = UploadStatus.UPLOADING
COMPLETED = UploadStatus.COMPLETED
FAILED = UploadStatus.FAILED
ABORTED = UploadStatus.ABORTED


class Repository(UploadRepository, UserRepository, UploadTokenRepository, Protocol):
    """The repository ports: what every adapter under test implements."""


@pytest.fixture(
    params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def repo(request: pytest.FixtureRequest, clock: FakeClock) -> Repository:
    """An empty repository that knows one user, OWNER, who owns the test uploads."""
    adapter: Repository
    if request.param == "memory":
        adapter = InMemoryRepository()
    else:
        engine: Engine = request.getfixturevalue(f"{request.param}_engine")
        adapter = SqlAlchemyRepository(engine)
    adapter.add_user(OWNER, key_hash(OWNER), False, clock.now())
    return adapter


# -- helpers ------------------------------------------------------------------


def key_hash(name: str) -> str:
    return hashlib.sha256(f"key of {name}".encode()).hexdigest()


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def part(number: int, data: bytes = b"part") -> ReceivedPart:
    return ReceivedPart(number, md5(data + str(number).encode()), len(data))


def new_upload(
    clock: FakeClock,
    file_id: str = "file-1",
    plan: PartPlan | None = None,
    parent: tuple[str, str] | None = None,
) -> Upload:
    """A pending upload created now, as the service would add it."""
    now = clock.now()
    return Upload(
        id=file_id,
        upload_id="",
        storage_key="",
        owner=OWNER,
        file_name="holiday video.mp4",
        file_content_type="video/mp4",
        plan=plan or PartPlan(10 * GiB, 2, 5 * GiB),
        status=PENDING,
        created=now,
        modified=now,
        expires_at=now + timedelta(days=1),
        parent_content_type=parent[0] if parent else None,
        parent_object_id=parent[1] if parent else None,
    )


def add_uploading(repo: Repository, clock: FakeClock, file_id: str = "file-1") -> Upload:
    """Add an upload and move it to `uploading`; returns it as stored."""
    repo.add(new_upload(clock, file_id))
    assert repo.mark_uploading(file_id, f"up-{file_id}", f"files/{file_id}", clock.now())
    return stored(repo, file_id)


def stored(repo: Repository, file_id: str) -> Upload:
    upload = repo.get(file_id)
    assert upload is not None, f"upload {file_id} is not stored"
    return upload


def race(count: int, work: Callable[[int], T]) -> list[T]:
    """Run `work(i)` for i in range(count) in threads released together; results in order."""
    barrier = threading.Barrier(count, timeout=60)  # a safety net against a hang, not a timer

    def run(i: int) -> T:
        barrier.wait()
        return work(i)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


# -- add / get ----------------------------------------------------------------


def test_an_added_upload_comes_back_equal_with_utc_datetimes(
    repo: Repository, clock: FakeClock
) -> None:
    clock.current = datetime(2026, 3, 29, 1, 59, 58, 123456, tzinfo=UTC)
    upload = new_upload(clock, parent=("blog.post", "42"))
    repo.add(upload)

    back = stored(repo, upload.id)

    assert back == upload
    for moment in (back.created, back.modified, back.expires_at):
        assert moment.utcoffset() == timedelta(0)
    assert back.created.microsecond == 123456


def test_a_file_size_far_above_2_gib_round_trips(repo: Repository, clock: FakeClock) -> None:
    huge = PartPlan(5 * 2**40, 1024, 5 * GiB)
    repo.add(new_upload(clock, plan=huge))
    repo.mark_uploading("file-1", "up-1", "files/fi/file-1", clock.now())
    big_part = ReceivedPart(1, md5(b"first"), 5 * GiB)

    assert repo.record_part("file-1", big_part, clock.now(), clock.now())

    assert stored(repo, "file-1").plan == huge
    assert stored(repo, "file-1").file_size == 5_497_558_138_880
    assert repo.parts("file-1") == [big_part]


def test_get_returns_none_for_an_id_never_added(repo: Repository) -> None:
    assert repo.get("no-such-file") is None


def test_a_new_upload_has_no_parts_and_an_unknown_one_none_either(
    repo: Repository, clock: FakeClock
) -> None:
    repo.add(new_upload(clock))

    assert list(repo.parts("file-1")) == []
    assert list(repo.parts("no-such-file")) == []


# -- mark_uploading -------------------------------------------------------------


def test_mark_uploading_moves_a_pending_upload_and_stores_where_its_storage_lives(
    repo: Repository, clock: FakeClock
) -> None:
    repo.add(new_upload(clock))
    clock.advance(5)

    assert repo.mark_uploading("file-1", "upload-abc", "files/fi/file-1", clock.now())

    upload = stored(repo, "file-1")
    assert upload.status is UPLOADING
    assert (upload.upload_id, upload.storage_key) == ("upload-abc", "files/fi/file-1")
    assert upload.modified == clock.now()


def test_mark_uploading_changes_nothing_once_the_upload_is_no_longer_pending(
    repo: Repository, clock: FakeClock
) -> None:
    before = add_uploading(repo, clock)
    clock.advance(5)

    assert not repo.mark_uploading("file-1", "another", "files/an/another", clock.now())

    assert stored(repo, "file-1") == before


def test_mark_uploading_refuses_an_upload_aborted_while_pending(
    repo: Repository, clock: FakeClock
) -> None:
    repo.add(new_upload(clock))
    assert repo.set_status("file-1", PENDING, ABORTED, clock.now())

    assert not repo.mark_uploading("file-1", "upload-abc", "files/fi/file-1", clock.now())

    upload = stored(repo, "file-1")
    assert (upload.status, upload.upload_id) == (ABORTED, "")


def test_mark_uploading_returns_false_for_an_unknown_upload(
    repo: Repository, clock: FakeClock
) -> None:
    assert not repo.mark_uploading("no-such-file", "u", "files/no/no-such-file", clock.now())


# -- set_status -----------------------------------------------------------------


def test_set_status_changes_the_status_and_modified_when_expected_is_current(
    repo: Repository, clock: FakeClock
) -> None:
    add_uploading(repo, clock)
    clock.advance(60)

    assert repo.set_status("file-1", UPLOADING, FAILED, clock.now())

    upload = stored(repo, "file-1")
    assert (upload.status, upload.modified, upload.etag) == (FAILED, clock.now(), None)


def test_set_status_stores_the_final_etag(repo: Repository, clock: FakeClock) -> None:
    add_uploading(repo, clock)

    assert repo.set_status("file-1", UPLOADING, COMPLETED, clock.now(), etag="0123abcd-2")

    assert stored(repo, "file-1").etag == "0123abcd-2"


def test_set_status_returns_false_and_changes_nothing_when_expected_is_stale(
    repo: Repository, clock: FakeClock
) -> None:
    before = add_uploading(repo, clock)
    clock.advance(60)

    assert not repo.set_status("file-1", PENDING, ABORTED, clock.now())

    assert stored(repo, "file-1") == before


def test_set_status_returns_false_for_an_unknown_upload(repo: Repository, clock: FakeClock) -> None:
    assert not repo.set_status("no-such-file", UPLOADING, ABORTED, clock.now())
    assert repo.get("no-such-file") is None


@pytest.mark.parametrize("terminal", sorted(TERMINAL))
@pytest.mark.parametrize("target", list(UploadStatus))
def test_a_terminal_state_is_never_left(
    repo: Repository, clock: FakeClock, terminal: UploadStatus, target: UploadStatus
) -> None:
    add_uploading(repo, clock)
    assert repo.set_status("file-1", UPLOADING, terminal, clock.now(), etag="e-1")
    before = stored(repo, "file-1")
    clock.advance(60)

    with pytest.raises(InvalidState):
        repo.set_status("file-1", terminal, target, clock.now(), etag="e-2")

    assert stored(repo, "file-1") == before


def test_set_status_refuses_a_transition_the_state_machine_forbids(
    repo: Repository, clock: FakeClock
) -> None:
    before = new_upload(clock)
    repo.add(before)

    with pytest.raises(InvalidState):
        repo.set_status("file-1", PENDING, COMPLETED, clock.now(), etag="e-1")

    assert stored(repo, "file-1") == before


def test_set_status_refuses_a_forbidden_transition_even_when_expected_is_stale(
    repo: Repository, clock: FakeClock
) -> None:
    before = add_uploading(repo, clock)

    with pytest.raises(InvalidState):
        repo.set_status("file-1", COMPLETED, ABORTED, clock.now())

    assert stored(repo, "file-1") == before


# -- record_part, parts, touch -------------------------------------------------


def test_record_part_stores_the_part_and_moves_the_expiry(
    repo: Repository, clock: FakeClock
) -> None:
    add_uploading(repo, clock)
    clock.advance(3600)
    expires_at = clock.now() + timedelta(hours=24)

    assert repo.record_part("file-1", part(1), expires_at, clock.now())

    upload = stored(repo, "file-1")
    assert (upload.expires_at, upload.modified) == (expires_at, clock.now())
    assert repo.parts("file-1") == [part(1)]


@pytest.mark.parametrize("status", [PENDING, COMPLETED, FAILED, ABORTED])
def test_record_part_stores_nothing_unless_the_upload_is_uploading(
    repo: Repository, clock: FakeClock, status: UploadStatus
) -> None:
    repo.add(new_upload(clock))
    if status is not PENDING:
        repo.mark_uploading("file-1", "up-1", "files/fi/file-1", clock.now())
        repo.set_status("file-1", UPLOADING, status, clock.now())
    before = stored(repo, "file-1")
    clock.advance(60)

    assert not repo.record_part("file-1", part(1), clock.now() + timedelta(days=1), clock.now())

    assert list(repo.parts("file-1")) == []
    assert stored(repo, "file-1") == before


def test_record_part_returns_false_for_an_unknown_upload(
    repo: Repository, clock: FakeClock
) -> None:
    assert not repo.record_part("no-such-file", part(1), clock.now(), clock.now())
    assert list(repo.parts("no-such-file")) == []


def test_record_part_replaces_an_earlier_part_with_the_same_number(
    repo: Repository, clock: FakeClock
) -> None:
    add_uploading(repo, clock)
    first, second = part(1, b"old bytes"), part(1, b"new, longer bytes")

    assert repo.record_part("file-1", first, clock.now(), clock.now())
    assert repo.record_part("file-1", second, clock.now(), clock.now())

    assert repo.parts("file-1") == [second]


def test_parts_come_back_in_part_number_order(repo: Repository, clock: FakeClock) -> None:
    add_uploading(repo, clock)
    for number in (10, 2, 1, 9, 3):
        assert repo.record_part("file-1", part(number), clock.now(), clock.now())

    assert [p.part_number for p in repo.parts("file-1")] == [1, 2, 3, 9, 10]


def test_parts_of_one_upload_never_show_up_in_another(repo: Repository, clock: FakeClock) -> None:
    add_uploading(repo, clock, "file-1")
    add_uploading(repo, clock, "file-2")

    repo.record_part("file-1", part(1, b"one"), clock.now(), clock.now())
    repo.record_part("file-2", part(2, b"two"), clock.now(), clock.now())

    assert repo.parts("file-1") == [part(1, b"one")]
    assert repo.parts("file-2") == [part(2, b"two")]


def test_touch_moves_the_expiry_of_an_uploading_upload(repo: Repository, clock: FakeClock) -> None:
    add_uploading(repo, clock)
    clock.advance(600)
    expires_at = clock.now() + timedelta(hours=24)

    assert repo.touch("file-1", expires_at, clock.now())

    upload = stored(repo, "file-1")
    assert (upload.expires_at, upload.modified, upload.status) == (
        expires_at,
        clock.now(),
        UPLOADING,
    )


@pytest.mark.parametrize("status", [PENDING, COMPLETED, ABORTED])
def test_touch_changes_nothing_unless_the_upload_is_uploading(
    repo: Repository, clock: FakeClock, status: UploadStatus
) -> None:
    repo.add(new_upload(clock))
    if status is not PENDING:
        repo.mark_uploading("file-1", "up-1", "files/fi/file-1", clock.now())
        repo.set_status("file-1", UPLOADING, status, clock.now())
    before = stored(repo, "file-1")
    clock.advance(600)

    assert not repo.touch("file-1", clock.now() + timedelta(days=1), clock.now())
    assert not repo.touch("no-such-file", clock.now() + timedelta(days=1), clock.now())

    assert stored(repo, "file-1") == before


# -- users --------------------------------------------------------------------


def test_principal_for_key_finds_the_user_the_key_belongs_to(
    repo: Repository, clock: FakeClock
) -> None:
    repo.add_user("root", key_hash("root"), True, clock.now())

    assert repo.principal_for_key(key_hash("root")) == Principal("root", is_admin=True)
    assert repo.principal_for_key(key_hash(OWNER)) == Principal(OWNER, is_admin=False)


def test_principal_for_key_returns_none_for_a_key_nobody_has(repo: Repository) -> None:
    assert repo.principal_for_key(key_hash("nobody")) is None


def test_add_user_with_a_name_that_is_taken_raises_already_exists(
    repo: Repository, clock: FakeClock
) -> None:
    with pytest.raises(AlreadyExists):
        repo.add_user(OWNER, key_hash("impostor"), True, clock.now())

    assert repo.principal_for_key(key_hash("impostor")) is None
    assert repo.principal_for_key(key_hash(OWNER)) == Principal(OWNER, is_admin=False)


# -- races --------------------------------------------------------------------


def test_exactly_one_of_racing_completions_and_aborts_wins(
    repo: Repository, clock: FakeClock
) -> None:
    targets = [COMPLETED if i % 2 else ABORTED for i in range(THREADS)]

    def finish(file_id: str, i: int) -> bool:
        etag = f"etag-{i}" if targets[i] is COMPLETED else None
        return repo.set_status(file_id, UPLOADING, targets[i], clock.now(), etag=etag)

    for round_ in range(RACE_ROUNDS):
        file_id = f"race-{round_}"
        add_uploading(repo, clock, file_id)

        won = race(THREADS, partial(finish, file_id))

        assert won.count(True) == 1, f"round {round_}: {won}"
        winner = won.index(True)
        upload = stored(repo, file_id)
        assert upload.status is targets[winner]
        assert upload.etag == (f"etag-{winner}" if targets[winner] is COMPLETED else None)


def test_exactly_one_of_racing_mark_uploading_calls_wins(
    repo: Repository, clock: FakeClock
) -> None:
    repo.add(new_upload(clock))

    won = race(
        THREADS,
        lambda i: repo.mark_uploading("file-1", f"up-{i}", f"files/fi/{i}", clock.now()),
    )

    assert won.count(True) == 1
    assert stored(repo, "file-1").upload_id == f"up-{won.index(True)}"


def test_racing_uploads_of_the_same_part_leave_one_part(repo: Repository, clock: FakeClock) -> None:
    add_uploading(repo, clock)
    versions = [part(1, f"version {i}".encode()) for i in range(THREADS)]

    won = race(THREADS, lambda i: repo.record_part("file-1", versions[i], clock.now(), clock.now()))

    assert all(won)
    parts = list(repo.parts("file-1"))
    assert len(parts) == 1
    assert parts[0] in versions


def test_no_part_is_recorded_after_a_racing_abort_wins(repo: Repository, clock: FakeClock) -> None:
    add_uploading(repo, clock)
    recorders = THREADS - 1
    enough = threading.Event()
    lock = threading.Lock()
    recorded: list[list[ReceivedPart]] = [[] for _ in range(recorders)]
    after_abort: list[ReceivedPart] = []

    def record(i: int) -> bool:
        """Record parts until one is refused; then every later one must be refused too."""
        for j in range(1, MAX_RECORDS_PER_THREAD):
            received = part(i * MAX_RECORDS_PER_THREAD + j)
            if not repo.record_part("file-1", received, clock.now(), clock.now()):
                return not repo.record_part("file-1", part(0), clock.now(), clock.now())
            with lock:
                recorded[i].append(received)
                if sum(map(len, recorded)) >= 2 * recorders:
                    enough.set()
        return False  # never refused: the abort never won

    def abort() -> bool:
        enough.wait(timeout=60)  # a safety net against a hang, not a timer
        won = repo.set_status("file-1", UPLOADING, ABORTED, clock.now())
        after_abort.extend(repo.parts("file-1"))
        return won

    results = race(THREADS, lambda i: abort() if i == recorders else record(i))

    assert all(results), results
    assert stored(repo, "file-1").status is ABORTED
    final = list(repo.parts("file-1"))
    assert final == after_abort, "a part was recorded after the abort won"
    assert sorted(final, key=lambda p: p.part_number) == final
    assert {p.part_number for p in final} == {p.part_number for r in recorded for p in r}


# -- files as a resource: list_files ------------------------------------------


def add_file(
    repo: Repository,
    clock: FakeClock,
    file_id: str,
    *,
    owner: str = OWNER,
    status: UploadStatus = COMPLETED,
    parent: tuple[str, str] | None = None,
    content_type: str = "video/mp4",
) -> Upload:
    """An upload created now, moved to `status`; returns it as stored."""
    upload = replace(new_upload(clock, file_id, parent=parent), owner=owner)
    repo.add(replace(upload, file_content_type=content_type))
    if status is not PENDING:
        assert repo.mark_uploading(file_id, f"up-{file_id}", f"files/{file_id}", clock.now())
    if status.is_terminal:
        assert repo.set_status(file_id, UPLOADING, status, clock.now(), etag="e-1")
    return stored(repo, file_id)


def ids(uploads: Sequence[Upload]) -> list[str]:
    return [u.id for u in uploads]


EVERYTHING = FileFilter(status=None)


def test_list_files_is_newest_first_with_ties_broken_by_id_descending(
    repo: Repository, clock: FakeClock
) -> None:
    for file_id in ("b", "a", "c"):
        add_file(repo, clock, file_id)
    clock.advance(1)
    add_file(repo, clock, "newest")

    assert ids(repo.list_files(EVERYTHING, None, 10)) == ["newest", "c", "b", "a"]


def test_list_files_returns_at_most_limit_uploads(repo: Repository, clock: FakeClock) -> None:
    for n in range(5):
        add_file(repo, clock, f"f{n}")
        clock.advance(1)

    assert ids(repo.list_files(EVERYTHING, None, 2)) == ["f4", "f3"]


def test_list_files_after_a_position_starts_strictly_after_it(
    repo: Repository, clock: FakeClock
) -> None:
    uploads = []
    for n in range(5):
        uploads.append(add_file(repo, clock, f"f{n}"))
        clock.advance(1)
    add_file(repo, clock, "f2b")  # shares nothing with f2 but its owner

    after = ListPosition.of(uploads[2])

    assert ids(repo.list_files(EVERYTHING, after, 10)) == ["f1", "f0"]


def test_list_files_after_a_position_between_two_uploads_with_the_same_time(
    repo: Repository, clock: FakeClock
) -> None:
    for file_id in ("a", "b", "c", "d"):
        add_file(repo, clock, file_id)

    page = repo.list_files(EVERYTHING, ListPosition(clock.now(), "bb"), 10)

    assert ids(page) == ["b", "a"]


def test_list_files_filters_by_owner_status_parent_and_content_type(
    repo: Repository, clock: FakeClock
) -> None:
    add_file(repo, clock, "mine")
    add_file(repo, clock, "theirs", owner="bob")
    add_file(repo, clock, "running", status=UPLOADING)
    add_file(repo, clock, "attached", parent=("blog.post", "42"))
    add_file(repo, clock, "other-post", parent=("blog.post", "43"))
    add_file(repo, clock, "picture", content_type="image/png")

    def listed(where: FileFilter) -> set[str]:
        return set(ids(repo.list_files(where, None, 100)))

    assert listed(FileFilter(owner="bob")) == {"theirs"}
    assert listed(FileFilter(owner=OWNER)) == {"mine", "attached", "other-post", "picture"}
    assert listed(FileFilter(owner=OWNER, status=UPLOADING)) == {"running"}
    assert listed(FileFilter(owner=OWNER, status=None)) == listed(FileFilter()) - {"theirs"} | {
        "running"
    }
    assert listed(FileFilter(parent=("blog.post", "42"))) == {"attached"}
    assert listed(FileFilter(file_content_type="image/png")) == {"picture"}
    assert listed(FileFilter(owner="nobody", status=None)) == set()


def test_walking_pages_visits_every_upload_once_while_more_arrive(
    repo: Repository, clock: FakeClock
) -> None:
    for n in range(23):
        add_file(repo, clock, f"old-{n:02d}")
        if n % 3:
            clock.advance(0.001)
    seen: list[str] = []
    after: ListPosition | None = None
    while True:
        page = repo.list_files(EVERYTHING, after, 5)
        seen += ids(page)
        clock.advance(1)
        add_file(repo, clock, f"new-{len(seen)}")  # newer than anything listed: never shown
        if len(page) < 5:
            break
        after = ListPosition.of(page[-1])

    assert sorted(seen) == sorted(f"old-{n:02d}" for n in range(23))
    assert len(seen) == len(set(seen))


# -- update_metadata ------------------------------------------------------------


def test_update_metadata_sets_only_the_named_fields_and_moves_modified(
    repo: Repository, clock: FakeClock
) -> None:
    before = add_file(repo, clock, "file-1", parent=("blog.post", "42"))
    clock.advance(60)

    assert repo.update_metadata(
        "file-1", MetadataUpdate.checked({"file_name": "renamed.mp4"}), clock.now()
    )

    after = stored(repo, "file-1")
    assert after == replace(before, file_name="renamed.mp4", modified=clock.now())


def test_update_metadata_can_clear_the_parent(repo: Repository, clock: FakeClock) -> None:
    add_file(repo, clock, "file-1", parent=("blog.post", "42"))
    update = MetadataUpdate.checked({"parent_content_type": None, "parent_object_id": None})

    assert repo.update_metadata("file-1", update, clock.now())

    upload = stored(repo, "file-1")
    assert (upload.parent_content_type, upload.parent_object_id) == (None, None)


def test_an_empty_metadata_update_changes_nothing(repo: Repository, clock: FakeClock) -> None:
    before = add_file(repo, clock, "file-1")
    clock.advance(60)

    assert repo.update_metadata("file-1", MetadataUpdate(), clock.now())

    assert stored(repo, "file-1") == before


def test_update_metadata_refuses_a_missing_or_deleted_upload(
    repo: Repository, clock: FakeClock
) -> None:
    add_file(repo, clock, "file-1")
    repo.mark_deleted("file-1", clock.now())
    update = MetadataUpdate.checked({"file_name": "x.bin"})

    assert not repo.update_metadata("file-1", update, clock.now())
    assert not repo.update_metadata("no-such-file", update, clock.now())
    assert stored(repo, "file-1").file_name == "holiday video.mp4"


# -- mark_deleted and remove --------------------------------------------------------


@pytest.mark.parametrize("status", sorted(TERMINAL))
def test_a_deleted_upload_is_still_got_but_never_listed(
    repo: Repository, clock: FakeClock, status: UploadStatus
) -> None:
    add_file(repo, clock, "file-1", status=status)
    add_file(repo, clock, "file-2", status=status)
    clock.advance(5)

    assert repo.mark_deleted("file-1", clock.now())

    assert stored(repo, "file-1").deleted == clock.now()
    assert stored(repo, "file-2").deleted is None
    assert ids(repo.list_files(EVERYTHING, None, 10)) == ["file-2"]


def test_marking_a_deleted_upload_again_keeps_the_first_time(
    repo: Repository, clock: FakeClock
) -> None:
    add_file(repo, clock, "file-1")
    first = clock.now()
    assert repo.mark_deleted("file-1", first)
    clock.advance(60)

    assert repo.mark_deleted("file-1", clock.now())

    assert stored(repo, "file-1").deleted == first


@pytest.mark.parametrize("status", [PENDING, UPLOADING])
def test_an_upload_in_progress_cannot_be_marked_deleted(
    repo: Repository, clock: FakeClock, status: UploadStatus
) -> None:
    before = add_file(repo, clock, "file-1", status=status)

    assert not repo.mark_deleted("file-1", clock.now())
    assert not repo.mark_deleted("no-such-file", clock.now())

    assert stored(repo, "file-1") == before


def test_remove_deletes_a_marked_upload_and_its_parts(repo: Repository, clock: FakeClock) -> None:
    add_uploading(repo, clock, "file-1")
    repo.record_part("file-1", part(1), clock.now(), clock.now())
    repo.set_status("file-1", UPLOADING, ABORTED, clock.now())
    repo.mark_deleted("file-1", clock.now())

    assert repo.remove("file-1")

    assert repo.get("file-1") is None
    assert list(repo.parts("file-1")) == []
    assert not repo.remove("file-1")


def test_remove_refuses_an_upload_not_marked_deleted(repo: Repository, clock: FakeClock) -> None:
    before = add_file(repo, clock, "file-1")

    assert not repo.remove("file-1")
    assert not repo.remove("no-such-file")

    assert stored(repo, "file-1") == before
