"""SQLite point reads: their own connections, and the capability to read on an event loop."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine

from uploadcore import bootstrap
from uploadcore.adapters.sql import SqlAlchemyRepository, upgrade
from uploadcore.domain.append import Appending, Concat
from uploadcore.domain.parts import PartPlan, ReceivedPart
from uploadcore.domain.upload import Principal, Upload, UploadStatus
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


@pytest.mark.parametrize("microsecond", [0, 1, 999_999])
def test_a_file_read_by_its_key_keeps_every_field(sqlite_engine: Engine, microsecond: int) -> None:
    repo = SqlAlchemyRepository(sqlite_engine)
    moment = datetime(2026, 3, 29, 1, 59, 58, microsecond, tzinfo=UTC)
    upload = Upload(
        id="file-1",
        upload_id="up-1",
        storage_key="files/fi/file-1",
        owner="alice",
        file_name='Ünïcode "name".bin',
        file_content_type="video/mp4",
        plan=PartPlan(5 * 2**40, 1024, 5 * 2**30),
        status=UploadStatus.COMPLETED,
        created=moment,
        modified=moment + timedelta(seconds=1),
        expires_at=moment + timedelta(days=1),
        etag="0123456789abcdef0123456789abcdef-1024",
        parent_content_type="blog.post",
        parent_object_id="42",
        deleted=moment + timedelta(hours=1),
    )
    repo.add(upload)

    back = repo.get("file-1")

    assert back == upload
    assert back is not None
    assert back.status is UploadStatus.COMPLETED
    times = (back.created, back.modified, back.expires_at, back.deleted)
    assert [t.tzinfo if t else None for t in times] == [UTC] * 4


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


def test_parts_and_appending_read_by_key_equal_what_sqlalchemy_reads(
    sqlite_engine: Engine,
) -> None:
    repo = SqlAlchemyRepository(sqlite_engine)
    upload = Upload(
        id="file-2", upload_id="up-2", storage_key="files/fi/file-2", owner="alice",
        file_name="a.bin", file_content_type="application/octet-stream",
        plan=PartPlan(30, 3, 10), status=UploadStatus.UPLOADING,
        created=NOW, modified=NOW, expires_at=NOW + timedelta(days=1),
    )  # fmt: skip
    repo.add(upload)
    for number in (3, 1):
        part = ReceivedPart(number, f"{number:032x}", 10)
        assert repo.record_part("file-2", part, NOW + timedelta(days=1), NOW)
    repo.add_appending("file-2", Appending(7, None, "filename YS5iaW4=", Concat.FINAL, ("p", "q")))

    with repo.transaction() as tx:  # SQLAlchemy Core: point reads see no transaction
        through_core = (tx.parts("file-2"), tx.appending("file-2"), tx.appending("none"))

    assert (repo.parts("file-2"), repo.appending("file-2"), repo.appending("none")) == (
        through_core
    )
    assert [p.part_number for p in repo.parts("file-2")] == [1, 3]
    assert repo.parts("none") == []
