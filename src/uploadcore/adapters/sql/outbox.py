"""The outbox on SQLAlchemy: events, webhook endpoints and deliveries (a repository mixin)."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, exists, select, tuple_

from uploadcore.adapters.sql.tables import deliveries, events, webhook_endpoints
from uploadcore.domain.errors import NotFound
from uploadcore.domain.events import (
    Claimed,
    Delivery,
    DeliveryStatus,
    Endpoint,
    Event,
    EventType,
)
from uploadcore.ports.events import EventRecord

PENDING = DeliveryStatus.PENDING.value


class SqlOutbox:
    """`add_event` for the unit of work and the `Outbox` port, over `_begin` and `transaction`."""

    def _begin(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    def _locked(self) -> AbstractContextManager[Connection]:
        """A connection in a transaction that holds the write lock from its start (SQLite)."""
        raise NotImplementedError

    def add_event(self, event: Event) -> None:
        self.add_events([event])

    def add_events(self, written: Sequence[Event]) -> None:
        if not written:
            return
        with self._begin() as connection:
            connection.execute(events.insert(), [_event_row(e) for e in written])
            _fan_out(connection, written)

    # -- endpoints ----------------------------------------------------------

    def add_endpoint(self, endpoint: Endpoint) -> None:
        with self._begin() as connection:
            connection.execute(
                webhook_endpoints.insert().values(
                    id=endpoint.id,
                    url=endpoint.url,
                    secret=endpoint.secret,
                    event_types=" ".join(sorted(endpoint.event_types)),
                    created=endpoint.created,
                )
            )

    def endpoints(self) -> Sequence[Endpoint]:
        with self._begin() as connection:
            return _endpoints(connection)

    def remove_endpoint(self, endpoint_id: str) -> bool:
        with self._begin() as connection:
            connection.execute(deliveries.delete().where(deliveries.c.endpoint_id == endpoint_id))
            removed = connection.execute(
                webhook_endpoints.delete().where(webhook_endpoints.c.id == endpoint_id)
            )
            return removed.rowcount == 1

    # -- events -------------------------------------------------------------

    def events(
        self, type: EventType | None, status: DeliveryStatus | None, limit: int
    ) -> Sequence[EventRecord]:
        query = select(events)
        if type is not None:
            query = query.where(events.c.type == type.value)
        if status is not None:
            query = query.where(
                exists().where(
                    deliveries.c.event_id == events.c.id, deliveries.c.status == status.value
                )
            )
        query = query.order_by(events.c.timestamp.desc(), events.c.id.desc()).limit(limit)
        with self._begin() as connection:
            found = [_event_of(row) for row in connection.execute(query)]
            by_event: dict[str, list[Delivery]] = {e.id: [] for e in found}
            rows = connection.execute(
                select(deliveries)
                .where(deliveries.c.event_id.in_(list(by_event)))
                .order_by(deliveries.c.endpoint_id)
            )
            for row in rows:
                by_event[row.event_id].append(_delivery_of(row))
        return [EventRecord(e, tuple(by_event[e.id])) for e in found]

    # -- delivery -----------------------------------------------------------

    def claim(
        self, now: datetime, lease_until: datetime, limit: int, skip: Collection[str] = ()
    ) -> Sequence[Claimed]:
        due = (
            select(deliveries.c.event_id, deliveries.c.endpoint_id, deliveries.c.attempts)
            .where(deliveries.c.status == PENDING, deliveries.c.next_attempt <= now)
            .order_by(deliveries.c.next_attempt)
            .limit(limit)
            # PostgreSQL: rows another worker is claiming are skipped, not waited for.
            # SQLite renders no FOR UPDATE: its write lock, taken at BEGIN, serialises claims.
            .with_for_update(skip_locked=True)
        )
        if skip:
            due = due.where(deliveries.c.endpoint_id.not_in(list(skip)))
        with self._locked() as connection:
            taken = list(connection.execute(due))
            if not taken:
                return []
            keys = [(row.event_id, row.endpoint_id) for row in taken]
            connection.execute(
                deliveries.update()
                .where(tuple_(deliveries.c.event_id, deliveries.c.endpoint_id).in_(keys))
                .values(attempts=deliveries.c.attempts + 1, next_attempt=lease_until, updated=now)
            )
            return _claimed(connection, taken)

    def record_attempt(
        self,
        claimed: Claimed,
        status: DeliveryStatus,
        now: datetime,
        next_attempt: datetime,
        error: str | None,
    ) -> bool:
        statement = (
            deliveries.update()
            .where(
                deliveries.c.event_id == claimed.event.id,
                deliveries.c.endpoint_id == claimed.endpoint.id,
                deliveries.c.status == PENDING,
                deliveries.c.attempts == claimed.attempt,
            )
            .values(
                status=status.value,
                next_attempt=next_attempt,
                last_error=None if error is None else error[:500],
                updated=now,
            )
        )
        with self._begin() as connection:
            return connection.execute(statement).rowcount == 1

    def redeliver(self, event_id: str, now: datetime) -> int:
        with self._locked() as connection:
            row = connection.execute(select(events).where(events.c.id == event_id)).first()
            if row is None:
                raise NotFound(f"no event with id {event_id}")
            reset = connection.execute(
                deliveries.update()
                .where(deliveries.c.event_id == event_id)
                .values(status=PENDING, attempts=0, next_attempt=now, last_error=None, updated=now)
            )
            if reset.rowcount:
                return int(reset.rowcount)
            return _fan_out(connection, [_event_of(row)], now)


def _fan_out(connection: Connection, written: Sequence[Event], now: datetime | None = None) -> int:
    """A delivery, due at `now` (default: the event's time), to each endpoint wanting each event."""
    endpoints = _endpoints(connection)
    rows = [
        {
            "event_id": event.id,
            "endpoint_id": endpoint.id,
            "status": PENDING,
            "attempts": 0,
            "next_attempt": now or event.timestamp,
            "updated": now or event.timestamp,
        }
        for event in written
        for endpoint in endpoints
        if endpoint.wants(event.type)
    ]
    if rows:
        connection.execute(deliveries.insert(), rows)
    return len(rows)


def _claimed(connection: Connection, taken: Sequence[Row[Any, Any, Any]]) -> list[Claimed]:
    event_ids = {row.event_id for row in taken}
    found = {
        row.id: _event_of(row)
        for row in connection.execute(select(events).where(events.c.id.in_(event_ids)))
    }
    endpoints = {e.id: e for e in _endpoints(connection)}
    return [
        Claimed(found[row.event_id], endpoints[row.endpoint_id], row.attempts + 1) for row in taken
    ]


def _endpoints(connection: Connection) -> list[Endpoint]:
    rows = connection.execute(
        select(webhook_endpoints).order_by(webhook_endpoints.c.created, webhook_endpoints.c.id)
    )
    return [
        Endpoint(
            row.id,
            row.url,
            row.secret,
            frozenset(EventType(t) for t in row.event_types.split()),
            row.created,
        )
        for row in rows
    ]


def _event_row(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "type": event.type.value,
        "file_id": event.file_id,
        "timestamp": event.timestamp,
        "data": json.dumps(dict(event.data), separators=(",", ":")),
    }


def _event_of(row: Row[Any]) -> Event:
    return Event(row.id, EventType(row.type), row.timestamp, row.file_id, json.loads(row.data))


def _delivery_of(row: Row[Any]) -> Delivery:
    return Delivery(
        row.event_id,
        row.endpoint_id,
        DeliveryStatus(row.status),
        row.attempts,
        row.next_attempt,
        row.last_error,
    )


__all__ = ["SqlOutbox"]
