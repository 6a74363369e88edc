"""UploadRepository and UserRepository on SQLAlchemy 2 Core (SQLite or PostgreSQL)."""

from __future__ import annotations

import copy
import importlib
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Self

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Insert,
    Row,
    Select,
    func,
    literal,
    literal_column,
    select,
    tuple_,
    update,
)
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from uploadcore.adapters.sql import gc
from uploadcore.adapters.sql.appends import AppendQueries, not_partial
from uploadcore.adapters.sql.engine import IMMEDIATE, is_wal_sqlite
from uploadcore.adapters.sql.outbox import SqlOutbox
from uploadcore.adapters.sql.point_reads import SqlitePointReads
from uploadcore.adapters.sql.stats import StatsQueries
from uploadcore.adapters.sql.tables import UtcDateTime, files, parts
from uploadcore.adapters.sql.tokens import TokenQueries
from uploadcore.adapters.sql.users import UserQueries
from uploadcore.domain.errors import StorageUnavailable
from uploadcore.domain.listing import FileFilter, ListPosition
from uploadcore.domain.metadata import MetadataUpdate
from uploadcore.domain.parts import PartPlan, ReceivedPart
from uploadcore.domain.upload import (
    TERMINAL,
    Upload,
    UploadStatus,
    check_transition,
)
from uploadcore.ports.gc import Keyset


class SqlAlchemyRepository(SqlOutbox, TokenQueries, UserQueries, AppendQueries, StatsQueries):
    """Uploads, parts, users, upload tokens, appends, the outbox and its stats in a database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # The dialect's own INSERT (ON CONFLICT); imported here, so a SQLite server never
        # loads the PostgreSQL dialect and its drivers' modules (2 MiB).
        on_sqlite = engine.dialect.name == "sqlite"
        dialect = importlib.import_module(f"sqlalchemy.dialects.{engine.dialect.name}")
        self._insert = dialect.insert
        # The reads on every request's path skip SQLAlchemy's execution layer on SQLite.
        self._point_reads = SqlitePointReads(engine) if on_sqlite else None
        self._wal = is_wal_sqlite(engine)
        self._connection: Connection | None = None

    @property
    def point_reads_never_wait(self) -> bool:
        """Whether `get`, `parts` and `principal_for_key` finish without waiting on anything.

        True on a SQLite engine from `make_engine`: one row by its key, read in
        this process from a local file in WAL mode, where a read never waits
        for a writer (a few µs from the page cache). False on PostgreSQL (a
        network round trip) and on SQLite engines made elsewhere (a rollback
        journal makes readers wait for writers). A caller on an event loop may
        make these reads inline when it is True, and must not otherwise.
        """
        return self._point_reads is not None and self._wal

    @contextmanager
    def transaction(self) -> Iterator[Self]:
        if self._connection is not None:  # already in one: join it
            yield self
            return
        try:
            with self.engine.connect() as connection:
                # SQLite: take the write lock at BEGIN (waiting out the busy timeout), so a
                # transaction that reads and then writes never fails to upgrade its lock.
                connection.execution_options(**{IMMEDIATE: True})
                with connection.begin():
                    yield self._bound_to(connection)
        except DBAPIError as error:
            if _unreachable(error):
                raise StorageUnavailable("the database is unavailable; retry shortly") from error
            raise

    def _bound_to(self, connection: Connection) -> Self:
        """This repository, with every statement on `connection` (inside its transaction)."""
        bound = copy.copy(self)
        bound._connection = connection
        bound._point_reads = None  # reads see the transaction's own writes
        return bound

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        if self._connection is not None:  # in a unit of work: it commits, or rolls back
            yield self._connection
            return
        try:
            with self.engine.begin() as connection:
                yield connection
        except DBAPIError as error:
            if _unreachable(error):
                raise StorageUnavailable("the database is unavailable; retry shortly") from error
            raise

    @contextmanager
    def _locked(self) -> Iterator[Connection]:
        with self.transaction() as tx:
            if tx._connection is None:  # pragma: no cover - transaction() always binds one
                raise RuntimeError("no connection in a unit of work")
            yield tx._connection

    def _uploads(self, query: Select[Any]) -> list[Upload]:
        """The uploads a SELECT of whole `files` rows reads."""
        with self._begin() as connection:
            return [_upload_of(row) for row in connection.execute(query)]

    def ping(self) -> None:
        """Raise StorageUnavailable unless the database answers."""
        with self._begin() as connection:
            connection.exec_driver_sql("SELECT 1")

    # -- uploads ----------------------------------------------------------

    def add(self, upload: Upload) -> None:
        with self._begin() as connection:
            connection.execute(files.insert().values(**_row_of(upload)))

    def get(self, file_id: str) -> Upload | None:
        if self._point_reads is not None:
            return self._point_reads.file(file_id)
        with self._begin() as connection:
            row = connection.execute(select(files).where(files.c.id == file_id)).first()
        return None if row is None else _upload_of(row)

    def mark_uploading(self, file_id: str, upload_id: str, storage_key: str, now: datetime) -> bool:
        return self._update_if(
            file_id,
            UploadStatus.PENDING,
            upload_id=upload_id,
            storage_key=storage_key,
            upload_status=UploadStatus.UPLOADING.value,
            modified=now,
        )

    def set_status(
        self,
        file_id: str,
        expected: UploadStatus,
        new: UploadStatus,
        now: datetime,
        etag: str | None = None,
    ) -> bool:
        check_transition(expected, new)  # a terminal status is never overwritten
        values: dict[str, Any] = {"upload_status": new.value, "modified": now}
        if etag is not None:
            values["etag"] = etag
        return self._update_if(file_id, expected, **values)

    def record_part(
        self, file_id: str, part: ReceivedPart, expires_at: datetime, now: datetime
    ) -> bool:
        with self._begin() as connection:
            # The UPDATE comes first: it takes the row (or SQLite's write) lock, so an
            # abort or completion racing us either sees this part or makes us store nothing.
            if not _update_if(
                connection, file_id, UploadStatus.UPLOADING, expires_at=expires_at, modified=now
            ):
                return False
            connection.execute(self._upsert_part(file_id, part, now))
            return True

    def touch(self, file_id: str, expires_at: datetime, now: datetime) -> bool:
        return self._update_if(file_id, UploadStatus.UPLOADING, expires_at=expires_at, modified=now)

    def parts(self, file_id: str) -> Sequence[ReceivedPart]:
        if self._point_reads is not None:
            return self._point_reads.parts(file_id)
        query = (
            select(parts.c.part_number, parts.c.etag, parts.c.size)
            .where(parts.c.file_id == file_id)
            .order_by(parts.c.part_number)
        )
        with self._begin() as connection:
            return [ReceivedPart(*row) for row in connection.execute(query)]

    # -- files as a resource ----------------------------------------------

    def list_files(
        self, where: FileFilter, after: ListPosition | None, limit: int
    ) -> Sequence[Upload]:
        return self._uploads(self.listing_query(where, after, limit))

    def listing_query(
        self, where: FileFilter, after: ListPosition | None, limit: int
    ) -> Select[Any]:
        """The SELECT behind `list_files` (the tests explain its plan)."""
        conditions = _conditions(where, sqlite=self.engine.dialect.name == "sqlite")
        query = select(files).where(files.c.deleted.is_(None), not_partial(), *conditions)
        if after is not None:
            # A row-value comparison: both SQLite and PostgreSQL seek the index with it.
            position = tuple_(
                literal(after.created, UtcDateTime), literal(after.id, files.c.id.type)
            )
            query = query.where(tuple_(files.c.created, files.c.id) < position)
        return query.order_by(files.c.created.desc(), files.c.id.desc()).limit(limit)

    def update_metadata(self, file_id: str, update: MetadataUpdate, now: datetime) -> bool:
        live = (files.c.id == file_id, files.c.deleted.is_(None))
        with self._begin() as connection:
            if not update.changes:
                return connection.execute(select(files.c.id).where(*live)).first() is not None
            statement = files.update().where(*live).values(**update.as_dict(), modified=now)
            return connection.execute(statement).rowcount == 1

    def mark_deleted(self, file_id: str, now: datetime) -> bool:
        terminal = [s.value for s in TERMINAL]
        statement = (
            files.update()
            .where(files.c.id == file_id, files.c.upload_status.in_(terminal))
            .values(deleted=func.coalesce(files.c.deleted, literal(now, UtcDateTime)))
        )
        with self._begin() as connection:
            return connection.execute(statement).rowcount == 1

    def remove(self, file_id: str) -> bool:
        with self._begin() as connection:
            removed = connection.execute(
                files.delete().where(files.c.id == file_id, files.c.deleted.is_not(None))
            )
            if removed.rowcount != 1:
                return False
            # The foreign key cascades; this keeps a database without enforcement clean too.
            connection.execute(parts.delete().where(parts.c.file_id == file_id))
            return True

    def _update_if(self, file_id: str, expected: UploadStatus, **values: Any) -> bool:
        with self._begin() as connection:
            return _update_if(connection, file_id, expected, **values)

    def _upsert_part(self, file_id: str, part: ReceivedPart, now: datetime) -> Insert:
        statement = self._insert(parts).values(
            file_id=file_id,
            part_number=part.part_number,
            etag=part.etag,
            size=part.size,
            received=now,
        )
        return statement.on_conflict_do_update(  # type: ignore[no-any-return]
            index_elements=[parts.c.file_id, parts.c.part_number],
            set_={"etag": part.etag, "size": part.size, "received": now},
        )

    # -- gc (statements in gc.py) ----------------------------------------

    def expired_uploads(
        self, status: UploadStatus, now: datetime, after: Keyset | None, limit: int
    ) -> Sequence[Upload]:
        return self._uploads(gc.expired_uploads(status, now, after, limit))

    def abort_expired(self, file_ids: Collection[str], now: datetime) -> set[str]:
        if not file_ids:
            return set()
        with self._begin() as connection:
            return set(connection.execute(gc.abort_expired(file_ids, now)).scalars())

    def ended_uploads(
        self, status: UploadStatus, before: datetime, after: Keyset | None, limit: int
    ) -> Sequence[Upload]:
        return self._uploads(gc.ended_uploads(status, before, after, limit))

    def purge(
        self, file_ids: Collection[str], statuses: Collection[UploadStatus], before: datetime
    ) -> set[str]:
        if not file_ids:
            return set()
        with self._begin() as connection:
            purged = set(connection.execute(gc.purge_files(file_ids, statuses, before)).scalars())
            if purged:
                connection.execute(gc.purge_parts(purged))
            return purged

    def deleted_uploads(
        self, before: datetime, after: Keyset | None, limit: int
    ) -> Sequence[Upload]:
        return self._uploads(gc.deleted_uploads(before, after, limit))

    def remove_deleted(self, file_ids: Collection[str], before: datetime) -> set[str]:
        if not file_ids:
            return set()
        with self._begin() as connection:
            removed = set(connection.execute(gc.remove_deleted(file_ids, before)).scalars())
            if removed:
                connection.execute(gc.purge_parts(removed))
            return removed

    def live_upload_ids(self, upload_ids: Collection[str]) -> set[str]:
        if not upload_ids:
            return set()
        with self._begin() as connection:
            return set(connection.execute(gc.live_upload_ids(upload_ids)).scalars())


def _unreachable(error: DBAPIError) -> bool:
    """Whether the database could not be reached (StorageUnavailable), not a bad statement."""
    return isinstance(error, OperationalError | InterfaceError) or error.connection_invalidated


def _conditions(where: FileFilter, sqlite: bool) -> list[ColumnElement[bool]]:
    """The filter as equality conditions, which lead the listing indexes."""
    conditions: list[ColumnElement[bool]] = []
    if where.owner is not None:
        conditions.append(files.c.owner == where.owner)
    if where.status is not None:
        conditions.append(files.c.upload_status == where.status.value)
    if where.parent is not None:
        parent = [
            files.c.parent_content_type == where.parent[0],
            files.c.parent_object_id == where.parent[1],
        ]
        if sqlite:
            # A parent has few files. Without statistics SQLite cannot know that and
            # may seek the owner's index instead; likelihood() tells it (and keeps the
            # terms usable by an index).
            parent = [func.likelihood(term, literal_column("0.001")) for term in parent]
        conditions += parent
    if where.file_content_type is not None:
        conditions.append(files.c.file_content_type == where.file_content_type)
    return conditions


def _update_if(connection: Connection, file_id: str, expected: UploadStatus, **values: Any) -> bool:
    result = connection.execute(
        update(files)
        .where(files.c.id == file_id, files.c.upload_status == expected.value)
        .values(**values)
    )
    return result.rowcount == 1


def _row_of(upload: Upload) -> dict[str, Any]:
    return {
        "id": upload.id,
        "upload_id": upload.upload_id,
        "storage_key": upload.storage_key,
        "owner": upload.owner,
        "file_name": upload.file_name,
        "file_size": upload.plan.file_size,
        "file_content_type": upload.file_content_type,
        "num_parts": upload.plan.num_parts,
        "part_size": upload.plan.part_size,
        "upload_status": upload.status.value,
        "etag": upload.etag,
        "parent_content_type": upload.parent_content_type,
        "parent_object_id": upload.parent_object_id,
        "created": upload.created,
        "modified": upload.modified,
        "expires_at": upload.expires_at,
        "deleted": upload.deleted,
        "token_id": upload.token_id,
    }


def _upload_of(row: Row[Any]) -> Upload:
    return Upload(
        id=row.id,
        upload_id=row.upload_id,
        storage_key=row.storage_key,
        owner=row.owner,
        file_name=row.file_name,
        file_content_type=row.file_content_type,
        plan=PartPlan(row.file_size, row.num_parts, row.part_size),
        status=UploadStatus(row.upload_status),
        created=row.created,
        modified=row.modified,
        expires_at=row.expires_at,
        etag=row.etag,
        parent_content_type=row.parent_content_type,
        parent_object_id=row.parent_object_id,
        deleted=row.deleted,
        token_id=row.token_id,
    )
