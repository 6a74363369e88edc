"""The unit-of-work contract (`UploadRepository.transaction`), held against every adapter.

A use case that changes state and writes what belongs with it does so in one
transaction: all of it is kept, or, when the block fails after its first
write, none of it. Runs on memory, SQLite and PostgreSQL like the repository
suite it extends.
"""

from __future__ import annotations

import pytest
from tests.integration.contracts.test_repository import (
    ABORTED,
    COMPLETED,
    UPLOADING,
    Repository,
    add_uploading,
    part,
    race,
    repo,
    stored,
)

from uploadcore.adapters.memory import FakeClock
from uploadcore.domain.errors import InvalidState

__all__ = ["repo"]  # the parametrised fixture, used here under its own name


class Boom(Exception):
    """A failure after the first write of a unit of work."""


def test_the_changes_of_a_unit_of_work_are_kept_together(
    repo: Repository, clock: FakeClock
) -> None:
    add_uploading(repo, clock)
    now = clock.now()

    with repo.transaction() as tx:
        assert tx.record_part("file-1", part(1), now, now)
        assert tx.set_status("file-1", UPLOADING, COMPLETED, now, etag="abc-1")

    assert stored(repo, "file-1").status is COMPLETED
    assert stored(repo, "file-1").etag == "abc-1"
    assert repo.parts("file-1") == [part(1)]


def test_a_failure_after_the_first_write_leaves_nothing_behind(
    repo: Repository, clock: FakeClock
) -> None:
    before = add_uploading(repo, clock)
    clock.advance(5)
    now = clock.now()

    def record_abort_and_fail() -> None:
        with repo.transaction() as tx:
            assert tx.record_part("file-1", part(1), now, now)
            assert tx.set_status("file-1", UPLOADING, ABORTED, now)
            raise Boom

    with pytest.raises(Boom):
        record_abort_and_fail()

    assert stored(repo, "file-1") == before
    assert list(repo.parts("file-1")) == []


def test_a_domain_error_inside_a_unit_of_work_undoes_its_earlier_writes(
    repo: Repository, clock: FakeClock
) -> None:
    before = add_uploading(repo, clock)
    now = clock.now()

    def touch_then_go_back() -> None:
        with repo.transaction() as tx:
            assert tx.touch("file-1", now, now)
            tx.set_status("file-1", COMPLETED, UPLOADING, now)  # a forbidden transition

    with pytest.raises(InvalidState):
        touch_then_go_back()

    assert stored(repo, "file-1") == before


def test_a_unit_of_work_reads_its_own_writes(repo: Repository, clock: FakeClock) -> None:
    add_uploading(repo, clock)
    now = clock.now()

    with repo.transaction() as tx:
        tx.record_part("file-1", part(2), now, now)
        assert list(tx.parts("file-1")) == [part(2)]
        tx.set_status("file-1", UPLOADING, ABORTED, now)
        assert stored(tx, "file-1").status is ABORTED


def test_racing_units_of_work_that_read_then_write_never_lose_an_update(
    repo: Repository, clock: FakeClock
) -> None:
    # Each one reads, then takes the upload (its write lock) and appends the next
    # part number: units that interleave would record the same number twice. On
    # SQLite a plain BEGIN would fail to upgrade its read lock here.
    add_uploading(repo, clock)
    now = clock.now()

    def append(_: int) -> None:
        for _round in range(5):
            with repo.transaction() as tx:
                stored(tx, "file-1")
                assert tx.touch("file-1", now, now)
                number = len(tx.parts("file-1")) + 1
                assert tx.record_part("file-1", part(number), now, now)

    race(8, append)

    assert [p.part_number for p in repo.parts("file-1")] == list(range(1, 41))
