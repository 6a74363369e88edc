"""Reads by key on SQLite, without SQLAlchemy's execution layer.

Every authenticated request reads the caller's user and, most of the time, one
file by id; every resume also reads the file's parts (one range of their key).
Through SQLAlchemy Core each read costs about 100 µs (pool events, an explicit
BEGIN and COMMIT, the statement cache, result processing); through a DBAPI
connection checked out of the pool and back it costs about 15 µs, 6 of them
the pool's. So these reads keep a few connections of their own, made by the
engine (they carry its PRAGMAs) and detached from its pool: taking one and
putting it back is a list pop and append. A lone SELECT is atomic in SQLite's
autocommit mode (the engine leaves the driver in it), so no transaction is
needed, and closing the cursor ends the read, so no snapshot is held between
reads. A connection that raised is closed, not kept; `engine.dispose()` closes
the idle ones, and those in use when it ran are closed as they come back.
The repository contract tests run these reads like every other method.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Engine, event
from sqlalchemy.exc import DBAPIError

from uploadcore.domain.errors import StorageUnavailable
from uploadcore.domain.parts import PartPlan, ReceivedPart
from uploadcore.domain.upload import Upload, UploadStatus

# The columns in the order `_upload` takes them.
_FILE_BY_ID = (
    "SELECT id, upload_id, storage_key, owner, file_name, file_content_type,"
    " file_size, num_parts, part_size, upload_status, created, modified, expires_at,"
    " etag, parent_content_type, parent_object_id, deleted, token_id FROM files WHERE id = ?"
)
_USER_BY_KEY = "SELECT name, is_admin FROM users WHERE key_hash = ?"
_APPENDING = (
    'SELECT "offset", length, metadata, concat, partials, fill, size_limit, staged, tail'
    " FROM appends WHERE file_id = ?"
)
_PARTS_OF_FILE = "SELECT part_number, etag, size FROM parts WHERE file_id = ? ORDER BY part_number"
_STATUSES = {status.value: status for status in UploadStatus}
_MAX_IDLE = 64  # more than the threads and the event loop that may read at once


class SqlitePointReads:
    """Reads single rows through the engine's pool; for a SQLite engine only."""

    def __init__(self, engine: Engine) -> None:
        if engine.dialect.name != "sqlite":
            raise ValueError("point reads are for SQLite engines")
        self.engine = engine
        # Connections not in use, each with the engine generation it was made in.
        self._idle: list[tuple[sqlite3.Connection, int]] = []
        self._generation = 0
        event.listen(engine, "engine_disposed", self._close_idle)

    def file(self, file_id: str) -> Upload | None:
        """The upload whose `files` row has this id, or None."""
        found = self._one(_FILE_BY_ID, file_id)
        return None if found is None else _upload(*found)

    def user(self, key_hash: str) -> tuple[str, bool] | None:
        """The name and admin flag of the user whose key has this hash, or None."""
        found = self._one(_USER_BY_KEY, key_hash)
        return None if found is None else (found[0], bool(found[1]))

    def parts(self, file_id: str) -> list[ReceivedPart]:
        """The parts recorded for a file, in part-number order (one range of the key)."""
        return [ReceivedPart(*row) for row in self._all(_PARTS_OF_FILE, file_id)]

    def appending(self, file_id: str) -> tuple[Any, ...] | None:
        """The `appends` row of a file, in `AppendQueries.appending`'s column order, or None."""
        return self._one(_APPENDING, file_id)

    def _one(self, sql: str, key: str) -> tuple[Any, ...] | None:
        rows = self._all(sql, key, one=True)
        return rows[0] if rows else None

    def _all(self, sql: str, key: str, *, one: bool = False) -> list[tuple[Any, ...]]:
        try:  # list.pop and list.append are atomic: threads never share a connection
            connection, generation = self._idle.pop()
        except IndexError:
            connection, generation = self._connect(), self._generation
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(sql, (key,))
                if one:
                    row = cursor.fetchone()
                    rows: list[tuple[Any, ...]] = [] if row is None else [row]
                else:
                    rows = cursor.fetchall()
            finally:
                cursor.close()
        except BaseException as error:
            connection.close()
            if isinstance(error, sqlite3.OperationalError):
                raise StorageUnavailable("the database is unavailable; retry shortly") from error
            raise
        if generation == self._generation and len(self._idle) < _MAX_IDLE:
            self._idle.append((connection, generation))
        else:
            connection.close()
        return rows

    def _connect(self) -> sqlite3.Connection:
        """A new connection of the engine's, detached from its pool: ours to keep and close."""
        try:
            proxied = self.engine.raw_connection()
        except DBAPIError as error:
            raise StorageUnavailable("the database is unavailable; retry shortly") from error
        proxied.detach()
        return cast(sqlite3.Connection, proxied.dbapi_connection)

    def _close_idle(self, _engine: Engine) -> None:
        self._generation += 1
        while self._idle:
            try:
                connection, _ = self._idle.pop()
            except IndexError:  # another thread took the last one
                break
            connection.close()


def _upload(
    id: str, upload_id: str, storage_key: str, owner: str, file_name: str,
    file_content_type: str, file_size: int, num_parts: int, part_size: int, status: str,
    created: str, modified: str, expires_at: str, etag: str | None,
    parent_content_type: str | None, parent_object_id: str | None, deleted: str | None,
    token_id: str | None,
) -> Upload:  # fmt: skip
    return Upload(
        id=id,
        upload_id=upload_id,
        storage_key=storage_key,
        owner=owner,
        file_name=file_name,
        file_content_type=file_content_type,
        plan=PartPlan(file_size, num_parts, part_size),
        status=_STATUSES[status],
        created=_utc(created),
        modified=_utc(modified),
        expires_at=_utc(expires_at),
        etag=etag,
        parent_content_type=parent_content_type,
        parent_object_id=parent_object_id,
        deleted=None if deleted is None else _utc(deleted),
        token_id=token_id,
    )


def _utc(stored: str) -> datetime:
    """A time as `UtcDateTime` keeps it on SQLite (naive, in UTC) as an aware datetime."""
    return datetime.fromisoformat(stored + "+00:00")
