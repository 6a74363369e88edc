"""`uploadcore serve` as a real process the tests can start, kill with SIGKILL and restart."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from tests.conftest import POSTGRES_ENV, SECRET

from uploadcore import bootstrap
from uploadcore.adapters.clock import SystemClock
from uploadcore.adapters.sql import make_engine
from uploadcore.services.users import create_user
from uploadcore.settings import Settings

UPLOADCORE = Path(sys.executable).with_name("uploadcore")
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """This process's environment without UPLOADCORE_ settings, plus the ones given.

    `min_part_size="1KiB"` becomes `UPLOADCORE_MIN_PART_SIZE=1KiB`.
    """
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("UPLOADCORE_") or name.startswith("UPLOADCORE_TEST_")
    }
    env["UPLOADCORE_DATA_DIR"] = str(data_dir)
    env["UPLOADCORE_SECRET_KEY"] = SECRET
    env.update({f"UPLOADCORE_{name.upper()}": value for name, value in settings.items()})
    return env


class Server:
    """One `uploadcore serve` process at a time, on a port kept across restarts.

    The port stays the same so that URLs handed out before a crash (part
    URLs carry BASE_URL) still reach the restarted server.
    """

    def __init__(self, env: Mapping[str, str], log: Path, *, workers: int = 1) -> None:
        self.env = dict(env)
        self.log = log
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def settings(self) -> Settings:
        return Settings.from_env(self.env)

    def start(self) -> None:
        """Start the server and wait (bounded) until /healthz answers 200."""
        if self.process is not None:
            raise RuntimeError("the server is already running")
        with self.log.open("ab") as output:
            # A session of its own, so the whole group (uvicorn's workers too) can be signalled.
            self.process = subprocess.Popen(
                [
                    str(UPLOADCORE),
                    "serve",
                    "--port",
                    str(self.port),
                    "--workers",
                    str(self.workers),
                ],
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1
        self._wait_until_healthy()

    def kill(self) -> None:
        """SIGKILL the server and every process of its group: no cleanup runs."""
        process = self._running()
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT)
        self.process = None

    def stop(self) -> None:
        """Stop the server gracefully (SIGTERM), killing it if it does not stop in time."""
        process = self._running()
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT)
        self.process = None

    def restart(self) -> None:
        self.start()

    def _running(self) -> subprocess.Popen[bytes]:
        if self.process is None:
            raise RuntimeError("the server is not running")
        return self.process

    def _wait_until_healthy(self) -> None:
        process = self._running()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self.process = None
                pytest.fail(f"uploadcore serve exited with {process.returncode}:\n{self.logged()}")
            try:
                answer = httpx2.get(f"{self.url}/healthz", timeout=2, trust_env=False)
                if answer.status_code == 200:
                    return
            except httpx2.TransportError:
                pass
            time.sleep(0.02)
        pytest.fail(f"uploadcore serve did not answer /healthz in time:\n{self.logged()}")

    def logged(self) -> str:
        return self.log.read_text(errors="replace")[-20_000:]


@contextmanager
def running(server: Server) -> Iterator[Server]:
    """The server started, and stopped (or its remains killed) afterwards, whatever happens."""
    server.start()
    try:
        yield server
    finally:
        if server.process is not None:
            server.stop()


def api_key(env: Mapping[str, str], name: str, *, admin: bool = False) -> str:
    """Create a user in the server's database (migrating it first); its API key."""
    core = bootstrap.build(bootstrap.prepare(Settings.from_env(env)))
    try:
        return create_user(core.users, name, admin, SystemClock().now()).api_key
    finally:
        core.close()


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database (dropped afterwards); skips without a server."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(
            f"PostgreSQL tests need {POSTGRES_ENV} "
            "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test); .ci/run sets it"
        )
    name = f"uploadcore_rel_{uuid.uuid4().hex[:12]}"
    admin = make_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
