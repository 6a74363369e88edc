"""The outbox contract (`add_event` in a unit of work, and the `Outbox` port), on every adapter."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from itertools import count

import pytest
from tests.integration.contracts.test_repository import (
    ABORTED,
    UPLOADING,
    Repository,
    add_uploading,
    race,
    repo,
    stored,
)

from uploadcore.adapters.memory import FakeClock
from uploadcore.domain.errors import NotFound
from uploadcore.domain.events import (
    Claimed,
    DeliveryStatus,
    Endpoint,
    Event,
    EventType,
    new_secret,
)
from uploadcore.ports.events import Outbox

__all__ = ["repo"]

LEASE = timedelta(seconds=15)
_ids: Iterator[int] = count(1)


class Boom(Exception):
    pass


@pytest.fixture
def outbox(repo: Repository) -> Outbox:
    assert isinstance(repo, Outbox)
    return repo


def endpoint(clock: FakeClock, *types: EventType, name: str = "a") -> Endpoint:
    return Endpoint(
        f"ep_{name}",
        f"http://127.0.0.1:9/{name}",
        new_secret(b"0" * 24),
        frozenset(types),
        clock.now(),
    )


def event_of(repo: Repository, type: EventType, clock: FakeClock, file_id: str = "file-1") -> Event:
    return Event.of(f"evt_{next(_ids)}", type, stored(repo, file_id), clock.now())


def test_an_event_is_kept_with_the_change_of_its_unit_of_work(
    repo: Repository, outbox: Outbox, clock: FakeClock
) -> None:
    add_uploading(repo, clock)
    with repo.transaction() as tx:
        assert tx.set_status("file-1", UPLOADING, ABORTED, clock.now())
        tx.add_event(event := event_of(tx, EventType.UPLOAD_ABORTED, clock))

    [record] = outbox.events(None, None, 10)
    assert record.event == event
    assert record.event.data["upload_status"] == "aborted"


def test_an_event_is_dropped_with_the_change_when_the_unit_of_work_fails(
    repo: Repository, outbox: Outbox, clock: FakeClock
) -> None:
    add_uploading(repo, clock)
    outbox.add_endpoint(endpoint(clock))

    def abort_with_its_event_then_fail() -> None:
        with repo.transaction() as tx:
            assert tx.set_status("file-1", UPLOADING, ABORTED, clock.now())
            tx.add_event(event_of(tx, EventType.UPLOAD_ABORTED, clock))
            raise Boom

    with pytest.raises(Boom):
        abort_with_its_event_then_fail()

    assert stored(repo, "file-1").status is UPLOADING
    assert outbox.events(None, None, 10) == []
    assert outbox.claim(clock.now(), clock.now() + LEASE, 10) == []


def test_an_event_gets_a_delivery_to_each_endpoint_that_wants_its_type(
    repo: Repository, outbox: Outbox, clock: FakeClock
) -> None:
    add_uploading(repo, clock)
    outbox.add_endpoint(endpoint(clock, name="all"))
    outbox.add_endpoint(endpoint(clock, EventType.UPLOAD_COMPLETED, name="completed"))
    outbox.add_endpoint(endpoint(clock, EventType.UPLOAD_ABORTED, name="aborted"))
    with repo.transaction() as tx:
        tx.add_event(event_of(tx, EventType.UPLOAD_ABORTED, clock))

    [record] = outbox.events(None, DeliveryStatus.PENDING, 10)
    assert {d.endpoint_id for d in record.deliveries} == {"ep_all", "ep_aborted"}
    assert all(d.attempts == 0 for d in record.deliveries)


def test_a_batch_of_events_gets_the_deliveries_each_would_get_alone(
    repo: Repository, outbox: Outbox, clock: FakeClock
) -> None:
    add_uploading(repo, clock)
    add_uploading(repo, clock, "file-2")
    outbox.add_endpoint(endpoint(clock, name="all"))
    outbox.add_endpoint(endpoint(clock, EventType.UPLOAD_COMPLETED, name="completed"))
    with repo.transaction() as tx:
        batch = [event_of(tx, EventType.UPLOAD_ABORTED, clock, i) for i in ("file-1", "file-2")]
        tx.add_events(batch)
        tx.add_events([])

    records = outbox.events(None, DeliveryStatus.PENDING, 10)
    assert {r.event.id for r in records} == {e.id for e in batch}
    assert [{d.endpoint_id for d in r.deliveries} for r in records] == [{"ep_all"}, {"ep_all"}]


def test_events_are_listed_newest_first_and_filtered_by_type_and_status(
    repo: Repository, outbox: Outbox, clock: FakeClock
) -> None:
    add_uploading(repo, clock)
    first = event_of(repo, EventType.UPLOAD_CREATED, clock)
    repo.add_event(first)
    clock.advance(1)
    outbox.add_endpoint(endpoint(clock))
    second = event_of(repo, EventType.UPLOAD_COMPLETED, clock)
    repo.add_event(second)

    assert [r.event.id for r in outbox.events(None, None, 10)] == [second.id, first.id]
    assert [r.event.id for r in outbox.events(EventType.UPLOAD_CREATED, None, 10)] == [first.id]
    assert [r.event.id for r in outbox.events(None, DeliveryStatus.PENDING, 10)] == [second.id]
    assert [r.event.id for r in outbox.events(None, None, 1)] == [second.id]


def claim_one(outbox: Outbox, clock: FakeClock) -> Claimed:
    [claimed] = outbox.claim(clock.now(), clock.now() + LEASE, 10)
    return claimed


def test_a_claim_counts_an_attempt_and_hides_the_delivery_until_its_lease_runs_out(
    repo: Repository, outbox: Outbox, clock: FakeClock
) -> None:
    add_uploading(repo, clock)
    outbox.add_endpoint(endpoint(clock))
    repo.add_event(event := event_of(repo, EventType.UPLOAD_CREATED, clock))

    claimed = claim_one(outbox, clock)
    assert (claimed.event, claimed.endpoint.id, claimed.attempt) == (event, "ep_a", 1)
    assert outbox.claim(clock.now(), clock.now() + LEASE, 10) == []

    clock.advance(LEASE)  # the worker died mid-send: the next one takes attempt 2
    assert claim_one(outbox, clock).attempt == 2
    assert not outbox.record_attempt(  # the first worker's late answer changes nothing
        claimed, DeliveryStatus.DELIVERED, clock.now(), clock.now(), None
    )


def test_a_failed_attempt_is_due_again_when_recorded_and_a_success_is_final(
    repo: Repository, outbox: Outbox, clock: FakeClock
) -> None:
    add_uploading(repo, clock)
    outbox.add_endpoint(endpoint(clock))
    repo.add_event(event_of(repo, EventType.UPLOAD_CREATED, clock))
    first = claim_one(outbox, clock)
    later = clock.now() + timedelta(seconds=5)

    assert outbox.record_attempt(first, DeliveryStatus.PENDING, clock.now(), later, "HTTP 500")
    assert outbox.claim(clock.now(), clock.now() + LEASE, 10) == []
    clock.current = later
    second = claim_one(outbox, clock)
    assert second.attempt == 2
    assert outbox.record_attempt(second, DeliveryStatus.DELIVERED, clock.now(), clock.now(), None)

    clock.advance(timedelta(days=1))
    assert outbox.claim(clock.now(), clock.now() + LEASE, 10) == []
    [record] = outbox.events(None, DeliveryStatus.DELIVERED, 10)
    assert record.deliveries[0].attempts == 2


def test_claims_skip_the_endpoints_they_are_told_to(
    repo: Repository, outbox: Outbox, clock: FakeClock
) -> None:
    add_uploading(repo, clock)
    outbox.add_endpoint(endpoint(clock, name="slow"))
    outbox.add_endpoint(endpoint(clock, name="fast"))
    repo.add_event(event_of(repo, EventType.UPLOAD_CREATED, clock))

    claimed = outbox.claim(clock.now(), clock.now() + LEASE, 10, skip=["ep_slow"])

    assert [c.endpoint.id for c in claimed] == ["ep_fast"]


def test_racing_claims_never_take_the_same_attempt(
    repo: Repository, outbox: Outbox, clock: FakeClock
) -> None:
    add_uploading(repo, clock)
    outbox.add_endpoint(endpoint(clock))
    for _ in range(40):
        repo.add_event(event_of(repo, EventType.FILE_UPDATED, clock))

    batches = race(8, lambda _: outbox.claim(clock.now(), clock.now() + LEASE, 7))

    taken = [c.event.id for batch in batches for c in batch]
    assert len(taken) == len(set(taken)) == 40


def test_redelivering_makes_every_delivery_of_the_event_pending_again(
    repo: Repository, outbox: Outbox, clock: FakeClock
) -> None:
    add_uploading(repo, clock)
    outbox.add_endpoint(endpoint(clock))
    repo.add_event(event := event_of(repo, EventType.UPLOAD_CREATED, clock))
    claimed = claim_one(outbox, clock)
    outbox.record_attempt(claimed, DeliveryStatus.FAILED, clock.now(), clock.now(), "gone")

    assert outbox.redeliver(event.id, clock.now()) == 1
    again = claim_one(outbox, clock)
    assert (again.event.id, again.attempt) == (event.id, 1)
    with pytest.raises(NotFound):
        outbox.redeliver("evt_nope", clock.now())


def test_redelivering_an_event_that_had_no_endpoint_sends_it_to_the_endpoints_of_now(
    repo: Repository, outbox: Outbox, clock: FakeClock
) -> None:
    add_uploading(repo, clock)
    repo.add_event(event := event_of(repo, EventType.UPLOAD_CREATED, clock))
    outbox.add_endpoint(endpoint(clock))

    assert outbox.redeliver(event.id, clock.now()) == 1
    assert claim_one(outbox, clock).event.id == event.id


def test_removing_an_endpoint_drops_its_deliveries(
    repo: Repository, outbox: Outbox, clock: FakeClock
) -> None:
    add_uploading(repo, clock)
    outbox.add_endpoint(endpoint(clock))
    repo.add_event(event_of(repo, EventType.UPLOAD_CREATED, clock))

    assert outbox.remove_endpoint("ep_a")
    assert not outbox.remove_endpoint("ep_a")
    assert outbox.endpoints() == []
    assert outbox.claim(clock.now(), clock.now() + LEASE, 10) == []
