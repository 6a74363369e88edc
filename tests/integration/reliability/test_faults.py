"""Faults under the app: a full disk is 507, a database that goes away is 503, and after
either the service works again with nothing lost.

The disk fills for real on a small tmpfs (when this machine lets us mount one)
and, everywhere, through `FullDisk`: a stand-in for the `os` module inside the
local adapter whose writes fail with ENOSPC, so the adapter's own translation
of the error is what is tested. S3 faults have their own tests, in
tests/integration/s3/test_faults.py.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.engine import make_url
from starlette.testclient import TestClient
from tests.integration.http.support import (
    Harness,
    Headers,
    Started,
    UploadClient,
    assert_problem,
    md5_hex,
    request_for,
)
from tests.integration.reliability.server import fresh_postgres_database
from tests.integration.tally import count

from uploadcore import bootstrap
from uploadcore.adapters import local
from uploadcore.adapters.memory import FakeClock
from uploadcore.adapters.sql import SqlAlchemyRepository, make_engine
from uploadcore.adapters.sql import engine as sql_engine
from uploadcore.entrypoints.http.app import create_app
from uploadcore.settings import Settings

KiB = 1024
PART = 512 * KiB

MakeApp = Callable[..., Harness]


@pytest.fixture
def make_app(settings: Settings, clock: FakeClock) -> Iterator[MakeApp]:
    """The app on `settings` with some replaced; `engine=` gives it its own database engine."""
    with ExitStack() as stack:

        def make(engine: Engine | None = None, **overrides: Any) -> Harness:
            prepared = bootstrap.prepare(replace(settings, **overrides))
            if engine is None:
                core = bootstrap.build(prepared, clock=clock)
            else:
                core = bootstrap.build(prepared, clock=clock, repo=SqlAlchemyRepository(engine))
            client = stack.enter_context(TestClient(create_app(prepared, core)))
            return Harness(prepared, core, clock, UploadClient(client))

        yield make


# -- a full disk ------------------------------------------------------------------------


class Disk(Protocol):
    def fill(self, leave: int) -> None:
        """Leave only about `leave` bytes free."""

    def free(self) -> None:
        """Free what `fill` took."""


@dataclass
class Tmpfs:
    """A real, small file system: filled with a filler file."""

    root: Path

    def fill(self, leave: int) -> None:
        stat = os.statvfs(self.root)
        room = stat.f_bavail * stat.f_frsize - leave
        with (self.root / "filler").open("wb") as filler:
            filler.truncate(0)
            for _ in range(room // (64 * KiB)):
                filler.write(bytes(64 * KiB))

    def free(self) -> None:
        (self.root / "filler").unlink()


class FullDisk:
    """The `os` module as the local adapter sees it, but ENOSPC from `fail_at` while full.

    `fail_at` names the calls that fail: "write" (os.write and os.writev), "fsync",
    "create" (os.open with O_CREAT) and "copy" (copy_file_range and sendfile).
    """

    def __init__(self, real: ModuleType, fail_at: str) -> None:
        self._real = real
        self._fail_at = fail_at
        self.full = False
        self.faults = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def fill(self, leave: int) -> None:
        self.full = True

    def free(self) -> None:
        self.full = False

    def _check(self, call: str) -> None:
        if self.full and call == self._fail_at:
            self.faults += 1
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def write(self, fd: int, data: Any) -> int:
        self._check("write")
        return int(self._real.write(fd, data))

    def writev(self, fd: int, buffers: Any) -> int:
        self._check("write")
        return int(self._real.writev(fd, buffers))

    def fsync(self, fd: int) -> None:
        self._check("fsync")
        self._real.fsync(fd)

    def open(self, path: Any, flags: int, mode: int = 0o777) -> int:
        if flags & os.O_CREAT:
            self._check("create")
        return int(self._real.open(path, flags, mode))

    def copy_file_range(self, src: int, dst: int, count: int, offset_src: int) -> int:
        self._check("copy")
        return int(self._real.copy_file_range(src, dst, count, offset_src))

    def sendfile(self, out: int, src: int, offset: int, count: int) -> int:
        self._check("copy")
        return int(self._real.sendfile(out, src, offset, count))


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """An 8 MiB tmpfs, or a skip saying why this machine cannot mount one."""
    root = tmp_path / "tmpfs"
    root.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root; FullDisk covers the same paths")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}); FullDisk covers it")
    try:
        yield root
    finally:
        subprocess.run(["umount", "--lazy", str(root)], check=False)


def check_parts(api: Harness, auth: Headers, started: Started, numbers: list[int]) -> None:
    """The upload lists exactly these parts, each whole on disk, and no temporary file."""
    state = api.client.state(auth, started.file_id).json()
    assert state["upload_status"] == "uploading"
    assert [p["part_number"] for p in state["parts"]] == numbers
    directory = api.temp_dir(started.upload_id)
    stored = {md5_hex(p.read_bytes()) for p in directory.iterdir() if not p.name.startswith(".")}
    for part in state["parts"]:
        assert part["etag"] == md5_hex(started.chunks[part["part_number"] - 1])
        assert part["etag"] in stored
    assert not list(directory.glob(".tmp-*")), "a refused part left its temporary file"


def put(api: Harness, started: Started, number: int) -> None:
    response = api.client.put_part(started.urls[number], started.chunks[number - 1])
    assert response.status_code == 200, response.text


def complete(api: Harness, auth: Headers, started: Started) -> None:
    response = api.client.complete(auth, started.file_id, started.refs())
    assert response.status_code == 200, response.text
    assert api.client.download(response.json()["url"]).content == b"".join(started.chunks)


def a_part_on_a_full_disk(api: Harness, disk: Disk) -> None:
    """507 for the part; the upload's earlier part and another upload stay whole."""
    alice = api.user("alice")
    other = api.client.start(alice, os.urandom(2 * PART), part_size=PART)
    put(api, other, 1)
    put(api, other, 2)
    started = api.client.start(alice, os.urandom(4 * PART), part_size=PART)
    put(api, started, 1)

    disk.fill(leave=PART // 2)
    try:
        refused = api.client.put_part(started.urls[2], started.chunks[1])
        body = assert_problem(refused, 507, "insufficient_storage")
        assert "disk is full" in body["detail"]
        check_parts(api, alice, started, [1])
        check_parts(api, alice, other, [1, 2])
    finally:
        disk.free()

    for number in (2, 3, 4):
        put(api, started, number)
    complete(api, alice, started)
    complete(api, alice, other)


def an_assembly_on_a_full_disk(api: Harness, disk: Disk) -> None:
    """507 for the completion; the upload stays uploading with its parts, and completes later."""
    alice = api.user("alice")
    other = api.client.start(alice, os.urandom(2 * PART), part_size=PART)
    put(api, other, 1)
    started = api.client.start(alice, os.urandom(4 * PART), part_size=PART)
    for number in (1, 2, 3, 4):
        put(api, started, number)

    disk.fill(leave=2 * PART)
    try:
        refused = api.client.complete(alice, started.file_id, started.refs())
        body = assert_problem(refused, 507, "insufficient_storage")
        assert "disk is full" in body["detail"]
        check_parts(api, alice, started, [1, 2, 3, 4])
        check_parts(api, alice, other, [1])
        assert api.final_files(started.file_id) == []
        assert not list((api.media_root / "files").rglob(".tmp-*"))
    finally:
        disk.free()

    complete(api, alice, started)
    put(api, other, 2)
    complete(api, alice, other)


SCENARIOS = {"part": a_part_on_a_full_disk, "assembly": an_assembly_on_a_full_disk}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_a_full_tmpfs_is_507_and_nothing_is_lost(
    make_app: MakeApp, tmpfs: Path, scenario: str
) -> None:
    api = make_app(media_root=tmpfs / "media")

    SCENARIOS[scenario](api, Tmpfs(tmpfs))

    count("reliability: faults injected (full tmpfs)")


@pytest.mark.parametrize(
    ("scenario", "fail_at"),
    [
        ("part", "write"),
        ("part", "fsync"),
        ("part", "create"),
        ("assembly", "copy"),
        ("assembly", "fsync"),
        ("assembly", "create"),
    ],
)
def test_enospc_inside_the_local_adapter_is_507_and_nothing_is_lost(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch, scenario: str, fail_at: str
) -> None:
    disk = FullDisk(os, fail_at)
    monkeypatch.setattr(local, "os", disk)
    api = make_app()

    SCENARIOS[scenario](api, disk)

    assert disk.faults >= 1
    count("reliability: faults injected (ENOSPC in the local adapter)", disk.faults)


# -- the database going away ------------------------------------------------------------------


def assert_unavailable(api: Harness, auth: Headers, started: Started) -> int:
    """Every kind of request answers 503 storage_unavailable; how many were tried.

    Readiness says which dependency is down; liveness stays 200 (a restart would not help).
    """
    assert api.client.http.get("/healthz").status_code == 200
    ready = assert_problem(api.client.http.get("/readyz"), 503, "not_ready")
    assert ready["checks"]["database"] == "down"
    answers = [
        api.client.initiate(auth, request_for(b"new")),
        api.client.state(auth, started.file_id),
        api.client.put_part(started.urls[2], started.chunks[1]),
        api.client.complete(auth, started.file_id, started.refs()),
        api.client.abort(auth, started.file_id),
        api.client.http.get("/v1/files/", headers=auth),
    ]
    for answer in answers:
        body = assert_problem(answer, 503, "storage_unavailable")
        assert "sqlite" not in body["detail"].lower()
        assert "psycopg" not in body["detail"].lower()
    return len(answers) + 2


def recovers(api: Harness, auth: Headers, started: Started) -> None:
    """After the database is back: the upload is as it was, and completes."""
    check_parts(api, auth, started, [1])
    put(api, started, 2)
    complete(api, auth, started)
    assert api.client.http.get("/readyz").status_code == 200  # ready again, by itself


class SqliteOutage:
    """A SQLite engine whose every statement fails while `down`, at the driver itself.

    Each connection gets a progress handler that interrupts whatever it runs
    (sqlite3.OperationalError), so reads the repository makes around SQLAlchemy
    fail as surely as the rest.
    """

    def __init__(self, engine: Engine) -> None:
        self.down = False
        self.faults = 0
        event.listen(engine, "connect", self._watch)

    def _watch(self, dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.set_progress_handler(self._interrupt, 1)

    def _interrupt(self) -> int:
        if self.down:
            self.faults += 1
        return int(self.down)


def test_a_sqlite_database_failing_with_io_errors_is_503_and_the_service_recovers(
    make_app: MakeApp, settings: Settings
) -> None:
    engine = make_engine(settings.database_url)
    outage = SqliteOutage(engine)
    api = make_app(engine=engine)
    alice = api.user("alice")
    started = api.client.start(alice, os.urandom(2 * KiB))
    put(api, started, 1)

    outage.down = True
    tried = assert_unavailable(api, alice, started)
    outage.down = False

    recovers(api, alice, started)
    count("reliability: faults injected (database down)", outage.faults)
    count("reliability: requests answered 503", tried)


def test_a_sqlite_database_locked_by_another_process_is_503_and_the_service_recovers(
    make_app: MakeApp, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql_engine, "SQLITE_BUSY_TIMEOUT_MS", 200)
    api = make_app()
    alice = api.user("alice")
    started = api.client.start(alice, os.urandom(2 * KiB))
    put(api, started, 1)
    ready = api.client.start(alice, os.urandom(KiB))
    put(api, ready, 1)
    path = make_url(settings.database_url).database
    assert path is not None

    # Another process (a backup, an admin's sqlite3 shell) holds the write lock too long.
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        writes = [
            api.client.initiate(alice, request_for(b"new")),
            api.client.put_part(started.urls[2], started.chunks[1]),
            api.client.complete(alice, ready.file_id, ready.refs()),
            api.client.abort(alice, started.file_id),
        ]
        for answer in writes:
            body = assert_problem(answer, 503, "storage_unavailable")
            assert "locked" not in body["detail"]
        assert api.client.state(alice, started.file_id).status_code == 200  # WAL: reads go on
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    complete(api, alice, ready)
    recovers(api, alice, started)
    count("reliability: faults injected (database locked)", len(writes))


class PostgresOutage:
    """Takes a database away (no new connections, every open one cut) and brings it back."""

    def __init__(self, url: str) -> None:
        self.name = make_url(url).database
        server = make_url(url).set(database="postgres").render_as_string(hide_password=False)
        self.admin = make_engine(server, isolation_level="AUTOCOMMIT")

    def take_away(self) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false'))
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": self.name},
            )

    def bring_back(self) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true'))


@contextmanager
def postgres_outage(url: str) -> Iterator[PostgresOutage]:
    outage = PostgresOutage(url)
    try:
        yield outage
    finally:
        outage.bring_back()  # so that the database can be dropped
        outage.admin.dispose()


@pytest.mark.postgres
def test_a_postgresql_database_going_away_is_503_and_the_service_recovers(
    make_app: MakeApp,
) -> None:
    with fresh_postgres_database() as url, postgres_outage(url) as outage:
        api = make_app(database_url=url)
        alice = api.user("alice")
        started = api.client.start(alice, os.urandom(2 * KiB))
        put(api, started, 1)

        outage.take_away()
        tried = assert_unavailable(api, alice, started)
        outage.bring_back()

        recovers(api, alice, started)
        api.core.close()
    count("reliability: faults injected (database down)", tried)


@pytest.mark.postgres
def test_postgresql_connections_cut_once_are_replaced_without_an_error(
    make_app: MakeApp,
) -> None:
    with fresh_postgres_database() as url, postgres_outage(url) as outage:
        api = make_app(database_url=url)
        alice = api.user("alice")
        started = api.client.start(alice, os.urandom(2 * KiB))
        put(api, started, 1)

        outage.take_away()
        outage.bring_back()

        recovers(api, alice, started)
        api.core.close()
    count("reliability: faults injected (connections cut)")
