"""The GcQueries contract and the user-admin methods of UserRepository, on every adapter.

Memory, SQLite and PostgreSQL (skipped with a reason when no server is
configured), like the rest of the repository contract.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import timedelta
from typing import Protocol

import pytest
from sqlalchemy import Engine, text

from uploadcore.adapters.memory import FakeClock, InMemoryRepository
from uploadcore.adapters.sql import SqlAlchemyRepository
from uploadcore.domain.errors import AlreadyExists
from uploadcore.domain.parts import PartPlan, ReceivedPart
from uploadcore.domain.upload import Principal, Upload, UploadStatus
from uploadcore.ports.gc import GcQueries, Keyset
from uploadcore.ports.repository import UploadRepository, UserAccount, UserRepository

PENDING, UPLOADING, COMPLETED, FAILED, ABORTED = UploadStatus
PURGEABLE = {ABORTED, FAILED}
DAY = timedelta(days=1)


class Repository(UploadRepository, UserRepository, GcQueries, Protocol):
    """Every repository port: what each adapter under test implements."""


@pytest.fixture(
    params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def repo(request: pytest.FixtureRequest) -> Repository:
    adapter: Repository
    if request.param == "memory":
        adapter = InMemoryRepository()
    else:
        engine: Engine = request.getfixturevalue(f"{request.param}_engine")
        adapter = SqlAlchemyRepository(engine)
    return adapter


# -- helpers ------------------------------------------------------------------------


def key_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def add(
    repo: Repository,
    clock: FakeClock,
    file_id: str,
    status: UploadStatus = UPLOADING,
    expires_in: timedelta = DAY,
) -> Upload:
    """An upload created now that expires `expires_in` from now, moved to `status`."""
    now = clock.now()
    repo.add(
        Upload(
            id=file_id,
            upload_id="",
            storage_key="",
            owner="alice",
            file_name="a.bin",
            file_content_type="application/octet-stream",
            plan=PartPlan(10, 1, 10),
            status=PENDING,
            created=now,
            modified=now,
            expires_at=now + expires_in,
        )
    )
    if status is not PENDING:
        assert repo.mark_uploading(file_id, f"up-{file_id}", f"files/{file_id}", now)
    if status.is_terminal:
        assert repo.set_status(file_id, UPLOADING, status, now)
    upload = repo.get(file_id)
    assert upload is not None
    return upload


def ids(uploads: Sequence[Upload]) -> list[str]:
    return [u.id for u in uploads]


def walk_expired(repo: Repository, status: UploadStatus, clock: FakeClock, limit: int) -> list[str]:
    found: list[str] = []
    after: Keyset | None = None
    while batch := repo.expired_uploads(status, clock.now(), after, limit):
        assert len(batch) <= limit
        found += ids(batch)
        after = (batch[-1].expires_at, batch[-1].id)
    return found


# -- expired_uploads --------------------------------------------------------------------


def test_expired_uploads_lists_only_uploads_in_the_status_past_their_expiry(
    repo: Repository, clock: FakeClock
) -> None:
    add(repo, clock, "expired-1", expires_in=-DAY)
    add(repo, clock, "due-now", expires_in=timedelta(0))
    add(repo, clock, "fresh", expires_in=DAY)
    add(repo, clock, "pending-expired", PENDING, expires_in=-DAY)
    add(repo, clock, "completed", COMPLETED, expires_in=-DAY)
    add(repo, clock, "aborted", ABORTED, expires_in=-DAY)

    uploading = repo.expired_uploads(UPLOADING, clock.now(), None, 100)
    pending = repo.expired_uploads(PENDING, clock.now(), None, 100)

    assert ids(uploading) == ["expired-1", "due-now"]
    assert ids(pending) == ["pending-expired"]
    assert all(u.status is UPLOADING for u in uploading)


def test_expired_uploads_walks_every_candidate_once_in_keyset_batches(
    repo: Repository, clock: FakeClock
) -> None:
    # Several share an expiry: the id breaks the tie, so no batch boundary loses one.
    for n in range(13):
        add(repo, clock, f"u{n:02d}", expires_in=-timedelta(seconds=n % 3))

    found = walk_expired(repo, UPLOADING, clock, limit=4)

    expected = sorted((f"u{n:02d}" for n in range(13)), key=lambda i: (-(int(i[1:]) % 3), i))
    assert found == expected


def test_expired_uploads_with_nothing_due_is_empty(repo: Repository, clock: FakeClock) -> None:
    add(repo, clock, "fresh")

    assert list(repo.expired_uploads(UPLOADING, clock.now(), None, 10)) == []


# -- abort_expired -----------------------------------------------------------------------


def test_abort_expired_aborts_expired_uploads_and_returns_their_ids(
    repo: Repository, clock: FakeClock
) -> None:
    add(repo, clock, "a", expires_in=-DAY)
    add(repo, clock, "b", PENDING, expires_in=-DAY)
    clock.advance(5)

    assert repo.abort_expired(["a", "b"], clock.now()) == {"a", "b"}

    for file_id in ("a", "b"):
        upload = repo.get(file_id)
        assert upload is not None
        assert (upload.status, upload.modified) == (ABORTED, clock.now())


def test_abort_expired_leaves_an_upload_whose_expiry_moved_since_it_was_read(
    repo: Repository, clock: FakeClock
) -> None:
    add(repo, clock, "revived", expires_in=-DAY)
    batch = repo.expired_uploads(UPLOADING, clock.now(), None, 10)
    # A part arrives between the read and the write: the upload is alive again.
    part = ReceivedPart(1, "0" * 32, 10)
    assert repo.record_part("revived", part, clock.now() + DAY, clock.now())

    assert repo.abort_expired(ids(batch), clock.now()) == set()

    revived = repo.get("revived")
    assert revived is not None
    assert revived.status is UPLOADING
    assert repo.parts("revived") == [part]


@pytest.mark.parametrize("status", [COMPLETED, FAILED, ABORTED])
def test_abort_expired_never_touches_an_ended_upload(
    repo: Repository, clock: FakeClock, status: UploadStatus
) -> None:
    before = add(repo, clock, "ended", status, expires_in=-DAY)
    clock.advance(5)

    assert repo.abort_expired(["ended"], clock.now()) == set()

    assert repo.get("ended") == before


def test_abort_expired_ignores_unknown_ids_and_an_empty_list(
    repo: Repository, clock: FakeClock
) -> None:
    assert repo.abort_expired(["no-such-upload"], clock.now()) == set()
    assert repo.abort_expired([], clock.now()) == set()


def test_of_two_racing_abort_expired_calls_each_upload_is_won_once(
    repo: Repository, clock: FakeClock
) -> None:
    for n in range(5):
        add(repo, clock, f"u{n}", expires_in=-DAY)
    everything = [f"u{n}" for n in range(5)]

    first = repo.abort_expired(everything, clock.now())
    second = repo.abort_expired(everything, clock.now())

    assert (first, second) == (set(everything), set())


# -- ended_uploads and purge ---------------------------------------------------------------


def test_ended_uploads_lists_records_in_the_status_ended_before_the_cutoff(
    repo: Repository, clock: FakeClock
) -> None:
    add(repo, clock, "old-abort", ABORTED)
    add(repo, clock, "old-fail", FAILED)
    add(repo, clock, "old-done", COMPLETED)
    clock.advance(8 * DAY)
    add(repo, clock, "new-abort", ABORTED)
    cutoff = clock.now() - 7 * DAY

    assert ids(repo.ended_uploads(ABORTED, cutoff, None, 10)) == ["old-abort"]
    assert ids(repo.ended_uploads(FAILED, cutoff, None, 10)) == ["old-fail"]


def test_ended_uploads_pages_by_keyset(repo: Repository, clock: FakeClock) -> None:
    for n in range(7):
        add(repo, clock, f"a{n}", ABORTED)
        if n % 2:
            clock.advance(1)
    found: list[str] = []
    after: Keyset | None = None
    while batch := repo.ended_uploads(ABORTED, clock.now(), after, 3):
        found += ids(batch)
        after = (batch[-1].modified, batch[-1].id)

    assert found == [f"a{n}" for n in range(7)]


def test_purge_deletes_the_records_and_their_parts(repo: Repository, clock: FakeClock) -> None:
    add(repo, clock, "gone")
    assert repo.record_part("gone", ReceivedPart(1, "0" * 32, 10), clock.now(), clock.now())
    assert repo.set_status("gone", UPLOADING, ABORTED, clock.now())
    add(repo, clock, "failed", FAILED)
    clock.advance(8 * DAY)

    assert repo.purge(["gone", "failed"], PURGEABLE, clock.now() - 7 * DAY) == {"gone", "failed"}

    assert repo.get("gone") is None
    assert repo.get("failed") is None
    assert list(repo.parts("gone")) == []


def test_purge_keeps_what_no_longer_matches(repo: Repository, clock: FakeClock) -> None:
    add(repo, clock, "done", COMPLETED)
    add(repo, clock, "live")
    add(repo, clock, "recent", ABORTED)
    clock.advance(8 * DAY)
    assert repo.set_status("live", UPLOADING, ABORTED, clock.now())  # ended just now

    assert repo.purge(["done", "live", "recent", "unknown"], {FAILED}, clock.now()) == set()
    assert repo.purge(["done", "live"], PURGEABLE, clock.now() - 7 * DAY) == set()

    assert all(repo.get(i) is not None for i in ("done", "live", "recent"))
    assert repo.purge([], PURGEABLE, clock.now()) == set()


# -- deleted_uploads and remove_deleted -------------------------------------------------------


def test_deleted_uploads_lists_records_marked_deleted_before_the_cutoff(
    repo: Repository, clock: FakeClock
) -> None:
    for file_id, status in [("old-done", COMPLETED), ("old-abort", ABORTED), ("fail", FAILED)]:
        add(repo, clock, file_id, status)
    add(repo, clock, "kept", COMPLETED)
    assert repo.mark_deleted("old-done", clock.now())
    assert repo.mark_deleted("old-abort", clock.now())
    clock.advance(DAY)
    assert repo.mark_deleted("fail", clock.now())  # marked just now
    cutoff = clock.now() - DAY

    assert sorted(ids(repo.deleted_uploads(cutoff, None, 10))) == ["old-abort", "old-done"]
    assert ids(repo.deleted_uploads(cutoff - timedelta(seconds=1), None, 10)) == []
    assert len(repo.deleted_uploads(clock.now(), None, 10)) == 3
    found = repo.deleted_uploads(cutoff, None, 10)[0]
    assert found.deleted == cutoff


def test_deleted_uploads_pages_by_keyset(repo: Repository, clock: FakeClock) -> None:
    for n in range(7):
        add(repo, clock, f"d{n}", COMPLETED)
        assert repo.mark_deleted(f"d{n}", clock.now())
        if n % 2:
            clock.advance(1)
    found: list[str] = []
    after: Keyset | None = None
    while batch := repo.deleted_uploads(clock.now(), after, 3):
        assert len(batch) <= 3
        found += ids(batch)
        last = batch[-1]
        assert last.deleted is not None
        after = (last.deleted, last.id)

    assert found == [f"d{n}" for n in range(7)]


def test_remove_deleted_removes_marked_records_and_their_parts(
    repo: Repository, clock: FakeClock
) -> None:
    add(repo, clock, "gone")
    assert repo.record_part("gone", ReceivedPart(1, "0" * 32, 10), clock.now(), clock.now())
    assert repo.set_status("gone", UPLOADING, ABORTED, clock.now())
    assert repo.mark_deleted("gone", clock.now())
    clock.advance(DAY)

    assert repo.remove_deleted(["gone"], clock.now() - DAY) == {"gone"}

    assert repo.get("gone") is None
    assert list(repo.parts("gone")) == []
    assert repo.remove_deleted(["gone"], clock.now()) == set()  # another gc got there first


def test_remove_deleted_keeps_records_not_marked_or_marked_after_the_cutoff(
    repo: Repository, clock: FakeClock
) -> None:
    add(repo, clock, "done", COMPLETED)
    add(repo, clock, "live")
    add(repo, clock, "recent", COMPLETED)
    clock.advance(DAY)
    assert repo.mark_deleted("recent", clock.now())

    assert repo.remove_deleted(["done", "live", "recent", "unknown"], clock.now() - DAY) == set()

    assert all(repo.get(i) is not None for i in ("done", "live", "recent"))
    assert repo.remove_deleted([], clock.now()) == set()


# -- live_upload_ids --------------------------------------------------------------------------


def test_live_upload_ids_names_the_storage_ids_of_uploads_in_progress(
    repo: Repository, clock: FakeClock
) -> None:
    for status in UploadStatus:
        add(repo, clock, status.value, status)

    live = repo.live_upload_ids({f"up-{s.value}" for s in UploadStatus} | {"up-unknown"})

    # A pending upload has no storage id yet (its storage is being prepared).
    assert live == {"up-uploading"}
    assert repo.live_upload_ids(set()) == set()


# -- user admin ----------------------------------------------------------------------------


def test_list_users_lists_every_user_by_name_without_keys(
    repo: Repository, clock: FakeClock
) -> None:
    repo.add_user("zoe", key_hash("z"), False, clock.now())
    repo.add_user("adam", key_hash("a"), True, clock.now())

    assert repo.list_users() == [
        UserAccount("adam", True, clock.now(), has_key=True),
        UserAccount("zoe", False, clock.now(), has_key=True),
    ]


def test_list_users_of_an_empty_repository_is_empty(repo: Repository) -> None:
    assert list(repo.list_users()) == []


def test_a_revoked_key_stops_authenticating_at_once(repo: Repository, clock: FakeClock) -> None:
    repo.add_user("alice", key_hash("old"), False, clock.now())
    repo.add_user("bob", key_hash("bob"), False, clock.now())

    assert repo.set_key_hash("alice", None)

    assert repo.principal_for_key(key_hash("old")) is None
    assert repo.principal_for_key(key_hash("bob")) == Principal("bob")
    assert [u.has_key for u in repo.list_users()] == [False, True]


def test_a_new_key_hash_replaces_the_old_one(repo: Repository, clock: FakeClock) -> None:
    repo.add_user("root", key_hash("old"), True, clock.now())

    assert repo.set_key_hash("root", key_hash("new"))

    assert repo.principal_for_key(key_hash("old")) is None
    assert repo.principal_for_key(key_hash("new")) == Principal("root", is_admin=True)


def test_several_users_may_have_no_key_and_names_stay_taken(
    repo: Repository, clock: FakeClock
) -> None:
    repo.add_user("a", key_hash("a"), False, clock.now())
    repo.add_user("b", key_hash("b"), False, clock.now())

    assert repo.set_key_hash("a", None)
    assert repo.set_key_hash("b", None)

    with pytest.raises(AlreadyExists):
        repo.add_user("a", key_hash("again"), False, clock.now())


def test_set_key_hash_of_an_unknown_user_changes_nothing(
    repo: Repository, clock: FakeClock
) -> None:
    repo.add_user("alice", key_hash("a"), False, clock.now())

    assert not repo.set_key_hash("nobody", key_hash("x"))

    assert repo.principal_for_key(key_hash("x")) is None
    assert repo.principal_for_key(key_hash("a")) == Principal("alice")


# -- the database does the batch reads with its indexes ---------------------------------------


@pytest.mark.parametrize(
    ("query", "index"),
    [
        (
            "SELECT * FROM files WHERE upload_status = 'uploading' "
            "AND expires_at <= '2026-01-01' AND (expires_at, id) > ('2025-01-01', 'x') "
            "ORDER BY expires_at, id LIMIT 500",
            "ix_files_upload_status_expires_at_id",
        ),
        (
            "SELECT * FROM files WHERE upload_status = 'aborted' "
            "AND modified <= '2026-01-01' ORDER BY modified, id LIMIT 500",
            "ix_files_upload_status_modified_id",
        ),
        ("SELECT upload_id FROM files WHERE upload_id IN ('a', 'b')", "ix_files_upload_id"),
        (
            "SELECT * FROM files WHERE deleted <= '2026-01-01' "
            "AND (deleted, id) > ('2025-01-01', 'x') ORDER BY deleted, id LIMIT 500",
            "ix_files_deleted_id",
        ),
    ],
)
def test_sqlite_seeks_an_index_for_each_gc_query_without_sorting(
    sqlite_engine: Engine, query: str, index: str
) -> None:
    with sqlite_engine.connect() as connection:
        plan = " | ".join(
            str(row[-1]) for row in connection.execute(text("EXPLAIN QUERY PLAN " + query))
        )

    assert index in plan, plan
    assert "TEMP B-TREE" not in plan, plan
