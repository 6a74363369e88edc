"""Deliver events to webhook endpoints: claim what is due, send it signed, record the outcome.

Delivery is at least once. A claim hides a delivery from every other worker
(in this process or any other) for a lease longer than a send can take; a
worker that dies mid-send leaves it to be claimed again when the lease runs
out, with the same `webhook-id`, so receivers deduplicate.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from uploadcore.domain.events import Claimed, DeliveryStatus, RetryPolicy, sign
from uploadcore.ports.clock import Clock
from uploadcore.ports.events import Outbox, SendOutcome, WebhookSender
from uploadcore.services.waiting import first_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryPolicy:
    """How hard and how wide to deliver."""

    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: timedelta = timedelta(seconds=10)  # one POST, connecting included
    batch: int = 16  # deliveries claimed at once
    concurrency: int = 64  # POSTs in flight in one worker
    per_endpoint: int = 16  # beyond this many in flight, an endpoint's deliveries wait
    poll: timedelta = timedelta(seconds=1)  # how often to look for due deliveries when idle

    @property
    def lease(self) -> timedelta:
        """How long a claim hides a delivery: a send and its record fit in it comfortably."""
        return self.timeout + timedelta(seconds=5)


_OUTCOMES = {
    DeliveryStatus.DELIVERED: "delivered",
    DeliveryStatus.PENDING: "retrying",
    DeliveryStatus.FAILED: "failed",
}


class DeliverWebhooks:
    """The delivery worker. Its methods are coroutines; the database calls run on threads."""

    def __init__(
        self, outbox: Outbox, sender: WebhookSender, clock: Clock, policy: DeliveryPolicy
    ) -> None:
        self.outbox = outbox
        self.sender = sender
        self.clock = clock
        self.policy = policy
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        #: Told each attempt's outcome: `delivered`, `retrying` or `failed` (given up).
        self.on_outcome: Callable[[str], None] = lambda _outcome: None

    async def deliver_due(self) -> int:
        """Claim the deliveries due now (one batch) and make their attempts; how many."""
        claimed = await self._claim(self.policy.batch, ())
        await asyncio.gather(*(self.attempt(c) for c in claimed))
        return len(claimed)

    async def attempt(self, claimed: Claimed) -> bool:
        """POST one claimed delivery and record the outcome; whether it was delivered."""
        body = json.dumps(claimed.event.as_json(), separators=(",", ":")).encode()
        timestamp = int(self.clock.now().timestamp())
        headers = {
            "content-type": "application/json",
            "webhook-id": claimed.event.id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(claimed.endpoint.secret, claimed.event.id, timestamp, body),
        }
        outcome = await self.sender.send(
            claimed.endpoint.url, headers, body, self.policy.timeout.total_seconds()
        )
        await asyncio.to_thread(self._record, claimed, outcome)
        return outcome.ok

    def _record(self, claimed: Claimed, outcome: SendOutcome) -> None:
        now = self.clock.now()
        if outcome.ok:
            status, due, error = DeliveryStatus.DELIVERED, now, None
        else:
            delay = self.policy.retry.delay_after(claimed.attempt)
            error = outcome.error or f"HTTP {outcome.status}"
            status = DeliveryStatus.FAILED if delay is None else DeliveryStatus.PENDING
            due = now if delay is None else now + delay
            log.warning(
                "webhook %s to endpoint %s, attempt %d: %s%s",
                claimed.event.id,
                claimed.endpoint.id,
                claimed.attempt,
                error,
                "; giving up" if delay is None else f"; again in {delay.total_seconds():g}s",
            )
        if not self.outbox.record_attempt(claimed, status, now, due, error):
            log.info("webhook %s: its claim was taken over meanwhile", claimed.event.id)
        self.on_outcome(_OUTCOMES[status])

    async def _claim(self, limit: int, skip: tuple[str, ...]) -> list[Claimed]:
        now = self.clock.now()
        return list(
            await asyncio.to_thread(self.outbox.claim, now, now + self.policy.lease, limit, skip)
        )

    def wake(self) -> None:
        """Look for due deliveries now rather than at the next poll. Safe from any thread."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; then wait for the POSTs in flight (bounded by the timeout).

        A slow or dead endpoint holds at most `per_endpoint` (plus one batch) of
        the `concurrency` slots: the other endpoints' deliveries go on.
        """
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        flying: set[asyncio.Task[bool]] = set()
        per_endpoint: Counter[str] = Counter()
        while not stop.is_set():
            free = min(self.policy.concurrency - len(flying), self.policy.batch)
            busy = tuple(e for e, n in per_endpoint.items() if n >= self.policy.per_endpoint)
            self._wake.clear()
            claimed = await self._claim_safely(free, busy) if free > 0 else []
            for c in claimed:
                per_endpoint[c.endpoint.id] += 1
                task = asyncio.create_task(self.attempt(c))
                flying.add(task)
                task.add_done_callback(self._finished(flying, per_endpoint, c.endpoint.id))
            if claimed and len(claimed) == free:
                continue  # more may be due
            await first_of(stop, self._wake, self.policy.poll.total_seconds())
        if flying:
            await asyncio.wait(flying, timeout=self.policy.timeout.total_seconds())
        await self.sender.aclose()

    async def _claim_safely(self, limit: int, skip: tuple[str, ...]) -> list[Claimed]:
        try:
            return await self._claim(limit, skip)
        except Exception:  # the database is away: try again at the next poll
            log.warning("webhook delivery: could not claim deliveries", exc_info=True)
            return []

    def _finished(
        self, flying: set[asyncio.Task[bool]], per_endpoint: Counter[str], endpoint_id: str
    ) -> Callable[[asyncio.Task[bool]], None]:
        def done(task: asyncio.Task[bool]) -> None:
            flying.discard(task)
            per_endpoint[endpoint_id] -= 1
            if per_endpoint[endpoint_id] <= 0:
                del per_endpoint[endpoint_id]
            if not task.cancelled() and task.exception() is not None:
                log.error("webhook delivery failed", exc_info=task.exception())
            if self._wake is not None:
                self._wake.set()  # a slot is free

        return done


__all__ = ["DeliverWebhooks", "DeliveryPolicy"]
