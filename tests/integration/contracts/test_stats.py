"""The figures `/metrics` reads from the records (`ReportsStats`, `CountsGcActions`), everywhere."""

from __future__ import annotations

from datetime import timedelta

from tests.integration.contracts.test_outbox import endpoint, event_of
from tests.integration.contracts.test_repository import (
    ABORTED,
    UPLOADING,
    Repository,
    add_uploading,
    new_upload,
    race,
    repo,
)

from uploadcore.adapters.memory import FakeClock
from uploadcore.domain.events import DeliveryStatus, EventType
from uploadcore.ports.events import Outbox
from uploadcore.ports.stats import CountsGcActions, ReportsStats

__all__ = ["repo"]


def stats_of(repo: Repository) -> ReportsStats:
    assert isinstance(repo, ReportsStats)
    return repo


def test_uploads_in_progress_are_the_pending_and_the_uploading(
    repo: Repository, clock: FakeClock
) -> None:
    repo.add(new_upload(clock, "pending"))
    add_uploading(repo, clock, "uploading")
    add_uploading(repo, clock, "aborted")
    assert repo.set_status("aborted", UPLOADING, ABORTED, clock.now())

    stats = stats_of(repo).operational_stats()

    assert stats.uploads_in_progress == 2
    assert stats.bytes_in_progress == 2 * new_upload(clock).file_size


def test_the_oldest_undelivered_event_is_the_oldest_with_a_pending_delivery(
    repo: Repository, clock: FakeClock
) -> None:
    assert isinstance(repo, Outbox)
    assert stats_of(repo).operational_stats().oldest_undelivered is None
    repo.add_endpoint(endpoint(clock))
    add_uploading(repo, clock, "file-1")
    add_uploading(repo, clock, "file-2")
    repo.add_event(first := event_of(repo, EventType.UPLOAD_CREATED, clock, "file-1"))
    clock.advance(timedelta(minutes=5))
    repo.add_event(second := event_of(repo, EventType.UPLOAD_CREATED, clock, "file-2"))
    [claimed] = repo.claim(clock.now(), clock.now() + timedelta(seconds=15), 1, ())
    assert claimed.event.id == first.id
    now = clock.now()
    assert repo.record_attempt(claimed, DeliveryStatus.DELIVERED, now, now, None)

    assert stats_of(repo).operational_stats().oldest_undelivered == second.timestamp


def test_gc_totals_add_up_across_runs_and_racing_runs(repo: Repository) -> None:
    assert isinstance(repo, CountsGcActions)
    repo.add_gc_actions({"upload_expired": 2, "error": 0})
    race(4, lambda _: repo.add_gc_actions({"upload_expired": 1, "record_purged": 3}))

    totals = stats_of(repo).operational_stats().gc_actions

    assert totals == {"upload_expired": 6, "record_purged": 12}
