"""Appended uploads (tus) on SQLAlchemy Core: the part of SqlAlchemyRepository that keeps them."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, exists, or_, select, update

from uploadcore.adapters.sql.point_reads import SqlitePointReads
from uploadcore.adapters.sql.tables import appends, files
from uploadcore.domain.append import Appending, Concat, Fill
from uploadcore.domain.parts import PartPlan
from uploadcore.domain.upload import UploadStatus


class AppendQueries:
    """AppendRepository, over the repository's transactions."""

    _point_reads: SqlitePointReads | None  # the repository's own (None in a transaction)

    def _begin(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError  # the repository's own

    def add_appending(self, file_id: str, appending: Appending) -> None:
        with self._begin() as connection:
            connection.execute(
                appends.insert().values(
                    file_id=file_id,
                    offset=appending.offset,
                    length=appending.length,
                    metadata=appending.metadata,
                    concat=appending.concat.value,
                    partials=" ".join(appending.partials) or None,
                    fill=appending.fill.value,
                    size_limit=appending.limit,
                    staged=appending.staged,
                    tail=appending.tail,
                )
            )

    def appending(self, file_id: str) -> Appending | None:
        query = select(
            appends.c.offset,
            appends.c.length,
            appends.c.metadata,
            appends.c.concat,
            appends.c.partials,
            appends.c.fill,
            appends.c.size_limit,
            appends.c.staged,
            appends.c.tail,
        )
        row: tuple[Any, ...] | None
        if self._point_reads is not None:  # every tus HEAD reads it
            row = self._point_reads.appending(file_id)
        else:
            with self._begin() as connection:
                found = connection.execute(query.where(appends.c.file_id == file_id)).first()
            row = None if found is None else tuple(found)
        if row is None:
            return None
        offset, length, metadata, concat, partials, fill, size_limit, staged, tail = row
        return Appending(
            offset,
            length,
            metadata,
            Concat(concat),
            tuple((partials or "").split()),
            Fill(fill),
            size_limit,
            staged,
            tail,
        )

    def claim_append(
        self, file_id: str, offset: int, lease: str, now: datetime, until: datetime, tail: str = ""
    ) -> bool:
        uploading = (
            select(files.c.id)
            .where(files.c.id == file_id, files.c.upload_status == UploadStatus.UPLOADING.value)
            .scalar_subquery()
        )
        statement = (
            update(appends)
            .where(
                appends.c.file_id == uploading,
                appends.c.offset == offset,
                appends.c.tail == tail,
                or_(appends.c.lease.is_(None), appends.c.lease_until <= now),
            )
            .values(lease=lease, lease_until=until)
        )
        with self._begin() as connection:
            return connection.execute(statement).rowcount == 1

    def renew_append(self, file_id: str, lease: str, until: datetime) -> bool:
        return self._leased(file_id, lease, lease_until=until)

    def release_append(
        self, file_id: str, lease: str, appending: Appending, expires_at: datetime, now: datetime
    ) -> bool:
        with self._begin() as connection:
            released = _update_leased(
                connection,
                file_id,
                lease,
                offset=appending.offset,
                length=appending.length,
                staged=appending.staged,
                tail=appending.tail,
                lease=None,
                lease_until=None,
            )
            if released:
                connection.execute(
                    update(files)
                    .where(
                        files.c.id == file_id,
                        files.c.upload_status == UploadStatus.UPLOADING.value,
                    )
                    .values(expires_at=expires_at, modified=now)
                )
            return released

    def finish_appending(self, file_id: str, plan: PartPlan, etag: str, now: datetime) -> bool:
        statement = (
            update(files)
            .where(files.c.id == file_id, files.c.upload_status == UploadStatus.UPLOADING.value)
            .values(
                file_size=plan.file_size,
                num_parts=plan.num_parts,
                part_size=plan.part_size,
                upload_status=UploadStatus.COMPLETED.value,
                etag=etag,
                modified=now,
            )
        )
        with self._begin() as connection:
            return connection.execute(statement).rowcount == 1

    def reserve_part(self, file_id: str, lease: str) -> int | None:
        with self._begin() as connection:
            if not _update_leased(connection, file_id, lease, next_part=appends.c.next_part + 1):
                return None
            # Our own write, in our own transaction: the number just taken is one below.
            taken = select(appends.c.next_part).where(appends.c.file_id == file_id)
            number: int = connection.execute(taken).scalar_one() - 1
            return number

    def _leased(self, file_id: str, lease: str, **values: Any) -> bool:
        with self._begin() as connection:
            return _update_leased(connection, file_id, lease, **values)


def _update_leased(connection: Connection, file_id: str, holder: str, **values: Any) -> bool:
    statement = (
        update(appends)
        .where(appends.c.file_id == file_id, appends.c.lease == holder)
        .values(**values)
    )
    return connection.execute(statement).rowcount == 1


def not_partial() -> Any:
    """The listing's condition that leaves partial uploads out.

    Correlated: one primary-key probe per row the listing reads, so a page costs
    the same however many partial uploads there are.
    """
    partial = appends.c.concat == Concat.PARTIAL.value
    return ~exists().where(appends.c.file_id == files.c.id, partial)
