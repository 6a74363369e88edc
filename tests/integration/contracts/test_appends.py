"""The AppendRepository contract, on memory, SQLite and PostgreSQL: offsets, leases, finishing."""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

import pytest
from sqlalchemy import Engine
from tests.integration.contracts import test_repository as base
from tests.integration.contracts.test_repository import add_uploading, stored

from uploadcore.adapters.memory import FakeClock, InMemoryRepository
from uploadcore.adapters.sql import SqlAlchemyRepository
from uploadcore.domain.append import Appending, Concat
from uploadcore.domain.listing import FileFilter
from uploadcore.domain.parts import PartPlan, ReceivedPart
from uploadcore.domain.upload import UploadStatus
from uploadcore.ports.appends import AppendRepository

LEASE = timedelta(seconds=60)


class Repository(base.Repository, AppendRepository, Protocol):
    """The upload repository that also keeps appending states."""


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def repo(request: pytest.FixtureRequest, clock: FakeClock) -> Repository:
    if request.param == "memory":
        return InMemoryRepository()
    engine: Engine = request.getfixturevalue(f"{request.param}_engine")
    return SqlAlchemyRepository(engine)


def appended(repo: Repository, clock: FakeClock, file_id: str = "file-1", **kw: object) -> None:
    add_uploading(repo, clock, file_id)
    repo.add_appending(file_id, Appending(**kw))  # type: ignore[arg-type]


def test_an_appending_state_reads_back_as_stored(repo: Repository, clock: FakeClock) -> None:
    appended(repo, clock, metadata="filename YS50eHQ=", concat=Concat.FINAL, partials=("a", "b"))

    assert repo.appending("file-1") == Appending(
        0, None, "filename YS50eHQ=", Concat.FINAL, ("a", "b")
    )
    assert repo.appending("nope") is None


def test_one_lease_at_a_time_and_only_at_the_stored_offset(
    repo: Repository, clock: FakeClock
) -> None:
    appended(repo, clock, length=10)
    now = clock.now()

    assert not repo.claim_append("file-1", 3, "a", now, now + LEASE)
    assert repo.claim_append("file-1", 0, "a", now, now + LEASE)
    assert not repo.claim_append("file-1", 0, "b", now, now + LEASE)
    assert repo.release_append("file-1", "a", Appending(4, 10), now + LEASE, now)
    assert not repo.release_append("file-1", "a", Appending(8, 10), now + LEASE, now)

    assert repo.appending("file-1") == Appending(4, 10)
    assert not repo.claim_append("file-1", 0, "b", now, now + LEASE)
    assert repo.claim_append("file-1", 4, "b", now, now + LEASE)


def test_a_crashed_holders_lease_runs_out_and_it_can_no_longer_release(
    repo: Repository, clock: FakeClock
) -> None:
    appended(repo, clock)
    now = clock.now()
    assert repo.claim_append("file-1", 0, "crashed", now, now + LEASE)

    later = now + LEASE
    assert repo.claim_append("file-1", 0, "next", later, later + LEASE)
    assert not repo.release_append("file-1", "crashed", Appending(5), later, later)
    assert not repo.renew_append("file-1", "crashed", later + LEASE)
    assert repo.renew_append("file-1", "next", later + 2 * LEASE)


def test_releasing_moves_the_expiry_of_the_upload(repo: Repository, clock: FakeClock) -> None:
    appended(repo, clock)
    now = clock.now()
    assert repo.claim_append("file-1", 0, "a", now, now + LEASE)

    assert repo.release_append("file-1", "a", Appending(1), now + timedelta(days=3), now)

    assert stored(repo, "file-1").expires_at == now + timedelta(days=3)


def test_no_lease_on_an_upload_that_is_not_uploading(repo: Repository, clock: FakeClock) -> None:
    appended(repo, clock)
    now = clock.now()
    assert repo.set_status("file-1", UploadStatus.UPLOADING, UploadStatus.ABORTED, now)

    assert not repo.claim_append("file-1", 0, "a", now, now + LEASE)


def test_finishing_completes_with_the_settled_plan_once(repo: Repository, clock: FakeClock) -> None:
    appended(repo, clock, offset=7, length=7)
    now = clock.now()
    plan = PartPlan(7, 1, 7)

    assert repo.finish_appending("file-1", plan, "abc-1", now)
    assert not repo.finish_appending("file-1", plan, "def-1", now)

    upload = stored(repo, "file-1")
    assert (upload.status, upload.plan, upload.etag) == (UploadStatus.COMPLETED, plan, "abc-1")


def test_partial_uploads_are_never_listed(repo: Repository, clock: FakeClock) -> None:
    appended(repo, clock, "piece", concat=Concat.PARTIAL)
    appended(repo, clock, "whole")
    add_uploading(repo, clock, "rest")
    repo.record_part("rest", ReceivedPart(1, "0" * 32, 1), clock.now(), clock.now())

    listed = repo.list_files(FileFilter(status=None), None, 10)

    assert sorted(u.id for u in listed) == ["rest", "whole"]


def test_a_staged_tail_is_kept_with_the_offset(repo: Repository, clock: FakeClock) -> None:
    appended(repo, clock, length=100)
    now = clock.now()
    assert repo.claim_append("file-1", 0, "a", now, now + LEASE)

    assert repo.release_append("file-1", "a", Appending(30, 100, staged=10, tail="t1"), now, now)

    assert repo.appending("file-1") == Appending(30, 100, staged=10, tail="t1")


def test_part_numbers_go_to_the_lease_holder_and_are_never_handed_out_twice(
    repo: Repository, clock: FakeClock
) -> None:
    appended(repo, clock)
    now = clock.now()
    assert repo.reserve_part("file-1", "a") is None  # no lease, no number
    assert repo.claim_append("file-1", 0, "stalled", now, now + LEASE)
    taken = [repo.reserve_part("file-1", "stalled"), repo.reserve_part("file-1", "stalled")]

    later = now + LEASE  # the stalled writer's lease ran out; the next one starts over
    assert repo.claim_append("file-1", 0, "next", later, later + LEASE)

    assert repo.reserve_part("file-1", "stalled") is None
    assert [*taken, repo.reserve_part("file-1", "next")] == [1, 2, 3]


def test_a_lease_is_only_for_the_staged_tail_as_it_was_read(
    repo: Repository, clock: FakeClock
) -> None:
    appended(repo, clock, length=100)
    now = clock.now()
    assert repo.claim_append("file-1", 0, "a", now, now + LEASE)
    assert repo.release_append("file-1", "a", Appending(30, 100, staged=30, tail="t1"), now, now)

    # Another machine re-sent the tail's bytes: the same offset, a new tail.
    assert repo.claim_append("file-1", 30, "b", now, now + LEASE, "t1")
    assert repo.release_append("file-1", "b", Appending(30, 100, staged=30, tail="t2"), now, now)

    assert not repo.claim_append("file-1", 30, "c", now, now + LEASE, "t1")
    assert repo.claim_append("file-1", 30, "c", now, now + LEASE, "t2")
