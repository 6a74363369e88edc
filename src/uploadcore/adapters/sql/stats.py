"""`ReportsStats` on SQLAlchemy: what `/metrics` reads at each scrape (a repository mixin)."""

from __future__ import annotations

from contextlib import AbstractContextManager

from sqlalchemy import Connection, func, select

from uploadcore.adapters.sql.tables import deliveries, events, files
from uploadcore.domain.events import DeliveryStatus
from uploadcore.domain.upload import UploadStatus
from uploadcore.ports.stats import OperationalStats

_IN_PROGRESS = (UploadStatus.PENDING.value, UploadStatus.UPLOADING.value)


class StatsQueries:
    """Two indexed queries: files by status, and pending deliveries by status."""

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
        return OperationalStats(int(count), int(size), since)
