"""One row by its key on SQLite, without SQLAlchemy's execution layer.

Every authenticated request reads the caller's user and, most of the time, one
file by id. Through SQLAlchemy Core each read costs about 100 µs (pool events,
an explicit BEGIN and COMMIT, the statement cache, result processing); through
a DBAPI connection checked out of the pool and back it costs about 15 µs, 6 of
them the pool's. So these reads keep a few connections of their own, made by
the engine (they carry its PRAGMAs) and detached from its pool: taking one and
putting it back is a list pop and append. A lone SELECT is atomic in SQLite's
autocommit mode (the engine leaves the driver in it), so no transaction is
needed, and closing the cursor ends the read, so no snapshot is held between
reads. A connection that raised is closed, not kept; `engine.dispose()` closes
the idle ones, and those in use when it ran are closed as they come back.
The repository contract tests run these reads like every other method.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Engine, event
from sqlalchemy.exc import DBAPIError

from uploadcore.adapters.sql.tables import UtcDateTime, files
from uploadcore.domain.errors import StorageUnavailable

_FILE_COLUMNS = [c.name for c in files.columns]
_FILE_BY_ID = f"SELECT {', '.join(_FILE_COLUMNS)} FROM files WHERE id = ?"  # noqa: S608
_USER_BY_KEY = "SELECT name, is_admin FROM users WHERE key_hash = ?"
_TIMES = frozenset(c.name for c in files.columns if isinstance(c.type, UtcDateTime))
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

    def file(self, file_id: str) -> SimpleNamespace | None:
        """The `files` row with this id, its times as UTC datetimes, or None."""
        found = self._one(_FILE_BY_ID, file_id)
        if found is None:
            return None
        row = dict(zip(_FILE_COLUMNS, found, strict=True))
        for name in _TIMES:
            if row[name] is not None:
                row[name] = datetime.fromisoformat(row[name]).replace(tzinfo=UTC)
        return SimpleNamespace(**row)

    def user(self, key_hash: str) -> tuple[str, bool] | None:
        """The name and admin flag of the user whose key has this hash, or None."""
        found = self._one(_USER_BY_KEY, key_hash)
        return None if found is None else (found[0], bool(found[1]))

    def _one(self, sql: str, key: str) -> tuple[Any, ...] | None:
        try:  # list.pop and list.append are atomic: threads never share a connection
            connection, generation = self._idle.pop()
        except IndexError:
            connection, generation = self._connect(), self._generation
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(sql, (key,))
                row: tuple[Any, ...] | None = cursor.fetchone()
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
        return row

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
