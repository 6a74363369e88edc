"""The Alembic migrations build exactly the schema in `tables.py`, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, select, text
from tests.integration.reliability.server import UPLOADCORE, fresh_postgres_database, server_env

from uploadcore.adapters.sql import make_engine, migrate, upgrade
from uploadcore.adapters.sql.engine import SQLITE_BUSY_TIMEOUT_MS
from uploadcore.adapters.sql.migrate import alembic_config
from uploadcore.adapters.sql.tables import metadata, users

TABLES = {
    "users", "files", "parts", "upload_tokens", "events", "webhook_endpoints", "deliveries",
    "appends", "gc_actions",
}  # fmt: skip


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    """A database that `upgrade` has brought to the newest schema."""
    migrated: Engine = request.getfixturevalue(f"{request.param}_engine")
    return migrated


def differences(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def test_the_migrated_schema_matches_the_tables_exactly(engine: Engine) -> None:
    assert differences(engine) == []
    assert set(inspect(engine).get_table_names()) >= TABLES


def test_the_database_is_at_the_newest_revision_after_upgrade(engine: Engine) -> None:
    head = head_revision(engine)

    assert head is not None
    assert current_revision(engine) == head


def test_the_head_read_from_the_migration_files_is_alembics(engine: Engine) -> None:
    assert migrate.head_revision() == head_revision(engine)
    assert migrate.current_revision(engine) == current_revision(engine)


def test_a_database_one_revision_behind_is_brought_to_the_head(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'behind.db'}")
    try:
        head = migrate.head_revision()
        upgrade(engine, "head")
        assert head is not None
        upgrade_to_previous(engine)
        assert migrate.current_revision(engine) != head

        upgrade(engine)

        assert migrate.current_revision(engine) == head
        assert differences(engine) == []
    finally:
        engine.dispose()


def upgrade_to_previous(engine: Engine) -> None:
    from alembic import command

    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "-1")


def index_definition(engine: Engine, name: str) -> str:
    query = {
        "sqlite": "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :name",
        "postgresql": "SELECT indexdef FROM pg_indexes WHERE indexname = :name",
    }[engine.dialect.name]
    with engine.connect() as connection:
        return str(connection.execute(text(query), {"name": name}).scalar_one())


def test_the_index_of_records_marked_deleted_is_partial_on_both_databases(engine: Engine) -> None:
    # Alembic's comparison does not look at index predicates, and tables.py names the
    # predicate for SQLite only (to keep the PostgreSQL dialect out of a SQLite server).
    definition = index_definition(engine, "ix_files_deleted_id")

    assert "WHERE" in definition.upper(), definition
    assert "deleted IS NOT NULL" in definition, definition


def test_upgrading_again_changes_nothing_and_keeps_the_data(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            users.insert().values(
                name="alice", key_hash="k" * 64, is_admin=False, created=datetime.now(UTC)
            )
        )
    revision = current_revision(engine)

    upgrade(engine)
    upgrade(engine)

    assert current_revision(engine) == revision
    assert differences(engine) == []
    with engine.connect() as connection:
        assert connection.execute(select(users.c.name)).scalars().all() == ["alice"]


def test_upgrade_builds_the_schema_in_an_empty_sqlite_database(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        assert inspect(engine).get_table_names() == []

        upgrade(engine)

        assert set(inspect(engine).get_table_names()) == {*TABLES, "alembic_version"}
        assert differences(engine) == []
    finally:
        engine.dispose()


def test_a_sqlite_engine_uses_wal_a_busy_timeout_full_sync_and_foreign_keys(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'pragmas.db'}")
    try:
        # Every pooled connection is configured, not just the first.
        with engine.connect() as first, engine.connect() as second:
            for connection in (first, second):
                pragma = connection.exec_driver_sql
                assert pragma("PRAGMA journal_mode").scalar() == "wal"
                assert pragma("PRAGMA busy_timeout").scalar() == SQLITE_BUSY_TIMEOUT_MS
                assert pragma("PRAGMA synchronous").scalar() == 2  # FULL
                assert pragma("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()
    assert SQLITE_BUSY_TIMEOUT_MS >= 5_000


@pytest.mark.postgres
def test_instances_migrating_a_new_postgres_database_at_once_all_succeed(tmp_path: Path) -> None:
    """Each `serve` migrates on start: several started together take turns, none fails."""
    with fresh_postgres_database() as url:
        env = server_env(tmp_path / "data", database_url=url)
        upgrades = [
            subprocess.Popen(
                [str(UPLOADCORE), "db", "upgrade"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            for _ in range(4)
        ]
        outputs = [upgrade.communicate(timeout=60)[0].decode() for upgrade in upgrades]

        assert [upgrade.returncode for upgrade in upgrades] == [0] * 4, outputs
        assert all(out.endswith("database schema is up to date\n") for out in outputs), outputs
        engine = make_engine(url)
        try:
            assert current_revision(engine) == head_revision(engine)
            assert differences(engine) == []
        finally:
            engine.dispose()
