"""`uploadcore upload` against a real server (uvicorn in a thread) on SQLite and local disk.

The server's store counts the part PUTs that reach it, by part number, and
can hold or fail them on demand: that is how an upload is caught mid-way,
killed, and shown to resume without sending again what the server has.
"""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2
import pytest
from tests.integration.cli.support import (
    UPLOADCORE,
    Done,
    Outcome,
    Run,
    as_process,
    build,
    clean_environment,
    in_process,
    serving,
    start_upload,
    wait_until,
)

from uploadcore.adapters.local import LocalDiskBlobStore, LocalPartWriter
from uploadcore.adapters.memory import FakeClock
from uploadcore.bootstrap import Uploadcore
from uploadcore.domain.errors import StorageUnavailable
from uploadcore.domain.upload import Upload
from uploadcore.entrypoints.client import Api, RetryPolicy, Uploader, UploadRequest
from uploadcore.entrypoints.http.app import create_app
from uploadcore.services.users import create_user
from uploadcore.settings import Settings

PART = 1024
MiB = 1024 * 1024
COMMAND_TIMEOUT = 120


class GatedDisk(LocalDiskBlobStore):
    """Local disk that counts part PUTs reaching it, and can fail or hold them."""

    def __init__(self, media_root: Path) -> None:
        super().__init__(media_root)
        self._lock = threading.Lock()
        self.opened: Counter[int] = Counter()
        self.fail: Counter[int] = Counter()  # part number -> PUTs still to fail (503)
        self.hold_after: int | None = None  # PUTs let through before the gate holds the rest
        self.released = threading.Event()

    def open_part(self, upload: Upload, part_number: int) -> LocalPartWriter:
        with self._lock:
            self.opened[part_number] += 1
            failing = self.fail[part_number] > 0
            self.fail[part_number] -= failing
            held = self.hold_after is not None and self.opened.total() > self.hold_after
        if failing:
            raise StorageUnavailable(f"part {part_number} failed on purpose")
        if held:
            assert self.released.wait(timeout=60)  # a safety net against a hang, not a timer
            raise StorageUnavailable("the gate was closed")
        return super().open_part(upload, part_number)


@dataclass
class Server:
    url: str
    key: str
    core: Uploadcore
    disk: GatedDisk
    clock: FakeClock
    settings: Settings

    def state(self, file_id: str) -> dict[str, object]:
        answer = httpx2.get(
            f"{self.url}/v1/files/uploads/{file_id}/",
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        state: dict[str, object] = answer.json()
        return state

    def download(self, url: str) -> bytes:
        answer = httpx2.get(url, timeout=30)
        assert answer.status_code == 200, answer.text
        return answer.content

    def upload_args(self, path: Path, *more: str) -> list[str]:
        return ["upload", str(path), "--url", self.url, "--key", self.key, *more]


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.chdir(tmp_path)
    settings = clean_environment(monkeypatch, tmp_path / "data")
    disk = GatedDisk(settings.media_root)
    clock = FakeClock(datetime.now(UTC))
    holder: list[Server] = []

    def make_app(url: str) -> object:
        core = build(Settings(**{**settings.__dict__, "base_url": url}), blobs=disk, clock=clock)
        key = create_user(core.users, "alice", False, clock.now()).api_key
        holder.append(Server(url, key, core, disk, clock, core.settings))
        return create_app(core.settings, core)

    with serving(make_app) as _url:  # type: ignore[arg-type]
        try:
            yield holder[0]
        finally:
            disk.released.set()


def data_file(tmp_path: Path, size: int, name: str = "video.bin") -> tuple[Path, bytes]:
    data = os.urandom(size)
    path = tmp_path / name
    path.write_bytes(data)
    return path, data


def assert_error_line(result: Outcome, *words: str, status: int = 1) -> str:
    """A failed upload: exit 1 and one `error: ...` line, last on stderr, no traceback.

    Lines before it are the client's news ("started upload ID"), kept so that a
    killed upload can be resumed.
    """
    assert result.exit_code == status, result.output
    lines = result.stderr.strip().splitlines()
    assert [line for line in lines if line.startswith("error: ")] == lines[-1:], result.stderr
    assert all(line.startswith(("started upload", "resuming upload")) for line in lines[:-1])
    assert "Traceback" not in result.output
    for word in words:
        assert word in lines[-1], lines[-1]
    return lines[-1]


def result_json(result: object) -> dict[str, object]:
    exit_code, stdout = result.exit_code, result.stdout  # type: ignore[attr-defined]
    assert exit_code == 0, result.output  # type: ignore[attr-defined]
    answer: dict[str, object] = json.loads(stdout)
    return answer


# -- a whole upload -------------------------------------------------------------------


@pytest.mark.parametrize("run", [in_process, as_process], ids=["runner", "process"])
def test_a_multi_part_upload_arrives_byte_for_byte(
    server: Server, tmp_path: Path, run: Run
) -> None:
    path, data = data_file(tmp_path, 13 * PART + 77)

    result = run(*server.upload_args(path, "--part-size", "1KiB", "--parallel", "4"))

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "uploaded video.bin: 13.1 KiB in 14 parts"
    assert lines[1].startswith("id: ")
    assert lines[2].startswith(f"url: {server.url}/v1/files/")
    assert server.download(lines[2].removeprefix("url: ")) == data
    assert set(server.disk.opened.values()) == {1}
    assert "started upload" in result.stderr


def test_json_output_names_the_file_its_url_and_what_was_sent(
    server: Server, tmp_path: Path
) -> None:
    path, data = data_file(tmp_path, 3 * PART, "notes.txt")

    answer = result_json(
        in_process(*server.upload_args(path, "--part-size", "1KiB", "--name", "n.txt", "--json"))
    )

    assert answer["file_name"] == "n.txt"
    assert answer["upload_status"] == "completed"
    assert (answer["num_parts"], answer["parts_sent"], answer["parts_resumed"]) == (3, 3, 0)
    assert answer["file_size"] == len(data)
    assert str(answer["etag"]).endswith("-3")
    assert server.download(str(answer["url"])) == data
    upload = server.core.complete.repo.get(str(answer["id"]))
    assert upload is not None
    assert upload.file_content_type == "text/plain"


@pytest.mark.parametrize("name", ["photos/2024/a.jpg", "back\\slash.txt"])
def test_a_name_with_slashes_is_recorded_as_given(
    server: Server, tmp_path: Path, name: str
) -> None:
    path, data = data_file(tmp_path, 2 * PART, "a.jpg")

    answer = result_json(
        in_process(*server.upload_args(path, "--part-size", "1KiB", "--name", name, "--json"))
    )

    assert answer["file_name"] == name
    assert server.download(str(answer["url"])) == data


def test_an_empty_file_uploads_as_one_empty_part(server: Server, tmp_path: Path) -> None:
    path, _ = data_file(tmp_path, 0)

    answer = result_json(in_process(*server.upload_args(path, "--json")))

    assert (answer["file_size"], answer["num_parts"]) == (0, 1)
    assert server.download(str(answer["url"])) == b""


# -- interrupted, then resumed -------------------------------------------------------------


def test_an_upload_killed_mid_way_resumes_without_sending_again_what_the_server_has(
    server: Server, tmp_path: Path
) -> None:
    path, data = data_file(tmp_path, 20 * PART - 100)
    server.disk.hold_after = 5  # the sixth PUT waits: the client is stuck there
    log = tmp_path / "client.err"
    with log.open("wb") as stderr:
        client = subprocess.Popen(
            [str(UPLOADCORE), *server.upload_args(path, "--part-size", "1KiB", "--parallel", "1")],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        wait_until(lambda: "started upload" in log.read_text(), "the client to start")
        file_id = log.read_text().split("started upload ")[1].split(":")[0]
        wait_until(lambda: len(server.state(file_id)["parts"]) == 5, "five parts")  # type: ignore[arg-type]
        wait_until(lambda: server.disk.opened.total() == 6, "the sixth part to be held")
        client.send_signal(signal.SIGKILL)
        client.wait(timeout=COMMAND_TIMEOUT)
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
    server.disk.released.set()  # the held PUT fails; its client is gone anyway
    server.disk.hold_after = None

    resumed = as_process(*server.upload_args(path, "--resume", file_id, "--json"))

    answer = result_json(resumed)
    assert (answer["parts_resumed"], answer["parts_sent"], answer["num_parts"]) == (5, 15, 20)
    assert answer["id"] == file_id
    assert server.download(str(answer["url"])) == data
    # One PUT for every part the server had; the held sixth went twice; the rest once.
    assert server.disk.opened == Counter({n: 2 if n == 6 else 1 for n in range(1, 21)})
    assert "resuming upload" in resumed.stderr


def test_ctrl_c_stops_at_once_even_while_a_part_waits_for_its_answer(
    server: Server, tmp_path: Path
) -> None:
    path, data = data_file(tmp_path, 8 * PART)
    server.disk.hold_after = 2  # the third PUT never gets an answer until the test ends
    out, err = tmp_path / "client.out", tmp_path / "client.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        client = subprocess.Popen(
            [str(UPLOADCORE), *server.upload_args(path, "--part-size", "1KiB", "--parallel", "2")],
            stdout=stdout,
            stderr=stderr,
        )
    try:
        wait_until(lambda: server.disk.opened.total() >= 3, "a part to be held")
        client.send_signal(signal.SIGINT)  # the part workers block it: the main thread gets it
        client.wait(timeout=COMMAND_TIMEOUT)  # a safety net: the held part never answers
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()

    done = Done(client.returncode, out.read_text(), err.read_text())
    line = assert_error_line(done, "interrupted", "--resume", status=130)
    file_id = line.split("--resume ")[1].strip()
    assert server.state(file_id)["upload_status"] == "uploading"
    server.disk.released.set()  # the held PUTs fail now; their client is gone anyway
    server.disk.hold_after = None

    pasted = paste(line.split("resume with: ")[1], UPLOADCORE_KEY=server.key)

    assert pasted.exit_code == 0, pasted.output
    assert server.download(pasted.stdout.splitlines()[-1].removeprefix("url: ")) == data


def paste(command: str, **env: str) -> Done:
    """Run a command line as a person pasting it into a shell would, `uploadcore` on PATH."""
    done = subprocess.run(
        ["sh", "-c", command],
        env={**os.environ, **env, "PATH": f"{UPLOADCORE.parent}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    return Done(done.returncode, done.stdout, done.stderr)


def test_the_resume_hint_names_the_url_and_the_options_given_but_never_the_key(
    server: Server, tmp_path: Path
) -> None:
    path, _ = data_file(tmp_path, 3 * PART)
    server.disk.fail[2] = 1

    failed = in_process(*server.upload_args(path, "--part-size", "1KiB", "--parallel", "1",
                                            "--retries", "0"))  # fmt: skip

    line = assert_error_line(failed, "part 2")
    hint = line.split("resume with: ")[1]
    assert hint.startswith(f'uploadcore upload {path} --url {server.url} --key "$UPLOADCORE_KEY"')
    assert "--parallel 1 --retries 0 --resume " in hint
    assert server.key not in failed.output
    assert "--part-size" not in hint  # a resumed upload keeps its plan


def test_run_by_a_path_not_on_path_the_hint_names_that_path(server: Server, tmp_path: Path) -> None:
    path, _ = data_file(tmp_path, 2 * PART)
    elsewhere = ":".join(d for d in os.environ["PATH"].split(":") if Path(d) != UPLOADCORE.parent)

    result = as_process(*server.upload_args(path, "--part-size", "1KiB"), env={"PATH": elsewhere})

    assert result.exit_code == 0, result.output
    assert f"resume with: {UPLOADCORE} upload {path} --url" in result.stderr


def test_url_and_key_come_from_the_environment_and_the_hint_then_leaves_the_key_out(
    server: Server, tmp_path: Path
) -> None:
    path, data = data_file(tmp_path, 2 * PART)
    env = {"UPLOADCORE_URL": server.url, "UPLOADCORE_KEY": server.key}

    result = in_process("upload", str(path), "--part-size", "1KiB", env=env)

    assert result.exit_code == 0, result.output
    started = result.stderr.splitlines()[0]
    assert started.endswith(f"resume with: uploadcore upload {path} --url {server.url} "
                            f"--resume {started.split()[2].rstrip(':')}")  # fmt: skip
    assert server.download(result.stdout.splitlines()[-1].removeprefix("url: ")) == data


def test_a_part_that_keeps_failing_stops_the_upload_with_a_resume_hint(
    server: Server, tmp_path: Path
) -> None:
    path, data = data_file(tmp_path, 6 * PART)
    server.disk.fail[4] = 1

    failed = in_process(
        *server.upload_args(path, "--part-size", "1KiB", "--parallel", "1", "--retries", "0")
    )

    line = assert_error_line(failed, "part 4", "HTTP 503", "--resume")
    file_id = line.split("--resume ")[1].strip()
    held = server.state(file_id)["parts"]
    assert isinstance(held, list)
    resumed = result_json(in_process(*server.upload_args(path, "--resume", file_id, "--json")))
    assert server.download(str(resumed["url"])) == data
    # Parts 1-3, and 5 if it was sent before the failure stopped the others.
    assert resumed["parts_resumed"] == len(held) >= 3
    assert all(server.disk.opened[p["part_number"]] == 1 for p in held)  # none sent again
    assert server.disk.opened[4] == 2


def test_a_resumed_part_whose_bytes_differ_from_the_file_is_sent_again(
    server: Server, tmp_path: Path
) -> None:
    path, data = data_file(tmp_path, 3 * PART)
    changed = data[:PART] + b"X" * PART + data[2 * PART :]  # the file changed since
    upload = start_upload(server.core, changed, PART, parts=3)

    answer = result_json(in_process(*server.upload_args(path, "--resume", upload.id, "--json")))

    assert (answer["parts_resumed"], answer["parts_sent"]) == (2, 1)
    assert server.download(str(answer["url"])) == data


# -- the client's resilience (in process, with quick retries) --------------------------------


@pytest.fixture
def http() -> Iterator[httpx2.Client]:
    with httpx2.Client(timeout=30) as client:
        yield client


def quick_uploader(
    server: Server, http: httpx2.Client, notify: Callable[[str], None] = lambda line: None
) -> Uploader:
    """An uploader that retries at once: these tests wait for nothing."""
    api = Api(server.url, server.key, http, RetryPolicy(attempts=5, base=0.001, cap=0.01))
    return Uploader(api, notify=notify)


def test_transient_failures_are_tried_again(
    server: Server, tmp_path: Path, http: httpx2.Client
) -> None:
    path, data = data_file(tmp_path, 5 * PART)
    server.disk.fail.update({2: 2, 5: 1})

    result = quick_uploader(server, http).upload(UploadRequest(path, part_size=PART, parallel=2))

    assert server.download(str(result.file["url"])) == data
    assert server.disk.opened == Counter({1: 1, 2: 3, 3: 1, 4: 1, 5: 2})


def test_expired_part_urls_are_refreshed(
    server: Server, tmp_path: Path, http: httpx2.Client
) -> None:
    path, data = data_file(tmp_path, 4 * PART)
    refreshed: list[list[int]] = []

    def expire_every_url(line: str) -> None:  # right after initiate, before any part
        server.clock.advance(timedelta(hours=2))

    uploader = quick_uploader(server, http, expire_every_url)
    real_refresh = uploader.api.refresh_urls

    def counting(file_id: str, numbers: list[int]) -> dict[str, object]:
        refreshed.append(list(numbers))
        return real_refresh(file_id, numbers)

    uploader.api.refresh_urls = counting  # type: ignore[method-assign,assignment]
    result = uploader.upload(UploadRequest(path, part_size=PART, parallel=1))

    assert server.download(str(result.file["url"])) == data
    assert sorted(n for numbers in refreshed for n in numbers) == [1, 2, 3, 4]


# -- what a person sees ------------------------------------------------------------------------


def test_on_a_terminal_a_progress_bar_shows_the_rate_and_time_left_in_mib(
    server: Server, tmp_path: Path
) -> None:
    path, _ = data_file(tmp_path, 3 * MiB)
    out = tmp_path / "stdout"
    primary, secondary = pty.openpty()
    try:
        with out.open("wb") as stdout:
            client = subprocess.Popen(
                [str(UPLOADCORE), *server.upload_args(path, "--part-size", "1MiB")],
                stdout=stdout,
                stderr=secondary,
                env={**os.environ, "COLUMNS": "120", "TERM": "xterm"},
            )
        os.close(secondary)
        seen = read_until_closed(primary)
        client.wait(timeout=COMMAND_TIMEOUT)
    finally:
        os.close(primary)

    screen = seen.decode(errors="replace")
    assert client.returncode == 0, screen
    assert "video.bin" in screen
    assert "3.0/3.0 MiB" in screen
    assert " MiB/s" in screen  # the rate, in the same unit family
    assert "KiB" not in screen
    assert "MB/s" not in screen
    assert "0:00:00" in screen  # the time left
    assert out.read_text().startswith("uploaded video.bin")


def read_until_closed(fd: int) -> bytes:
    """Everything written to a pty until its last writer closes it (bounded)."""
    seen = b""
    for _ in range(COMMAND_TIMEOUT * 10):
        if not select.select([fd], [], [], 0.1)[0]:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the other side is closed
            return seen
        if not chunk:
            return seen
        seen += chunk
    return seen


def test_without_a_terminal_there_is_no_progress_bar(server: Server, tmp_path: Path) -> None:
    path, _ = data_file(tmp_path, 2 * PART)

    result = as_process(*server.upload_args(path, "--part-size", "1KiB"))

    assert result.exit_code == 0
    assert result.stderr.strip().splitlines() == [
        result.stderr.strip().splitlines()[0]
    ]  # only the "started upload" line
    assert "KiB/s" not in result.stderr


# -- one-line failures ------------------------------------------------------------------------


@pytest.mark.parametrize("run", [in_process, as_process], ids=["runner", "process"])
def test_upload_failures_are_one_line(server: Server, tmp_path: Path, run: Run) -> None:
    path, _ = data_file(tmp_path, 2 * PART)
    cases = [
        (server.upload_args(tmp_path / "missing.bin"), ["missing.bin"]),
        (server.upload_args(tmp_path), ["is not a file"]),
        (["upload", str(path), "--url", server.url, "--key", "uc_wrong"], ["HTTP 401"]),
        (["upload", str(path), "--url", "ftp://x", "--key", "k"], ["http://"]),
        (
            ["upload", str(path), "--url", "http://127.0.0.1:9", "--key", "k", "--retries", "0"],
            ["ConnectError"],
        ),
        (server.upload_args(path, "--part-size", "100"), ["HTTP 400", "part_plan_mismatch"]),
        (server.upload_args(path, "--resume", "no-such-id"), ["HTTP 404"]),
    ]
    for args, words in cases:
        assert_error_line(run(*args), *words)


# What Python makes of an argument whose bytes are not UTF-8 (b"\xff" here).
NOT_UTF8 = os.fsdecode(b"bad\xffname")


@pytest.mark.parametrize("option", ["--name", "--content-type", "--resume", "--key", "--url"])
def test_an_option_that_is_not_utf8_is_a_usage_error_naming_it(
    server: Server, tmp_path: Path, option: str
) -> None:
    path, _ = data_file(tmp_path, 2 * PART)
    options = {"--url": server.url, "--key": server.key, option: NOT_UTF8}

    result = as_process("upload", str(path), *(part for pair in options.items() for part in pair))

    assert result.exit_code == 2, result.output
    assert option in result.stderr
    assert "is not valid UTF-8" in result.stderr
    assert "Traceback" not in result.output
    assert server.disk.opened == Counter()  # nothing reached the server's storage


def test_a_file_whose_name_is_not_utf8_needs_a_name_to_record(
    server: Server, tmp_path: Path
) -> None:
    path, data = data_file(tmp_path, 2 * PART, name=NOT_UTF8)

    refused = as_process(*server.upload_args(path))
    named = as_process(
        *server.upload_args(path, "--part-size", "1KiB", "--name", "renamed.bin", "--json")
    )

    assert_error_line(refused, "not valid UTF-8", "--name")
    file = result_json(named)
    assert file["file_name"] == "renamed.bin"
    assert server.download(str(file["url"])) == data


def test_resuming_with_a_file_of_another_size_or_a_finished_upload_fails_with_one_line(
    server: Server, tmp_path: Path
) -> None:
    path, data = data_file(tmp_path, 3 * PART)
    other = start_upload(server.core, data + b"more", PART, parts=1)
    done = result_json(in_process(*server.upload_args(path, "--part-size", "1KiB", "--json")))

    size = in_process(*server.upload_args(path, "--resume", other.id))
    finished = in_process(*server.upload_args(path, "--resume", str(done["id"])))

    assert_error_line(size, f"has {len(data)} bytes", f"is for {len(data) + 4}")
    assert_error_line(finished, "is completed", "in progress")
