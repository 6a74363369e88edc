"""The outbox seen from the delivery side, webhook endpoints, and sending a webhook."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from uploadcore.domain.events import Claimed, Delivery, DeliveryStatus, Endpoint, Event, EventType


@dataclass(frozen=True)
class EventRecord:
    """An event and its deliveries, as `events list` shows them."""

    event: Event
    deliveries: tuple[Delivery, ...]


@runtime_checkable
class Outbox(Protocol):
    """Events written by the use cases (`UploadRepository.add_event`), and their deliveries.

    Every method is atomic on its own and raises StorageUnavailable, changing
    nothing, when the database cannot be reached.
    """

    def add_endpoint(self, endpoint: Endpoint) -> None:
        """Store a new endpoint; events written from now on are delivered to it."""

    def endpoints(self) -> Sequence[Endpoint]:
        """Every endpoint, oldest first."""

    def remove_endpoint(self, endpoint_id: str) -> bool:
        """Remove an endpoint and its deliveries; False if there is none with this id."""

    def events(
        self, type: EventType | None, status: DeliveryStatus | None, limit: int
    ) -> Sequence[EventRecord]:
        """Up to `limit` events, newest first, of `type` and with a delivery in `status`."""

    def claim(
        self, now: datetime, lease_until: datetime, limit: int, skip: Collection[str] = ()
    ) -> Sequence[Claimed]:
        """Take up to `limit` pending deliveries due at `now`, oldest due first.

        Each is counted as one more attempt and hidden from other claims until
        `lease_until` (a worker that dies mid-send leaves it to be claimed
        again then). Deliveries to the endpoints in `skip` are left alone.
        Concurrent claims, in any process, never take the same attempt: on
        PostgreSQL rows another claim is locking are skipped, not waited for.
        """

    def record_attempt(
        self,
        claimed: Claimed,
        status: DeliveryStatus,
        now: datetime,
        next_attempt: datetime,
        error: str | None,
    ) -> bool:
        """Record how a claimed attempt went: delivered, failed for good, or pending again.

        A pending delivery is due again at `next_attempt`; `error` says what
        went wrong (kept to 500 characters).

        Only if the delivery is still at this attempt (a claim taken over after
        its lease ran out is not overwritten by the worker that lost it).
        """

    def redeliver(self, event_id: str, now: datetime) -> int:
        """Make every delivery of the event pending and due at `now`, attempts counted anew.

        An event with no delivery gets one to each endpoint that wants its type.
        Returns how many deliveries are now pending; raises NotFound without the event.
        """


@dataclass(frozen=True)
class SendOutcome:
    """What became of one POST: a 2xx, another status, or no answer at all."""

    status: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class WebhookSender(Protocol):
    """POSTs a webhook. Never raises for what the receiver or the network does."""

    async def send(
        self, url: str, headers: Mapping[str, str], body: bytes, timeout: float
    ) -> SendOutcome:
        """POST `body` with `headers`, giving up after `timeout` seconds in all."""

    async def aclose(self) -> None:
        """Release connections; the sender may be used again afterwards."""


__all__ = ["EventRecord", "Outbox", "SendOutcome", "WebhookSender"]
