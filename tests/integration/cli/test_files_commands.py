"""`uploadcore files list/show/download/delete` and `users delete`, for admins at the shell."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.integration.cli.support import (
    assert_one_line_error,
    build,
    clean_environment,
    in_process,
    refs_of,
    start_upload,
    stored,
)

from uploadcore.bootstrap import Uploadcore
from uploadcore.domain.upload import Principal, Upload
from uploadcore.services.users import create_user
from uploadcore.settings import Settings

PART = 1024
DATA = bytes(range(256)) * 5 + b"tail"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.chdir(tmp_path)
    return clean_environment(monkeypatch, tmp_path / "data")


@pytest.fixture
def core(settings: Settings) -> Uploadcore:
    return build(settings)


def completed(core: Uploadcore) -> Upload:
    upload = start_upload(core, DATA, PART)
    return core.complete(Principal("alice"), upload.id, refs_of(core, upload))


def test_files_list_shows_every_owner_s_files_as_json_or_lines(core: Uploadcore) -> None:
    done = completed(core)
    running = start_upload(core, DATA, PART, parts=1)

    listed = in_process("files", "list", "--status", "all", "--json")
    lines = in_process("files", "list", "--owner", "alice")

    assert listed.exit_code == 0, listed.output
    assert [f["id"] for f in json.loads(listed.stdout)] == [running.id, done.id]
    assert lines.exit_code == 0, lines.output
    assert lines.stdout.split()[:3] == [done.id, "completed", str(len(DATA))]


def test_files_show_and_download_give_the_file_and_its_bytes(
    core: Uploadcore, tmp_path: Path
) -> None:
    done = completed(core)
    target = tmp_path / "copy.bin"

    shown = in_process("files", "show", done.id, "--json")
    written = in_process("files", "download", done.id, "-o", str(target))
    piped = in_process("files", "download", done.id)

    assert json.loads(shown.stdout)["etag"] == done.etag
    assert written.exit_code == 0, written.output
    assert target.read_bytes() == DATA
    assert piped.stdout_bytes == DATA


def test_files_delete_removes_the_file_and_its_bytes(core: Uploadcore) -> None:
    done = completed(core)

    deleted = in_process("files", "delete", done.id)

    assert deleted.exit_code == 0, deleted.output
    assert core.complete.repo.get(done.id) is None
    assert_one_line_error(in_process("files", "show", done.id), done.id)


def test_downloading_a_file_still_uploading_is_one_error_line(core: Uploadcore) -> None:
    running = start_upload(core, DATA, PART, parts=1)

    assert_one_line_error(in_process("files", "download", running.id), "uploading")
    assert stored(core, running.id).status.value == "uploading"


def test_users_delete_stops_the_key_and_keeps_the_files(core: Uploadcore) -> None:
    new = create_user(core.users, "bob", False, core.complete.clock.now())
    done = completed(core)

    deleted = in_process("users", "delete", "bob")
    again = in_process("users", "delete", "bob")

    assert deleted.exit_code == 0, deleted.output
    assert core.authenticator.authenticate(new.api_key) is None
    assert_one_line_error(again, "bob")
    assert stored(core, done.id).status.value == "completed"
