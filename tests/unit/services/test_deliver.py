"""The delivery worker over the in-memory outbox, a fake clock and a scripted sender."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
import standardwebhooks
from tests.unit.services.test_upload_service import World

from uploadcore.adapters.memory import FakeClock, InMemoryRepository
from uploadcore.domain.events import DeliveryStatus, RetryPolicy
from uploadcore.ports.events import SendOutcome
from uploadcore.services.deliver import DeliverWebhooks, DeliveryPolicy
from uploadcore.services.webhooks import ManageWebhooks


@dataclass
class ScriptedSender:
    """Answers each POST with the next status of `script` (then 200); None is no answer."""

    script: list[int | None] = field(default_factory=list)
    sent: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    async def send(
        self, url: str, headers: Mapping[str, str], body: bytes, timeout: float
    ) -> SendOutcome:
        self.sent.append((url, dict(headers), body))
        status = self.script.pop(0) if self.script else 200
        return SendOutcome(status, None if status else "connection refused")

    async def aclose(self) -> None:
        pass


@pytest.fixture
def world(clock: FakeClock) -> World:
    return World(clock)


def worker(repo: InMemoryRepository, clock: FakeClock, sender: ScriptedSender) -> DeliverWebhooks:
    policy = DeliveryPolicy(RetryPolicy(timedelta(seconds=5), max_attempts=4))
    return DeliverWebhooks(repo, sender, clock, policy)


def deliver(deliverer: DeliverWebhooks) -> int:
    return asyncio.run(deliverer.deliver_due())


def status_of(repo: InMemoryRepository) -> list[tuple[DeliveryStatus, int]]:
    return [(d.status, d.attempts) for r in repo.events(None, None, 100) for d in r.deliveries]


def test_a_delivery_is_signed_as_standard_webhooks_verifies(world: World, clock: FakeClock) -> None:
    clock.current = datetime.now(UTC)  # the verifier checks the timestamp against its own clock
    hooks = ManageWebhooks(world.repo, clock, world.ids)
    endpoint = hooks.add("http://127.0.0.1:9/hook")
    upload = world.initiate().upload
    sender = ScriptedSender()

    assert deliver(worker(world.repo, clock, sender)) == 1

    [(url, headers, body)] = sender.sent
    assert url == "http://127.0.0.1:9/hook"
    verifier = standardwebhooks.Webhook(endpoint.secret)
    payload = verifier.verify(body, headers)
    assert payload["type"] == "upload.created"
    assert payload["data"]["id"] == upload.id
    assert headers["webhook-id"] == payload["id"]
    assert status_of(world.repo) == [(DeliveryStatus.DELIVERED, 1)]


def test_failures_are_retried_with_doubling_backoff_then_marked_failed(
    world: World, clock: FakeClock
) -> None:
    ManageWebhooks(world.repo, clock, world.ids).add("http://127.0.0.1:9/hook")
    world.initiate()
    sender = ScriptedSender([500, None, 503, 404])
    deliverer = worker(world.repo, clock, sender)

    waits = []
    for _ in range(4):
        assert deliver(deliverer) == 1
        assert deliver(deliverer) == 0  # not due yet
        [record] = world.repo.events(None, None, 1)
        waits.append(record.deliveries[0].next_attempt - clock.now())
        clock.current = record.deliveries[0].next_attempt

    assert waits[:3] == [timedelta(seconds=s) for s in (5, 10, 20)]
    assert status_of(world.repo) == [(DeliveryStatus.FAILED, 4)]
    assert len({h["webhook-id"] for _, h, _ in sender.sent}) == 1  # the same id every time


def test_each_attempt_s_outcome_is_told_retrying_failed_or_delivered(
    world: World, clock: FakeClock
) -> None:
    hooks = ManageWebhooks(world.repo, clock, world.ids)
    hooks.add("http://127.0.0.1:9/a")
    world.initiate()
    deliverer = worker(world.repo, clock, ScriptedSender([500, 500, 500, 500]))
    outcomes: list[str] = []
    deliverer.on_outcome = outcomes.append

    for _ in range(4):
        deliver(deliverer)
        clock.advance(timedelta(hours=1))
    hooks.add("http://127.0.0.1:9/b")
    world.initiate()
    deliver(deliverer)

    assert outcomes == ["retrying", "retrying", "retrying", "failed", "delivered", "delivered"]


def test_a_receiver_failing_twice_gets_the_event_on_the_third_attempt(
    world: World, clock: FakeClock
) -> None:
    ManageWebhooks(world.repo, clock, world.ids).add("http://127.0.0.1:9/hook")
    world.initiate()
    deliverer = worker(world.repo, clock, ScriptedSender([500, 500]))

    for _ in range(3):
        deliver(deliverer)
        clock.advance(timedelta(minutes=1))

    assert status_of(world.repo) == [(DeliveryStatus.DELIVERED, 3)]


def test_redeliver_sends_a_delivered_event_again(world: World, clock: FakeClock) -> None:
    hooks = ManageWebhooks(world.repo, clock, world.ids)
    hooks.add("http://127.0.0.1:9/hook")
    world.initiate()
    sender = ScriptedSender()
    deliver(worker(world.repo, clock, sender))

    [record] = hooks.events()
    assert hooks.redeliver(record.event.id) == 1
    deliver(worker(world.repo, clock, sender))

    assert [h["webhook-id"] for _, h, _ in sender.sent] == [record.event.id] * 2


def test_the_backoff_never_exceeds_an_hour() -> None:
    retry = RetryPolicy(timedelta(seconds=5), max_attempts=12)

    delays = [retry.delay_after(n) for n in range(1, 13)]

    assert delays[:4] == [timedelta(seconds=s) for s in (5, 10, 20, 40)]
    assert delays[10] == timedelta(hours=1)
    assert delays[11] is None
