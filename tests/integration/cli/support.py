"""What the admin and upload command tests share: the environment, running commands, checks."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest
import uvicorn
from click.testing import CliRunner, Result
from starlette.types import ASGIApp

from uploadcore import bootstrap
from uploadcore.bootstrap import Uploadcore
from uploadcore.domain.parts import PartRef
from uploadcore.domain.upload import Principal, Upload
from uploadcore.entrypoints.cli import main
from uploadcore.entrypoints.cli.common import DATA_DIR_LINE
from uploadcore.entrypoints.links import HttpLinks
from uploadcore.services.initiate import NewUpload
from uploadcore.settings import Settings

UPLOADCORE = Path(sys.executable).with_name("uploadcore")
SECRET = "cli-test-secret-0123456789abcdef-0123456789"
COMMAND_TIMEOUT = 120  # seconds; a safety net, far beyond any healthy run
ALICE = Principal("alice")


class Outcome(Protocol):
    """How a command ended: Click's Result, or a real process's `Done`."""

    @property
    def exit_code(self) -> int: ...

    @property
    def stdout(self) -> str: ...

    @property
    def stderr(self) -> str: ...

    @property
    def output(self) -> str: ...


Run = Callable[..., Outcome]


def clean_environment(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> Settings:
    """UPLOADCORE_* as the tests want them, nothing inherited; the settings they make."""
    for name in list(os.environ):
        if name.startswith(("UPLOADCORE_", "AWS_")) and not name.startswith("UPLOADCORE_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("UPLOADCORE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("UPLOADCORE_SECRET_KEY", SECRET)
    monkeypatch.setenv("UPLOADCORE_MIN_PART_SIZE", "1KiB")
    return Settings.from_env(os.environ)


def in_process(*args: str, env: dict[str, str] | None = None) -> Result:
    """`uploadcore ARGS` through Click's runner."""
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


@dataclass(frozen=True)
class Done:
    """A finished real process, shaped like Click's Result where the tests look."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def as_process(*args: str, env: dict[str, str] | None = None) -> Done:
    """`uploadcore ARGS` as a real process, with this process's environment plus `env`."""
    done = subprocess.run(
        [str(UPLOADCORE), *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    return Done(done.returncode, done.stdout, done.stderr)


def assert_one_line_error(result: Outcome, *words: str) -> str:
    """A failed command: non-zero exit, one `error: ...` line on stderr, no traceback."""
    assert result.exit_code != 0, result.output
    lines = [n for n in result.stderr.strip().splitlines() if not n.startswith(DATA_DIR_LINE)]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines
    assert "Traceback" not in result.output
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


# -- making uploads through the service, in process --------------------------------------


async def _body(data: bytes) -> AsyncIterator[bytes]:
    yield data


def start_upload(core: Uploadcore, data: bytes, part_size: int, parts: int | None = None) -> Upload:
    """Initiate an upload of `data` and send its first `parts` parts (default: all)."""
    chunks = [data[i : i + part_size] for i in range(0, len(data), part_size)] or [b""]
    request = NewUpload("data.bin", len(data), "application/octet-stream", len(chunks), part_size)
    started = core.initiate(ALICE, request, HttpLinks("http://testserver"))
    for url, chunk in list(zip(started.presigned_urls, chunks, strict=True))[:parts]:
        token = url.url.split("token=")[1]
        assert core.receive_part is not None
        asyncio.run(core.receive_part(started.upload.id, url.part_number, token, _body(chunk)))
    return stored(core, started.upload.id)


def refs_of(core: Uploadcore, upload: Upload) -> list[PartRef]:
    return [PartRef(p.part_number, p.etag) for p in core.complete.repo.parts(upload.id)]


def stored(core: Uploadcore, file_id: str) -> Upload:
    upload = core.complete.repo.get(file_id)
    assert upload is not None, f"no upload {file_id}"
    return upload


def build(settings: Settings, **adapters: object) -> Uploadcore:
    return bootstrap.build(bootstrap.prepare(settings), **adapters)  # type: ignore[arg-type]


# -- a real server in a thread ---------------------------------------------------------------

SERVER_START_TIMEOUT = 20.0


@contextmanager
def serving(make_app: Callable[[str], ASGIApp]) -> Iterator[str]:
    """uvicorn on 127.0.0.1 (a free port) in a thread, serving `make_app(base_url)`."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(
        make_app(url), lifespan="on", loop="asyncio", ws="none", log_config=None,
        log_level="warning",
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("uvicorn did not start")
            time.sleep(0.005)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=SERVER_START_TIMEOUT)
        sock.close()


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Poll `condition` every 20 ms, for at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)
