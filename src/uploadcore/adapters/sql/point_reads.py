"""One row by its key on SQLite, without SQLAlchemy's execution layer.

Every authenticated request reads the caller's user and, most of the time, one
file by id. Through SQLAlchemy Core each read costs about 100 µs (pool events,
an explicit BEGIN and COMMIT, the statement cache, result processing); through
the pool's DBAPI connection it costs about 15 µs. A lone SELECT is atomic in
SQLite's autocommit mode (the engine leaves the driver in it), so no
transaction is needed, and the pooled connections carry the engine's PRAGMAs.
The repository contract tests run these reads like every other method.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from uploadcore.adapters.sql.tables import UtcDateTime, files
from uploadcore.domain.errors import StorageUnavailable

_FILE_COLUMNS = [c.name for c in files.columns]
_FILE_BY_ID = f"SELECT {', '.join(_FILE_COLUMNS)} FROM files WHERE id = ?"  # noqa: S608
_USER_BY_KEY = "SELECT name, is_admin FROM users WHERE key_hash = ?"
_TIMES = frozenset(c.name for c in files.columns if isinstance(c.type, UtcDateTime))


class SqlitePointReads:
    """Reads single rows through the engine's pool; for a SQLite engine only."""

    def __init__(self, engine: Engine) -> None:
        if engine.dialect.name != "sqlite":
            raise ValueError("point reads are for SQLite engines")
        self.engine = engine

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
        try:
            connection = self.engine.raw_connection()
        except DBAPIError as error:
            raise StorageUnavailable("the database is unavailable; retry shortly") from error
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(sql, (key,))
                row: tuple[Any, ...] | None = cursor.fetchone()
            finally:
                cursor.close()
        except sqlite3.OperationalError as error:
            raise StorageUnavailable("the database is unavailable; retry shortly") from error
        finally:
            connection.close()
        return row
