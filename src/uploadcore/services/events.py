"""What the use cases that change state share: writing their events, and the embedders' hooks."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from uploadcore.domain.errors import UploadNotFound
from uploadcore.domain.events import Event, EventType
from uploadcore.domain.upload import Upload
from uploadcore.ports.clock import IdGenerator
from uploadcore.ports.repository import UploadRepository

log = logging.getLogger(__name__)

EventHandler = Callable[[Event], None]


class EventHooks:
    """Handlers an embedder registers, per event type, run after the change has committed.

    A handler runs in the thread that made the change, after its transaction
    committed, once per event; an exception it raises is logged and goes no
    further (the change is kept whatever a handler does). Handlers that take
    long should hand the work on: the request waits for them.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._handlers: dict[EventType | None, tuple[EventHandler, ...]] = {}

    def on(self, type: EventType | str | None, handler: EventHandler) -> EventHandler:
        """Run `handler` after each committed event of `type` (every type when None)."""
        key = None if type is None else EventType(type)
        with self._lock:
            self._handlers[key] = (*self._handlers.get(key, ()), handler)
        return handler

    def published(self, *events: Event) -> None:
        """Run the handlers of these committed events."""
        handlers = self._handlers  # replaced, never changed in place: no lock to read
        for event in events:
            for handler in (*handlers.get(event.type, ()), *handlers.get(None, ())):
                try:
                    handler(event)
                except Exception:
                    log.exception("event handler %r failed on %s %s", handler, event.type, event.id)


@dataclass(frozen=True)
class Events:
    """Writes events inside a unit of work, and publishes them once it committed."""

    ids: IdGenerator
    hooks: EventHooks = field(default_factory=EventHooks)

    def record(self, tx: UploadRepository, type: EventType, file_id: str, now: datetime) -> Event:
        """Write the event of a change `tx` has just made, describing the file as it now is."""
        upload = tx.get(file_id)
        if upload is None:
            raise UploadNotFound(f"no upload with id {file_id}")
        event = Event.of(f"evt_{self.ids.new_id()}", type, upload, now)
        tx.add_event(event)
        return event

    def record_all(
        self, tx: UploadRepository, type: EventType, uploads: Sequence[Upload], now: datetime
    ) -> list[Event]:
        """Write the events of one change to many uploads, each given as it now is."""
        made = [Event.of(f"evt_{self.ids.new_id()}", type, u, now) for u in uploads]
        tx.add_events(made)
        return made

    def committed(self, *events: Event | None) -> None:
        """Publish the events whose transactions have committed (None is skipped)."""
        self.hooks.published(*(e for e in events if e is not None))


__all__ = ["EventHandler", "EventHooks", "Events"]
