"""The outbox in memory: a mixin of `InMemoryRepository`, under its lock."""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime

from uploadcore.domain.errors import AlreadyExists, NotFound
from uploadcore.domain.events import (
    Claimed,
    Delivery,
    DeliveryStatus,
    Endpoint,
    Event,
    EventType,
)
from uploadcore.ports.events import EventRecord

PENDING = DeliveryStatus.PENDING
OutboxState = tuple[dict[str, Event], dict[str, Endpoint], dict[tuple[str, str], Delivery]]


class InMemoryOutbox:
    """Events, endpoints and deliveries in dictionaries; `_lock` is the repository's."""

    _lock: threading.RLock

    def __init__(self) -> None:
        self._events: dict[str, Event] = {}
        self._endpoints: dict[str, Endpoint] = {}
        self._deliveries: dict[tuple[str, str], Delivery] = {}  # (event, endpoint) -> delivery

    def _outbox_state(self) -> OutboxState:
        return dict(self._events), dict(self._endpoints), dict(self._deliveries)

    def _restore_outbox(self, state: OutboxState) -> None:
        self._events, self._endpoints, self._deliveries = state

    def add_event(self, event: Event) -> None:
        with self._lock:
            if event.id in self._events:
                raise AlreadyExists(f"event {event.id} exists")
            self._events[event.id] = event
            self._fan_out(event, event.timestamp)

    def add_events(self, events: Sequence[Event]) -> None:
        with self._lock:
            for event in events:
                self.add_event(event)

    def _fan_out(self, event: Event, now: datetime) -> int:
        wanting = [e for e in self._endpoints.values() if e.wants(event.type)]
        for endpoint in wanting:
            self._deliveries[event.id, endpoint.id] = Delivery(
                event.id, endpoint.id, PENDING, 0, now
            )
        return len(wanting)

    def add_endpoint(self, endpoint: Endpoint) -> None:
        with self._lock:
            if endpoint.id in self._endpoints:
                raise AlreadyExists(f"endpoint {endpoint.id} exists")
            self._endpoints[endpoint.id] = endpoint

    def endpoints(self) -> Sequence[Endpoint]:
        with self._lock:
            return sorted(self._endpoints.values(), key=lambda e: (e.created, e.id))

    def remove_endpoint(self, endpoint_id: str) -> bool:
        with self._lock:
            if self._endpoints.pop(endpoint_id, None) is None:
                return False
            self._deliveries = {
                k: d for k, d in self._deliveries.items() if d.endpoint_id != endpoint_id
            }
            return True

    def events(
        self, type: EventType | None, status: DeliveryStatus | None, limit: int
    ) -> Sequence[EventRecord]:
        with self._lock:
            records = [
                EventRecord(event, self._deliveries_of(event.id))
                for event in self._events.values()
                if type in (None, event.type)
            ]
        if status is not None:
            records = [r for r in records if any(d.status is status for d in r.deliveries)]
        records.sort(key=lambda r: (r.event.timestamp, r.event.id), reverse=True)
        return records[:limit]

    def _deliveries_of(self, event_id: str) -> tuple[Delivery, ...]:
        found = [d for d in self._deliveries.values() if d.event_id == event_id]
        return tuple(sorted(found, key=lambda d: d.endpoint_id))

    def claim(
        self, now: datetime, lease_until: datetime, limit: int, skip: Collection[str] = ()
    ) -> Sequence[Claimed]:
        with self._lock:
            due = sorted(
                (
                    d
                    for d in self._deliveries.values()
                    if d.status is PENDING and d.next_attempt <= now and d.endpoint_id not in skip
                ),
                key=lambda d: d.next_attempt,
            )[:limit]
            claimed = []
            for d in due:
                self._deliveries[d.event_id, d.endpoint_id] = replace(
                    d, attempts=d.attempts + 1, next_attempt=lease_until
                )
                claimed.append(
                    Claimed(
                        self._events[d.event_id], self._endpoints[d.endpoint_id], d.attempts + 1
                    )
                )
            return claimed

    def record_attempt(
        self,
        claimed: Claimed,
        status: DeliveryStatus,
        now: datetime,
        next_attempt: datetime,
        error: str | None,
    ) -> bool:
        key = (claimed.event.id, claimed.endpoint.id)
        with self._lock:
            current = self._deliveries.get(key)
            if current is None or current.status is not PENDING:
                return False
            if current.attempts != claimed.attempt:
                return False
            self._deliveries[key] = replace(
                current,
                status=status,
                next_attempt=next_attempt,
                last_error=None if error is None else error[:500],
            )
            return True

    def redeliver(self, event_id: str, now: datetime) -> int:
        with self._lock:
            event = self._events.get(event_id)
            if event is None:
                raise NotFound(f"no event with id {event_id}")
            mine = [k for k, d in self._deliveries.items() if d.event_id == event_id]
            for key in mine:
                self._deliveries[key] = replace(
                    self._deliveries[key],
                    status=PENDING,
                    attempts=0,
                    next_attempt=now,
                    last_error=None,
                )
            return len(mine) if mine else self._fan_out(event, now)


__all__ = ["InMemoryOutbox"]
