"""Run a command as a process and measure it: wall time, peak RSS, what it printed.

Peak RSS comes from GNU time (`/usr/bin/time -f %M`): the kernel's ru_maxrss
of a child forked straight from this (large) benchmark process would count
the pages it shared with us before its exec.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.harness import BenchError

GNU_TIME = "/usr/bin/time"
TIMEOUT = 900


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_rss: int  # bytes
    stdout: str


def run_measured(command: list[str], env: Mapping[str, str] | None = None) -> Measured:
    """Run `command` to its end; BenchError unless it exits 0."""
    if not os.access(GNU_TIME, os.X_OK):
        raise BenchError(f"{GNU_TIME} is missing (apt-get install time)")
    with tempfile.TemporaryFile() as out, tempfile.NamedTemporaryFile() as rss:
        started = time.perf_counter()
        done = subprocess.run(
            [GNU_TIME, "-o", rss.name, "-f", "%M", *command],
            stdout=out,
            stderr=subprocess.PIPE,
            env=dict(env) if env is not None else None,
            timeout=TIMEOUT,
            check=False,
        )
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            tail = done.stderr.decode(errors="replace").strip()[-500:]
            raise BenchError(f"{Path(command[0]).name} exited {done.returncode}: {tail}")
        out.seek(0)
        peak_kib = int(Path(rss.name).read_text().split()[-1])
        return Measured(seconds, peak_kib * 1024, out.read().decode())
