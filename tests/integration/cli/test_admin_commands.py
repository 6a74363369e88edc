"""`uploadcore gc`, `abort` and `users list/revoke-key/rotate-key`, in process and as processes.

The uploads are made through the real service (SQLite, local disk) with a
clock set in the past where an upload must look old; `gc` runs with the real
clock, as it does in production.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from tests.integration.cli.support import (
    ALICE,
    UPLOADCORE,
    Outcome,
    Run,
    as_process,
    assert_one_line_error,
    build,
    clean_environment,
    in_process,
    refs_of,
    start_upload,
    stored,
)

from uploadcore.adapters.local import LocalDiskBlobStore
from uploadcore.adapters.memory import FakeClock
from uploadcore.bootstrap import Uploadcore
from uploadcore.domain.errors import StorageUnavailable
from uploadcore.domain.parts import PartPlan, ReceivedPart
from uploadcore.domain.upload import Upload, UploadStatus
from uploadcore.entrypoints.http.app import create_app
from uploadcore.entrypoints.links import HttpLinks
from uploadcore.settings import Settings

PENDING, UPLOADING, COMPLETED, FAILED, ABORTED = UploadStatus
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)
PART = 1024
DATA = bytes(range(256)) * 11 + b"tail"  # 2820 bytes: three parts
UNREACHABLE_POSTGRES = "postgresql+psycopg://nobody@127.0.0.1:1/uploadcore"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.chdir(tmp_path)
    return clean_environment(monkeypatch, tmp_path / "data")


def age(path: Path, days: float) -> None:
    """Make a file, or a directory and everything in it, `days` old."""
    moment = time.time() - days * 86400
    for each in [*path.rglob("*"), path] if path.is_dir() else [path]:
        os.utime(each, (moment, moment))


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and directory under `root`: (size, mtime in ns)."""
    return {
        str(p.relative_to(root)): (p.stat().st_size if p.is_file() else 0, p.stat().st_mtime_ns)
        for p in root.rglob("*")
    }


def gc_json(run: Run, *args: str) -> dict[str, object]:
    result = run("gc", "--json", *args)
    assert result.exit_code == 0, result.output
    report: dict[str, object] = json.loads(result.stdout)
    return report


# -- a mix of everything gc meets ---------------------------------------------------------


@dataclass
class Mix:
    core: Uploadcore
    expired: Upload
    pending: Upload
    fresh: Upload
    completed: Upload
    old_aborted: Upload
    new_aborted: Upload
    old_failed: Upload
    live_old_dir: Upload
    orphan_old: Path
    orphan_new: Path
    stray_old: Path
    stray_new: Path

    def status(self, upload: Upload) -> UploadStatus | None:
        found = self.core.complete.repo.get(upload.id)
        return None if found is None else found.status

    def temp_dir(self, upload: Upload) -> Path:
        blobs = self.core.complete.blobs
        assert isinstance(blobs, LocalDiskBlobStore)
        return blobs.temp_dir(upload.upload_id)

    def snapshot(self) -> tuple[list[Upload | None], dict[str, tuple[int, int]]]:
        repo = self.core.complete.repo
        uploads = [repo.get(u.id) for u in self.uploads()]
        return uploads, tree(self.core.settings.media_root)

    def uploads(self) -> Sequence[Upload]:
        return [
            self.expired, self.pending, self.fresh, self.completed, self.old_aborted,
            self.new_aborted, self.old_failed, self.live_old_dir,
        ]  # fmt: skip


@pytest.fixture
def mix(settings: Settings) -> Mix:
    now = datetime.now(UTC)
    clock = FakeClock(now - 2 * DAY)
    core = build(settings, clock=clock)
    media = core.settings.media_root
    expired = start_upload(core, DATA, PART, parts=2)  # expired a day ago
    pending = _stuck_pending(core, clock)
    clock.current = now - 30 * DAY
    completed = start_upload(core, DATA, PART)
    completed = core.complete(ALICE, completed.id, refs_of(core, completed))
    clock.current = now - 9 * DAY
    old_aborted, old_failed = start_upload(core, DATA, PART, 1), start_upload(core, DATA, PART)
    clock.advance(DAY)
    core.abort(ALICE, old_aborted.id)
    assert core.complete.repo.set_status(old_failed.id, UPLOADING, FAILED, clock.now())
    clock.current = now - DAY
    new_aborted = start_upload(core, DATA, PART, 1)
    core.abort(ALICE, new_aborted.id)
    clock.current = now
    fresh, live_old_dir = start_upload(core, DATA, PART, 1), start_upload(core, DATA, PART, 1)
    orphan_old, orphan_new = media / "temp_uploads" / "0ddba11", media / "temp_uploads" / "c0ffee"
    for orphan in (orphan_old, orphan_new):
        orphan.mkdir()
        (orphan / "00001.5eed").write_bytes(b"x" * 100)
    (media / "files" / "ab").mkdir(parents=True, exist_ok=True)
    stray_old, stray_new = (
        media / "files" / "ab" / ".tmp-ab1-01",
        media / "files" / "ab" / ".tmp-ab2-02",
    )
    stray_old.write_bytes(b"s" * 50)
    stray_new.write_bytes(b"s" * 50)
    mix = Mix(
        core, expired, pending, fresh, completed, old_aborted, new_aborted, old_failed,
        live_old_dir, orphan_old, orphan_new, stray_old, stray_new,
    )  # fmt: skip
    # Parts were written when their uploads were active: as old as their last activity.
    for old in (mix.temp_dir(expired), mix.temp_dir(old_failed), mix.temp_dir(live_old_dir)):
        age(old, 2)
    for old in (orphan_old, stray_old):
        age(old, 2)
    return mix


def _stuck_pending(core: Uploadcore, clock: FakeClock) -> Upload:
    """An upload whose process died before its storage was recorded."""
    now = clock.now()
    upload = Upload(
        "deadbeef" * 4, "", "", "alice", "lost.bin", "application/octet-stream",
        PartPlan(10, 1, 10), PENDING, now, now, now + DAY,
    )  # fmt: skip
    core.complete.repo.add(upload)
    return upload


@pytest.mark.parametrize("run", [in_process, as_process], ids=["runner", "process"])
def test_gc_does_exactly_what_it_should_to_a_mix_and_a_dry_run_changes_nothing(
    mix: Mix, run: Run
) -> None:
    before = mix.snapshot()
    freed_dirs = 3 * PART - (3 * PART - len(DATA)) + 100  # the failed upload's parts, an orphan

    dry = gc_json(run, "--dry-run")

    assert mix.snapshot() == before
    real = gc_json(run)
    for report in (dry, real):
        assert report["expired_uploads"] == {"count": 2, "bytes": 2 * PART}
        assert report["leftovers"] == {
            "count": 3,
            "bytes": freed_dirs + 50,
            "by_kind": {"temp_dir": 2, "temp_file": 1},
        }
        assert report["purged_records"] == {"count": 2, "older_than_seconds": 7 * 86400}
        assert (report["skipped"], report["errors"]) == (0, 0)
    assert (dry["dry_run"], real["dry_run"]) == (True, False)

    assert (mix.status(mix.expired), mix.status(mix.pending)) == (ABORTED, ABORTED)
    assert not mix.temp_dir(mix.expired).exists()
    assert (mix.status(mix.old_aborted), mix.status(mix.old_failed)) == (None, None)
    assert not mix.temp_dir(mix.old_failed).exists()
    assert not mix.orphan_old.exists()
    assert not mix.stray_old.exists()
    # Untouched: what is live, recent or complete.
    assert mix.status(mix.fresh) is UPLOADING
    assert mix.status(mix.live_old_dir) is UPLOADING
    assert mix.temp_dir(mix.fresh).is_dir()
    assert mix.temp_dir(mix.live_old_dir).is_dir()
    assert mix.status(mix.new_aborted) is ABORTED
    assert mix.orphan_new.is_dir()
    assert mix.stray_new.exists()
    assert mix.status(mix.completed) is COMPLETED
    blobs = mix.core.complete.blobs
    assert isinstance(blobs, LocalDiskBlobStore)
    assert Path(blobs.path_of(mix.completed.storage_key)).read_bytes() == DATA

    again = gc_json(run)
    assert (again["expired_uploads"], again["purged_records"]) == (
        {"count": 0, "bytes": 0},
        {"count": 0, "older_than_seconds": 7 * 86400},
    )
    assert again["leftovers"] == {"count": 0, "bytes": 0, "by_kind": {}}


def test_gc_prints_a_summary_a_person_reads(mix: Mix) -> None:
    dry = in_process("gc", "--dry-run", "--purge-after", "36h")
    real = in_process("gc", "--purge-after", "36h")

    assert dry.exit_code == real.exit_code == 0
    assert dry.stdout.splitlines()[0] == "would abort 2 expired uploads (2.0 KiB)"
    assert "would purge 2 aborted or failed records older than 36h" in dry.stdout
    assert real.stdout.splitlines()[0] == "aborted 2 expired uploads (2.0 KiB)"
    assert "removed 2 temporary part directories, 1 stray temporary file" in real.stdout
    assert "freed" in real.stdout.splitlines()[-1]


def test_purge_after_takes_a_duration(mix: Mix) -> None:
    report = gc_json(in_process, "--dry-run", "--purge-after", "12h")

    assert report["purged_records"] == {"count": 3, "older_than_seconds": 12 * 3600}


# -- racing -----------------------------------------------------------------------------


class PausingDisk(LocalDiskBlobStore):
    """Local disk whose `assemble` waits, once, until told to go on."""

    def __init__(self, media_root: Path) -> None:
        super().__init__(media_root)
        self.assembling = threading.Event()
        self.go_on = threading.Event()

    def assemble(self, upload: Upload, parts: Sequence[ReceivedPart]) -> None:
        self.assembling.set()
        assert self.go_on.wait(timeout=60)  # a safety net against a hang, not a timer
        super().assemble(upload, parts)


def test_gc_racing_a_completing_upload_leaves_it_completed_and_whole(settings: Settings) -> None:
    now = datetime.now(UTC)
    # The uploads start so long ago that, by the time they last had news, they had expired.
    clock = FakeClock(now - DAY - timedelta(minutes=10))
    disk = PausingDisk(settings.media_root)
    core = build(settings, clock=clock, blobs=disk)
    racing, idle = start_upload(core, DATA, PART), start_upload(core, DATA, PART, 1)
    age(disk.temp_dir(idle.upload_id), 1)
    clock.advance(timedelta(minutes=20))  # the client completes, in time by the server's clock
    completed: list[Upload] = []
    completing = threading.Thread(
        target=lambda: completed.append(core.complete(ALICE, racing.id, refs_of(core, racing)))
    )
    completing.start()
    assert disk.assembling.wait(timeout=60)

    report = gc_json(as_process)  # a real gc process, while the file is being assembled
    disk.go_on.set()
    completing.join(timeout=60)

    assert report["expired_uploads"] == {"count": 1, "bytes": PART}  # the idle one
    assert completed[0].status is COMPLETED
    assert stored(core, racing.id).status is COMPLETED
    assert Path(disk.path_of(completed[0].storage_key)).read_bytes() == DATA
    assert stored(core, idle.id).status is ABORTED


def test_gc_leaves_an_expired_upload_alone_while_a_part_of_it_is_being_written(
    settings: Settings,
) -> None:
    core = build(settings, clock=FakeClock(datetime.now(UTC) - 2 * DAY))
    upload = start_upload(core, DATA, PART, parts=1)  # expired a day ago
    blobs = core.complete.blobs
    assert isinstance(blobs, LocalDiskBlobStore)
    writer = blobs.open_part(upload, 2)  # a part whose body started before the expiry
    writer.write(b"still arriving")
    age(blobs.temp_dir(upload.upload_id), 2)  # its client sent nothing for days: only the lock

    during = gc_json(as_process)
    writer.discard()  # the stream ends; nothing arrives for a while
    age(blobs.temp_dir(upload.upload_id), 2)
    after = gc_json(as_process)

    assert (during["expired_uploads"], during["skipped"]) == ({"count": 0, "bytes": 0}, 1)
    assert after["expired_uploads"] == {"count": 1, "bytes": PART}
    assert stored(core, upload.id).status is ABORTED


# -- a short UPLOAD_EXPIRES_IN --------------------------------------------------------------


@pytest.fixture
def short_lived(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """UPLOAD_EXPIRES_IN=1s, for the service in this process and for gc processes alike."""
    monkeypatch.setenv("UPLOADCORE_UPLOAD_EXPIRES_IN", "1s")
    short = Settings.from_env(os.environ)
    assert short.upload_expires_in == SECOND
    return short


def test_gc_aborts_an_upload_whose_last_part_came_longer_ago_than_a_short_upload_expires_in(
    short_lived: Settings,
) -> None:
    core = build(short_lived, clock=FakeClock(datetime.now(UTC) - 2 * SECOND))
    upload = start_upload(core, DATA, PART, parts=1)  # its last part came 2 s ago
    blobs = core.complete.blobs
    assert isinstance(blobs, LocalDiskBlobStore)
    age(blobs.temp_dir(upload.upload_id), 2 * SECOND / DAY)  # and was stored then

    report = gc_json(as_process)

    assert report["expired_uploads"] == {"count": 1, "bytes": PART}
    assert stored(core, upload.id).status is ABORTED
    assert not blobs.temp_dir(upload.upload_id).exists()


def test_gc_leaves_a_short_lived_upload_alone_while_a_part_streams_in_and_the_part_is_kept(
    short_lived: Settings,
) -> None:
    clock = FakeClock(datetime.now(UTC) - 10 * SECOND)
    core = build(short_lived, clock=clock)
    upload = start_upload(core, DATA, PART, parts=1)
    token = core.urls.parts(upload, [2], HttpLinks("http://testserver"))[0].url.split("token=")[1]
    receive = core.receive_part
    assert receive is not None
    stalled, go_on = threading.Event(), threading.Event()

    async def body() -> AsyncIterator[bytes]:
        yield DATA[PART : PART + 10]
        stalled.set()  # the client sends nothing more for a while
        await asyncio.to_thread(go_on.wait, 60)  # a safety net against a hang, not a timer
        yield DATA[PART + 10 : 2 * PART]

    received: list[ReceivedPart] = []
    streaming = threading.Thread(
        target=lambda: received.append(asyncio.run(receive(upload.id, 2, token, body())))
    )
    streaming.start()  # in time: the upload expires 1 s after its first part, by its clock
    assert stalled.wait(timeout=60)
    blobs = core.complete.blobs
    assert isinstance(blobs, LocalDiskBlobStore)
    age(blobs.temp_dir(upload.upload_id), 10 * SECOND / DAY)  # nothing new on disk for 10 s

    during = gc_json(as_process)
    go_on.set()
    streaming.join(timeout=60)

    assert (during["expired_uploads"], during["skipped"]) == ({"count": 0, "bytes": 0}, 1)
    assert [p.part_number for p in received] == [2]
    assert [p.part_number for p in core.complete.repo.parts(upload.id)] == [1, 2]
    assert stored(core, upload.id).status is UPLOADING
    age(blobs.temp_dir(upload.upload_id), 10 * SECOND / DAY)  # then the client goes quiet
    after = gc_json(as_process)
    assert after["expired_uploads"] == {"count": 1, "bytes": 2 * PART}
    assert stored(core, upload.id).status is ABORTED


def test_two_gc_processes_at_once_share_the_work(mix: Mix) -> None:
    processes = [
        subprocess.Popen(
            [str(UPLOADCORE), "gc", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    reports = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        reports.append(json.loads(out))

    assert sum(r["expired_uploads"]["count"] for r in reports) == 2
    assert sum(r["purged_records"]["count"] for r in reports) == 2
    assert sum(r["leftovers"]["count"] for r in reports) == 3
    assert mix.status(mix.fresh) is UPLOADING
    assert mix.status(mix.completed) is COMPLETED


# -- abort -------------------------------------------------------------------------------


@pytest.fixture
def core(settings: Settings) -> Uploadcore:
    return build(settings)


@pytest.mark.parametrize("run", [in_process, as_process], ids=["runner", "process"])
def test_abort_aborts_anyone_s_upload_and_frees_its_parts(core: Uploadcore, run: Run) -> None:
    upload = start_upload(core, DATA, PART, parts=2)
    blobs = core.complete.blobs
    assert isinstance(blobs, LocalDiskBlobStore)

    result = run("abort", upload.id)

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        f"aborted upload {upload.id} (data.bin, owner alice); freed 2.0 KiB"
    )
    assert stored(core, upload.id).status is ABORTED
    assert not blobs.temp_dir(upload.upload_id).exists()


def test_abort_json_says_what_it_freed(core: Uploadcore) -> None:
    upload = start_upload(core, DATA, PART, parts=1)

    result = in_process("abort", upload.id, "--json")

    assert json.loads(result.stdout) == {
        "id": upload.id,
        "upload_status": "aborted",
        "owner": "alice",
        "file_name": "data.bin",
        "bytes_freed": PART,
    }


@pytest.mark.parametrize("status", [COMPLETED, ABORTED, FAILED])
def test_abort_of_an_upload_not_in_progress_fails_with_one_line(
    core: Uploadcore, status: UploadStatus
) -> None:
    upload = start_upload(core, DATA, PART)
    if status is COMPLETED:
        core.complete(ALICE, upload.id, refs_of(core, upload))
    else:
        assert core.complete.repo.set_status(upload.id, UPLOADING, status, datetime.now(UTC))

    result = in_process("abort", upload.id)

    assert result.exit_code == 1
    assert_one_line_error(result, upload.id, status.value, "not in progress")
    assert stored(core, upload.id).status is status


@pytest.mark.parametrize("run", [in_process, as_process], ids=["runner", "process"])
def test_abort_of_an_unknown_id_fails_with_one_line(settings: Settings, run: Run) -> None:
    result = run("abort", "no-such-upload")

    assert result.exit_code == 1
    assert_one_line_error(result, "no upload with id no-such-upload")


# -- users ---------------------------------------------------------------------------------


def key_of(result: Outcome) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[-1]


def answers(settings: Settings, key: str) -> int:
    """The status the API gives this key (an upload state it does not own: 404 if valid)."""
    with TestClient(create_app(settings)) as client:
        response = client.get("/v1/files/uploads/x/", headers={"Authorization": f"Bearer {key}"})
    return response.status_code


def test_users_list_shows_every_user_and_never_a_key(settings: Settings) -> None:
    alice = key_of(in_process("users", "create", "alice"))
    key_of(in_process("users", "create", "root", "--admin"))
    in_process("users", "revoke-key", "alice")

    table = in_process("users", "list")
    listed = json.loads(in_process("users", "list", "--json").stdout)

    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["NAME", "ROLE", "KEY", "CREATED"]
    assert [line.split()[:3] for line in lines[1:]] == [
        ["alice", "user", "revoked"],
        ["root", "admin", "active"],
    ]
    assert alice not in table.stdout
    assert [(u["name"], u["is_admin"], u["has_key"]) for u in listed] == [
        ("alice", False, False),
        ("root", True, True),
    ]
    assert all(u["created"].endswith("Z") for u in listed)


@pytest.mark.parametrize("run", [in_process, as_process], ids=["runner", "process"])
def test_a_revoked_key_gets_401_at_once(settings: Settings, run: Run) -> None:
    alice, bob = (key_of(in_process("users", "create", n)) for n in ("alice", "bob"))
    assert answers(settings, alice) == 404

    result = run("users", "revoke-key", "alice")

    assert result.exit_code == 0, result.output
    assert "revoked" in result.stdout
    assert answers(settings, alice) == 401
    assert answers(settings, bob) == 404


def test_rotate_key_gives_a_new_key_and_the_old_one_stops_working(settings: Settings) -> None:
    old = key_of(in_process("users", "create", "alice"))

    new = key_of(in_process("users", "rotate-key", "alice"))

    assert new != old
    assert new.startswith("uc_")
    assert (answers(settings, old), answers(settings, new)) == (401, 404)


@pytest.mark.parametrize("command", ["revoke-key", "rotate-key"])
def test_a_key_command_for_an_unknown_user_fails_with_one_line(
    settings: Settings, command: str
) -> None:
    result = in_process("users", command, "nobody")

    assert result.exit_code == 1
    assert_one_line_error(result, "no user named nobody")
    assert result.stdout == ""


# -- every command: help and one-line failures --------------------------------------------


@pytest.mark.parametrize(
    ("args", "mentions"),
    [
        (["abort"], "not in progress"),
        (["gc"], "--dry-run"),
        (["gc"], "--purge-after"),
        (["gc"], "AWS_S3_KEY_PREFIX"),
        (["users"], "revoke-key"),
        (["users", "list"], "--json"),
        (["users", "revoke-key"], "401"),
        (["users", "rotate-key"], "last line"),
        (["upload"], "--resume"),
        (["upload"], "--parallel"),
        (["upload"], "--part-size"),
    ],
)
def test_every_new_command_documents_itself(
    settings: Settings, args: list[str], mentions: str
) -> None:
    result = in_process(*args, "--help")

    assert result.exit_code == 0
    assert result.stdout.startswith("Usage: ")
    assert mentions in " ".join(result.stdout.split())


@pytest.mark.parametrize(
    "command",
    [["gc"], ["gc", "--dry-run"], ["abort", "x"], ["users", "list"], ["users", "revoke-key", "a"]],
)
def test_every_admin_command_fails_with_one_line_when_the_database_is_unreachable(
    settings: Settings, command: list[str]
) -> None:
    result = in_process(*command, env={"UPLOADCORE_DATABASE_URL": UNREACHABLE_POSTGRES})

    assert result.exit_code == 1
    assert_one_line_error(result, "database")


@pytest.mark.parametrize("command", [["gc"], ["abort", "x"], ["users", "list"]])
def test_every_admin_command_fails_with_one_line_on_a_bad_setting(
    settings: Settings, command: list[str]
) -> None:
    result = as_process(*command, env={"UPLOADCORE_UPLOAD_EXPIRES_IN": "-1h"})

    assert result.exit_code == 1
    assert_one_line_error(result, "UPLOADCORE_UPLOAD_EXPIRES_IN")


@pytest.mark.parametrize(
    "command",
    [["abort"], ["users", "create"], ["users", "revoke-key"], ["users", "rotate-key"]],
)
def test_an_argument_that_is_not_utf8_is_a_usage_error(
    settings: Settings, command: list[str]
) -> None:
    key_of(in_process("users", "create", "alice"))

    result = as_process(*command, os.fsdecode(b"bad\xffname"))  # the bytes a shell may pass

    assert result.exit_code == 2, result.output
    assert "is not valid UTF-8" in result.stderr
    assert "Traceback" not in result.output
    listed = json.loads(in_process("users", "list", "--json").stdout)
    assert [(u["name"], u["has_key"]) for u in listed] == [("alice", True)]


def test_a_bad_purge_after_is_a_usage_error_naming_it(settings: Settings) -> None:
    result = in_process("gc", "--purge-after", "soon")

    assert result.exit_code == 2
    assert "--purge-after" in result.stderr
    assert "Traceback" not in result.output


def test_gc_against_a_store_that_cannot_free_says_so_after_its_summary(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    core = build(settings, clock=FakeClock(datetime.now(UTC) - 2 * DAY))
    upload = start_upload(core, DATA, PART, parts=1)
    blobs = core.complete.blobs
    assert isinstance(blobs, LocalDiskBlobStore)
    age(blobs.temp_dir(upload.upload_id), 2)

    monkeypatch.setattr(LocalDiskBlobStore, "release_parts", _storage_error)
    result = in_process("gc")

    assert result.exit_code == 1
    assert result.stdout.startswith("aborted 1 expired upload")
    assert_one_line_error(result, "could not free", "run gc again")


def _storage_error(self: LocalDiskBlobStore, upload: Upload) -> None:
    raise StorageUnavailable("the disk is unavailable")
