"""Webhook endpoints and the events they receive, as an admin manages them."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from uploadcore.domain.errors import InvalidInput, NotFound
from uploadcore.domain.events import DeliveryStatus, Endpoint, EventType, new_secret
from uploadcore.ports.clock import Clock, IdGenerator
from uploadcore.ports.events import EventRecord, Outbox


@dataclass(frozen=True)
class ManageWebhooks:
    """Add, list and remove endpoints; list events and send one again. Blocking."""

    outbox: Outbox
    clock: Clock
    ids: IdGenerator

    def add(self, url: str, types: Iterable[str] = ()) -> Endpoint:
        """A new endpoint for `url`, receiving `types` (every type when none), with its secret."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInput(f"{url!r} is not an http:// or https:// URL")
        try:
            wanted = frozenset(EventType(t) for t in types)
        except ValueError:
            known = ", ".join(t.value for t in EventType)
            raise InvalidInput(f"unknown event type; the types are {known}") from None
        endpoint = Endpoint(
            id=f"ep_{self.ids.new_id()}",
            url=url,
            secret=new_secret(secrets.token_bytes(24)),
            event_types=wanted,
            created=self.clock.now(),
        )
        self.outbox.add_endpoint(endpoint)
        return endpoint

    def endpoints(self) -> Sequence[Endpoint]:
        return self.outbox.endpoints()

    def remove(self, endpoint_id: str) -> None:
        """Remove the endpoint and its pending deliveries; NotFound if there is none."""
        if not self.outbox.remove_endpoint(endpoint_id):
            raise NotFound(f"no webhook endpoint with id {endpoint_id}")

    def events(
        self, type: str | None = None, status: str | None = None, limit: int = 50
    ) -> Sequence[EventRecord]:
        """The newest events, of `type`, with a delivery in `status`, and their deliveries."""
        try:
            wanted_type = None if type is None else EventType(type)
            wanted_status = None if status is None else DeliveryStatus(status)
        except ValueError as error:
            raise InvalidInput(str(error)) from None
        return self.outbox.events(wanted_type, wanted_status, limit)

    def redeliver(self, event_id: str) -> int:
        """Send the event again to its endpoints (due now); how many deliveries that is."""
        return self.outbox.redeliver(event_id, self.clock.now())


__all__ = ["ManageWebhooks"]
