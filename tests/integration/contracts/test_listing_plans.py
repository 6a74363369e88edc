"""Every listing query seeks an index in list order: a deep page costs what the first does.

The plans are read from the databases themselves (SQLite's EXPLAIN QUERY
PLAN, PostgreSQL's EXPLAIN), for each combination of filters a listing can
have, with and without a cursor position. No plan may sort (a sort reads
every matching row before returning the first) or scan the table.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, Select
from sqlalchemy.dialects import sqlite

from uploadcore.adapters.sql import SqlAlchemyRepository
from uploadcore.adapters.sql.tables import UtcDateTime
from uploadcore.domain.listing import FileFilter, ListPosition

PARENT = ("blog.post", "42")
# Each listing a client can ask for, and the index SQLite should seek for it.
FILTERS = {
    "a user's completed files": (FileFilter(owner="alice"), "ix_files_owner_upload_status"),
    "a user's files, any status": (
        FileFilter(owner="alice", status=None),
        "ix_files_owner_created",
    ),
    "everyone's completed files": (FileFilter(), "ix_files_upload_status_created"),
    "every file": (FileFilter(status=None), "ix_files_created_id"),
    "a user's files of a parent": (FileFilter(owner="alice", parent=PARENT), "ix_files_parent"),
    "a parent's files, any status": (FileFilter(status=None, parent=PARENT), "ix_files_parent"),
    "a user's videos": (
        FileFilter(owner="alice", file_content_type="video/mp4"),
        "ix_files_owner_upload_status",
    ),
}  # fmt: skip
POSITIONS = {"first page": None, "deep page": ListPosition(datetime(2026, 1, 1, tzinfo=UTC), "m")}


def sqlite_plan(connection: Connection, query: Select[Any]) -> list[str]:
    compiled = query.compile(connection.engine)
    params = [_sqlite_value(compiled.params[name]) for name in compiled.positiontup or ()]
    rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), tuple(params))
    return [row[-1] for row in rows]


def _sqlite_value(value: object) -> object:
    if isinstance(value, datetime):
        naive = UtcDateTime().process_bind_param(value, _SQLITE)
        assert naive is not None
        return naive.isoformat(" ", timespec="microseconds")
    return value


def postgres_plan(connection: Connection, query: Select[Any]) -> list[str]:
    # With sorting and table scans priced out, a plan still sorts or scans only
    # when no index can deliver the rows in list order.
    connection.exec_driver_sql("SET LOCAL enable_sort = off")
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    compiled = query.compile(connection.engine)
    rows = connection.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params)
    return [row[0] for row in rows]


_SQLITE = sqlite.dialect()


@pytest.mark.parametrize("position", POSITIONS.values(), ids=list(POSITIONS))
@pytest.mark.parametrize("listing", FILTERS.values(), ids=list(FILTERS))
def test_sqlite_seeks_the_matching_index_and_never_sorts(
    sqlite_engine: Engine, listing: tuple[FileFilter, str], position: ListPosition | None
) -> None:
    where, index = listing
    query = SqlAlchemyRepository(sqlite_engine).listing_query(where, position, 50)

    with sqlite_engine.connect() as connection:
        plan = sqlite_plan(connection, query)

    # Partial tus uploads are left out by one primary-key probe per row read.
    assert plan[1:] == [
        "CORRELATED SCALAR SUBQUERY 1",
        "SEARCH appends USING INDEX sqlite_autoindex_appends_1 (file_id=?)",
    ], plan
    assert f"USING INDEX {index}" in plan[0], plan
    assert "TEMP B-TREE" not in plan[0], plan


@pytest.mark.postgres
@pytest.mark.parametrize("position", POSITIONS.values(), ids=list(POSITIONS))
@pytest.mark.parametrize("listing", FILTERS.values(), ids=list(FILTERS))
def test_postgres_reads_an_index_in_list_order(
    postgres_engine: Engine, listing: tuple[FileFilter, str], position: ListPosition | None
) -> None:
    where, _ = listing
    query = SqlAlchemyRepository(postgres_engine).listing_query(where, position, 50)

    with postgres_engine.begin() as connection:
        plan = "\n".join(postgres_plan(connection, query))

    assert "Index Scan" in plan, plan
    assert "Sort" not in plan, plan
    assert "Seq Scan" not in plan, plan
