"""SQLite point reads: their own connections, and the capability to read on an event loop."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine

from uploadcore import bootstrap
from uploadcore.adapters.sql import SqlAlchemyRepository, upgrade
from uploadcore.domain.upload import Principal
from uploadcore.settings import Settings

NOW = datetime(2026, 1, 1, tzinfo=UTC)
HASH = hashlib.sha256(b"key").hexdigest()


def test_reads_survive_an_engine_dispose(sqlite_engine: Engine) -> None:
    repo = SqlAlchemyRepository(sqlite_engine)
    repo.add_user("alice", HASH, False, NOW)
    assert repo.principal_for_key(HASH) == Principal("alice", False)

    sqlite_engine.dispose()

    assert repo.principal_for_key(HASH) == Principal("alice", False)
    assert repo.get("no-such-file") is None


def test_a_revoked_key_stops_reading_at_once(sqlite_engine: Engine) -> None:
    repo = SqlAlchemyRepository(sqlite_engine)
    repo.add_user("alice", HASH, False, NOW)
    assert repo.principal_for_key(HASH) is not None

    repo.set_key_hash("alice", None)

    assert repo.principal_for_key(HASH) is None


def test_a_wal_engine_from_make_engine_reads_without_waiting(sqlite_engine: Engine) -> None:
    assert SqlAlchemyRepository(sqlite_engine).point_reads_never_wait


def test_another_sqlite_engine_may_wait(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'plain.db'}")  # a rollback journal
    upgrade(engine)
    try:
        assert not SqlAlchemyRepository(engine).point_reads_never_wait
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_reads_may_wait(postgres_engine: Engine) -> None:
    assert not SqlAlchemyRepository(postgres_engine).point_reads_never_wait


def test_the_default_build_on_sqlite_reads_inline(settings: Settings) -> None:
    core = bootstrap.build(bootstrap.prepare(settings))
    try:
        assert not core.reads_block
    finally:
        core.close()


def test_a_build_with_its_own_authenticator_reads_off_the_loop(settings: Settings) -> None:
    class Anyone:
        def authenticate(self, credential: str) -> Principal | None:
            return Principal("anyone", False)

    core = bootstrap.build(bootstrap.prepare(settings), authenticator=Anyone())
    try:
        assert core.reads_block
    finally:
        core.close()
