"""uvicorn servers on 127.0.0.1 in child processes, and their memory."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from bench.harness import BenchError, wait_until

REPO_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
# The yardsticks run with what `uploadcore serve` gives uvicorn: uvloop, httptools, one
# worker, no WebSockets, a log line per request (uvicorn's access log, in the server's log).
UVICORN_FLAGS = ("--loop", "uvloop", "--http", "httptools", "--log-level", "info", "--ws", "none")
UPLOADCORE = Path(sys.executable).with_name("uploadcore")
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def clean_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without any UPLOADCORE_* setting, plus `extra`."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("UPLOADCORE_")}
    environ.update(extra)
    return environ


def uploadcore_server(environ: Mapping[str, str], log: Path, port: int) -> Server:
    """`uploadcore serve --port PORT`, as the README starts it (the data dir from `environ`)."""
    if not UPLOADCORE.exists():
        raise BenchError(f"{UPLOADCORE} is missing: install the project (make install)")
    command = [str(UPLOADCORE), "serve", "--host", HOST, "--port", str(port)]
    return Server("uploadcore", command, environ, log, port)


def yardstick_server(
    name: str, factory: str, environ: Mapping[str, str], log: Path, port: int
) -> Server:
    """`python -m uvicorn --factory FACTORY` with the flags `uploadcore serve` uses."""
    command = [
        sys.executable, "-m", "uvicorn", "--factory", factory,
        "--app-dir", str(REPO_ROOT), "--host", HOST, "--port", str(port),
        "--workers", "1", *UVICORN_FLAGS,
    ]  # fmt: skip
    return Server(name, command, environ, log, port)


class Server:
    """One server process on 127.0.0.1, started from `command`; one worker."""

    def __init__(
        self, name: str, command: list[str], environ: Mapping[str, str], log: Path, port: int
    ) -> None:
        self.name = name
        self.port = port
        self.url = f"http://{HOST}:{port}"
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            command, env=dict(environ), stdout=self._log, stderr=subprocess.STDOUT, cwd=REPO_ROOT
        )
        self._log_path = log

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, path: str) -> None:
        def answers() -> bool:
            if self.process.poll() is not None:
                raise BenchError(f"{self.name} exited at start; see {self._log_path}")
            try:
                # Always http://127.0.0.1:PORT, the server we started.
                with urllib.request.urlopen(self.url + path, timeout=2) as response:  # noqa: S310
                    return bool(response.status == 200)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                return False

        wait_until(answers, START_TIMEOUT, f"{self.name} to answer {path}")

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise BenchError(f"{self.name} died; see {self._log_path}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT)
        self._log.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()


def rss_kib(pid: int) -> int:
    """A process's resident set size now, KiB."""
    return _status_kib(pid, "VmRSS")


def _status_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise BenchError(f"/proc/{pid}/status has no {field}")


class PeakMemory:
    """Peak RSS growth of a process over one run, in bytes.

    Resets the kernel's high-water mark (`echo 5 > /proc/PID/clear_refs`) and
    reads VmHWM afterwards: exact and free. Where clear_refs cannot be written,
    a thread samples VmRSS every millisecond instead.
    """

    SAMPLE_EVERY = 0.001
    MAX_SAMPLING = 600.0  # seconds: a sampler never outlives a stuck run by much

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.idle_kib = 0
        self._peak_kib = 0
        self._uses_hwm = True
        self._stop = threading.Event()
        self._sampler: threading.Thread | None = None

    def __enter__(self) -> PeakMemory:
        try:
            with open(f"/proc/{self.pid}/clear_refs", "w") as clear:
                clear.write("5")
        except OSError:
            self._uses_hwm = False
        self.idle_kib = _status_kib(self.pid, "VmRSS")
        self._peak_kib = self.idle_kib
        if not self._uses_hwm:
            self._sampler = threading.Thread(target=self._sample, daemon=True)
            self._sampler.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._sampler is not None:
            self._stop.set()
            self._sampler.join(5)
        else:
            self._peak_kib = max(self._peak_kib, _status_kib(self.pid, "VmHWM"))

    @property
    def growth(self) -> int:
        """Peak minus idle RSS, bytes."""
        return (self._peak_kib - self.idle_kib) * 1024

    def _sample(self) -> None:
        deadline = time.monotonic() + self.MAX_SAMPLING
        while not self._stop.is_set() and time.monotonic() < deadline:
            with contextlib.suppress(OSError, BenchError):
                self._peak_kib = max(self._peak_kib, _status_kib(self.pid, "VmRSS"))
            time.sleep(self.SAMPLE_EVERY)
