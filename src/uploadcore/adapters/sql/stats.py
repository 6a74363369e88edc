"""`ReportsStats` and `CountsGcActions` on SQLAlchemy: what `/metrics` reads (a mixin)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import Connection, func, select

from uploadcore.adapters.sql.tables import deliveries, events, files, gc_actions
from uploadcore.domain.events import DeliveryStatus
from uploadcore.domain.upload import UploadStatus
from uploadcore.ports.stats import OperationalStats

_IN_PROGRESS = (UploadStatus.PENDING.value, UploadStatus.UPLOADING.value)


class StatsQueries:
    """Indexed queries: files by status, pending deliveries by status, gc's few totals."""

    _insert: Callable[..., Any]  # the dialect's INSERT, with ON CONFLICT

    def _begin(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    def operational_stats(self) -> OperationalStats:
        in_progress = select(func.count(), func.coalesce(func.sum(files.c.file_size), 0)).where(
            files.c.upload_status.in_(_IN_PROGRESS), files.c.deleted.is_(None)
        )
        oldest = (
            select(func.min(events.c.timestamp))
            .select_from(deliveries.join(events, events.c.id == deliveries.c.event_id))
            .where(deliveries.c.status == DeliveryStatus.PENDING.value)
        )
        with self._begin() as connection:
            count, size = connection.execute(in_progress).one()
            since = connection.execute(oldest).scalar()
            totals = connection.execute(select(gc_actions.c.kind, gc_actions.c.count)).all()
        return OperationalStats(int(count), int(size), since, {k: int(n) for k, n in totals})

    def add_gc_actions(self, counts: Mapping[str, int]) -> None:
        rows = [{"kind": kind, "count": n} for kind, n in sorted(counts.items()) if n]
        if not rows:
            return
        insert = self._insert(gc_actions)
        upsert = insert.on_conflict_do_update(
            index_elements=[gc_actions.c.kind],
            set_={"count": gc_actions.c.count + insert.excluded.count},
        )
        with self._begin() as connection:
            connection.execute(upsert, rows)
