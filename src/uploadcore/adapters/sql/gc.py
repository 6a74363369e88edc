"""The statements behind the GcQueries port: keyset batches and compare-and-set writes.

Each batch read seeks an index that starts with the status and ends with
the sort key and `id` (see `tables.py`), so reading batch 2,000 costs what
batch 1 does. Each write re-checks in its WHERE clause, row by row, the
condition its batch was read under.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Delete,
    Select,
    delete,
    literal,
    select,
    tuple_,
    update,
)
from sqlalchemy.sql.dml import ReturningDelete, ReturningUpdate

from uploadcore.adapters.sql.tables import UtcDateTime, files, parts
from uploadcore.domain.upload import UploadStatus
from uploadcore.ports.gc import Keyset

IN_PROGRESS = (UploadStatus.PENDING.value, UploadStatus.UPLOADING.value)


def _after(column: ColumnElement[datetime], after: Keyset | None) -> list[ColumnElement[bool]]:
    """Strictly after the keyset position, as a row value: both databases seek with it."""
    if after is None:
        return []
    position = tuple_(literal(after[0], UtcDateTime), literal(after[1], files.c.id.type))
    return [tuple_(column, files.c.id) > position]


def _batch(
    column: ColumnElement[datetime],
    after: Keyset | None,
    limit: int,
    *conditions: ColumnElement[bool],
) -> Select[*tuple[Any, ...]]:
    """The files meeting `conditions`, in (`column`, id) order, strictly after `after`."""
    return (
        select(files)
        .where(*conditions, *_after(column, after))
        .order_by(column, files.c.id)
        .limit(limit)
    )


def expired_uploads(
    status: UploadStatus, now: datetime, after: Keyset | None, limit: int
) -> Select[*tuple[Any, ...]]:
    column = files.c.expires_at
    return _batch(column, after, limit, files.c.upload_status == status.value, column <= now)


def abort_expired(file_ids: Collection[str], now: datetime) -> ReturningUpdate[str]:
    return (
        update(files)
        .where(
            files.c.id.in_(list(file_ids)),
            files.c.upload_status.in_(IN_PROGRESS),
            files.c.expires_at <= now,
        )
        .values(upload_status=UploadStatus.ABORTED.value, modified=now)
        .returning(files.c.id)
    )


def ended_uploads(
    status: UploadStatus, before: datetime, after: Keyset | None, limit: int
) -> Select[*tuple[Any, ...]]:
    column = files.c.modified
    return _batch(column, after, limit, files.c.upload_status == status.value, column <= before)


def purge_files(
    file_ids: Collection[str], statuses: Collection[UploadStatus], before: datetime
) -> ReturningDelete[str]:
    return (
        delete(files)
        .where(
            files.c.id.in_(list(file_ids)),
            files.c.upload_status.in_([s.value for s in statuses]),
            files.c.modified <= before,
        )
        .returning(files.c.id)
    )


def purge_parts(file_ids: Collection[str]) -> Delete:
    """The foreign key cascades; this keeps a database without enforcement clean too."""
    return delete(parts).where(parts.c.file_id.in_(list(file_ids)))


def deleted_uploads(before: datetime, after: Keyset | None, limit: int) -> Select[*tuple[Any, ...]]:
    """`deleted <= before` excludes the NULLs, so the seek starts at the first marked row."""
    return _batch(files.c.deleted, after, limit, files.c.deleted <= before)


def remove_deleted(file_ids: Collection[str], before: datetime) -> ReturningDelete[str]:
    return (
        delete(files)
        .where(files.c.id.in_(list(file_ids)), files.c.deleted <= before)
        .returning(files.c.id)
    )


def live_upload_ids(upload_ids: Collection[str]) -> Select[str]:
    return select(files.c.upload_id).where(
        files.c.upload_id.in_(list(upload_ids)), files.c.upload_status.in_(IN_PROGRESS)
    )
